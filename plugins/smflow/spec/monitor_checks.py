"""Whole-document checks of drift monitoring: batches to check, a baseline to check them against, a model package
group to find the version in production, reports apart from inputs, drift tests that exist. Positioned like every
other spec problem; called from resolve()."""

from __future__ import annotations

from typing import Any

from smflow.errors import SmflowError
from smflow.spec.batch_checks import schedule_problems
from smflow.spec.errors import Path_
from smflow.spec.model import (
    BaselineStep,
    ModelUnit,
    MonitorSpec,
    PipelineSpec,
    RegisterStep,
)

DEFAULT_PATTERN = "*.csv"


def monitored_units(spec: PipelineSpec) -> dict[str, ModelUnit]:
    return {name: unit for name, unit in spec.models.items() if unit.monitor is not None}


def default_baseline_step(unit: ModelUnit) -> BaselineStep | None:
    """The `baseline` step `monitor.baseline` adds to a unit that has no baseline step of its own."""
    monitor = unit.monitor
    if monitor is None or monitor.baseline is None or any(isinstance(s, BaselineStep) for s in unit.steps):
        return None
    return BaselineStep(name="baseline", type="baseline", data=monitor.baseline.data,
                        columns=monitor.baseline.columns, predictions=monitor.baseline.predictions)


def monitor_input(unit: ModelUnit) -> str | None:
    """Where the batches to check arrive: `monitor.input`, else the batches the batch DAG scores."""
    assert unit.monitor is not None
    return unit.monitor.input or (unit.batch.input if unit.batch else None)


def monitor_pattern(unit: ModelUnit) -> str:
    assert unit.monitor is not None
    return unit.monitor.pattern or (unit.batch.pattern if unit.batch else DEFAULT_PATTERN)


def monitor_output(spec: PipelineSpec, name: str, monitor: MonitorSpec) -> str:
    """Where a unit's drift reports go (ending in '/'): `monitor.output`, else <bucket>/<prefix>/monitoring/<unit>/."""
    output = monitor.output or f"s3://{spec.defaults.bucket}/{spec.prefix}/monitoring/{name}/"
    return output if output.endswith("/") else output + "/"


def drift_mapping(monitor: MonitorSpec) -> dict[str, Any]:
    """`monitor`'s drift settings as the drift library's DriftConfig.from_mapping reads them."""
    return {"drift_share": monitor.drift_share,
            "features": {name: feature.model_dump(exclude_none=True) for name, feature in monitor.features.items()}}


def monitor_problems(spec: PipelineSpec) -> list[tuple[Path_, str]]:
    """(key path, message) for every monitoring problem of the document."""
    problems: list[tuple[Path_, str]] = []
    units = monitored_units(spec)
    for name, unit in units.items():
        problems.extend(_unit_problems(spec, name, unit))
    return problems + schedule_problems("monitor", spec.schedule.monitor, units, "baseline, input")


def _unit_problems(spec: PipelineSpec, name: str, unit: ModelUnit) -> list[tuple[Path_, str]]:
    monitor = unit.monitor
    assert monitor is not None
    path: Path_ = ("models", name, "monitor")
    problems = _baseline_problems(name, unit, path)
    registers = [s for s in unit.steps if isinstance(s, RegisterStep)]
    if monitor.model.group is None and not registers:
        problems.append(((*path, "model"), f"model unit '{name}' has no register step to take the model package "
                                           "group from; add one, or set `model: {group: <group name>}`"))
    problems.extend(_folder_problems(spec, name, unit, path))
    if monitor.quality is not None and unit.batch is None:
        problems.append(((*path, "quality"), f"model-quality drift compares labels with the batch DAG's "
                                             f"predictions, but model unit '{name}' has no `batch:` section; add one "
                                             "or remove monitor.quality"))
    problems.extend(_column_problems(monitor, path))
    problems.extend(_drift_config_problems(monitor, path))
    return problems


def _baseline_problems(name: str, unit: ModelUnit, path: Path_) -> list[tuple[Path_, str]]:
    """Exactly one baseline: `monitor.baseline` or a `type: baseline` step."""
    monitor = unit.monitor
    assert monitor is not None
    problems: list[tuple[Path_, str]] = []
    baselines = [s for s in unit.steps if isinstance(s, BaselineStep)]
    if monitor.baseline is not None and baselines:
        problems.append(((*path, "baseline"), f"model unit '{name}' has a baseline step ('{baselines[0].name}') "
                                              "and monitor.baseline; keep one of them"))
    elif monitor.baseline is None and not baselines:
        problems.append((path, f"model unit '{name}' has nothing to compare batches with: set `baseline: {{data: "
                               "<step>.<output>}` (the training data, e.g. preprocess.train) or add a "
                               "`type: baseline` step"))
    if len(baselines) > 1:
        problems.append((path, f"model unit '{name}' has {len(baselines)} baseline steps "
                               f"({', '.join(s.name for s in baselines)}); a registered version records one"))
    return problems


def _folder_problems(spec: PipelineSpec, name: str, unit: ModelUnit, path: Path_) -> list[tuple[Path_, str]]:
    """Batches to check, and reports and labels in folders of their own (else they would be found as batches)."""
    monitor = unit.monitor
    assert monitor is not None
    source = monitor_input(unit)
    if source is None:
        return [(path, f"model unit '{name}' has no batches to check: set monitor.input (an s3:// prefix where "
                       "batches arrive) or a `batch:` section whose input it then checks")]
    problems: list[tuple[Path_, str]] = []
    folder = source if source.endswith("/") else source + "/"
    target = monitor_output(spec, name, monitor)
    if target.startswith(folder) or folder.startswith(target):
        problems.append(((*path, "output" if monitor.output else "input"),
                         f"drift reports ({target}) and arriving batches ({folder}) share a folder, so reports "
                         "would be found as new batches; give `output` a folder outside the input"))
    if monitor.quality is not None:
        labels = monitor.quality.labels.rstrip("/") + "/"
        if labels.startswith(folder) or folder.startswith(labels):
            problems.append(((*path, "quality", "labels"), f"labels ({labels}) and arriving batches ({folder}) "
                                                           "share a folder, so labels would be found as batches; "
                                                           "give the labels their own folder"))
    return problems


def _column_problems(monitor: MonitorSpec, path: Path_) -> list[tuple[Path_, str]]:
    """With the batches' columns named, every column a setting names must be one of them (checked now, not by a
    failed run later)."""
    columns = monitor.columns
    if columns is None:
        return []
    problems: list[tuple[Path_, str]] = []
    if len(set(columns)) != len(columns):
        problems.append(((*path, "columns"), "a column name appears twice; name each column once"))
    named: list[tuple[str, list[str]]] = [("exclude", list(monitor.exclude)),
                                          ("categorical", list(monitor.categorical or [])),
                                          ("features", list(monitor.features))]
    for key, names in named:
        for column in names:
            if column not in columns:
                problems.append(((*path, key, *((column,) if key == "features" else ())),
                                 f"'{column}' is not one of monitor.columns ({', '.join(columns)}); name a column "
                                 "of the batches"))
    return problems


def _drift_config_problems(monitor: MonitorSpec, path: Path_) -> list[tuple[Path_, str]]:
    """The drift settings as the drift library reads them: an unknown statistic is reported here, not at run time."""
    try:
        from smflow.drift.compare import DriftConfig
    except ImportError:  # pragma: no cover - the drift library ships with smflow
        return []
    problems: list[tuple[Path_, str]] = []
    for feature, settings in drift_mapping(monitor)["features"].items():
        try:
            DriftConfig.from_mapping({"drift_share": monitor.drift_share, "features": {feature: settings}},
                                     ".".join(map(str, (*path, "features", feature))))
        except (SmflowError, ValueError, TypeError, KeyError) as e:
            problems.append(((*path, "features", feature), str(e)))
    return problems
