"""BatchArrivalSensor under Airflow's `dag.test()`: the task defers, its trigger runs inline (as the triggerer
would run it), fires when a file lands in the watched prefix, and the resumed task hands the batch downstream."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.integration

SCRIPT = textwrap.dedent('''
    import json, sys, threading, time
    from pathlib import Path
    from smflow.dags.runner import ensure_db, prepare_airflow_env, serialize

    airflow_home = prepare_airflow_env()
    ensure_db(airflow_home)
    from airflow.sdk import DAG, task
    from smflow.executors import get_executor
    from smflow.operators.batch_sensor import BatchArrivalSensor

    store = get_executor("local")
    store.write_bytes("s3://data/incoming/old.csv", b"1,2\\n")

    with DAG("sensor_inline", schedule=None) as dag:
        wait = BatchArrivalSensor(task_id="wait", input_prefix="s3://data/incoming/", pattern="*.csv",
                                  executor="local", poke_seconds=0.2, timeout=60)

        @task
        def got(batches):
            return batches

        got(wait.output)

    # old.csv is the only batch at first: the sensor (without a ledger) would let it through at once, so the
    # test starts with the prefix holding only a file that is not a batch
    store.service.store.delete("s3://data/incoming/old.csv")
    store.write_bytes("s3://data/incoming/readme.txt", b"not a batch")

    # The file lands once the trigger is listing (the sensor has checked and deferred): the trigger's listing
    # function is wrapped to say when it first runs, nothing else of it changes.
    from smflow.operators.triggers import batch_arrival
    listing, trigger_listing = threading.Event(), batch_arrival.local_listing

    def noting(*args):
        listing.set()
        return trigger_listing(*args)

    batch_arrival.local_listing = noting

    def arrive():
        listing.wait(120)
        time.sleep(float(sys.argv[1]))
        store.write_bytes("s3://data/incoming/day-1.csv", b"3,4\\n")

    threading.Thread(target=arrive, daemon=True).start()
    serialize(dag)
    started = time.monotonic()
    run = dag.test()
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    with create_session() as session:
        tis = {ti.task_id: ti for ti in session.query(TaskInstance).filter(TaskInstance.run_id == run.run_id)}
        xcom = session.query(XComModel).filter(XComModel.run_id == run.run_id, XComModel.task_id == "got").one()
        print(json.dumps({"state": str(run.state), "seconds": time.monotonic() - started,
                          "states": {k: str(v.state) for k, v in tis.items()},
                          "got": XComModel.deserialize_value(xcom)}))
''')


def test_the_trigger_runs_inline_and_the_resumed_sensor_passes_the_new_batch(tmp_path: Path, airflow_db: str) -> None:
    script = tmp_path / "sensor_dag.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "SMFLOW_HOME": str(tmp_path / "home"), "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": airflow_db}
    env.pop("AIRFLOW_HOME", None)
    done = subprocess.run([sys.executable, str(script), "0.5"], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["state"] == "success", result
    assert result["states"] == {"wait": "success", "got": "success"}, result
    assert result["got"] == ["day-1.csv"], result
    assert result["seconds"] >= 0.5, "the sensor passed before the file arrived"
    log = done.stdout
    # first check: nothing yet, so it deferred; the inline trigger fired; the resumed task checked again
    checked = log.index("nothing new to predict under s3://data/incoming/ (0 complete batch(es) present")
    resumed = log.index("the triggerer saw new batches under s3://data/incoming/: day-1.csv")
    assert checked < resumed < log.index("batches to predict under s3://data/incoming/: day-1.csv"), log
