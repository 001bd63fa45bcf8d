"""Trigger the demo's train DAG from the UI (unpause, Trigger) and see every task succeed."""

from __future__ import annotations

import time

import pytest

from tests.integration.real_airflow.deployment import AirflowApi

pytestmark = pytest.mark.integration

DAG_ID = "diabetes__train"
DEMO_TASKS = ["regressor.preprocess", "regressor.baseline", "regressor.train", "regressor.model", "regressor.predict",
              "regressor.evaluate", "regressor.gate", "regressor.register"]


def test_demo_train_dag_succeeds(api: AirflowApi) -> None:
    dag = api.dags()[DAG_ID]
    assert not dag["is_stale"], dag
    assert sorted(t["task_id"] for t in api.tasks(DAG_ID)) == sorted(DEMO_TASKS)
    api.unpause(DAG_ID)

    started = time.monotonic()
    run = api.trigger(DAG_ID, note="real-airflow test")
    ended = api.wait_for_run(DAG_ID, run["dag_run_id"], timeout=300)
    states = api.ti_states(DAG_ID, run["dag_run_id"])
    print(f"{DAG_ID} ran in {time.monotonic() - started:.1f}s: {states}")

    assert ended["state"] == "success", states
    assert states == {task: "success" for task in DEMO_TASKS}
    register = api.xcom(DAG_ID, run["dag_run_id"], "regressor.register")
    assert register["status"], register
    train = api.xcom(DAG_ID, run["dag_run_id"], "regressor.train")
    assert train["status"] == "Completed" and train["job_name"].startswith("diabetes-regressor-train-"), train
    assert "started CreateTrainingJob" in api.log(DAG_ID, run["dag_run_id"], "regressor.train", 1)
