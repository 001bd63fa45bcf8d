"""`smflow predictions` rows from manifests, and the CLI's batch flags refused where they cannot apply."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smflow.batch.discovery import Batch
from smflow.batch.ledger import build_manifest
from smflow.batch.report import format_rows, prediction_rows
from smflow.cli import main
from tests.conftest import FIXTURES

OUT = "s3://bkt/out/"


def test_rows_come_from_manifests_and_a_broken_one_is_reported_not_fatal() -> None:
    batch = Batch("day1.csv", (("s3://bkt/in/day1.csv", "e1"),))
    manifest = build_manifest(batch, model_package_arn="arn:pkg/2", version=2, model_name="m", job_name="job-1",
                              output=OUT, records={"objects": 1, "input": 7, "output": 7}, reused_job=False)
    objects = {OUT + "day1.csv/v2/_manifest.json": json.dumps(manifest).encode(),
               OUT + "day1.csv/v2/day1.csv.out": b"1\n",
               OUT + "day2.csv/v2/_manifest.json": b"{truncated"}
    rows = prediction_rows("m", objects, objects.__getitem__)
    assert [(r.get("batch_id"), r.get("model_version"), r.get("transform_job")) for r in rows] == [
        ("day1.csv", 2, "job-1"), (None, None, None)]
    assert "not a batch manifest" in rows[1]["problem"]
    lines = format_rows(rows)
    assert "day1.csv" in lines[0] and "v2" in lines[0] and "7 in" in lines[0] and OUT + "day1.csv/v2/" in lines[0]


def test_input_applies_to_batch_runs_only(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", str(FIXTURES / "pipelines" / "batch" / "pipeline.yaml"), "--dag", "train",
                 "--input", "s3://smflow-batch/incoming/day1.csv"])
    assert code == 2 and "--input names the data a batch run predicts" in capsys.readouterr().err


def test_predictions_of_a_pipeline_without_batch_says_what_to_add(capsys: pytest.CaptureFixture[str],
                                                                 tmp_path: Path) -> None:
    (tmp_path / "prep.py").write_text("print('prep')\n")
    spec = tmp_path / "pipeline.yaml"
    spec.write_text("pipeline: nobatch\nmodels:\n  m:\n    steps:\n"
                    "      - {name: prep, type: processing, entry_point: prep.py}\n")
    assert main(["predictions", str(spec)]) == 1
    assert "pipeline nobatch has no `batch:` section" in capsys.readouterr().err
