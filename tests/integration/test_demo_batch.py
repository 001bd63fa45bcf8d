"""`make demo`'s batch half (scripts/demo_batch.py) after the train run: the version just trained is approved and
scores the test split held back from its training; the summary says where the predictions are."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from smflow.local_sagemaker.store import LocalStore
from tests.conftest import PIPELINES, REPO
from tests.integration.conftest import run_cli

DEMO = PIPELINES / "diabetes" / "pipeline.yaml"
OUTPUT = "s3://smflow-demo/diabetes/predictions/regressor/held-back-v1.csv/v1/"


def test_demo_batch_predicts_the_held_back_split_with_the_approved_version(tmp_path: Path, airflow_db: str) -> None:
    home = tmp_path / "home"
    train = run_cli(["run", str(DEMO), "--dag", "train"], home, airflow_db)
    assert train.returncode == 0, train.stdout[-3000:] + train.stderr[-3000:]
    env = {**os.environ, "SMFLOW_HOME": str(home), "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": airflow_db}
    env.pop("AIRFLOW_HOME", None)
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "demo_batch.py")], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert "Approving version 1 for the demo" in out and "diabetes-regressor/1: Approved" in out
    assert "held-back-v1.csv (67 rows held back from training version 1)" in out
    assert "diabetes__batch" in out and "predicted held-back-v1.csv (67 records)" in out
    assert OUTPUT in out and f"{home / 'store'}/smflow-demo/diabetes/predictions/" in out
    predictions = LocalStore(home / "store").read_bytes(OUTPUT + "held-back-v1.csv.out").decode().split()
    assert len(predictions) == 67 and all(0 < float(p) < 400 for p in predictions)  # around the target range, 25-346
