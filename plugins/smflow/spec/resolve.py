"""Whole-document checks and the step graph: references, duplicate names, cycles, files, schedules.

Everything here needs more than one key at a time, so pydantic cannot do it; every problem is collected
with its position and raised together, like the schema errors.
"""

from __future__ import annotations

import graphlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smflow.s3_names import bucket_name_problem, key_problem
from smflow.spec.algorithm_mode import algorithm_problems, inference_entry_point
from smflow.spec.batch_checks import batch_problems, preprocess_step
from smflow.spec.dependencies import dependency_problems
from smflow.spec.errors import Path_, SpecError, SpecIssue
from smflow.spec.load import SourceMap
from smflow.spec.model import (
    AssetSchedule,
    BaselineStep,
    ConditionStep,
    CreateModelStep,
    DeployStep,
    EvaluationStep,
    Input,
    InputSpec,
    PipelineSpec,
    ProcessingStep,
    RegisterStep,
    Step,
    StepBase,
    TrainingStep,
    TransformStep,
)
from smflow.spec.monitor_checks import default_baseline_step, monitor_problems
from smflow.spec.parameters import check_parameters
from smflow.spec.paths import path_problem, probe, resolved
from smflow.spec.processing_paths import RESERVED, container_path_problem, input_destination, output_paths

AIRFLOW_PRESETS = frozenset({"@once", "@continuous", "@hourly", "@daily", "@weekly", "@monthly", "@quarterly",
                             "@yearly", "@annually"})


def step_outputs(step: Step) -> tuple[str, ...]:
    """Named outputs other steps may reference as `step.output`."""
    if isinstance(step, ProcessingStep):
        return tuple(step.outputs)
    if isinstance(step, TrainingStep):
        return ("model", "output")
    if isinstance(step, TransformStep):
        return ("predictions",)
    if isinstance(step, EvaluationStep):
        return ("evaluation",)
    if isinstance(step, BaselineStep):
        return ("baseline",)
    return ()


@dataclass(frozen=True)
class OutputRef:
    task_id: str
    output: str


@dataclass(frozen=True)
class ResolvedInput:
    """Where an input comes from: another step's output, an s3:// URI, or an absolute local path to upload."""

    source: OutputRef | str
    prefix: str = ""
    content_type: str | None = None

    @property
    def is_local(self) -> bool:
        return isinstance(self.source, str) and not self.source.startswith("s3://")


@dataclass(frozen=True)
class StepNode:
    task_id: str
    unit: str
    step: Step
    path: Path_
    source_dir: Path


@dataclass
class PipelineDocument:
    """A validated spec with everything later stages need: where it came from, its graph, resolved inputs."""

    spec: PipelineSpec
    file: Path
    base_dir: Path
    nodes: dict[str, StepNode]
    edges: list[tuple[str, str]]
    inputs: dict[tuple[str, str], ResolvedInput] = field(default_factory=dict)  # (task_id, input name) →
    source: SourceMap | None = None
    sources: list[Path] = field(default_factory=list)
    parameters: dict[str, dict[str, Any]] = field(default_factory=dict)  # name → Airflow Param schema


def s3_uri_problem(uri: str) -> str | None:
    """Why an `s3://bucket/key` URI named in a spec can be neither an S3 object nor a local-store one."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not bucket:
        return "no bucket name; write s3://bucket/key"
    problem = bucket_name_problem(bucket)
    if problem:
        return f"{problem}; name a bucket by S3's naming rules"
    return key_problem(key)


def is_reference(value: str) -> bool:
    """Dotted identifiers without '/' or a scheme are step-output references; anything else is a location."""
    return "://" not in value and "/" not in value and "." in value and not value.startswith(".")


class _Resolver:
    def __init__(self, spec: PipelineSpec, source: SourceMap, base_dir: Path):
        self.spec = spec
        self.source = source
        self.base_dir = base_dir
        self.issues: list[SpecIssue] = []
        self.nodes: dict[str, StepNode] = {}
        self.by_unit: dict[str, dict[str, StepNode]] = {}
        self.edges: set[tuple[str, str]] = set()
        self.inputs: dict[tuple[str, str], ResolvedInput] = {}
        self.source_ok: dict[str, bool] = {}  # task id → its source_dir exists (else entry points go unchecked)

    def error(self, path: Path_, message: str, *, key: bool = False) -> None:
        self.issues.append(self.source.issue(path, message, prefer_key=key))

    def task_id(self, unit: str, step: str) -> str:
        return step if self.spec.options.task_ids == "step" else f"{unit}.{step}"

    def source_dir(self, value: str, path: Path_) -> tuple[Path, bool]:
        """A `source_dir` (relative to this YAML file, as the SDK's is to the caller) and whether it exists."""
        problem = path_problem(value)
        source_dir = self.base_dir if problem else resolved(self.base_dir, value)
        kind, why = probe(source_dir) if not problem else ("missing", problem)
        if why:
            self.error(path, f"source_dir {why}")
        elif kind != "dir":
            self.error(path, f"directory {source_dir} does not exist; source_dir is relative to this YAML file")
        return source_dir, kind == "dir" and not why

    def collect_nodes(self) -> None:
        for unit_name, unit in self.spec.models.items():
            unit_path: Path_ = ("models", unit_name)
            unit_dir, unit_ok = self.source_dir(unit.source_dir, (*unit_path, "source_dir"))
            steps = self.by_unit.setdefault(unit_name, {})
            for index, step in enumerate(unit.steps):
                path = (*unit_path, "steps", index, "name")
                own = step.source_dir if isinstance(step, StepBase) else None
                source_dir, ok = (self.source_dir(own, (*path[:-1], "source_dir")) if own is not None
                                  else (unit_dir, unit_ok))
                task_id = self.task_id(unit_name, step.name)
                if step.name in steps or task_id in self.nodes:
                    across = step.name not in steps
                    first = self.nodes[task_id] if across else steps[step.name]
                    line = self.source.position(first.path)[0]
                    self.error(path, f"duplicate step name '{step.name}' (first used at line {line}); step names "
                                     "must be unique " + ("across the pipeline when options.task_ids is `step`"
                                                          if across else "within a model unit"))
                    continue
                node = StepNode(task_id, unit_name, step, path[:-1], source_dir)
                steps[step.name] = node
                self.nodes[task_id] = node
                self.source_ok[task_id] = ok
            self.add_default_baseline(unit_name, unit_dir)

    def add_default_baseline(self, unit_name: str, unit_dir: Path) -> None:
        """`monitor.baseline`: the unit's `baseline` step, unless it has one of its own (monitor_checks)."""
        step = default_baseline_step(self.spec.models[unit_name])
        if step is None:
            return
        task_id = self.task_id(unit_name, step.name)
        path: Path_ = ("models", unit_name, "monitor", "baseline")
        if step.name in self.by_unit[unit_name] or task_id in self.nodes:
            self.error(path, f"monitor.baseline adds a step named '{step.name}', but a step of that name exists; "
                             "rename that step, or make it the baseline (`type: baseline`) and drop monitor.baseline")
            return
        node = StepNode(task_id, unit_name, step, path, unit_dir)
        self.by_unit[unit_name][step.name] = node
        self.nodes[task_id] = node

    def find_step(self, unit: str, name: str, path: Path_, *, kinds: tuple[type, ...] = ()) -> StepNode | None:
        """`step` (same unit) or `unit.step`; reports an unknown or wrong-kind step at `path`."""
        node = self.find_quietly(unit, name)
        if node is None:
            target_unit = name.rpartition(".")[0] or unit
            known = sorted(self.by_unit.get(target_unit, {}))
            where = f"model unit '{target_unit}'" if target_unit in self.by_unit else \
                f"this pipeline (no model unit '{target_unit}'; units: {', '.join(sorted(self.by_unit))})"
            self.error(path, f"unknown step '{name}' in {where}; known steps: {', '.join(known) or 'none'}")
            return None
        if kinds and not isinstance(node.step, kinds):
            wanted = " or ".join(k.model_fields["type"].annotation.__args__[0] for k in kinds)  # type: ignore
            self.error(path, f"step '{name}' is a {node.step.type} step; this needs a {wanted} step")
            return None
        return node

    def resolve_input(self, node: StepNode, name: str, given: Input, path: Path_) -> None:
        spec = given if isinstance(given, InputSpec) else InputSpec(source=given)
        if isinstance(given, InputSpec):
            path = (*path, "source")
        source = self.resolve_source(node, spec.source, path)
        if source is not None:
            self.inputs[(node.task_id, name)] = ResolvedInput(source, spec.prefix.strip("/"), spec.content_type)

    def resolve_source(self, node: StepNode, value: str, path: Path_) -> OutputRef | str | None:
        if not is_reference(value):
            if value.startswith("s3://"):
                problem = s3_uri_problem(value)
                if problem:
                    self.error(path, f"{value!r}: {problem}")
                    return None
                return value
            if "://" in value:
                self.error(path, f"'{value}': only s3:// URIs, local paths or step references are supported")
                return None
            if not value.strip() or value.strip() in {".", "./"}:
                self.error(path, "empty input; give a step output `step.output`, an s3:// URI or a local path "
                                 "like ./data/train.csv")
                return None
            problem = path_problem(value)
            local = self.base_dir if problem else resolved(self.base_dir, value)
            kind, why = ("missing", problem) if problem else probe(local)
            if why:
                self.error(path, f"local input {why}")
                return None
            if kind == "missing":
                self.error(path, f"local input {local} does not exist; paths are relative to this YAML file")
                return None
            return str(local)
        parts = value.split(".")
        if len(parts) > 3:
            self.error(path, f"reference '{value}' has too many parts; use `step.output` or `model.step.output`")
            return None
        step_name, output = ".".join(parts[:-1]), parts[-1]
        if self.find_quietly(node.unit, step_name) is None and probe(self.base_dir / value)[0] != "missing":
            self.error(path, f"'{value}' reads as a step reference `step.output`, but no step '{step_name}' "
                             f"exists; for the local file write ./{value}")
            return None
        upstream = self.find_step(node.unit, step_name, path)
        if upstream is None:
            return None
        outputs = step_outputs(upstream.step)
        if output not in outputs:
            self.error(path, f"step '{step_name}' has no output '{output}'; its outputs: "
                             f"{', '.join(outputs) or 'none'}")
            return None
        self.edges.add((upstream.task_id, node.task_id))
        return OutputRef(upstream.task_id, output)

    def link(self, node: StepNode, target: str, key: str | Path_, kinds: tuple[type, ...]) -> None:
        path = (*node.path, key) if isinstance(key, str) else (*node.path, *key)
        upstream = self.find_step(node.unit, target, path, kinds=kinds)
        if upstream is not None:
            self.edges.add((upstream.task_id, node.task_id))

    def check_dependencies(self, node: StepNode, values: list[str]) -> None:
        """A step's `dependencies` must be folders that can be packed beside its entry point."""
        if values and self.source_ok.get(node.task_id):
            for index, message in dependency_problems(node.source_dir, values):
                self.error((*node.path, "dependencies", index), message)

    def check_file(self, node: StepNode, relative: str, key: str) -> None:
        if not self.source_ok.get(node.task_id):
            return
        problem = path_problem(relative)
        if problem:
            self.error((*node.path, key), f"{key} {problem}")
            return
        target = resolved(node.source_dir, relative)
        kind, why = probe(target)
        if why:
            self.error((*node.path, key), f"{key} {why}")
        elif not target.is_relative_to(node.source_dir):
            self.error((*node.path, key), f"'{relative}' is outside the model's source_dir ({node.source_dir}); "
                                          "only source_dir is shipped with the job, so move the script there")
        elif kind != "file":
            self.error((*node.path, key), f"file {node.source_dir / relative} does not exist; entry points are "
                                          f"relative to the model's source_dir ({node.source_dir})")

    def check_processing_paths(self, node: StepNode, step: ProcessingStep | EvaluationStep) -> None:
        """Every input and output on its own clean folder under /opt/ml/processing/, as SageMaker requires."""
        inputs = {name: (input_destination(name, value), ("inputs", name, "destination")
                         if isinstance(value, InputSpec) and value.destination is not None else ("inputs", name))
                  for name, value in step.inputs.items()}
        outputs = {o.name: (o.local_path, o.key) for o in output_paths(step)}
        for kind, table in (("input", inputs), ("output", outputs)):
            seen: dict[str, str] = {}
            for name, (local, key) in table.items():
                problem = container_path_problem(local)
                if problem:
                    self.error((*node.path, *key), f"{kind} '{name}': {problem}")
                    continue
                if local in RESERVED:  # an output there would upload the code (or launcher) as its result
                    self.error((*node.path, *key), f"{kind} '{name}': {local} holds {RESERVED[local]}; choose "
                                                   f"another {'destination' if kind == 'input' else 'folder'}")
                elif local in seen:
                    self.error((*node.path, *key), f"{kind}s '{seen[local]}' and '{name}' both use {local}; "
                                                   f"give each {kind} its own folder")
                elif kind == "output" and local in {p for p, _ in inputs.values()}:
                    self.error((*node.path, *key), f"output '{name}' uses {local}, which is also an input's "
                                                   "destination; write outputs to their own folder")
                seen.setdefault(local, name)

    def check_no_destination(self, node: StepNode, inputs: dict[Path_, Input]) -> None:
        """`destination` (a processing LocalPath) on an input of a step kind that has none; keyed by where each
        input is written in the step."""
        for key, value in inputs.items():
            if isinstance(value, InputSpec) and value.destination is not None:
                self.error((*node.path, *key, "destination"),
                           f"`destination` applies to processing and evaluation inputs only; a {node.step.type} "
                           "step's inputs are staged where SageMaker puts them")

    def resolve_step(self, node: StepNode) -> None:  # noqa: C901 - one branch per step kind reads best
        step = node.step
        if isinstance(step, TransformStep | DeployStep) and step.source_dir is not None:
            self.error((*node.path, "source_dir"), f"a {step.type} step runs no code of its own, so `source_dir` "
                                                   "has no effect; set it on the create_model step it uses")
        if isinstance(step, ProcessingStep | EvaluationStep | TrainingStep):
            if step.entry_point is not None:
                self.check_file(node, step.entry_point, "entry_point")
            elif isinstance(step, TrainingStep):
                self.check_algorithm(node, step)
            for name, value in step.inputs.items():
                self.resolve_input(node, name, value, (*node.path, "inputs", name))
        if isinstance(step, ProcessingStep | EvaluationStep):
            self.check_processing_paths(node, step)
            self.check_dependencies(node, step.dependencies)
        elif isinstance(step, TrainingStep):
            self.check_no_destination(node, {("inputs", name): value for name, value in step.inputs.items()})
            self.check_dependencies(node, step.dependencies)
        if isinstance(step, TransformStep):
            self.resolve_input(node, "input", step.input, (*node.path, "input"))
            self.check_no_destination(node, {("input",): step.input})
            self.link(node, step.model, "model", (CreateModelStep,))
        elif isinstance(step, CreateModelStep):
            if self.model_entry_point(node, step):
                self.check_file(node, step.entry_point or "", "entry_point")
            self.link(node, step.model, "model", (TrainingStep,))
        elif isinstance(step, RegisterStep):
            if self.model_entry_point(node, step):
                self.check_file(node, step.entry_point or "", "entry_point")
            self.link(node, step.model, "model", (TrainingStep,))
            if step.report:
                self.link(node, step.report, "report", (EvaluationStep,))
        elif isinstance(step, DeployStep):
            if step.model is not None:
                self.link(node, step.model, "model", (RegisterStep,))
        elif isinstance(step, BaselineStep):
            self.resolve_input(node, "data", step.data, (*node.path, "data"))
            self.check_no_destination(node, {("data",): step.data})
            if step.predictions is not None:
                self.resolve_input(node, "predictions", step.predictions, (*node.path, "predictions"))
                self.check_no_destination(node, {("predictions",): step.predictions})
            # The version registered records the baseline (DriftCheckBaselines), so it is sketched first.
            self.edges.update((node.task_id, other.task_id) for other in self.by_unit[node.unit].values()
                              if isinstance(other.step, RegisterStep))
        elif isinstance(step, ConditionStep):
            self.link(node, step.report, "report", (EvaluationStep,))
            if step.beat_approved and step.beat_approved.group is None and not any(
                    isinstance(n.step, RegisterStep) for n in self.by_unit[node.unit].values()):
                self.error((*node.path, "beat_approved"), "no register step in this model unit to take the "
                                                          "group from; set beat_approved.group")
        for index, upstream in enumerate(step.depends_on):
            self.link(node, upstream, ("depends_on", index), ())

    def check_batch_preprocess(self) -> None:
        """`batch.preprocess`: its script, dependencies and container folders, checked as a processing step's."""
        for unit_name, unit in self.spec.models.items():
            step = preprocess_step(unit_name, unit.batch) if unit.batch else None
            if step is None or unit.batch is None or unit.batch.preprocess is None:
                continue
            path: Path_ = ("models", unit_name, "batch", "preprocess")
            if step.source_dir is not None:
                source_dir, ok = self.source_dir(step.source_dir, (*path, "source_dir"))
            else:
                source_dir = resolved(self.base_dir, unit.source_dir)
                ok = not path_problem(unit.source_dir) and probe(source_dir)[0] == "dir"
            node = StepNode(f"{unit_name}.preprocess", unit_name, step, path, source_dir)
            saved = self.source_ok.get(node.task_id)
            self.source_ok[node.task_id] = ok
            self.check_file(node, step.entry_point, "entry_point")
            self.check_dependencies(node, step.dependencies)
            if saved is not None:
                self.source_ok[node.task_id] = saved
            pre = unit.batch.preprocess
            for key, folder in (("destination", pre.destination), ("output", pre.output)):
                problem = container_path_problem(folder)
                if problem:
                    self.error((*path, key), problem)
            if pre.destination.rstrip("/") == pre.output.rstrip("/"):
                self.error((*path, "output"), f"the output folder {pre.output} is also where the batch is staged; "
                                              "give the output its own folder")

    def check_algorithm(self, node: StepNode, step: TrainingStep) -> None:
        """A training step without entry_point: a built-in algorithm (spec/algorithm_mode.py)."""
        from smflow import settings

        for path, message, about_key in algorithm_problems(step, node.path, self.spec.defaults,
                                                           settings.get("executor")):
            self.error(path, message, key=about_key)

    def model_entry_point(self, node: StepNode, step: CreateModelStep | RegisterStep) -> str | None:
        """The inference script a model step uses; none by default for a built-in XGBoost model."""
        training = self.find_quietly(node.unit, step.model)
        if training is None or not isinstance(training.step, TrainingStep):
            return step.entry_point
        return inference_entry_point(step, training.step, self.spec.defaults)

    def find_quietly(self, unit: str, name: str) -> StepNode | None:
        """`step` (in `unit`) or `unit.step`, or None."""
        target_unit, _, step_name = name.rpartition(".")
        return self.by_unit.get(target_unit or unit, {}).get(step_name)

    def resolve_dependency_lines(self) -> None:
        for index, line in enumerate(self.spec.dependencies):
            path: Path_ = ("dependencies", index)
            groups = [g.strip() for g in line.split(">>")]
            if len(groups) < 2 or any(not g for g in groups):
                self.error(path, f"'{line}' is not of the form `a >> b` (Airflow notation, `>>` between names)")
                continue
            resolved: list[list[str]] = []
            for group in groups:
                names = [n.strip() for n in group.strip("[]").split(",")] if group.startswith("[") else [group]
                ids = []
                for name in names:
                    node = self.lookup_any(name)
                    units = sorted(u for u, steps in self.by_unit.items() if name in steps)
                    if node is None and len(units) > 1:
                        self.error(path, f"step '{name}' exists in several model units ({', '.join(units)}); "
                                         f"write {' or '.join(f'{u}.{name}' for u in units)}")
                    elif node is None:
                        self.error(path, f"unknown step '{name}' in dependency line; use `step` (if unique) or "
                                         f"`model.step`; known: {', '.join(sorted(self.nodes))}")
                    else:
                        ids.append(node.task_id)
                resolved.append(ids)
            for left, right in zip(resolved, resolved[1:], strict=False):
                self.edges.update((a, b) for a in left for b in right)

    def lookup_any(self, name: str) -> StepNode | None:
        if name in self.nodes:
            return self.nodes[name]
        if "." in name:
            return self.find_quietly("", name)
        matches = [units[name] for units in self.by_unit.values() if name in units]
        return matches[0] if len(matches) == 1 else None

    def check_gates(self) -> None:
        """A skipping gate that nothing runs after gates nothing: almost surely a missing depends_on."""
        upstreams = {a for a, _ in self.edges}
        for node in self.nodes.values():
            if isinstance(node.step, ConditionStep) and node.step.on_fail == "skip" and node.task_id not in upstreams:
                self.error((*node.path, "name"), f"condition '{node.step.name}' gates nothing: no step runs after "
                                                 f"it; add `depends_on: [{node.step.name}]` to the steps it should "
                                                 "guard (e.g. register), or set `on_fail: fail`")

    def check_cycles(self) -> list[str]:
        sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
        for task_id in self.nodes:
            sorter.add(task_id)
        for a, b in self.edges:
            sorter.add(b, a)
        try:
            return list(sorter.static_order())
        except graphlib.CycleError as e:
            cycle = e.args[1]
            first = self.nodes[cycle[0]]
            self.error(first.path, f"dependency cycle: {' >> '.join(cycle)}; remove one of these edges "
                                   "(from step references, depends_on or dependencies lines)")
            return list(self.nodes)

    def check_schedule(self) -> None:
        schedules = self.spec.schedule
        for dag, value in (("train", schedules.train), ("batch", schedules.batch), ("monitor", schedules.monitor)):
            self.check_schedule_value(dag, value)
        for dag, value in (("batch", schedules.batch), ("monitor", schedules.monitor)):
            if isinstance(value, AssetSchedule) and value.cron is not None:
                self.error(("schedule", dag, "cron"), f"`cron` beside `assets` applies to schedule.train; schedule "
                                                      f"the {dag} DAG by a cron string or by assets")
        if isinstance(schedules.train, AssetSchedule) and schedules.train.cron is not None:
            self.check_cron(("schedule", "train", "cron"), schedules.train.cron)
            if schedules.train.cron in ("@once", "@continuous"):
                self.error(("schedule", "train", "cron"), f"{schedules.train.cron} is not a time schedule to combine "
                                                          "with assets; give a cron like '0 3 * * 1' or @daily")
        for path, message in [*batch_problems(self.spec), *monitor_problems(self.spec)]:
            self.error(path, message)

    def check_schedule_value(self, dag: str, value: object) -> None:
        if isinstance(value, AssetSchedule):
            for index, uri in enumerate(value.assets):
                scheme, sep, rest = uri.partition("://")
                if not sep or not scheme or not rest.strip("/"):
                    self.error(("schedule", dag, "assets", index),
                               f"'{uri}' is not an asset URI; write scheme://location, e.g. s3://bucket/data/ or "
                               "smflow://pipeline/retrain")
                elif scheme == "s3" and s3_uri_problem(uri):
                    self.error(("schedule", dag, "assets", index), f"{uri!r}: {s3_uri_problem(uri)}")
        if isinstance(value, str):
            self.check_cron(("schedule", dag), value)

    def check_cron(self, path: Path_, value: str) -> None:
        if value not in AIRFLOW_PRESETS:
            from croniter import croniter

            if not croniter.is_valid(value):
                self.error(path, f"'{value}' is not a valid cron expression or preset; use 5 fields "
                                 "like '0 3 * * *', or one of " + ", ".join(sorted(AIRFLOW_PRESETS)))


def resolve(spec: PipelineSpec, source: SourceMap, file: Path) -> PipelineDocument:
    resolver = _Resolver(spec, source, file.parent.resolve())
    resolver.collect_nodes()
    for node in list(resolver.nodes.values()):
        resolver.resolve_step(node)
    resolver.resolve_dependency_lines()
    resolver.check_batch_preprocess()
    resolver.check_schedule()
    resolver.check_gates()
    order = resolver.check_cycles()
    parameter_issues, parameters = check_parameters(spec, source)
    resolver.issues.extend(parameter_issues)
    if resolver.issues:
        raise SpecError(resolver.issues)
    nodes = {task_id: resolver.nodes[task_id] for task_id in order}
    return PipelineDocument(spec, file, resolver.base_dir, nodes, sorted(resolver.edges), resolver.inputs,
                            source=source, parameters=parameters)

