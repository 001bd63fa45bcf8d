"""`batch:` and `schedule.batch`: every mistake a positioned `file:line:col: key.path: message` error."""

from __future__ import annotations

from pathlib import Path

import pytest

from smflow.spec import load_pipeline
from smflow.spec.errors import SpecError

HEAD = """\
pipeline: scoring
defaults: {bucket: ml-bucket}
models:
  m:
    source_dir: code
    steps:
      - {name: train, type: training, entry_point: train.py, inputs: {train: s3://ml-bucket/data/train/}}
"""
REGISTER = "      - {name: register, type: register, model: train}\n"


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


def test_a_batch_section_fills_its_defaults(tmp_path: Path) -> None:
    doc = load(tmp_path, HEAD + REGISTER + "    batch: {input: s3://ml-bucket/incoming/}\n")
    batch = doc.spec.models["m"].batch
    assert batch is not None
    assert (batch.pattern, batch.marker, batch.output, batch.model.group, batch.model.version) == \
        ("*.csv", None, None, None, None)


@pytest.mark.parametrize(("batch", "line", "where", "message"), [
    ("{input: /data/incoming}", 9, "models.m.batch.input", "write an S3 URI like s3://bucket/prefix"),
    ("{input: s3://ml-bucket/in/, marker: a/_SUCCESS}", 9, "models.m.batch.marker", "without '/'"),
    ("{input: s3://ml-bucket/in/, model: {version: 0}}", 9, "models.m.batch.model.version", "greater than"),
    ("{input: s3://ml-bucket/in/, transform: {split_type: Lines}}", 9, "models.m.batch.transform.split_type",
     "'None' or 'Line'"),
    ("{input: s3://ml-bucket/in/, output: s3://ml-bucket/in/predictions/}", 9, "models.m.batch.output",
     "share a folder"),
    ("{input: s3://ml-bucket/in/, pattern: '*', marker: _SUCCESS}", 9, "models.m.batch.marker",
     "matches pattern"),
    ("{input: s3://ml-bucket/in/, inputs: x}", 9, "models.m.batch.inputs", "did you mean 'input'"),
])
def test_batch_mistakes_are_positioned(tmp_path: Path, batch: str, line: int, where: str, message: str) -> None:
    found = errors(tmp_path, HEAD + REGISTER + f"    batch: {batch}\n")
    assert any(f":{line}:" in e and f" {where}: " in e and message in e for e in found), found


def test_a_batch_needs_a_group_to_take_the_model_from(tmp_path: Path) -> None:
    found = errors(tmp_path, HEAD + "    batch: {input: s3://ml-bucket/in/}\n")
    assert any(":8:" in e and "models.m.batch.model: " in e and "no register step" in e
               and "model: {group: <group name>}" in e for e in found), found
    load(tmp_path, HEAD + "    batch: {input: s3://ml-bucket/in/, model: {group: shared-models}}\n")


def test_a_bad_group_name_is_what_sagemaker_would_reject(tmp_path: Path) -> None:
    from smflow.compile.graph import compile_pipeline

    doc = load(tmp_path, HEAD + "    batch: {input: s3://ml-bucket/in/, model: {group: 'has spaces'}}\n")
    with pytest.raises(SpecError) as raised:
        compile_pipeline(doc)
    assert any("models.m.batch.model: " in str(i) and "model package group" in str(i) for i in raised.value.issues)


@pytest.mark.parametrize(("schedule", "where", "message"), [
    ("{batch: 'every day'}", "schedule.batch", "not a valid cron expression"),
    ("{batch: {assets: [not-a-uri]}}", "schedule.batch.assets[0]", "not an asset URI"),
    ("{batch: {on_data: false}}", "schedule.batch", "on_data"),
    ("{batch: {on_data: true, poke_seconds: 0}}", "schedule.batch.poke_seconds", "greater than or equal to 1"),
])
def test_batch_schedule_mistakes_are_positioned(tmp_path: Path, schedule: str, where: str, message: str) -> None:
    text = HEAD.replace("models:", f"schedule: {schedule}\nmodels:") + REGISTER + \
        "    batch: {input: s3://ml-bucket/in/}\n"
    found = errors(tmp_path, text)
    assert any(":3:" in e and where in e and message in e for e in found), found


def test_a_batch_schedule_without_a_batch_section_says_what_to_add(tmp_path: Path) -> None:
    found = errors(tmp_path, HEAD.replace("models:", "schedule: {batch: '@daily'}\nmodels:") + REGISTER)
    assert any(":3:" in e and "schedule.batch: " in e and "no model unit has a `batch:` section" in e
               for e in found), found


@pytest.mark.parametrize(("preprocess", "where", "message"), [
    ("{entry_point: missing.py}", "models.m.batch.preprocess.entry_point", "does not exist"),
    ("{entry_point: train.py, destination: /opt/ml/input}", "models.m.batch.preprocess.destination",
     "not a folder under /opt/ml/processing/"),
    ("{entry_point: train.py, output: /opt/ml/processing/input/batch}", "models.m.batch.preprocess.output",
     "also where the batch is staged"),
    ("{entry_point: train.py, source_dir: nowhere}", "models.m.batch.preprocess.source_dir", "does not exist"),
])
def test_preprocess_mistakes_are_positioned(tmp_path: Path, preprocess: str, where: str, message: str) -> None:
    found = errors(tmp_path, HEAD + REGISTER + "    batch:\n      input: s3://ml-bucket/in/\n"
                                               f"      preprocess: {preprocess}\n")
    assert any(":11:" in e and f" {where}: " in e and message in e for e in found), found
