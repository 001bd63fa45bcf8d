"""The built-in XGBoost algorithm end to end on the local executor, written as the SageMaker SDK's XGBoost
examples write it: the XGBoost image and no script, CSV channels with the label first and no header, a
validation:rmse metric definition, then create_model and a batch transform. The predictions must be those of
a model trained directly with xgboost on the same data."""

from __future__ import annotations

import io
import json
import pickle
import shutil
import tarfile
from pathlib import Path

import numpy as np
import xgboost as xgb
from sklearn.datasets import load_diabetes

from smflow.local_sagemaker.registry import ModelRegistry
from smflow.local_sagemaker.store import LocalStore
from tests.conftest import FIXTURES
from tests.integration.conftest import run_cli

PIPELINE = FIXTURES / "pipelines" / "xgboost_builtin"
PARAMS = {"objective": "reg:squarederror", "max_depth": 4, "eta": 0.2, "min_child_weight": 2, "tree_method": "exact",
          "base_score": 150}
ROUNDS = 40


def write_csv(path: Path, rows: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savetxt(path, rows, delimiter=",", fmt="%.10g")


def test_builtin_xgboost_trains_and_predicts_as_xgboost_does(tmp_path: Path, airflow_db: str) -> None:
    project = tmp_path / "project"
    shutil.copytree(PIPELINE, project)
    x, y = load_diabetes(return_X_y=True)
    labelled = np.column_stack([y, x])
    write_csv(project / "data" / "train" / "train.csv", labelled[:300])
    write_csv(project / "data" / "validation" / "validation.csv", labelled[300:380])
    write_csv(project / "data" / "test" / "test.csv", x[380:])
    home = tmp_path / "home"

    done = run_cli(["run", str(project / "pipeline.yaml"), "--dag", "train"], home, airflow_db)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    assert "xgbbuiltin__train" in done.stdout and "SUCCESS" in done.stdout
    assert "validation:rmse=" in done.stdout

    train = np.loadtxt(project / "data" / "train" / "train.csv", delimiter=",")
    valid = np.loadtxt(project / "data" / "validation" / "validation.csv", delimiter=",")
    test = np.loadtxt(project / "data" / "test" / "test.csv", delimiter=",")
    reference = xgb.train(PARAMS, xgb.DMatrix(train[:, 1:], label=train[:, 0]), num_boost_round=ROUNDS)

    store = LocalStore(home / "store")
    (out,) = [u for u in store.list("s3://smflow/xgbbuiltin/runs/") if u.endswith("/test.csv.out")]
    predictions = [float(line) for line in store.read_bytes(out).decode().splitlines()]
    assert len(predictions) == len(test)  # one line per record: the container's batch CSV answer
    np.testing.assert_allclose(predictions, reference.predict(xgb.DMatrix(test)), rtol=1e-4)

    # the metric definition read the container-format log line of the last round
    (description,) = [json.loads(p.read_text()) for p in (home / "jobs" / "training").glob("*/description.json")]
    metrics = {m["MetricName"]: m["Value"] for m in description["FinalMetricDataList"]}
    expected_rmse = float(np.sqrt(np.mean((reference.predict(xgb.DMatrix(valid[:, 1:])) - valid[:, 0]) ** 2)))
    assert abs(metrics["validation:rmse"] - expected_rmse) < 1e-3 * expected_rmse
    log = next((home / "jobs" / "training").glob("*/log.txt")).read_text()
    assert f"[{ROUNDS - 1}]#011train-rmse:" in log and "#011validation-rmse:" in log


def abalone_csv(path: Path, rows: int = 700, seed: int = 11) -> None:
    """Abalone-like rows without a header (sex, 7 measurements, rings); rings follow the shell weight."""
    rng = np.random.default_rng(seed)
    length = rng.uniform(0.1, 0.8, rows)
    diameter = 0.8 * length + rng.normal(0, 0.02, rows)
    height = 0.3 * length + rng.normal(0, 0.01, rows)
    whole = 2.5 * length ** 2 + rng.normal(0, 0.05, rows)
    shell = 0.3 * whole + rng.normal(0, 0.01, rows)
    rings = np.clip(np.round(3 + 22 * shell + rng.normal(0, 1.0, rows)), 1, 29)
    sex = rng.choice(["M", "F", "I"], rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as f:
        for i in range(rows):
            f.write(f"{sex[i]},{length[i]:.3f},{diameter[i]:.3f},{height[i]:.3f},{whole[i]:.4f},"
                    f"{0.4 * whole[i]:.4f},{0.2 * whole[i]:.4f},{shell[i]:.4f},{int(rings[i])}\n")


def test_the_sagemaker_pipelines_abalone_example(tmp_path: Path, airflow_db: str) -> None:
    """Preprocessing → built-in XGBoost (1.0-1) → an evaluation script that unpickles xgboost-model →
    gate → register, scripts as the public example writes them."""
    project = tmp_path / "abalone"
    shutil.copytree(FIXTURES / "public_examples" / "xgboost_abalone", project)
    abalone_csv(project / "data" / "abalone-dataset.csv")
    home = tmp_path / "home"
    done = run_cli(["run", str(project / "pipeline.yaml"), "--dag", "train"], home, airflow_db)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    assert "abalone__train" in done.stdout and "SUCCESS" in done.stdout
    assert "validation:rmse=" in done.stdout  # the algorithm's own metric, with no metric definitions given

    registry = ModelRegistry(home / "registry.sqlite")
    (version,) = registry.list_versions("abalone-abalone")
    assert version["image"].endswith("/sagemaker-xgboost:1.0-1-cpu-py3") and version["status"] == "Approved"
    package = registry.call("DescribeModelPackage", {"ModelPackageName": version["arn"]})
    (container,) = package["InferenceSpecification"]["Containers"]
    assert "SAGEMAKER_PROGRAM" not in container.get("Environment", {})  # the container serves xgboost-model
    store = LocalStore(home / "store")
    report = json.loads(store.read_bytes(package["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]))
    assert 0 < report["regression_metrics"]["mse"]["value"] <= 6.0
    archive = store.read_bytes(version["model_data_url"])
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        member = tar.extractfile("xgboost-model")
        assert member is not None
        assert isinstance(pickle.loads(member.read()), xgb.Booster)  # 1.0-1 pickles, as the script expects
