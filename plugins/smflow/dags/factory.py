"""`CompiledDag` (plain data) → an Airflow DAG: one thin operator per task, a TaskGroup per model unit."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import DAG, Asset, Param, TaskGroup
from airflow.sdk.definitions.param import ParamsDict

from smflow.compile.graph import CompiledDag
from smflow.compile.kinds import StepKind
from smflow.dags.schedules import to_airflow_schedule
from smflow.operators.base import SmflowOperator
from smflow.operators.baseline import BaselineOperator
from smflow.operators.batch import (
    FindBatchesOperator,
    PredictBatchesOperator,
    PreprocessBatchesOperator,
    ResolveModelOperator,
)
from smflow.operators.condition import ModelGateOperator
from smflow.operators.endpoint import DeployModelOperator
from smflow.operators.jobs import (
    BatchTransformOperator,
    EvaluationJobOperator,
    ProcessingJobOperator,
    TrainingJobOperator,
)
from smflow.operators.model import CreateModelOperator
from smflow.operators.monitor import DriftCheckOperator, MonitorResolveOperator, RetrainSignalOperator
from smflow.operators.registry import ModelRegistrationOperator

OPERATORS: dict[StepKind, type[SmflowOperator]] = {
    "processing": ProcessingJobOperator,
    "evaluation": EvaluationJobOperator,
    "training": TrainingJobOperator,
    "transform": BatchTransformOperator,
    "create_model": CreateModelOperator,
    "register": ModelRegistrationOperator,
    "deploy": DeployModelOperator,
    "condition": ModelGateOperator,
    "resolve_model": ResolveModelOperator,
    "find_batches": FindBatchesOperator,
    "batch_preprocess": PreprocessBatchesOperator,
    "batch_predict": PredictBatchesOperator,
    "baseline": BaselineOperator,
    "monitor_resolve": MonitorResolveOperator,
    "drift_check": DriftCheckOperator,
    "retrain_signal": RetrainSignalOperator,
}

RUN_PARAMS = {
    "fresh_jobs": Param(False, type="boolean", title="Fresh jobs",
                        description="Start new SageMaker jobs even where this run already has a completed job with "
                                    "the same request (normally reused, e.g. after Clear)."),
    "fresh_tasks": Param([], type="array", items={"type": "string"}, title="Fresh jobs for these tasks",
                         description="Task ids (e.g. regressor.train) whose jobs start anew; one per line."),
}
# The batch DAG's: what `smflow run --dag batch --input URI` sets; the Trigger form shows it.
BATCH_INPUT_PARAM = Param(None, type=["null", "string"], title="Batch input",
                          description="Predict only the batches under this s3:// prefix or object (inside the "
                                      "unit's batch.input); empty: every batch not yet predicted.")
ParamsDict(RUN_PARAMS).validate()  # what DAG(params=RUN_PARAMS) checks, once: every DAG gets these same values
PARAM_SCHEMA_KEYS = ("type", "enum", "minimum", "maximum")  # of a compiled parameter, what the Param checks

START_DATE = datetime(2024, 1, 1, tzinfo=UTC)  # for compiled pipelines that predate `airflow.start_date`
UNPAUSE_NOTE = (
    "**Schedule.** With `catchup: false` (the default) unpausing a cron DAG whose start date lies in the "
    "past creates one run for the latest scheduled time at once, then one per cron tick; with "
    "`catchup: true` every missed interval since `start_date` is run."
)


def pipeline_params(parameters: dict[str, dict[str, Any]]) -> dict[str, Param]:
    """The pipeline's parameters as Airflow Params: the Trigger form shows each with its description, and a
    run's conf is checked against the JSON schema (type, enum, minimum, maximum) before any task runs."""
    return {name: Param(schema["default"], description=schema.get("description") or None,
                        **{key: schema[key] for key in PARAM_SCHEMA_KEYS if key in schema})
            for name, schema in parameters.items()}


def parameters_doc(parameters: dict[str, dict[str, Any]]) -> str:
    """A Markdown table of the pipeline parameters for the DAG docs."""
    lines = ["**Parameters** (set per run in the Trigger form or the run conf; referenced as "
             "`{{ params.NAME }}` in the spec):", "", "| name | type | default | allowed | description | sets |",
             "|---|---|---|---|---|---|"]
    for name, schema in parameters.items():
        allowed = ", ".join(f"`{v}`" for v in schema["enum"]) if "enum" in schema else " ".join(
            f"{label} {schema[key]}" for key, label in (("minimum", "≥"), ("maximum", "≤")) if key in schema)
        sets = ", ".join(f"`{path}`" for path in schema.get("used_in", []))
        description = str(schema.get("description", "")).replace("|", "\\|").replace("\n", " ")
        default = json.dumps(schema["default"])
        lines.append(f"| `{name}` | {schema['type']} | `{default}` | {allowed} | {description} | {sets} |")
    return "\n".join(lines)


def docs(fileloc: str | None, spec_docs: str | None, parameters: dict[str, dict[str, Any]] | None = None) -> str:
    """DAG docs: where it came from, what Clear and unpausing do, its parameters, and the pipeline spec."""
    parts = [f"Generated by smflow from `{fileloc}`." if fileloc else "Generated by smflow.",
             "**Clear** re-runs a task: a job whose request is unchanged is reused (the log says so); an "
             "edited spec, script or upstream artifact starts a new job. Trigger with `fresh_jobs` or "
             "`fresh_tasks` to force new jobs.", UNPAUSE_NOTE]
    if parameters:
        parts.append(parameters_doc(parameters))
    if spec_docs:
        parts.append(spec_docs)
    return "\n\n".join(parts)


def add_arrival_sensors(compiled: CompiledDag, operators: dict[str, SmflowOperator], groups: dict[str, TaskGroup],
                        executor: str | None) -> None:
    """`schedule.batch` / `schedule.monitor: {on_data: true}`: a deferrable `<unit>.wait_for_data` sensor first in
    each unit's tasks; the DAG runs continuously (one run at a time), each run waiting in the triggerer for a new
    batch (one not predicted yet; for the monitor: one not checked yet)."""
    from smflow.operators.batch_sensor import BatchArrivalSensor
    from smflow.operators.drift_sensor import DriftArrivalSensor

    assert isinstance(compiled.schedule, dict)
    for task in compiled.tasks:
        if task.kind not in ("find_batches", "drift_check"):
            continue
        unit = task.task_id.rpartition(".")[0]
        resolve = compiled.task(task.params["resolve_task"])
        sensor_class = BatchArrivalSensor if task.kind == "find_batches" else DriftArrivalSensor
        sensor = sensor_class(
            task_id="wait_for_data", task_group=groups[unit], input_prefix=task.params["input"],
            pattern=task.params["pattern"], marker=task.params.get("marker"), executor=executor,
            poke_seconds=float(compiled.schedule.get("poke_seconds", 60)), deferrable=True,
            output_prefix=task.params["output"], model_group=resolve.params["group"],
            model_version=resolve.params.get("version"))
        sensor >> operators[resolve.task_id]


def build_dag(compiled: CompiledDag, *, fileloc: str | None = None, executor: str | None = None,
              spec_docs: str | None = None) -> DAG:
    """Tasks are created in the compiled (topological, stable) order so repeated parses give identical DAGs."""
    settings = compiled.settings
    start = settings.get("start_date")
    dag = DAG(
        dag_id=compiled.dag_id,
        schedule=to_airflow_schedule(compiled.schedule),
        start_date=datetime.fromisoformat(start).replace(tzinfo=UTC) if start else START_DATE,
        catchup=bool(settings.get("catchup", False)),
        max_active_runs=int(settings.get("max_active_runs", 1)),
        description=compiled.description,
        tags=compiled.tags,
        doc_md=docs(fileloc, spec_docs, compiled.params),
        default_args={"owner": settings.get("owner", "smflow"), "retries": int(settings.get("retries", 0)),
                      "retry_delay": timedelta(seconds=float(settings.get("retry_delay_seconds", 300)))},
    )
    if fileloc:
        dag.fileloc = fileloc
    operators: dict[str, SmflowOperator] = {}
    groups: dict[str, TaskGroup] = {}
    with dag:
        for task in compiled.tasks:
            unit, _, step = task.task_id.rpartition(".")
            kwargs: dict[str, Any] = {}
            if unit:
                if unit not in groups:
                    groups[unit] = TaskGroup(unit, tooltip=f"model unit {unit}")
                kwargs["task_group"] = groups[unit]
            if task.params.get("outlets"):  # the batch DAG's predictions Asset / the monitor's retrain Asset
                kwargs["outlets"] = [Asset(uri) for uri in task.params["outlets"]]
            operators[task.task_id] = OPERATORS[task.kind](
                task_id=step if unit else task.task_id,
                operation=task.operation,
                request=task.request,
                outputs=task.outputs,
                uploads=task.uploads,
                pre=task.pre,
                params_=task.params,
                executor=executor,
                **({"retries": task.retries} if task.retries is not None else {}),
                **kwargs,
            )
    for upstream, downstream in compiled.edges:
        operators[upstream] >> operators[downstream]
    if isinstance(compiled.schedule, dict) and compiled.schedule.get("on_data"):
        with dag:
            add_arrival_sensors(compiled, operators, groups, executor)
    # The run params are the DAG's, set once its tasks exist: each task created while the DAG had them would
    # deep-copy them into its own params (twice per smflow operator, a third of the build). A task still sees
    # them at run time, where Airflow merges the DAG's params under the task's (`process_params`). They are
    # constants, checked against their schema once per process (above) instead of once per DAG, as the DAG's
    # constructor would.
    # Each DAG its own Param objects: a run's conf is written into them (`ParamsDict.__setitem__`). The
    # pipeline's parameters come first (what the Trigger form shows first); their defaults were checked
    # against their schemas when the spec was validated (spec/parameters.py), so they are not checked again.
    params = {**pipeline_params(compiled.params), **{name: copy.copy(param) for name, param in RUN_PARAMS.items()}}
    if any(task.kind == "find_batches" for task in compiled.tasks):
        params["input"] = copy.copy(BATCH_INPUT_PARAM)
    object.__setattr__(dag, "params", ParamsDict(params))
    return dag
