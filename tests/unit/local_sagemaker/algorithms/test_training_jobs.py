"""CreateTrainingJob with a built-in algorithm image and no script on the local executor: the XGBoost
algorithm trains (FinalMetricDataList from its log, `xgboost-model` in model.tar.gz); other algorithms fail
with a ClientError naming the sagemaker executor."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Any

import numpy as np

from smflow.executors.local import LocalExecutor
from tests.unit.local_sagemaker.test_training import OP, OUTPUT, channel, finished

XGBOOST = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
METRIC = r".*\[[0-9]+\].*#011validation-rmse:([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?).*"


def request(name: str, image: str, hyperparameters: dict[str, str]) -> dict[str, Any]:
    """As the SDK's generic Estimator sends it: string hyperparameters, no sagemaker_program."""
    return {
        "TrainingJobName": name, "RoleArn": "arn:aws:iam::000000000000:role/r",
        "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File",
                                   "MetricDefinitions": [{"Name": "validation:rmse", "Regex": METRIC}]},
        "HyperParameters": hyperparameters,
        "InputDataConfig": [channel("train", "s3://ml-bucket/xgb/train/"),
                            channel("validation", "s3://ml-bucket/xgb/validation/")],
        "OutputDataConfig": {"S3OutputPath": OUTPUT},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    }


def upload_data(executor: LocalExecutor, tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    for name, rows in (("train", 150), ("validation", 50)):
        x = rng.normal(size=(rows, 3))
        file = tmp_path / f"{name}.csv"
        np.savetxt(file, np.column_stack([x[:, 0] * 2 + x[:, 1], x]), delimiter=",")
        executor.upload(file, f"s3://ml-bucket/xgb/{name}/{name}.csv")


def test_the_xgboost_algorithm_trains_and_reports_its_metric(executor: LocalExecutor, tmp_path: Path) -> None:
    upload_data(executor, tmp_path)
    executor.call(OP, request("xgb-1", XGBOOST, {"objective": "reg:squarederror", "num_round": "8"}))
    description = finished(executor, "xgb-1", timeout=300)
    assert description["TrainingJobStatus"] == "Completed", description.get("FailureReason")
    assert [m["MetricName"] for m in description["FinalMetricDataList"]] == ["validation:rmse"]
    archive = executor.read_bytes(description["ModelArtifacts"]["S3ModelArtifacts"])
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        assert [m.name.lstrip("./") for m in tar.getmembers() if m.isfile()] == ["xgboost-model"]


def test_bad_hyperparameters_are_the_failure_reason(executor: LocalExecutor, tmp_path: Path) -> None:
    upload_data(executor, tmp_path)
    executor.call(OP, request("xgb-2", XGBOOST, {"objective": "reg:squarederror"}))
    description = finished(executor, "xgb-2", timeout=300)
    assert description["TrainingJobStatus"] == "Failed"
    assert description["FailureReason"] == "ClientError: Missing required hyperparameter: num_round"


def test_other_builtin_algorithms_name_the_sagemaker_executor(executor: LocalExecutor, tmp_path: Path) -> None:
    upload_data(executor, tmp_path)
    executor.call(OP, request("ll-1", "382416733822.dkr.ecr.us-east-1.amazonaws.com/linear-learner:1",
                              {"predictor_type": "regressor"}))
    description = finished(executor, "ll-1")
    assert description["TrainingJobStatus"] == "Failed"
    assert description["FailureReason"].startswith("ClientError: the built-in algorithm 'linear-learner'")
    assert "sagemaker executor" in description["FailureReason"]


def test_the_algorithm_publishes_its_metrics_without_definitions(executor: LocalExecutor, tmp_path: Path) -> None:
    upload_data(executor, tmp_path)
    plain = request("xgb-3", XGBOOST, {"objective": "reg:squarederror", "num_round": "4", "eval_metric": "rmse,mae"})
    del plain["AlgorithmSpecification"]["MetricDefinitions"]
    executor.call(OP, plain)
    description = finished(executor, "xgb-3", timeout=300)
    assert description["TrainingJobStatus"] == "Completed", description.get("FailureReason")
    metrics = {m["MetricName"]: m["Value"] for m in description["FinalMetricDataList"]}
    assert sorted(metrics) == ["validation:mae", "validation:rmse"]
    log = executor.read_log(OP, "xgb-3", 0)[0]
    last = [line for line in log.splitlines() if line.startswith("[3]#011")][0]
    assert f"validation-rmse:{metrics['validation:rmse']:.5f}" in last
