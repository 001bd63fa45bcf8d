"""Kill everything in the middle of a training job, re-run the same DAG run: registry and store stay consistent.

The kill takes down the whole tree — the `smflow run` process (Airflow + task) *and* the detached job runner
and its container — as a machine crash would. Re-running the run (same logical date → same run id → same job
names) must find the dead job, mark it Failed, start a fresh attempt (`-a2`) and finish, leaving exactly one
new registry version, the earlier version untouched, and no half-written object in the store.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from smflow.local_sagemaker.registry import ModelRegistry
from tests.conftest import FIXTURES, REPO

PIPELINE = FIXTURES / "pipelines" / "killable" / "pipeline.yaml"
GROUP = "killable-m"


def smflow_run(home: Path, db: str, logical_date: str, slow_flag: Path) -> subprocess.Popen[str]:
    """Training is slow while `slow_flag` exists; its path is part of the request, its presence is not."""
    env = {**os.environ, "SMFLOW_HOME": str(home), "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": db,
           "SLOW_WHILE_FILE": str(slow_flag)}
    env.pop("AIRFLOW_HOME", None)
    return subprocess.Popen([sys.executable, "-m", "smflow.cli", "run", str(PIPELINE), "--logical-date", logical_date],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


def training_job_dirs(home: Path) -> list[Path]:
    return sorted(p for p in (home / "jobs").rglob("description.json") if "train" in p.parent.name)


def wait_until_training_runs(home: Path, timeout: float = 180) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for description in training_job_dirs(home):
            job = description.parent
            log = job / "log.txt"
            if log.exists() and "training..." in log.read_text():
                return job
        time.sleep(0.2)
    raise AssertionError("the training job never started")


def kill_pid_file(file: Path) -> None:
    pid = int(file.read_text().split()[0])
    try:
        os.killpg(os.getpgid(pid), signal.SIGKILL)
    except ProcessLookupError:
        pass


def test_kill_mid_training_then_rerun_leaves_everything_consistent(tmp_path: Path, airflow_db: str) -> None:
    home = tmp_path / "home"
    slow = tmp_path / "slow"
    first = smflow_run(home, airflow_db, "2026-01-01T00:00:00+00:00", slow)
    out, _ = first.communicate(timeout=600)
    assert first.returncode == 0, out[-4000:]
    registry = ModelRegistry(home / "registry.sqlite")
    (v1,) = registry.list_versions(GROUP)

    logical_date = "2026-01-02T00:00:00+00:00"
    slow.touch()
    victim = smflow_run(home, airflow_db, logical_date, slow)
    job = wait_until_training_runs(home)
    os.killpg(victim.pid, signal.SIGKILL)  # Airflow, the task, the operator
    kill_pid_file(job / "runner.pid")      # the detached job runner
    kill_pid_file(job / "container.pid")   # the training script itself
    victim.wait(timeout=30)

    store = home / "store"
    assert not list(store.rglob("*.smflow-part")), "a half-written object is visible in the store"
    assert not [p for p in store.rglob("model.tar.gz") if job.name in str(p)], "killed job uploaded a model"
    assert registry.list_versions(GROUP) == [v1]

    slow.unlink()
    rerun = smflow_run(home, airflow_db, logical_date, slow)
    out, _ = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, out[-4000:]
    killed = json.loads((job / "description.json").read_text())
    assert killed["TrainingJobStatus"] == "Failed"
    assert "runner died" in killed["FailureReason"]
    retried = [d.parent.name for d in training_job_dirs(home) if d.parent.name.startswith(job.name)]
    assert f"{job.name}-a2" in retried, retried
    versions = registry.list_versions(GROUP)
    assert [v["version"] for v in versions] == [1, 2]
    assert versions[0] == v1
    assert f"{job.name}-a2" in versions[1]["model_data_url"]
    assert not list(store.rglob("*.smflow-part"))
