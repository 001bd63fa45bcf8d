"""Clear on a succeeded training task, as the UI does it: the same request reuses the completed job (and says
so once); a changed request (the YAML edited, a new DAG version parsed) starts a new job."""

from __future__ import annotations

import json
import time

import pytest

from tests.integration.real_airflow.conftest import SLEEPY, Pipelines
from tests.integration.real_airflow.deployment import AirflowApi, AirflowDeployment, wait_until

pytestmark = pytest.mark.integration

DAG_ID = "sleepy_clear__train"
TASK = "m.train"


def training_jobs(deployment: AirflowDeployment) -> dict[str, dict]:
    """Local training jobs of this pipeline: name → the CreateTrainingJob request it was started with."""
    jobs = {}
    for request in deployment.smflow_home.glob("jobs/training/*/request.json"):
        data = json.loads(request.read_text())
        if {"Key": "smflow:pipeline", "Value": "sleepy_clear"} in data.get("Tags", []):
            jobs[request.parent.name] = data
    return jobs


def rerun_after_clear(api: AirflowApi, run_id: str, try_number: int) -> dict:
    cleared = api.clear(DAG_ID, run_id, [TASK])
    assert [ti["task_id"] for ti in cleared] == [TASK], cleared

    def next_try_done() -> dict | None:
        ti = api.task_instance(DAG_ID, run_id, TASK)
        return ti if ti["try_number"] > try_number and ti["state"] in ("success", "failed") else None

    ti = wait_until(next_try_done, timeout=120, what=f"try {try_number + 1} of {TASK} to end", interval=1)
    api.wait_for_run(DAG_ID, run_id, timeout=60)
    return ti


def test_clear_reuses_the_same_request_and_starts_a_new_job_for_a_changed_one(
        api: AirflowApi, deployment: AirflowDeployment, pipelines: Pipelines) -> None:
    spec = pipelines.copy(SLEEPY, "sleepy_clear", replace={"pipeline: sleepy\n": "pipeline: sleepy_clear\n"})
    api.wait_for_dag(DAG_ID)
    api.unpause(DAG_ID)
    run_id = api.trigger(DAG_ID)["dag_run_id"]
    assert api.wait_for_run(DAG_ID, run_id, timeout=120)["state"] == "success"
    first = api.xcom(DAG_ID, run_id, TASK)
    assert first["status"] == "Completed" and not first["reused"], first
    assert list(training_jobs(deployment)) == [first["job_name"]]
    versions = api.dag_versions(DAG_ID)

    # Clear without a change: the completed job is reused, the log says so once, no new job
    t0 = time.monotonic()
    ti = rerun_after_clear(api, run_id, try_number=1)
    print(f"clear without a change: try {ti['try_number']} {ti['state']} in {time.monotonic() - t0:.1f}s")
    assert ti["state"] == "success"
    again = api.xcom(DAG_ID, run_id, TASK)
    assert again["job_name"] == first["job_name"] and again["reused"], again
    log = api.log(DAG_ID, run_id, TASK, ti["try_number"])
    assert log.count("reusing") == 1, log
    assert first["job_name"] in log
    assert list(training_jobs(deployment)) == [first["job_name"]]

    # Change a hyperparameter; wait for the new DAG version; Clear: a new job with the new request
    t1 = time.monotonic()
    pipelines.edit(spec, "learning_rate: 0.1", "learning_rate: 0.25")
    wait_until(lambda: len(api.dag_versions(DAG_ID)) > len(versions), timeout=60,
               what=f"a new version of {DAG_ID} after the YAML change")
    print(f"new DAG version parsed {time.monotonic() - t1:.1f}s after the YAML change")
    t2 = time.monotonic()
    ti = rerun_after_clear(api, run_id, try_number=ti["try_number"])
    print(f"clear after a change: try {ti['try_number']} {ti['state']} in {time.monotonic() - t2:.1f}s")
    assert ti["state"] == "success", api.log(DAG_ID, run_id, TASK, ti["try_number"])
    changed = api.xcom(DAG_ID, run_id, TASK)
    assert changed["job_name"] != first["job_name"] and not changed["reused"], (first, changed)
    jobs = training_jobs(deployment)
    assert set(jobs) == {first["job_name"], changed["job_name"]}, jobs
    assert jobs[first["job_name"]]["HyperParameters"]["learning_rate"] == "0.1"
    assert jobs[changed["job_name"]]["HyperParameters"]["learning_rate"] == "0.25"
    log = api.log(DAG_ID, run_id, TASK, ti["try_number"])
    assert "reusing" not in log and f"started CreateTrainingJob {changed['job_name']}" in log, log
