"""Inference scripts written the way the public SageMaker examples write them, served by batch transform on the
local executor through the real `smflow run`: an output_fn returning a Response object, one returning
(body, content_type), and a transform that sets no Accept and gets the container's default (JSON)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
from sklearn.datasets import load_iris

from smflow.local_sagemaker.store import LocalStore
from tests.conftest import FIXTURES
from tests.integration.conftest import run_cli

PROJECT = FIXTURES / "public_examples" / "iris_batch_transform"


def write_iris(project: Path) -> np.ndarray:
    """The iris example's data: train.csv with the label first, test.csv features only; returns the test labels."""
    data = load_iris()
    order = np.random.default_rng(3).permutation(len(data.target))
    train, test = order[:120], order[120:]
    (project / "data" / "train").mkdir(parents=True)
    (project / "data" / "test").mkdir(parents=True)
    np.savetxt(project / "data" / "train" / "iris.csv",
               np.column_stack([data.target[train], data.data[train]]), delimiter=",", fmt="%g")
    np.savetxt(project / "data" / "test" / "iris.csv", data.data[test], delimiter=",", fmt="%g")
    labels: np.ndarray = data.target[test]
    return labels


def predictions(store: LocalStore, step: str) -> bytes:
    (uri,) = [u for u in store.list("s3://smflow-test/irisbatch/runs/") if f"/iris-{step.replace('_', '-')}/" in u
              and u.endswith("/iris.csv.out")]
    return store.read_bytes(uri)


def test_response_and_tuple_output_fns_and_the_default_accept(tmp_path: Path, airflow_db: str) -> None:
    project = tmp_path / "iris"
    shutil.copytree(PROJECT, project)
    labels = write_iris(project)
    home = tmp_path / "home"

    done = run_cli(["run", str(project / "pipeline.yaml"), "--dag", "train"], home, airflow_db)

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    assert "irisbatch__train" in done.stdout and "SUCCESS" in done.stdout
    store = LocalStore(home / "store")

    # No Accept: the featurizer's output_fn is asked for the default, JSON, and answers with a Response;
    # SplitType None sends the object whole, and AssembleWith None adds no newline.
    answer = predictions(store, "as_json")
    instances = json.loads(answer)["instances"]
    as_json = [row["predicted_label"] for row in instances]
    assert len(as_json) == len(labels) and not answer.endswith(b"\n")
    assert np.mean(np.array(as_json) == labels) >= 0.8

    # Accept text/csv, lines in and out: the same Response-returning output_fn, one prediction per line.
    lines = predictions(store, "as_lines").decode().splitlines()
    assert [int(float(v)) for v in lines] == as_json

    # The inference toolkit's style: (encoder.encode(prediction, accept), accept) — one JSON array per request.
    (batch,) = predictions(store, "as_tuples").decode().splitlines()
    assert json.loads(batch) == as_json
