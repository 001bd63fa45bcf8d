"""`monitor:`, the `baseline` step and `schedule.monitor` / `schedule.train: {cron, assets}`: defaults filled in,
every mistake a positioned `file:line:col: key.path: message` error."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from smflow.spec import load_pipeline
from smflow.spec.errors import SpecError
from smflow.spec.model import BaselineStep

HEAD = """\
pipeline: scoring
defaults: {bucket: ml-bucket}
models:
  m:
    source_dir: code
    steps:
      - {name: prep, type: processing, entry_point: train.py, outputs: [train]}
      - {name: train, type: training, entry_point: train.py, inputs: {train: prep.train}}
"""
REGISTER = "      - {name: register, type: register, model: train}\n"
BATCH = "    batch: {input: s3://ml-bucket/incoming/}\n"


def load(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    (tmp_path / "code").mkdir(exist_ok=True)
    (tmp_path / "code" / "train.py").write_text("print('train')\n")
    (tmp_path / "code" / "inference.py").write_text("def model_fn(model_dir):\n    return None\n")
    file = tmp_path / "pipeline.yaml"
    file.write_text(text)
    return load_pipeline(file)


def errors(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(SpecError) as raised:
        load(tmp_path, text)
    return [str(issue) for issue in raised.value.issues]


def test_monitor_baseline_adds_a_baseline_step_before_register(tmp_path: Path) -> None:
    doc = load(tmp_path, HEAD + REGISTER + BATCH + "    monitor: {baseline: {data: prep.train}, cooldown: 6h}\n")
    node = doc.nodes["m.baseline"]
    assert isinstance(node.step, BaselineStep) and node.step.data == "prep.train"
    assert ("m.prep", "m.baseline") in doc.edges and ("m.baseline", "m.register") in doc.edges
    monitor = doc.spec.models["m"].monitor
    assert monitor is not None and monitor.cooldown == timedelta(hours=6) and monitor.drift_share == 0.5


def test_an_explicit_baseline_step_is_used_as_is(tmp_path: Path) -> None:
    text = HEAD + "      - {name: sketch, type: baseline, data: prep.train, columns: [y, a]}\n" + REGISTER + BATCH \
        + "    monitor: {columns: [a]}\n"
    doc = load(tmp_path, text)
    assert "m.baseline" not in doc.nodes and ("m.sketch", "m.register") in doc.edges


def test_monitor_mistakes_are_positioned(tmp_path: Path) -> None:
    found = errors(tmp_path, HEAD + "    monitor: {cooldown: soon}\n")
    assert any(":9:" in e and "models.m.monitor.cooldown" in e and "90s, 30m, 6h or 1d" in e for e in found)
    found = errors(tmp_path, HEAD + "    monitor: {input: s3://ml-bucket/in/}\n")
    assert any("nothing to compare batches with" in e for e in found)
    assert any("no register step to take the model package group from" in e for e in found)
    found = errors(tmp_path, HEAD + REGISTER + "    monitor: {baseline: {data: prep.train}}\n")
    assert any("has no batches to check: set monitor.input" in e for e in found)
    found = errors(tmp_path, HEAD + REGISTER + BATCH
                   + "    monitor: {baseline: {data: prep.nothing}, output: s3://ml-bucket/incoming/reports/}\n")
    assert any("models.m.monitor.baseline.data" in e and "no output 'nothing'" in e for e in found)
    assert any("models.m.monitor.output" in e and "share a folder" in e for e in found)


def test_an_unknown_drift_statistic_is_reported_at_its_feature(tmp_path: Path) -> None:
    found = errors(tmp_path, HEAD + REGISTER + BATCH + "    monitor:\n      baseline: {data: prep.train}\n"
                   "      features: {age: {statistic: astrology}}\n")
    assert any("models.m.monitor.features.age" in e and "astrology" in e for e in found)


def test_schedules_for_monitor_and_train(tmp_path: Path) -> None:
    monitor = "    monitor: {baseline: {data: prep.train}}\n"
    text = HEAD + REGISTER + BATCH + monitor
    doc = load(tmp_path, text.replace("models:", "schedule:\n  train: {cron: '0 3 * * 1', assets: "
                                                "[smflow://scoring/retrain]}\n  monitor: {on_data: true}\nmodels:"))
    assert doc.spec.schedule.monitor is not None
    found = errors(tmp_path, text.replace("models:", "schedule: {train: {cron: '@once', assets: [x]}}\nmodels:"))
    assert any("schedule.train.cron" in e and "@once is not a time schedule" in e for e in found)
    assert any("schedule.train.assets[0]" in e and "not an asset URI" in e for e in found)
    found = errors(tmp_path, (HEAD + REGISTER).replace("models:", "schedule: {monitor: '0 * * * *'}\nmodels:"))
    assert any("schedule.monitor" in e and "no model unit has a `monitor:` section" in e for e in found)


def test_quality_drift_needs_the_batch_dags_predictions(tmp_path: Path) -> None:
    found = errors(tmp_path, HEAD + REGISTER + "    monitor:\n      input: s3://ml-bucket/in/\n"
                   "      baseline: {data: prep.train}\n      quality: {labels: s3://ml-bucket/labels/, metric: rmse,"
                   " report_metric: regression_metrics.rmse.value}\n")
    assert any("models.m.monitor.quality" in e and "has no `batch:` section" in e for e in found)


def test_monitor_settings_name_columns_of_the_batches(tmp_path: Path) -> None:
    found = errors(tmp_path, HEAD + REGISTER + BATCH + "    monitor:\n      baseline: {data: prep.train}\n"
                   "      columns: [a, b]\n      exclude: [c]\n      features: {d: {threshold: 0.2}}\n")
    assert any("models.m.monitor.exclude" in e and "'c' is not one of monitor.columns (a, b)" in e for e in found)
    assert any("models.m.monitor.features.d" in e and "'d' is not one of monitor.columns" in e for e in found)


def test_a_cooldown_too_long_for_a_duration_is_a_positioned_error(tmp_path: Path) -> None:
    found = errors(tmp_path, HEAD + "    monitor: {cooldown: 99999999999d}\n")
    assert any("models.m.monitor.cooldown" in e and "longer than a duration can be" in e for e in found), found
