"""Batch prediction started by data arriving, in a real deployment: unpause `arrival__batch` (schedule `{on_data:
true}`) through the REST API and never trigger it; a file dropped into the watched prefix of the local store is
predicted once by the run that was waiting for it (its sensor deferred in the triggerer); a second file is
predicted by the next run, alone."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from smflow.executors.local import LocalExecutor
from tests.conftest import FIXTURES
from tests.integration.real_airflow.conftest import Pipelines
from tests.integration.real_airflow.deployment import AirflowApi, AirflowDeployment, q, wait_until

pytestmark = pytest.mark.integration

ARRIVAL = FIXTURES / "pipelines" / "arrival"
DAG_ID = "arrival__batch"
GROUP = "arrival-scorer"
INPUT = "s3://smflow-arrival/incoming/"
OUTPUT = "s3://smflow-arrival/predictions/"
SENSOR, PREDICT = "scorer.wait_for_data", "scorer.predict"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
COEF, INTERCEPT = [2.0, -1.0], 0.5


def seed_approved_version(store_home: Path, work: Path) -> str:
    """Version 1 of the group, Approved, as the train DAG + `smflow registry approve` would leave it: the fixture's
    model (model.json + code/inference.py, repacked as the SDK does) registered through the local SageMaker API."""
    executor = LocalExecutor(home=store_home)
    model_dir = work / "model"
    (model_dir / "code").mkdir(parents=True)
    (model_dir / "model.json").write_text(json.dumps({"coef": COEF, "intercept": INTERCEPT}))
    (model_dir / "code" / "inference.py").write_text((ARRIVAL / "code" / "inference.py").read_text())
    archive = work / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for item in model_dir.iterdir():
            tar.add(item, arcname=item.name)
    executor.upload(archive, "s3://smflow-arrival/models/v1/model.tar.gz")
    executor.call("CreateModelPackageGroup", {"ModelPackageGroupName": GROUP})
    arn: str = executor.call("CreateModelPackage", {
        "ModelPackageGroupName": GROUP, "ModelApprovalStatus": "Approved",
        "InferenceSpecification": {
            "Containers": [{"Image": IMAGE, "ModelDataUrl": "s3://smflow-arrival/models/v1/model.tar.gz",
                            "Environment": {"SAGEMAKER_PROGRAM": "inference.py",
                                            "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"}}],
            "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]},
    })["ModelPackageArn"]
    return arn


def runs(api: AirflowApi) -> list[dict[str, Any]]:
    body = api.get(f"/api/v2/dags/{q(DAG_ID)}/dagRuns", limit=100, order_by="run_after")
    result: list[dict[str, Any]] = body["dag_runs"]
    return result


def deferred_run(api: AirflowApi, after: set[str], timeout: float) -> str:
    """The id of a run (not one of `after`) whose sensor is deferred: waiting in the triggerer, no worker slot."""
    def waiting() -> str | None:
        api.deployment.check_alive()
        for run in runs(api):
            if run["dag_run_id"] not in after and api.ti_states(DAG_ID, run["dag_run_id"]).get(SENSOR) == "deferred":
                return str(run["dag_run_id"])
        return None

    return wait_until(waiting, timeout=timeout, what=f"a new run of {DAG_ID} with {SENSOR} deferred", interval=0.5)


def manifests(executor: LocalExecutor) -> dict[str, dict[str, Any]]:
    return {uri[len(OUTPUT):]: json.loads(executor.read_bytes(uri)) for uri in executor.store.list(OUTPUT)
            if uri.endswith("/_manifest.json")}


def rows(seed: int, count: int) -> tuple[bytes, list[float]]:
    x = np.random.default_rng(seed).normal(size=(count, 2)).round(4)
    return "".join(f"{a},{b}\n" for a, b in x).encode(), (x @ np.array(COEF) + INTERCEPT).tolist()


def predicted_values(executor: LocalExecutor, manifest: dict[str, Any]) -> list[float]:
    outputs = [uri for uri in executor.store.list(manifest["predictions"]) if uri.endswith(".out")]
    assert len(outputs) == 1, outputs
    return [float(line) for line in executor.read_bytes(outputs[0]).decode().split()]


@pytest.fixture
def arrival(api: AirflowApi, deployment: AirflowDeployment, pipelines: Pipelines,
            tmp_path: Path) -> Iterator[tuple[LocalExecutor, Path]]:
    seed_approved_version(deployment.smflow_home, tmp_path)
    spec = pipelines.copy(ARRIVAL, "arrival")
    yield LocalExecutor(home=deployment.smflow_home), spec
    # pause first, so no continuous run starts while the spec is being removed
    api._json(api.http.patch(f"/api/v2/dags/{q(DAG_ID)}", json={"is_paused": True},
                             params={"update_mask": "is_paused"}))


def test_dropped_files_are_predicted_once_each_by_runs_nobody_triggered(
        api: AirflowApi, deployment: AirflowDeployment, arrival: tuple[LocalExecutor, Path]) -> None:
    executor, spec = arrival
    started = time.monotonic()
    api.wait_for_dag(DAG_ID, timeout=60)
    assert {t["task_id"] for t in api.tasks(DAG_ID)} == {SENSOR, "scorer.resolve_model", "scorer.find_batches",
                                                         PREDICT}
    api.unpause(DAG_ID)
    first = deferred_run(api, set(), timeout=60)
    print(f"first run {first} waiting (sensor deferred) {time.monotonic() - started:.1f}s after the copy")

    # 1. the first file: the waiting run predicts it
    t1 = time.monotonic()
    day1, expected1 = rows(1, 40)
    executor.write_bytes(f"{INPUT}day-1.csv", day1)
    ended = api.wait_for_run(DAG_ID, first, timeout=60)
    assert ended["state"] == "success", api.ti_states(DAG_ID, first)
    assert ended["run_type"] != "manual", ended
    print(f"day-1.csv predicted by {first} {time.monotonic() - t1:.1f}s after it landed")
    assert api.xcom(DAG_ID, first, SENSOR) == ["day-1.csv"]
    sensor_try = api.task_instance(DAG_ID, first, SENSOR)["try_number"]
    assert "the triggerer saw new batches under s3://smflow-arrival/incoming/: day-1.csv" in api.log(
        DAG_ID, first, SENSOR, sensor_try)
    done = manifests(executor)
    assert list(done) == ["day-1.csv/v1/_manifest.json"], done
    assert done["day-1.csv/v1/_manifest.json"]["records"]["output"] == 40
    assert predicted_values(executor, done["day-1.csv/v1/_manifest.json"]) == pytest.approx(expected1, abs=1e-6)

    # 2. the next continuous run waits again, with day-1.csv already predicted: nothing runs until new data
    second = deferred_run(api, {first}, timeout=60)
    t2 = time.monotonic()
    day2, expected2 = rows(2, 25)
    executor.write_bytes(f"{INPUT}day-2.csv", day2)
    executor.write_bytes(f"{INPUT}notes.txt", b"not a batch: the pattern is *.csv")
    ended = api.wait_for_run(DAG_ID, second, timeout=60)
    assert ended["state"] == "success", api.ti_states(DAG_ID, second)
    print(f"day-2.csv predicted by {second} {time.monotonic() - t2:.1f}s after it landed")
    assert api.xcom(DAG_ID, second, SENSOR) == ["day-2.csv"]
    predict = api.xcom(DAG_ID, second, PREDICT)
    assert [b["batch_id"] for b in predict["predicted"]] == ["day-2.csv"], predict

    after = manifests(executor)
    assert sorted(after) == ["day-1.csv/v1/_manifest.json", "day-2.csv/v1/_manifest.json"], after
    assert after["day-1.csv/v1/_manifest.json"] == done["day-1.csv/v1/_manifest.json"]  # not predicted again
    assert predicted_values(executor, after["day-2.csv/v1/_manifest.json"]) == pytest.approx(expected2, abs=1e-6)
    jobs = executor.call("ListTransformJobs", {"MaxResults": 100})["TransformJobSummaries"]
    assert len(jobs) == 2, [j["TransformJobName"] for j in jobs]
    assert all(r["run_type"] != "manual" for r in runs(api)), runs(api)
    # what a user asks afterwards: `smflow predictions` reads the same manifests
    listed = subprocess.run([sys.executable, "-m", "smflow.cli", "predictions", str(spec), "--json"],
                            env={**deployment.env(), "SMFLOW_EXECUTOR": "local"}, capture_output=True, text=True,
                            timeout=60)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    table = json.loads(listed.stdout)
    assert [(r["batch_id"], r["model_version"], r["records"]["output"]) for r in table] == [
        ("day-1.csv", 1, 40), ("day-2.csv", 1, 25)], table
    print(f"two files, two runs, two transform jobs in {time.monotonic() - started:.1f}s")
