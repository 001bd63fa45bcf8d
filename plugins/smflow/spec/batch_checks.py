"""Whole-document checks of batch prediction: a model to score with, outputs apart from inputs, a schedule
that has something to run. Positioned like every other spec problem; called from resolve()."""

from __future__ import annotations

from collections.abc import Mapping

from smflow.spec.errors import Path_
from smflow.spec.model import (
    BatchSpec,
    InputSpec,
    ModelUnit,
    OnDataSchedule,
    OutputSpec,
    PipelineSpec,
    ProcessingStep,
    RegisterStep,
)


def batch_problems(spec: PipelineSpec) -> list[tuple[Path_, str]]:
    """(key path, message) for every batch problem of the document."""
    problems: list[tuple[Path_, str]] = []
    units = {name: unit for name, unit in spec.models.items() if unit.batch is not None}
    for name, unit in units.items():
        problems.extend(_unit_problems(spec, name, unit))
    return problems + schedule_problems("batch", spec.schedule.batch, units, "input, model, transform")


def schedule_problems(section: str, schedule: object, units: Mapping[str, ModelUnit],
                      needs: str) -> list[tuple[Path_, str]]:
    """A batch or monitor DAG's schedule must have something to run, and on_data one input to wait for."""
    if schedule is not None and not units:
        return [(("schedule", section), f"a {section} schedule is set but no model unit has a `{section}:` "
                                        f"section; add one ({needs}) or remove schedule.{section}")]
    if isinstance(schedule, OnDataSchedule) and len(units) > 1:
        return [(("schedule", section, "on_data"),
                 f"on_data waits for one input, but {len(units)} model units have `{section}:` "
                 f"({', '.join(sorted(units))}); schedule the {section} DAG by cron or assets instead")]
    return []


def _unit_problems(spec: PipelineSpec, name: str, unit: ModelUnit) -> list[tuple[Path_, str]]:
    batch = unit.batch
    assert batch is not None
    path: Path_ = ("models", name, "batch")
    problems: list[tuple[Path_, str]] = []
    registers = [step for step in unit.steps if isinstance(step, RegisterStep)]
    if batch.model.group is None and not registers:
        problems.append(((*path, "model"), f"model unit '{name}' has no register step to take the model package "
                                           "group from; add one, or set `model: {group: <group name>}`"))
    output = batch.output or f"s3://{spec.defaults.bucket}/{spec.prefix}/predictions/{name}/"
    source, target = _folder(batch.input), _folder(output)
    if target.startswith(source) or source.startswith(target):
        problems.append(((*path, "output" if batch.output else "input"),
                         f"predictions ({target}) and arriving batches ({source}) share a folder, so predictions "
                         "would be found as new batches; give `output` a folder outside `input`"))
    if batch.marker is not None and _matches(batch.marker, batch.pattern):
        problems.append(((*path, "marker"), f"the marker '{batch.marker}' matches pattern '{batch.pattern}'; "
                                            "narrow the pattern (e.g. *.csv) so the marker is not predicted"))
    return problems


def _folder(uri: str) -> str:
    return uri if uri.endswith("/") else uri + "/"


def _matches(name: str, pattern: str) -> bool:
    from fnmatch import fnmatchcase

    return fnmatchcase(name, pattern)


PREPROCESS_INPUT = "batch"
PREPROCESS_OUTPUT = "output"


def preprocess_step(unit: str, batch: BatchSpec) -> ProcessingStep | None:
    """`batch.preprocess` as the processing step it runs (one input `batch`, one output `output`), so it is
    checked and compiled exactly as a pipeline's processing steps are; None without a preprocess."""
    pre = batch.preprocess
    if pre is None:
        return None
    return ProcessingStep(
        name="preprocess", type="processing", entry_point=pre.entry_point, dependencies=pre.dependencies,
        command=pre.command, arguments=pre.arguments, source_dir=pre.source_dir, image=pre.image,
        instance_type=pre.instance_type, instance_count=pre.instance_count, volume_size_gb=pre.volume_size_gb,
        max_runtime_seconds=pre.max_runtime_seconds, environment=pre.environment,
        inputs={PREPROCESS_INPUT: InputSpec(source=f"{batch.input.rstrip('/')}/", destination=pre.destination)},
        outputs={PREPROCESS_OUTPUT: OutputSpec(source=pre.output)})
