"""Drift monitoring through `smflow run --dag train|monitor`: the baseline sketched from the training data and
recorded with the version; a fresh sample of the same distribution does not drift (no retraining); a shifted
sample drifts and updates the retrain Asset once, even when the monitor sees a second drifted batch within the
cool-down; every batch is checked once."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from smflow.drift.sketch import Baseline
from smflow.executors.local import LocalExecutor
from smflow.local_sagemaker.store import LocalStore
from tests.conftest import FIXTURES, PIPELINES
from tests.integration.conftest import run_cli

SPEC = FIXTURES / "pipelines" / "monitor" / "pipeline.yaml"
GROUP = "monitordemo-regressor"
INPUT = "s3://smflow-monitor/incoming/"
OUTPUT = "s3://smflow-monitor/monitordemo/monitoring/regressor/"
RETRAIN = "smflow://monitordemo/retrain"
DATA = PIPELINES / "diabetes" / "data" / "diabetes.csv"
FEATURES = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]


def feature_rows(start: int, count: int, shift: dict[str, float] | None = None) -> bytes:
    """Rows of the demo data without the target column (as batches arrive), `shift` added to some columns."""
    out = []
    for line in DATA.read_text().splitlines()[1 + start:1 + start + count]:
        values = line.split(",")[1:]
        for name, delta in (shift or {}).items():
            values[FEATURES.index(name)] = f"{float(values[FEATURES.index(name)]) + delta:.4g}"
        out.append(",".join(values) + "\n")
    return "".join(out).encode()


SHIFT = {"age": 15.0, "bmi": 6.0, "bp": 20.0, "s1": 40.0, "s5": 0.8, "s6": 20.0}


def monitor(home: Path, db: str) -> str:
    result = run_cli(["run", str(SPEC), "--dag", "monitor"], home, db)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def retrain_events(db: str) -> list[dict]:
    with sqlite3.connect(db.removeprefix("sqlite:///")) as connection:
        rows = connection.execute("select e.extra from asset_event e join asset a on a.id = e.asset_id "
                                  "where a.uri = ?", (RETRAIN,)).fetchall()
    return [json.loads(extra) for (extra,) in rows]


def queued_train_runs(db: str) -> list[str]:
    with sqlite3.connect(db.removeprefix("sqlite:///")) as connection:
        rows = connection.execute("select q.target_dag_id from asset_dag_run_queue q join asset a on "
                                  "a.id = q.asset_id where a.uri = ?", (RETRAIN,)).fetchall()
    return [dag_id for (dag_id,) in rows]


def test_drift_retrains_once_per_cool_down_and_clean_data_never(tmp_path: Path, airflow_db: str) -> None:
    home = tmp_path / "home"
    trained = run_cli(["run", str(SPEC), "--dag", "train"], home, airflow_db)
    assert trained.returncode == 0, trained.stdout[-3000:] + trained.stderr[-3000:]
    assert "regressor.baseline" in trained.stdout and "version 1, Approved" in trained.stdout

    # The version records its baseline: the training split's ten features (the label column left out).
    executor = LocalExecutor(home, home / "store")
    package = executor.call("DescribeModelPackage", {"ModelPackageName": f"{GROUP}/1"})
    statistics = package["DriftCheckBaselines"]["ModelDataQuality"]["Statistics"]
    assert statistics["ContentType"] == "application/json"
    baseline = Baseline.from_json(executor.read_bytes(statistics["S3Uri"]), statistics["S3Uri"])
    assert baseline.names == FEATURES and baseline.rows == 309  # 70% of the 442 rows
    assert package["CustomerMetadataProperties"]["smflow:retrain_trigger"] == "none"
    # As the scheduler would see it: the train DAG unpaused, listening to the retrain Asset.
    with sqlite3.connect(airflow_db.removeprefix("sqlite:///")) as connection:
        connection.execute("update dag set is_paused = 0 where dag_id = 'monitordemo__train'")

    store = LocalStore(home / "store")
    store.write_bytes(INPUT + "clean.csv", feature_rows(0, 150))
    clean = monitor(home, airflow_db)
    assert "clean.csv: no drift" in clean and "regressor.retrain           skipped" in clean
    report = json.loads(store.read_bytes(OUTPUT + "clean.csv/drift.json"))
    assert report["dataset_drift"] is False and report["batch"]["rows"] == 150
    assert report["model"]["model_version"] == 1 and report["model"]["baseline"] == statistics["S3Uri"]
    assert {f["feature"] for f in report["features"]} == set(FEATURES)
    assert b"<html" in store.read_bytes(OUTPUT + "clean.csv/drift.html").lower()
    assert retrain_events(airflow_db) == [] and queued_train_runs(airflow_db) == []

    store.write_bytes(INPUT + "shifted.csv", feature_rows(150, 150, SHIFT))
    drifted = monitor(home, airflow_db)
    assert "shifted.csv: DRIFT (" in drifted and "updated smflow://monitordemo/retrain" in drifted
    (event,) = retrain_events(airflow_db)
    assert event["report"] == OUTPUT + "shifted.csv/drift.json" and event["batches"] == ["shifted.csv"]
    assert set(event["drifted"]) >= {"age", "bmi", "bp"} and event["dag_id"] == "monitordemo__monitor"
    assert queued_train_runs(airflow_db) == ["monitordemo__train"]  # the scheduler's next train run

    # A second drifted batch within the cool-down: checked and reported, but no second retraining.
    store.write_bytes(INPUT + "shifted-again.csv", feature_rows(300, 140, SHIFT))
    again = monitor(home, airflow_db)
    assert "shifted-again.csv: DRIFT (" in again and "regressor.retrain           skipped" in again
    assert "clean.csv" not in again and "shifted.csv:" not in again  # each batch is checked once
    assert len(retrain_events(airflow_db)) == 1 and queued_train_runs(airflow_db) == ["monitordemo__train"]
    assert json.loads(store.read_bytes(OUTPUT + "shifted-again.csv/drift.json"))["dataset_drift"] is True
    record = json.loads(store.read_bytes(OUTPUT + "_retrain.json"))
    assert record["report"] == event["report"] and record["run_id"] == event["run_id"]
