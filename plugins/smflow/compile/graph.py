"""A validated document → per-DAG plain data (tasks in topological order + edges), JSON-serialisable.

This middle layer is what gets cached, printed by `smflow compile --json` and tested without Airflow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from smflow.compile.render import RunTemplateContext, render_value
from smflow.compile.requests import CompiledTask, RequestCompiler
from smflow.service_model import constraint_problems, request_problems
from smflow.spec.errors import SpecError, SpecIssue
from smflow.spec.resolve import PipelineDocument

FORMAT_VERSION = 5  # bump when the compiled form changes: cached compilations then miss


@dataclass
class CompiledDag:
    dag_id: str
    schedule: str | dict[str, Any] | None
    tasks: list[CompiledTask]
    edges: list[tuple[str, str]]
    description: str = ""
    tags: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)  # owner, start_date, catchup, max_active_runs, …
    # Pipeline parameters → their Airflow Param schema (type, default, description, enum, minimum, maximum)
    # and `used_in` (the spec key paths they set); the DAG's params, set per run.
    params: dict[str, dict[str, Any]] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"dag_id": self.dag_id, "schedule": self.schedule, "description": self.description,
                "tags": self.tags, "settings": self.settings, "params": self.params,
                "tasks": [t.as_json() for t in self.tasks], "edges": [list(e) for e in self.edges]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CompiledDag:
        return cls(data["dag_id"], data["schedule"], [CompiledTask.from_json(t) for t in data["tasks"]],
                   [(a, b) for a, b in data["edges"]], data.get("description", ""), data.get("tags", []),
                   data.get("settings", {}), data.get("params", {}))

    def task(self, task_id: str) -> CompiledTask:
        return next(t for t in self.tasks if t.task_id == task_id)


@dataclass
class CompiledPipeline:
    name: str
    file: str
    dags: list[CompiledDag]

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "file": self.file, "dags": [d.as_json() for d in self.dags]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CompiledPipeline:
        return cls(data["name"], data["file"], [CompiledDag.from_json(d) for d in data["dags"]])

    def dag(self, kind: str) -> CompiledDag:
        dag_id = f"{self.name}__{kind}"
        for dag in self.dags:
            if dag.dag_id == dag_id:
                return dag
        raise KeyError(f"pipeline {self.name} has no '{kind}' DAG; it has: "
                       + ", ".join(d.dag_id.split("__")[-1] for d in self.dags))


def _schedule(doc: PipelineDocument) -> str | dict[str, Any] | None:
    from smflow.compile.monitor import train_schedule

    return train_schedule(doc)


SAMPLE_RUN_ID = "scheduled__2026-01-01T00:00:00+00:00"


def request_issues(task: CompiledTask, step_path: tuple[str | int, ...],
                   parameters: dict[str, Any] | None = None) -> list[tuple[tuple[str | int, ...], str]]:
    """What SageMaker would reject in this task's requests, rendered for a sample run so that values coming
    from the spec (role, names, hyperparameters, limits) are checked now rather than at run time. Pipeline
    parameters render with their defaults (`parameters`: name → default); other values a run may pass are
    held to the same limits by their Param schemas (spec/parameters.py)."""
    context = RunTemplateContext("p__train", SAMPLE_RUN_ID, task.task_id, 1,
                                 lambda t, name: "sample-model" if name == "model_name" else f"s3://b/{name}/")
    variables = {"smflow": context, "run_id": SAMPLE_RUN_ID, "dag": {"dag_id": "p__train"},
                 "params": parameters or {}}
    found = []
    requests = [(p["operation"], p["request"]) for p in task.pre]
    if task.operation:
        requests.append((task.operation, task.request))
    for operation, request in requests:
        rendered = render_value(request, variables)
        problems = [p for p in (request_problems(operation, rendered) or "").splitlines() if p.strip()]
        problems += constraint_problems(operation, rendered)
        for problem in problems:
            path = ("defaults", "role") if "RoleArn" in problem else step_path
            found.append((path, f"SageMaker would reject the compiled {operation} request: {problem.strip()}; "
                                "change the setting it comes from"))
    return found


def dag_settings(doc: PipelineDocument) -> dict[str, Any]:
    """The pipeline's `airflow:` block as plain JSON, every default filled in (shown by `compile --json`)."""
    settings = doc.spec.airflow
    return {"owner": settings.owner, "start_date": settings.start_date.isoformat(), "catchup": settings.catchup,
            "max_active_runs": settings.max_active_runs, "retries": settings.retries,
            "retry_delay_seconds": settings.retry_delay.total_seconds()}


def compile_pipeline(doc: PipelineDocument) -> CompiledPipeline:
    """Compile every DAG of a pipeline; image-resolution problems come back as positioned `SpecError`s."""
    compiler = RequestCompiler(doc)
    tasks: list[CompiledTask] = []
    issues: list[SpecIssue] = []
    for node in doc.nodes.values():
        try:
            task = compiler.compile(node)
        except SpecError as e:
            issues.extend(e.issues)
            continue
        tasks.append(task)
        if doc.source is not None:
            issues.extend(doc.source.issue(path, message)
                          for path, message in request_issues(task, node.path, compiler.parameter_defaults))
    if issues:
        raise SpecError(issues)
    spec = doc.spec
    train = CompiledDag(
        dag_id=f"{spec.pipeline}__train",
        schedule=_schedule(doc),
        tasks=tasks,
        edges=list(doc.edges),
        description=spec.description or f"Retraining pipeline {spec.pipeline} (smflow, from {doc.file.name})",
        tags=list(dict.fromkeys(["smflow", "train", spec.pipeline, *spec.airflow.tags])),
        settings=dag_settings(doc),
        params={name: dict(schema) for name, schema in doc.parameters.items()},
    )
    batch = compile_batch_dag(doc, compiler)
    monitor = compile_monitor_dag(doc, compiler)
    return CompiledPipeline(spec.pipeline, str(doc.file), [train, *(d for d in (batch, monitor) if d)])


def compile_monitor_dag(doc: PipelineDocument, compiler: RequestCompiler) -> CompiledDag | None:
    """The `<pipeline>__monitor` DAG when a model unit has `monitor:` (compile/monitor.py)."""
    from smflow.compile.monitor import MonitorCompiler, monitor_schedule

    monitors = MonitorCompiler(doc, compiler)
    units = monitors.units()
    if not units:
        return None
    tasks: list[CompiledTask] = []
    edges: list[tuple[str, str]] = []
    issues: list[SpecIssue] = []
    for unit, monitor in units:
        unit_tasks, unit_edges = monitors.tasks(unit, monitor)
        tasks += unit_tasks
        edges += unit_edges
        if doc.source is not None:
            problems = _group_name_problems(unit_tasks[0].params["group"], ("models", unit, "monitor", "model"))
            issues.extend(doc.source.issue(path, message) for path, message in problems)
    if issues:
        raise SpecError(issues)
    return _scheduled_dag(doc, "monitor", monitor_schedule(doc), tasks, edges,
                          f"Drift monitoring for {doc.spec.pipeline} against the baseline of the approved model")


def compile_batch_dag(doc: PipelineDocument, compiler: RequestCompiler) -> CompiledDag | None:
    """The `<pipeline>__batch` DAG when a model unit has `batch:` (compile/batch.py), its requests checked."""
    from smflow.compile.batch import BatchCompiler, batch_schedule

    batches = BatchCompiler(doc, compiler)
    units = batches.units()
    if not units:
        return None
    tasks: list[CompiledTask] = []
    edges: list[tuple[str, str]] = []
    issues: list[SpecIssue] = []
    for unit, batch in units:
        unit_tasks, unit_edges = batches.tasks(unit, batch)
        tasks += unit_tasks
        edges += unit_edges
        if doc.source is not None:
            problems = _group_name_problems(unit_tasks[0].params["group"], ("models", unit, "batch", "model"))
            problems += request_issues(unit_tasks[-1], ("models", unit, "batch"), compiler.parameter_defaults)
            for task in unit_tasks:
                if task.kind == "batch_preprocess":
                    problems += request_issues(task, ("models", unit, "batch", "preprocess"),
                                               compiler.parameter_defaults)
            issues.extend(doc.source.issue(path, message) for path, message in problems)
    if issues:
        raise SpecError(issues)
    return _scheduled_dag(doc, "batch", batch_schedule(doc), tasks, edges,
                          f"Batch prediction for {doc.spec.pipeline} with the approved model")


def _group_name_problems(group: str, where: tuple[str | int, ...]) -> list[tuple[tuple[str | int, ...], str]]:
    """What SageMaker would say of the model package group name a batch or monitor DAG looks versions up in."""
    lookup = {"ModelPackageGroupName": group}
    found = [p.strip() for p in (request_problems("ListModelPackages", lookup) or "").splitlines()]
    return [(where, f"SageMaker would reject the model package group name: {p}; change it")
            for p in [*found, *constraint_problems("ListModelPackages", lookup)] if p]


def _scheduled_dag(doc: PipelineDocument, kind: str, schedule: str | dict[str, Any] | None, tasks: list[CompiledTask],
                   edges: list[tuple[str, str]], description: str) -> CompiledDag:
    """A batch or monitor DAG: the pipeline's Airflow settings, but one run at a time (whatever
    `airflow.max_active_runs` says for training): two runs listing the same batch at once would both find it
    owed; the job name would still be shared, but one run then waits on the other."""
    spec = doc.spec
    settings = dag_settings(doc)
    settings["max_active_runs"] = 1
    return CompiledDag(
        dag_id=f"{spec.pipeline}__{kind}",
        schedule=schedule,
        tasks=tasks,
        edges=edges,
        description=f"{description} (smflow, from {doc.file.name})",
        tags=list(dict.fromkeys(["smflow", kind, spec.pipeline, *spec.airflow.tags])),
        settings=settings,
        params={name: dict(schema) for name, schema in doc.parameters.items()},
    )
