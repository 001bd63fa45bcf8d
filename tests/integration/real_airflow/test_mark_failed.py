"""Mark failed on a running training task, as the UI does it: the task is killed and its job ends Stopped."""

from __future__ import annotations

import json
import time

import pytest

from tests.integration.real_airflow.conftest import SLEEPY, Pipelines
from tests.integration.real_airflow.deployment import AirflowApi, AirflowDeployment, Timeout, wait_until

pytestmark = pytest.mark.integration

DAG_ID = "sleepy_long__train"
TASK = "m.train"
STOP_WITHIN = 45.0


def running_job(deployment: AirflowDeployment) -> str | None:
    """The name of this pipeline's training job once its script is running."""
    for request in deployment.smflow_home.glob("jobs/training/*/request.json"):
        data = json.loads(request.read_text())
        log = request.parent / "log.txt"
        if ({"Key": "smflow:pipeline", "Value": "sleepy_long"} in data.get("Tags", [])
                and log.exists() and "training..." in log.read_text(errors="replace")):
            return request.parent.name
    return None


def training_status(deployment: AirflowDeployment, name: str) -> dict:
    """The job's DescribeTrainingJob response as the local SageMaker records it (`jobs/<kind>/<name>/`)."""
    record = deployment.smflow_home / "jobs" / "training" / name / "description.json"
    description: dict = json.loads(record.read_text())
    return description


def test_mark_failed_stops_the_running_job(api: AirflowApi, deployment: AirflowDeployment,
                                           pipelines: Pipelines) -> None:
    pipelines.copy(SLEEPY, "sleepy_long", replace={"pipeline: sleepy\n": "pipeline: sleepy_long\n",
                                                   "seconds: 0": "seconds: 600"})
    api.wait_for_dag(DAG_ID)
    api.unpause(DAG_ID)
    run_id = api.trigger(DAG_ID)["dag_run_id"]
    ti = api.wait_for_ti(DAG_ID, run_id, TASK, {"running", "success", "failed", "upstream_failed"}, timeout=90)
    assert ti["state"] == "running", (ti, api.log(DAG_ID, run_id, TASK, 1))
    name = wait_until(lambda: running_job(deployment), timeout=60, what="the training job to be running")
    assert training_status(deployment, name)["TrainingJobStatus"] == "InProgress"

    t0 = time.monotonic()
    api.set_state(DAG_ID, run_id, TASK, "failed")
    assert api.task_instance(DAG_ID, run_id, TASK)["state"] == "failed"

    def stopped() -> dict | None:
        described = training_status(deployment, name)
        return described if described["TrainingJobStatus"] in ("Stopped", "Completed", "Failed") else None

    try:
        described = wait_until(stopped, timeout=STOP_WITHIN, what=f"{name} to end after Mark failed")
    except Timeout as e:
        status = training_status(deployment, name)["TrainingJobStatus"]
        raise Timeout(f"{e}; it is still {status}; task log:\n{api.log(DAG_ID, run_id, TASK, 1)[-3000:]}") from None
    print(f"{name} ended {described['TrainingJobStatus']} {time.monotonic() - t0:.1f}s after Mark failed "
          f"({described.get('FailureReason')!r})")
    assert described["TrainingJobStatus"] == "Stopped", described
    assert api.wait_for_run(DAG_ID, run_id, timeout=60)["state"] == "failed"
    assert api.task_instance(DAG_ID, run_id, TASK)["state"] == "failed"
    # the supervisor's heartbeat got 409 → SIGTERM to the task → on_kill → StopTrainingJob; the task process
    # then ends (SIGKILL after 5 s at the latest) and the supervisor writes "Task killed!" last
    log = wait_until(lambda: (text := api.log(DAG_ID, run_id, TASK, 1)) and "Task killed!" in text and text,
                     timeout=30, what="the supervisor to finish the killed task")
    print(f"task process gone {time.monotonic() - t0:.1f}s after Mark failed; log tail:\n"
          + "\n".join(log.splitlines()[-12:]))
    assert f"task killed: requested StopTrainingJob for {name}" in log, log
