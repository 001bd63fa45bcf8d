"""Retraining on drift, in a real deployment: a monitor run that finds a drifted batch updates
`smflow://monitordemo/retrain`, and the scheduler starts the (unpaused, never triggered) train DAG on it by
itself; the retrained version records the drift report that started it."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from smflow.drift.sketch import sketch_batches
from smflow.executors.local import LocalExecutor
from smflow.operators.monitor_data import read_tables
from tests.conftest import FIXTURES, PIPELINES
from tests.integration.real_airflow.conftest import Pipelines
from tests.integration.real_airflow.deployment import AirflowApi, AirflowDeployment, q, wait_until

pytestmark = pytest.mark.integration

MONITOR = FIXTURES / "pipelines" / "monitor"
TRAIN, WATCH = "monitordemo__train", "monitordemo__monitor"
GROUP = "monitordemo-regressor"
INPUT = "s3://smflow-monitor/incoming/"
BASELINE = "s3://smflow-monitor/seeded/baseline.json"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
FEATURES = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
DATA = PIPELINES / "diabetes" / "data" / "diabetes.csv"


def feature_rows(shift: float) -> bytes:
    """The demo data's features without the header and label, every column but `sex` moved by `shift` of it."""
    lines = DATA.read_text().splitlines()[1:]
    rows = [[float(v) for v in line.split(",")[1:]] for line in lines]
    return "".join(",".join(f"{v * (1 if i == 1 else 1 + shift):.4g}" for i, v in enumerate(row)) + "\n"
                   for row in rows).encode()


def seed_approved_version(executor: LocalExecutor) -> None:
    """Version 1, Approved, with a baseline of the unshifted data, as the train DAG + approval would leave it (the
    train DAG's own baseline step is what the retraining run exercises here)."""
    executor.write_bytes("s3://smflow-monitor/seeded/reference.csv", feature_rows(0.0))
    reference = sketch_batches(read_tables(executor, ["s3://smflow-monitor/seeded/reference.csv"], FEATURES, None, []))
    executor.write_bytes(BASELINE, reference.to_json().encode())
    executor.call("CreateModelPackageGroup", {"ModelPackageGroupName": GROUP})
    executor.call("CreateModelPackage", {
        "ModelPackageGroupName": GROUP, "ModelApprovalStatus": "Approved",
        "InferenceSpecification": {
            "Containers": [{"Image": IMAGE, "ModelDataUrl": "s3://smflow-monitor/seeded/model.tar.gz"}],
            "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]},
        "DriftCheckBaselines": {"ModelDataQuality": {"Statistics": {"ContentType": "application/json",
                                                                     "S3Uri": BASELINE}}},
    })


def runs(api: AirflowApi, dag_id: str) -> list[dict[str, Any]]:
    body = api.get(f"/api/v2/dags/{q(dag_id)}/dagRuns", limit=100, order_by="run_after")
    result: list[dict[str, Any]] = body["dag_runs"]
    return result


def pause(api: AirflowApi, dag_id: str) -> None:
    api._json(api.http.patch(f"/api/v2/dags/{q(dag_id)}", json={"is_paused": True},
                             params={"update_mask": "is_paused"}))


@pytest.fixture
def monitored(api: AirflowApi, deployment: AirflowDeployment, pipelines: Pipelines) -> Iterator[LocalExecutor]:
    executor = LocalExecutor(home=deployment.smflow_home)
    seed_approved_version(executor)
    pipelines.copy(MONITOR, "monitordemo", replace={"../../../../include/pipelines/diabetes": str(PIPELINES /
                                                                                                  "diabetes")})
    yield executor
    for dag_id in (TRAIN, WATCH):
        pause(api, dag_id)


def test_a_drifted_batch_makes_the_train_dag_run_by_itself(api: AirflowApi, deployment: AirflowDeployment,
                                                          monitored: LocalExecutor) -> None:
    executor = monitored
    started = time.monotonic()
    api.wait_for_dag(TRAIN, timeout=60)
    api.wait_for_dag(WATCH, timeout=60)
    api.unpause(TRAIN)  # scheduled on the retrain Asset only: unpausing starts no run
    api.unpause(WATCH)
    executor.write_bytes(INPUT + "shifted.csv", feature_rows(0.5))

    watch = api.trigger(WATCH, note="real-airflow drift test")["dag_run_id"]
    ended = api.wait_for_run(WATCH, watch, timeout=120)
    states = api.ti_states(WATCH, watch)
    assert ended["state"] == "success" and states["regressor.retrain"] == "success", states
    checked = api.xcom(WATCH, watch, "regressor.check_drift")["checked"]
    assert [(c["batch_id"], c["dataset_drift"]) for c in checked] == [("shifted.csv", True)], checked
    report = checked[0]["report"]
    print(f"monitor run {watch} found drift {time.monotonic() - started:.1f}s after the copy")

    def retraining() -> dict[str, Any] | None:
        deployment.check_alive()
        return next((r for r in runs(api, TRAIN) if r["run_type"] == "asset_triggered"), None)

    run = wait_until(retraining, timeout=60, what=f"an asset-triggered run of {TRAIN}")
    done = api.wait_for_run(TRAIN, run["dag_run_id"], timeout=240)
    train_states = api.ti_states(TRAIN, run["dag_run_id"])
    assert done["state"] == "success", train_states
    assert [r["run_type"] for r in runs(api, TRAIN)] == ["asset_triggered"]  # it ran once, by itself
    print(f"retraining {run['dag_run_id']} done {time.monotonic() - started:.1f}s after the copy")
    assert f"retraining started by drift: report {report}" in api.log(TRAIN, run["dag_run_id"],
                                                                        "regressor.baseline", 1)
    package = executor.call("DescribeModelPackage", {"ModelPackageName": f"{GROUP}/2"})
    assert package["CustomerMetadataProperties"]["smflow:retrain_trigger"] == report
    assert package["CustomerMetadataProperties"]["smflow:run_id"] == run["dag_run_id"]
    baseline = package["DriftCheckBaselines"]["ModelDataQuality"]["Statistics"]["S3Uri"]
    assert json.loads(executor.read_bytes(baseline))["rows"] == 309
