"""Drift monitoring, compiled: the train DAG's `baseline` task, the registered version's DriftCheckBaselines, and
the `<pipeline>__monitor` DAG (per monitored unit: resolve the version in production and its baseline, check the
batches not yet checked, update the retrain Asset on dataset drift).

The monitor tasks call no SageMaker job: they run in the Airflow worker and read the store through the executor,
so their requests are empty and everything they need is in `params` (shown by `smflow compile --json`).
"""

from __future__ import annotations

from typing import Any

from smflow.compile.batch import unit_output
from smflow.compile.kinds import StepKind
from smflow.compile.requests import CompiledTask, RequestCompiler
from smflow.spec.model import (
    AssetSchedule,
    BaselineStep,
    MonitorSpec,
    OnDataSchedule,
    RegisterStep,
)
from smflow.spec.monitor_checks import drift_mapping, monitor_input, monitor_output, monitor_pattern
from smflow.spec.resolve import PipelineDocument, StepNode

BASELINE_FILE = "baseline.json"
PREDICTIONS_BASELINE_FILE = "predictions_baseline.json"
PREDICTIONS_METADATA = "smflow:predictions_baseline"  # the version's metadata: its predictions' sketch
COOLDOWN_FILE = "_retrain.json"  # under a unit's monitor output: the last retraining its drift triggered
MONITOR_KINDS: tuple[StepKind, ...] = ("monitor_resolve", "drift_check", "retrain_signal")


def retrain_asset(pipeline: str) -> str:
    """The Asset a drift updates and the train DAG is scheduled on."""
    return f"smflow://{pipeline}/retrain"


def monitor_task_ids(unit: str) -> dict[str, str]:
    """Always qualified by the unit, like the batch DAG's: two units' monitor tasks never clash."""
    return {step: f"{unit}.{step}" for step in ("resolve_baseline", "check_drift", "retrain")}


def retraining_units(doc: PipelineDocument) -> list[str]:
    return [name for name, unit in doc.spec.models.items() if unit.monitor is not None and unit.monitor.retrain]


def train_schedule(doc: PipelineDocument) -> str | dict[str, Any] | None:
    """`schedule.train`; with a monitor that retrains, a cron or no schedule also listens to the retrain Asset."""
    value = doc.spec.schedule.train
    if isinstance(value, AssetSchedule):
        return {"assets": list(value.assets), **({"cron": value.cron} if value.cron else {})}
    if not retraining_units(doc):
        return value
    assets = [retrain_asset(doc.spec.pipeline)]
    return {"assets": assets} if value is None else {"cron": value, "assets": assets}


def monitor_schedule(doc: PipelineDocument) -> str | dict[str, Any] | None:
    value = doc.spec.schedule.monitor
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, OnDataSchedule):
        return {"on_data": True, "poke_seconds": value.poke_seconds}
    return {"assets": list(value.assets)}


def unit_baseline(doc: PipelineDocument, unit: str) -> StepNode | None:
    return next((n for n in doc.nodes.values() if n.unit == unit and isinstance(n.step, BaselineStep)), None)


def drift_check_baselines(doc: PipelineDocument, unit: str) -> dict[str, Any] | None:
    """CreateModelPackage's DriftCheckBaselines for a unit with a baseline step: the sketch as data-quality
    statistics (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DriftCheckBaselines.html)."""
    node = unit_baseline(doc, unit)
    if node is None:
        return None
    uri = f"{{{{ smflow.output('{node.task_id}', 'baseline') }}}}"
    return {"ModelDataQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": uri}}}


def predictions_baseline(doc: PipelineDocument, unit: str) -> str | None:
    """The version's `smflow:predictions_baseline` metadata, when its baseline step sketches predictions too."""
    node = unit_baseline(doc, unit)
    if node is None or not isinstance(node.step, BaselineStep) or node.step.predictions is None:
        return None
    return f"{{{{ smflow.output('{node.task_id}', 'predictions_baseline') }}}}"


def retrain_trigger(doc: PipelineDocument, unit: str) -> str | None:
    """The version's `smflow:retrain_trigger` metadata: the drift report that started the run, if one did."""
    node = unit_baseline(doc, unit)
    return None if node is None else f"{{{{ smflow.output('{node.task_id}', 'trigger') }}}}"


def baseline_task(compiler: RequestCompiler, node: StepNode) -> CompiledTask:
    """The train DAG's `baseline` task: sketch `data` (per object, merged) into `<run prefix>/baseline.json`."""
    step = node.step
    assert isinstance(step, BaselineStep)
    monitor = compiler.spec.models[node.unit].monitor
    uploads: list[Any] = []
    data = compiler.input_uri(node, "data", uploads)
    output = f"{compiler.run_prefix(node)}/{BASELINE_FILE}"
    outputs = {"baseline": output}
    params: dict[str, Any] = {
        "data": data,
        "columns": step.columns if step.columns is not None else (monitor.columns if monitor else None),
        "features": monitor.columns if monitor else None,
        "exclude": list(monitor.exclude) if monitor else [],
        "categorical": monitor.categorical if monitor else None,
        "predictions": compiler.input_uri(node, "predictions", uploads) if step.predictions is not None else None,
    }
    if step.predictions is not None:
        outputs["predictions_baseline"] = f"{compiler.run_prefix(node)}/{PREDICTIONS_BASELINE_FILE}"
    return CompiledTask(node.task_id, "baseline", None, {}, outputs, uploads, params=params, retries=step.retries)


class MonitorCompiler:
    """Compiles the monitor tasks of one document, reusing the train side's compiler for names and defaults."""

    def __init__(self, doc: PipelineDocument, compiler: RequestCompiler):
        self.doc = doc
        self.compiler = compiler
        self.spec = doc.spec

    def units(self) -> list[tuple[str, MonitorSpec]]:
        return [(name, unit.monitor) for name, unit in self.spec.models.items() if unit.monitor is not None]

    def group(self, unit: str, monitor: MonitorSpec) -> str:
        if monitor.model.group:
            return monitor.model.group
        batch = self.spec.models[unit].batch
        if batch is not None and batch.model.group:
            return batch.model.group
        register = next(n for n in self.doc.nodes.values() if n.unit == unit and isinstance(n.step, RegisterStep))
        assert isinstance(register.step, RegisterStep)  # monitor_checks reported a unit without one
        return self.compiler.group_name(register, register.step.group)

    def tasks(self, unit: str, monitor: MonitorSpec) -> tuple[list[CompiledTask], list[tuple[str, str]]]:
        ids = monitor_task_ids(unit)
        model_unit = self.spec.models[unit]
        source = monitor_input(model_unit)
        assert source is not None  # monitor_checks reported it
        output = monitor_output(self.spec, unit, monitor)
        resolve = CompiledTask(ids["resolve_baseline"], "monitor_resolve", None, {}, {}, params={
            "group": self.group(unit, monitor), "version": monitor.model.version})
        check = CompiledTask(ids["check_drift"], "drift_check", None, {}, {"reports": output}, params={
            "input": source, "pattern": monitor_pattern(model_unit), "marker": monitor.marker, "output": output,
            "columns": monitor.columns, "exclude": list(monitor.exclude),
            "drift": drift_mapping(monitor), "resolve_task": ids["resolve_baseline"],
            # prediction drift: where the batch DAG writes each batch's predictions (compile/batch.py)
            "predictions_output": unit_output(self.spec, unit, model_unit.batch) if model_unit.batch else None,
            "quality": monitor.quality.model_dump() if monitor.quality else None,
            "where": f"models.{unit}.monitor"})
        tasks = [resolve, check]
        edges = [(resolve.task_id, check.task_id)]
        if monitor.retrain:
            retrain = CompiledTask(ids["retrain"], "retrain_signal", None, {}, {}, params={
                "check_task": ids["check_drift"], "cooldown_seconds": monitor.cooldown.total_seconds(),
                "cooldown_record": output + COOLDOWN_FILE, "outlets": [retrain_asset(self.spec.pipeline)],
                "train_dag": f"{self.spec.pipeline}__train"})
            tasks.append(retrain)
            edges.append((check.task_id, retrain.task_id))
        return tasks, edges
