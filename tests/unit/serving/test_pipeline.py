"""A serial inference pipeline of three containers, served in one process: each response the next request."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import Ridge

from smflow.local_sagemaker.containers.transform import run_transform_job
from smflow.local_sagemaker.store import LocalStore
from tests.unit.serving.conftest import FEATURES, csv_rows, invoke, write_model

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
# Doubles every feature, answering CSV (its SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT pins the intermediate type).
FEATURIZER = """
import numpy as np

def model_fn(model_dir):
    return None

def input_fn(body, content_type):
    assert content_type == "text/csv", content_type
    return np.loadtxt(body.splitlines(), delimiter=",", ndmin=2)

def predict_fn(data, model):
    return data * 2

def output_fn(prediction, accept):
    assert accept == "text/csv", accept
    return "\\n".join(",".join(map(str, row)) for row in prediction.tolist()) + "\\n", accept
"""
# Sees what the estimator answered (JSON: no default accept is set for it) and its own environment.
POSTPROCESSOR = """
import json, os

def model_fn(model_dir):
    return None

def transform_fn(model, body, content_type, accept):
    if content_type != "application/json":
        raise ValueError(f"expected the estimator's JSON, got {content_type}")
    values = json.loads(body)
    if any(v > 1e6 for v in values):
        raise ValueError("prediction out of range")
    return json.dumps({"stage": os.environ.get("STAGE"), "predictions": [round(v, 6) for v in values]}), accept
"""


def pipeline_containers(tmp_path: Path, ridge_dir: Path) -> list[dict[str, Any]]:
    featurizer = write_model(tmp_path / "featurizer", source=FEATURIZER)
    postprocessor = write_model(tmp_path / "postprocessor", source=POSTPROCESSOR)
    return [
        {"name": "featurizer", "model_dir": str(featurizer),
         "environment": {"SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "text/csv", "STAGE": "featurizer"}},
        {"name": "ridge", "model_dir": str(ridge_dir), "environment": {"STAGE": "ridge"}},
        {"name": "postprocessor", "model_dir": str(postprocessor), "environment": {"STAGE": "postprocessor"}},
    ]


def test_three_containers_chain_with_each_ones_type_and_environment(
    start: Any, tmp_path: Path, ridge_dir: Path, ridge: Ridge
) -> None:
    server = start(containers=pipeline_containers(tmp_path, ridge_dir))
    data = np.round(np.random.default_rng(5).normal(size=(4, FEATURES)), 6)

    answer = invoke(server.port, csv_rows(data), accept="application/json")

    assert (answer.status, answer.headers["content-type"]) == (200, "application/json")
    expected = [round(v, 6) for v in ridge.predict((data * 2).astype(np.float32)).tolist()]
    assert answer.json() == {"stage": "postprocessor", "predictions": expected}


def test_a_failing_container_is_named_and_the_pipeline_keeps_serving(start: Any, tmp_path: Path,
                                                                     ridge_dir: Path) -> None:
    server = start(containers=pipeline_containers(tmp_path, ridge_dir))
    huge = csv_rows(np.full((1, FEATURES), 1e9))

    failed = invoke(server.port, huge, accept="application/json")
    malformed = invoke(server.port, b"1,2\n3\n", accept="application/json")

    assert failed.status == 500
    assert failed.json()["message"] == ("container 3/3 (postprocessor): the model failed: ValueError: prediction "
                                        "out of range")
    assert malformed.status == 500 and malformed.json()["message"].startswith("container 1/3 (featurizer): ")
    assert invoke(server.port, csv_rows(np.ones((1, FEATURES))), accept="application/json").status == 200


def test_the_batch_transform_of_the_same_containers_answers_the_same(
    start: Any, tmp_path: Path, ridge_dir: Path
) -> None:
    containers = pipeline_containers(tmp_path, ridge_dir)
    server = start(containers=containers)
    data = np.round(np.random.default_rng(6).normal(size=(3, FEATURES)), 6)
    store = LocalStore(tmp_path / "store")
    model_containers = []
    for container in containers:
        uri = f"s3://bucket/{container['name']}/model.tar.gz"
        store.upload_tar(Path(container["model_dir"]), uri)
        model_containers.append({"Image": IMAGE, "ModelDataUrl": uri, "Environment": container["environment"]})
    store.write_bytes("s3://bucket/in/rows.csv", csv_rows(data))
    request = {"TransformJobName": "t", "ModelName": "p", "BatchStrategy": "SingleRecord",
               "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://bucket/in/"}},
                                  "ContentType": "text/csv", "SplitType": "Line"},
               "TransformOutput": {"S3OutputPath": "s3://bucket/out", "Accept": "application/json",
                                   "AssembleWith": "Line"},
               "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1}}

    run_transform_job(request, {"ModelName": "p", "Containers": model_containers}, store, tmp_path / "job",
                      io.StringIO())

    batch = [json.loads(line) for line in store.read_bytes("s3://bucket/out/rows.csv.out").decode().splitlines()]
    real_time = [invoke(server.port, csv_rows(data[i:i + 1]), accept="application/json").json() for i in range(3)]
    assert batch == real_time
