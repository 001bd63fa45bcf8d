"""Batch prediction through `smflow run --dag batch`: train → approve → batches arriving over time, each predicted
exactly once per model version, whatever re-runs or crashes happen in between."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from smflow.executors.local import LocalExecutor
from smflow.local_sagemaker.store import LocalStore
from tests.conftest import FIXTURES, PIPELINES
from tests.integration.conftest import run_cli

SPEC = FIXTURES / "pipelines" / "batch" / "pipeline.yaml"
GROUP = "batchdemo-regressor"
INPUT = "s3://smflow-batch/incoming/"
OUTPUT = "s3://smflow-batch/batchdemo/predictions/regressor/"
DATA = PIPELINES / "diabetes" / "data" / "diabetes.csv"


def feature_rows(start: int, count: int) -> bytes:
    """Rows of the demo data without the target column, as a scoring job receives them."""
    lines = DATA.read_text().splitlines()[1:]
    return "".join(line.split(",", 1)[1] + "\n" for line in lines[start:start + count]).encode()


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, airflow_db: str) -> Path:
    """A home where the train DAG registered version 1 (pending approval); each test works on a copy."""
    home = tmp_path_factory.mktemp("batch") / "trained"
    result = run_cli(["run", str(SPEC), "--dag", "train"], home, airflow_db)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return home


def copy_of(trained: Path, tmp_path: Path) -> Path:
    home = tmp_path / "home"
    shutil.copytree(trained, home, ignore=shutil.ignore_patterns("airflow"))
    return home


def transform_jobs(home: Path) -> list[str]:
    listed = LocalExecutor(home, home / "store").call("ListTransformJobs", {"MaxResults": 100})
    return sorted(job["TransformJobName"] for job in listed["TransformJobSummaries"])


def manifests(home: Path) -> dict[str, dict]:
    store = LocalStore(home / "store")
    return {uri[len(OUTPUT):]: json.loads(store.read_bytes(uri)) for uri in store.list(OUTPUT)
            if uri.endswith("/_manifest.json")}


def batch_run(home: Path, db: str, *extra: str) -> str:
    result = run_cli(["run", str(SPEC), "--dag", "batch", *extra], home, db)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def test_no_approved_version_fails_saying_how_to_approve(trained: Path, tmp_path: Path, airflow_db: str) -> None:
    home = copy_of(trained, tmp_path)
    LocalStore(home / "store").write_bytes(INPUT + "day1.csv", feature_rows(0, 5))
    result = run_cli(["run", str(SPEC), "--dag", "batch"], home, airflow_db)
    assert result.returncode == 1
    assert "regressor.resolve_model  failed" in result.stdout
    assert f"no Approved model package version in group {GROUP}" in result.stdout + result.stderr
    assert f"smflow registry approve {GROUP} VERSION" in result.stdout + result.stderr
    assert transform_jobs(home) == [] and manifests(home) == {}


def test_two_arriving_batches_are_predicted_once_each(trained: Path, tmp_path: Path, airflow_db: str) -> None:
    home = copy_of(trained, tmp_path)
    assert run_cli(["registry", "approve", GROUP, "1"], home, airflow_db).returncode == 0
    store = LocalStore(home / "store")
    store.write_bytes(INPUT + "day1.csv", feature_rows(0, 30))
    store.write_bytes(INPUT + "notes.txt", b"not a batch: the pattern is *.csv\n")

    first = batch_run(home, airflow_db)
    assert "1 batch(es) to predict: day1.csv" in first and "predicted day1.csv (30 records)" in first
    store.write_bytes(INPUT + "day2.csv", feature_rows(30, 12))
    second = batch_run(home, airflow_db)
    assert "1 batch(es) to predict: day2.csv" in second and "predicted day2.csv (12 records)" in second

    found = manifests(home)
    assert sorted(found) == ["day1.csv/v1/_manifest.json", "day2.csv/v1/_manifest.json"]
    day2 = found["day2.csv/v1/_manifest.json"]
    assert day2["model_package_arn"].endswith(f"model-package/{GROUP}/1") and day2["model_version"] == 1
    assert day2["records"] == {"objects": 1, "input": 12, "output": 12}
    assert day2["inputs"] == [{"uri": INPUT + "day2.csv", "etag": store.etag(INPUT + "day2.csv")}]
    predictions = store.read_bytes(OUTPUT + "day2.csv/v1/day2.csv.out").decode().split()
    assert len(predictions) == 12 and all(float(p) > 0 for p in predictions)
    jobs = transform_jobs(home)
    assert len(jobs) == 2 and day2["transform_job"] in jobs

    listed = run_cli(["predictions", str(SPEC), "--json"], home, airflow_db)
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [(r["batch_id"], r["model_version"], r["records"]["output"]) for r in rows] == \
        [("day1.csv", 1, 30), ("day2.csv", 1, 12)]

    # A re-run (and one asked for one object) predicts nothing new: the predict task skips.
    again = batch_run(home, airflow_db, "--input", INPUT + "day1.csv")
    assert "0 batch(es) to predict (all predicted)" in again and "regressor.predict        skipped" in again
    assert transform_jobs(home) == jobs and manifests(home) == found


def test_a_crash_before_the_manifest_reuses_the_completed_job(trained: Path, tmp_path: Path, airflow_db: str) -> None:
    home = copy_of(trained, tmp_path)
    assert run_cli(["registry", "approve", GROUP, "1"], home, airflow_db).returncode == 0
    store = LocalStore(home / "store")
    store.write_bytes(INPUT + "day1.csv", feature_rows(0, 20))
    batch_run(home, airflow_db)
    (job,) = transform_jobs(home)
    predicted = store.read_bytes(OUTPUT + "day1.csv/v1/day1.csv.out")
    # The job completed but the run died before writing the manifest: the next run owes the batch again.
    store.delete(OUTPUT + "day1.csv/v1/_manifest.json")

    rerun = batch_run(home, airflow_db)
    assert "predicted day1.csv (20 records, job reused)" in rerun
    assert transform_jobs(home) == [job]  # no second job: the batch was not predicted twice
    manifest = manifests(home)["day1.csv/v1/_manifest.json"]
    assert manifest["transform_job"] == job and manifest["reused_job"] is True
    assert store.read_bytes(OUTPUT + "day1.csv/v1/day1.csv.out") == predicted


RAW_SPEC = FIXTURES / "pipelines" / "batch" / "featurize" / "pipeline.yaml"
RAW_INPUT = "s3://smflow-batch/incoming-raw/"
RAW_OUTPUT = "s3://smflow-batch/rawscoring/predictions/regressor/"


def test_marked_folders_are_preprocessed_then_predicted(trained: Path, tmp_path: Path, airflow_db: str) -> None:
    home = copy_of(trained, tmp_path)
    assert run_cli(["registry", "approve", GROUP, "1"], home, airflow_db).returncode == 0
    store = LocalStore(home / "store")
    header = DATA.read_text().splitlines()[0]
    raw = DATA.read_text().splitlines()[1:]
    store.write_bytes(RAW_INPUT + "2026-12-01/part-0.csv", "\n".join([header, *raw[:15]]).encode() + b"\n")
    store.write_bytes(RAW_INPUT + "2026-12-01/part-1.csv", "\n".join([header, *raw[15:25]]).encode() + b"\n")
    store.write_bytes(RAW_INPUT + "2026-12-01/_SUCCESS", b"")
    store.write_bytes(RAW_INPUT + "2026-12-02/part-0.csv", "\n".join([header, *raw[25:30]]).encode() + b"\n")

    result = run_cli(["run", str(RAW_SPEC), "--dag", "batch"], home, airflow_db)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "1 batch(es) to predict: 2026-12-01" in result.stdout  # 2026-12-02 has no _SUCCESS yet
    assert "regressor.preprocess" in result.stdout and "predicted 2026-12-01 (25 records)" in result.stdout
    folder = RAW_OUTPUT + "2026-12-01/v1/"
    assert store.read_bytes(folder + "preprocessed/part-0.csv").count(b"\n") == 15
    assert len(store.read_bytes(folder + "part-0.csv.out").split()) == 15
    assert len(store.read_bytes(folder + "part-1.csv.out").split()) == 10
    manifest = json.loads(store.read_bytes(folder + "_manifest.json"))
    assert manifest["records"] == {"objects": 2, "input": 25, "output": 25}
    assert [i["uri"] for i in manifest["inputs"]] == [RAW_INPUT + "2026-12-01/part-0.csv",
                                                      RAW_INPUT + "2026-12-01/part-1.csv"]
