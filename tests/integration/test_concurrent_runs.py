"""Two `smflow run`s at once on one SMFLOW_HOME: on a fresh home (Airflow creates its DB) and for the same DAG
run (same logical date) both succeed; the second waits for the first, saying so, and one version is registered."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from smflow.local_sagemaker.registry import ModelRegistry
from tests.conftest import FIXTURES, REPO

PIPELINE = FIXTURES / "pipelines" / "killable" / "pipeline.yaml"


def start(home: Path, db: str, logical_date: str) -> subprocess.Popen[str]:
    env = {**os.environ, "SMFLOW_HOME": str(home), "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": db}
    env.pop("AIRFLOW_HOME", None)
    return subprocess.Popen([sys.executable, "-m", "smflow.cli", "run", str(PIPELINE), "--logical-date", logical_date],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_two_runs_of_the_same_dag_run_on_a_fresh_home_both_succeed(tmp_path: Path) -> None:
    home = tmp_path / "home"
    db = f"sqlite:///{tmp_path / 'fresh-airflow.db'}"  # not the session DB: this one has to be created
    runs = [start(home, db, "2026-02-01T00:00:00+00:00") for _ in range(2)]
    outputs = [run.communicate(timeout=600)[0] for run in runs]
    for run, out in zip(runs, outputs, strict=True):
        assert run.returncode == 0, out[-4000:]
        assert "Traceback" not in out
        assert "killable__train  run manual__2026-02-01T00:00:00+00:00: SUCCESS" in out
    waited = [out for out in outputs if "waiting for it to finish" in out]
    assert waited, "the second run must say that it waits"
    assert any("another smflow run is creating the Airflow database" in out or
               "another smflow run of killable__train (run 2026-02-01T00:00:00+00:00) is in progress" in out
               for out in waited)
    versions = ModelRegistry(home / "registry.sqlite").list_versions("killable-m")
    assert [v["version"] for v in versions] == [1], "the same DAG run registers once"
