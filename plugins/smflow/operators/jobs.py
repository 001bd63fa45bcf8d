"""Processing, training, evaluation and transform steps: start a SageMaker job and wait for it.

Idempotent by construction: the job name is deterministic for (dag_id, run_id, task_id, request
fingerprint), so a retried task first looks for its earlier job — a Completed one is reused, a running one
is attached to, and only a Failed or Stopped one leads to a fresh job under the next attempt name (`-a2`,
`-a3`, …). A changed request (YAML edited, then Clear) has another fingerprint, hence another name and a
new job. `fresh_jobs` / `fresh_tasks` in the run's params ask for new jobs even for an unchanged request.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowException

from smflow.compile.render import replace_strings
from smflow.executors.base import JobFailedError, JobTimeoutError
from smflow.operators.base import SmflowOperator
from smflow.sagemaker_api import FAILED_STATUSES, JOB_KINDS, TERMINAL_STATUSES

if TYPE_CHECKING:
    from airflow.sdk import Context

    from smflow.executors.base import Executor
    from smflow.operators.result import TaskResult
    from smflow.sagemaker_api import JobKind

MAX_ATTEMPTS = 20


class JobOperator(SmflowOperator):
    """Runs one CreateProcessingJob / CreateTrainingJob / CreateTransformJob request to completion.

    Subclasses only name the step kind for the UI; the behaviour is the same for every job kind.
    """

    ui_color = "#ffd8a8"
    _running: tuple[Executor, str] | None = None  # the job a kill must stop, from the moment it is named

    @property
    def kind(self) -> JobKind:
        assert self.operation is not None
        return JOB_KINDS[self.operation]

    def choose_attempt(self, executor: Executor, *, fresh: bool) -> tuple[int, dict[str, Any] | None]:
        """The first attempt whose job may be used: absent (start it), running (attach) or Completed (reuse,
        unless `fresh`). Failed and Stopped jobs are never reused."""
        assert self.operation is not None
        for attempt in range(1, MAX_ATTEMPTS + 1):
            self.names.attempt = attempt
            described = executor.describe_job(self.operation, self.names.job_name)
            if described is None:
                return attempt, None
            status = described[self.kind.status_key]
            if status in FAILED_STATUSES or (fresh and status == "Completed"):
                continue
            return attempt, described
        raise AirflowException(f"{MAX_ATTEMPTS} jobs already exist for {self.task_id} in this run with this "
                               "request; start a new DAG run instead")

    def use_attempt(self, attempt: int) -> str:
        """Point the rendered request and outputs at `attempt`'s job name; returns that name."""
        first = self.request[self.kind.name_key]
        self.names.attempt = attempt
        name = self.names.job_name
        if name != first:
            self.request = replace_strings(self.request, {first: name})
            self.outputs = replace_strings(self.outputs, {first: name})
        return name

    def execute(self, context: Context) -> TaskResult:
        assert self.operation is not None
        kind = self.kind
        executor = self.get_executor()
        fresh = self.fresh_requested(context)
        attempt, description = self.choose_attempt(executor, fresh=fresh)
        name = self.use_attempt(attempt)
        # From here a kill (Mark failed, execution_timeout) must stop the job: set before it is even created.
        self._running = (executor, name)
        log_offset = 0
        if description is None:
            self.stage_uploads(executor)
            executor.start_job(self.operation, self.request)
            self.log.info("started %s %s on the %s executor%s", self.operation, name, executor.name,
                          " (fresh job requested)" if fresh else "")
        elif description[kind.status_key] == "Completed":
            self.log.info("reusing %s %s: it completed at %s with the same request (same fingerprint); its log is "
                          "not replayed. Trigger with fresh_jobs (or fresh_tasks) to run it again.",
                          self.operation.removeprefix("Create"), name, description.get(kind.end_time_key, "?"))
            self._running = None
            return self.summarise(name, description, reused=True)
        else:
            log_offset = executor.read_log(self.operation, name, 0)[1]
            self.log.info("attaching to %s %s started by an earlier try (%s); following its log from here",
                          self.operation.removeprefix("Create"), name, description[kind.status_key])
        poll = self.poll_seconds if self.poll_seconds is not None else (0.2 if executor.name == "local" else 30.0)
        try:
            description = executor.wait_for_job(self.operation, name, poll_seconds=poll, log_offset=log_offset,
                                                on_log=lambda line, stderr: self.log.log(
                                                    logging.WARNING if stderr else logging.INFO, "[%s] %s", name, line))
        except JobFailedError as e:
            self._running = None
            self.log.error("%s %s ended %s: %s", self.operation.removeprefix("Create"), name, e.status,
                           e.reason or "no FailureReason given")
            raise AirflowException(f"{self.operation.removeprefix('Create')} {name} {e.status}: {e.reason}") from e
        except JobTimeoutError as e:
            self._running = None  # wait_for_job has stopped it already
            raise AirflowException(str(e)) from e
        # Not cleared on other exceptions: Airflow's execution_timeout raises inside the wait, then calls
        # on_kill, which must still know the job.
        self._running = None
        return self.summarise(name, description, reused=False)

    def on_kill(self) -> None:
        """Mark failed, a scheduler kill or an execution timeout: stop the job so it stops billing.

        Airflow calls this from the task's SIGTERM handler; the wait loop in `execute` then sees the job
        end Stopped and fails the try.
        """
        running = self._running
        if running is None or self.operation is None:
            return
        executor, name = running
        try:
            described = executor.describe_job(self.operation, name)
            if described is not None and described[self.kind.status_key] not in TERMINAL_STATUSES:
                executor.stop_job(self.operation, name)
                self.log.warning("task killed: requested %s for %s", self.kind.stop, name)
        except Exception as e:  # noqa: BLE001 - a kill must never raise; say why the job may still run
            self.log.error("task killed but %s %s failed: %s; stop the job by hand", self.kind.stop, name, e)

    def summarise(self, name: str, description: dict[str, Any], *, reused: bool) -> TaskResult:
        outputs: dict[str, Any] = {}
        extra: dict[str, Any] = {"reused": reused}
        artifacts = description.get("ModelArtifacts", {}).get("S3ModelArtifacts")
        if artifacts:
            outputs["model"] = artifacts
        metrics = {m["MetricName"]: m["Value"] for m in description.get("FinalMetricDataList", [])}
        if metrics:
            extra["metrics"] = metrics
            self.log.info("final metrics of %s: %s", name, metrics)
        status = description[self.kind.status_key]
        return self.result(name, status, outputs, **extra)


class ProcessingJobOperator(JobOperator):
    """A processing step: one CreateProcessingJob (feature engineering, data splits)."""

    ui_color = "#ffe8cc"


class TrainingJobOperator(JobOperator):
    """A training step: one CreateTrainingJob whose model.tar.gz later steps use."""

    ui_color = "#ffd8a8"


class BatchTransformOperator(JobOperator):
    """A transform step: one CreateTransformJob scoring a dataset with a SageMaker Model."""

    ui_color = "#ffc078"


class EvaluationJobOperator(JobOperator):
    """An evaluation step: a processing job that writes the metrics report gates and registration read."""

    ui_color = "#ffec99"
