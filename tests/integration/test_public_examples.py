"""Pipelines whose scripts are written the way the public SageMaker examples write them, run unchanged on the
local executor through the real `smflow run` (Airflow's `dag.test()` on SQLite)."""

from __future__ import annotations

import csv
import json
import random
import shutil
from pathlib import Path

from smflow.local_sagemaker.registry import ModelRegistry
from smflow.local_sagemaker.store import LocalStore
from tests.conftest import FIXTURES
from tests.integration.conftest import run_cli

EXAMPLES = FIXTURES / "public_examples"
EDUCATION = [" Bachelors degree", " High school graduate", " Masters degree", " Doctorate degree", " Children"]
INDUSTRY = [" Retail trade", " Manufacturing", " Education", " Finance insurance", " Construction"]
WORKER = [" Private", " Self-employed", " Federal government", " Not in universe"]


def census_csv(path: Path, rows: int = 600, seed: int = 7) -> None:
    """Census-income-like data with a learnable label (age, education and capital gains raise income)."""
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["age", "education", "major industry code", "class of worker",
                         "num persons worked for employer", "capital gains", "capital losses",
                         "dividends from stocks", "income"])
        for _ in range(rows):
            age, education = rng.randint(18, 80), rng.choice(EDUCATION)
            gains = rng.choice([0, 0, 0, rng.randint(1000, 20000)])
            score = (age > 40) + (education in EDUCATION[2:4]) + (gains > 5000) + rng.random() * 0.8
            writer.writerow([age, education, rng.choice(INDUSTRY), rng.choice(WORKER), rng.randint(0, 6), gains,
                             rng.choice([0, 0, rng.randint(100, 2000)]), rng.randint(0, 500),
                             " 50000+." if score >= 1.8 else " - 50000."])


def test_sklearn_processing_training_evaluation_example(tmp_path: Path, airflow_db: str) -> None:
    project = tmp_path / "census"
    shutil.copytree(EXAMPLES / "sklearn_processing", project)
    census_csv(project / "data" / "census-income.csv")
    home = tmp_path / "home"
    done = run_cli(["run", str(project / "pipeline.yaml"), "--dag", "train"], home, airflow_db)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    assert "census__train" in done.stdout and "SUCCESS" in done.stdout

    (version,) = ModelRegistry(home / "registry.sqlite").list_versions("census-income")
    store = LocalStore(home / "store")
    assert version["model_data_url"].endswith("/output/model.tar.gz")
    (report_uri,) = [u for u in store.list("s3://smflow/census/runs/") if u.endswith("/evaluation/evaluation.json")]
    report = json.loads(store.read_bytes(report_uri))
    assert 0.6 <= report["accuracy"] <= 1.0 and "roc_auc" in report and "weighted avg" in report
    # the SDK-style output folders were uploaded under their output names
    train_objects = [u for u in store.list("s3://smflow/census/runs/") if "/output/train_data/" in u]
    assert sorted(u.rsplit("/", 1)[-1] for u in train_objects) == ["train_features.csv", "train_labels.csv"]
