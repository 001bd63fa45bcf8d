"""Processing, training, evaluation and transform steps: start a SageMaker job and wait for it.

Idempotent by construction: the job name is deterministic for (dag_id, run_id, task_id), so a retried task
first looks for its earlier job — a Completed one is reused, a running one is waited on, and only a Failed
or Stopped one leads to a fresh job under the next attempt name (`-a2`, `-a3`, …).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowException

from smflow.compile.naming import job_name
from smflow.executors.base import FAILED_STATUSES, JOB_KINDS, JobFailedError, JobTimeoutError
from smflow.operators.base import SmflowOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from smflow.compile.render import RunTemplateContext

MAX_ATTEMPTS = 20


class SageMakerJobOperator(SmflowOperator):
    """Runs one CreateProcessingJob / CreateTrainingJob / CreateTransformJob request to completion."""

    ui_color = "#ffd8a8"

    def choose_attempt(self, context: Context, names: RunTemplateContext) -> int:
        assert self.operation is not None
        executor = self.get_executor()
        for attempt in range(1, MAX_ATTEMPTS + 1):
            name = job_name(names.dag_id, names.run_id, names.task_id, attempt)
            described = executor.describe_job(self.operation, name)
            if described is None:
                return attempt
            status = described[JOB_KINDS[self.operation].status_key]
            if status not in FAILED_STATUSES:
                return attempt  # Completed (reuse) or still running (attach)
        raise AirflowException(f"{MAX_ATTEMPTS} failed jobs already exist for {names.task_id} in this run")

    def execute(self, context: Context) -> dict[str, Any]:
        assert self.operation is not None
        kind = JOB_KINDS[self.operation]
        executor = self.get_executor()
        name = self.request[kind.name_key]
        description = executor.describe_job(self.operation, name)
        if description is None:
            self.stage_uploads(executor)
            executor.start_job(self.operation, self.request)
            self.log.info("started %s %s on the %s executor", self.operation, name, executor.name)
        else:
            self.log.info("found %s from an earlier try (%s); not starting it again", name,
                          description[kind.status_key])
        poll = self.poll_seconds if self.poll_seconds is not None else (0.2 if executor.name == "local" else 30.0)
        try:
            description = executor.wait_for_job(self.operation, name, poll_seconds=poll,
                                                on_log=lambda line: self.log.info("[%s] %s", name, line))
        except JobFailedError as e:
            raise AirflowException(f"{self.operation.removeprefix('Create')} {name} {e.status}: {e.reason}") from e
        except JobTimeoutError as e:
            raise AirflowException(str(e)) from e
        return self.summarise(name, description)

    def summarise(self, name: str, description: dict[str, Any]) -> dict[str, Any]:
        outputs: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        artifacts = description.get("ModelArtifacts", {}).get("S3ModelArtifacts")
        if artifacts:
            outputs["model"] = artifacts
        metrics = {m["MetricName"]: m["Value"] for m in description.get("FinalMetricDataList", [])}
        if metrics:
            extra["metrics"] = metrics
            self.log.info("final metrics of %s: %s", name, metrics)
        status = description[JOB_KINDS[self.operation or ""].status_key]
        return self.result(name, status, outputs, **extra)
