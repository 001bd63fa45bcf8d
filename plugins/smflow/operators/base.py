"""What every smflow operator shares: the `smflow` template object, executor choice, uploads, small XComs.

Operators are thin on purpose: the request was compiled ahead of time; here it is only rendered for this
run, handed to an executor, and summarised into a JSON-safe XCom that downstream templates read through
`smflow.output(task_id, name)`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from smflow.compile.fingerprint import request_fingerprint
from smflow.compile.kinds import PreCall, Upload, upload_sources
from smflow.compile.render import RunTemplateContext, render_params, run_parameter_values
from smflow.operators.result import TaskResult, output_of

if TYPE_CHECKING:
    from airflow.sdk import Context

    from smflow.executors.base import Executor


def executor_name() -> str:
    """`$SMFLOW_EXECUTOR`, else `[smflow] executor` in airflow.cfg, else `local` (the embedded default)."""
    from smflow import settings

    return settings.get("executor")


class SmflowOperator(BaseOperator):
    """Base for all step operators: renders `request`/`outputs`/`params` with `{{ smflow.* }}` available."""

    template_fields: Sequence[str] = ("request", "outputs", "uploads", "pre", "params_")
    template_fields_renderers = {"request": "json", "outputs": "json", "pre": "json", "params_": "json"}
    ui_color = "#c9e6ff"

    operation: str | None
    request: dict[str, Any]
    outputs: dict[str, str]
    uploads: list[Upload]
    pre: list[PreCall]
    params_: dict[str, Any]
    executor: str | None
    poll_seconds: float | None

    def __init__(
        self,
        *,
        operation: str | None,
        request: dict[str, Any],
        outputs: dict[str, str] | None = None,
        uploads: list[Upload] | None = None,
        pre: list[PreCall] | None = None,
        params_: dict[str, Any] | None = None,
        executor: str | None = None,
        poll_seconds: float | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        # Set in one step, past BaseOperator.__setattr__: during __init__ its only effect would be recording
        # these in the init kwargs, which Airflow's init wrapper does right after anyway; a DAG parse creates
        # thousands of these tasks, so the saved per-attribute hooks show in bench/parse.
        self.__dict__.update(operation=operation, request=request, outputs=outputs or {}, uploads=uploads or [],
                             pre=pre or [], params_=params_ or {}, executor=executor, poll_seconds=poll_seconds)

    def _set_xcomargs_dependencies(self) -> None:
        """Airflow walks every templated field of each new task looking for XComArgs to wire upstream. Ours
        hold compiled request dicts — plain JSON from the spec, never an XComArg — and edges come from the
        compiled pipeline, so the walk (a large share of building a DAG) is skipped."""

    # ---- rendering ----------------------------------------------------------------------------------

    def template_context(self, context: Context, attempt: int = 1) -> RunTemplateContext:
        ti = context["ti"]

        def lookup(task_id: str, name: str) -> str:
            return output_of(ti.xcom_pull(task_ids=task_id), task_id, name)

        return RunTemplateContext(self.dag_id, str(context["run_id"]), self.task_id, attempt, lookup,
                                  fingerprint=None)

    def render_template_fields(self, context: Context, jinja_env: Any = None) -> None:
        """Render, then fingerprint what was rendered and put the real job name / client token in.

        No SageMaker call happens here (rendering also serves the UI's Rendered Templates); which attempt
        of the job to run is decided in `execute`.
        """
        names = self.template_context(context)
        context["smflow"] = names  # type: ignore[typeddict-unknown-key]
        self.render_pipeline_parameters(context)
        super().render_template_fields(context, jinja_env)
        names.fingerprint = request_fingerprint(self.request, outputs=self.outputs, pre=self.pre,
                                                upload_sources=upload_sources(self.uploads))
        for field in self.template_fields:
            setattr(self, field, names.finalise(getattr(self, field)))
        self.names = names

    def render_pipeline_parameters(self, context: Context) -> None:
        """`{{ params.NAME }}` → this run's values, before Airflow's templating renders the rest: a field that
        is exactly one reference gets the native value (`InstanceCount` stays an integer, a gate threshold a
        number), which Jinja, rendering to text, would not give. Hence also part of the fingerprint."""
        params = context.get("params") or {}
        types = ({name: str(param.schema.get("type")) for name, param in self.dag.params.items()}
                 if self.has_dag() else {})
        values = run_parameter_values(params, types)
        for field in self.template_fields:
            setattr(self, field, render_params(getattr(self, field), values))

    def fresh_requested(self, context: Context) -> bool:
        """Did the run ask for new jobs here (`fresh_jobs: true`, or this task's id in `fresh_tasks`)?"""
        params = context.get("params") or {}
        tasks = params.get("fresh_tasks") or []
        return bool(params.get("fresh_jobs")) or (isinstance(tasks, list) and self.task_id in tasks)

    # ---- execution helpers ----------------------------------------------------------------------------

    def get_executor(self) -> Executor:
        from smflow.executors import get_executor

        return get_executor(self.executor or executor_name())

    def stage_uploads(self, executor: Executor) -> None:
        """Upload code and local inputs the request points at (per run, so a run is reproducible)."""
        for upload in self.uploads:
            source = Path(upload["source"])
            dependencies = [Path(d) for d in upload.get("dependencies", [])]
            for path in (source, *dependencies):
                if not path.exists():
                    raise FileNotFoundError(f"{path} (to upload to {upload['uri']}) does not exist; was it moved "
                                            "since the pipeline was compiled?")
            executor.upload(source, upload["uri"], tar=bool(upload.get("tar")), dependencies=dependencies)
            self.log.info("uploaded %s → %s", source, upload["uri"])

    def result(self, name: str, status: str, outputs: dict[str, Any] | None = None,
               **extra: Any) -> TaskResult:
        """The XCom every smflow task pushes: small, JSON-safe, the same shape for every kind."""
        merged = {**self.outputs, **(outputs or {}), "job_name": name}
        result: TaskResult = {"job_name": name, "status": status, "outputs": merged,
                              "executor": self.executor or executor_name()}
        result.update(extra)  # type: ignore[typeddict-item]  # keys are TaskResult's NotRequired ones
        return result
