"""Local jobs run in their image's environment: scikit-learn 1.2-1 means scikit-learn 1.2.1 inside the job.

The scripts are written as the public SageMaker examples write them: a processing script run with `python3`
that reads `/opt/ml/processing/input/...` and writes `/opt/ml/processing/...`, and a script-mode training
script that reads its environment with `sagemaker_training` and saves to the model directory.
"""

from __future__ import annotations

import io
import json
import shutil
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest
import sklearn

from smflow.executors.base import JobFailedError
from smflow.executors.local import LocalExecutor
from smflow.settings import environments_root
from tests.unit.local_sagemaker.conftest import IMAGE, ROLE, needs_namespace

pytestmark = needs_namespace

VERSIONS_SCRIPT = '''\
import json
import os
import sys

import numpy
import pandas
import sklearn

if __name__ == "__main__":
    out = "/opt/ml/processing/versions"
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "versions.json"), "w") as f:
        json.dump({"sklearn": sklearn.__version__, "numpy": numpy.__version__, "pandas": pandas.__version__,
                   "python": sys.executable, "rows": len(pandas.read_csv("/opt/ml/processing/input/data.csv"))}, f)
'''

TRAIN_SCRIPT = '''\
import argparse
import json
import os

import joblib
import pandas as pd
import sklearn
from sagemaker_training import environment
from sklearn.ensemble import RandomForestRegressor

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--n-estimators", type=int, default=10)
    args, _ = parser.parse_known_args()
    env = environment.Environment()
    frame = pd.read_csv(os.path.join(env.channel_input_dirs["train"], "data.csv"))
    model = RandomForestRegressor(n_estimators=args.n_estimators).fit(frame[["x"]], frame["y"])
    joblib.dump(model, os.path.join(env.model_dir, "model.joblib"))
    with open(os.path.join(env.model_dir, "versions.json"), "w") as f:
        json.dump({"sklearn": sklearn.__version__, "hosts": env.hosts, "module_name": env.module_name}, f)
'''


@pytest.fixture
def executor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LocalExecutor:
    monkeypatch.setenv("SMFLOW_STOP_GRACE_SECONDS", "2")
    executor = LocalExecutor(home=tmp_path / "home")
    executor.write_bytes("s3://ml-bucket/data/data.csv", b"x,y\n" + b"".join(f"{i},{2 * i}\n".encode()
                                                                           for i in range(20)))
    return executor


def processing_request(name: str, image: str) -> dict[str, Any]:
    return {
        "ProcessingJobName": name, "RoleArn": ROLE,
        "AppSpecification": {"ImageUri": image,
                             "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/versions.py"]},
        "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge",
                                                  "VolumeSizeInGB": 30}},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
        "ProcessingInputs": [
            {"InputName": "code", "S3Input": {"S3Uri": "s3://ml-bucket/code/versions.py", "S3DataType": "S3Prefix",
                                              "LocalPath": "/opt/ml/processing/input/code", "S3InputMode": "File"}},
            {"InputName": "data", "S3Input": {"S3Uri": "s3://ml-bucket/data/data.csv", "S3DataType": "S3Prefix",
                                              "LocalPath": "/opt/ml/processing/input", "S3InputMode": "File"}}],
        "ProcessingOutputConfig": {"Outputs": [{"OutputName": "versions", "S3Output": {
            "S3Uri": f"s3://ml-bucket/out/{name}", "LocalPath": "/opt/ml/processing/versions",
            "S3UploadMode": "EndOfJob"}}]},
    }


def run_processing(executor: LocalExecutor, name: str, image: str) -> tuple[dict[str, Any], str]:
    executor.write_bytes("s3://ml-bucket/code/versions.py", VERSIONS_SCRIPT.encode())
    executor.call("CreateProcessingJob", processing_request(name, image))
    try:
        description = executor.wait_for_job("CreateProcessingJob", name, poll_seconds=0.1, timeout_seconds=600)
    except JobFailedError as e:
        description = e.description
    log, _ = executor.read_log("CreateProcessingJob", name, 0)
    assert description["ProcessingJobStatus"] == "Completed", (description.get("FailureReason"), log)
    return json.loads(executor.read_bytes(f"s3://ml-bucket/out/{name}/versions.json")), log


def test_a_sklearn_1_2_1_image_runs_scikit_learn_1_2_1(executor: LocalExecutor) -> None:
    versions, log = run_processing(executor, "versions-12", IMAGE)
    assert versions["sklearn"] == "1.2.1" and versions["numpy"] == "1.24.1"
    assert versions["pandas"] == "1.5.0" and versions["rows"] == 20
    assert Path(versions["python"]).is_relative_to(environments_root())  # `python3` is the environment's
    assert "image sagemaker-scikit-learn:1.2-1-cpu-py3 (sklearn 1.2-1): environment sklearn-1.2-1-py3.11-" in log
    assert ("versions that differ from the image here: Python 3.11 instead of 3.9 (the Python of this machine); "
            "pandas 1.5.0 instead of 1.1.3, scipy 1.9.2 instead of 1.8.0") in log


def test_script_mode_training_with_the_training_toolkit_in_the_image_environment(executor: LocalExecutor,
                                                                                 tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    (source / "train.py").write_text(TRAIN_SCRIPT)
    executor.upload(source, "s3://ml-bucket/code/sourcedir.tar.gz", tar=True)
    request = {
        "TrainingJobName": "toolkit-train", "RoleArn": ROLE,
        "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        "HyperParameters": {"n-estimators": "5", "sagemaker_program": '"train.py"',
                            "sagemaker_submit_directory": '"s3://ml-bucket/code/sourcedir.tar.gz"',
                            "sagemaker_region": '"us-east-1"'},
        "InputDataConfig": [{"ChannelName": "train", "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": "s3://ml-bucket/data/", "S3DataDistributionType": "FullyReplicated"}}}],
        "OutputDataConfig": {"S3OutputPath": "s3://ml-bucket/models"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    }
    executor.call("CreateTrainingJob", request)
    try:
        description = executor.wait_for_job("CreateTrainingJob", "toolkit-train", poll_seconds=0.1,
                                            timeout_seconds=600)
    except JobFailedError as e:
        description = e.description
    log, _ = executor.read_log("CreateTrainingJob", "toolkit-train", 0)
    assert description["TrainingJobStatus"] == "Completed", (description.get("FailureReason"), log)
    archive = executor.read_bytes(description["ModelArtifacts"]["S3ModelArtifacts"])
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        member = tar.extractfile("versions.json")
        assert member is not None
        versions = json.loads(member.read())
    assert versions == {"sklearn": "1.2.1", "hosts": ["algo-1"], "module_name": "train"}


def test_opt_out_runs_the_job_in_smflows_own_environment(executor: LocalExecutor,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMFLOW_IMAGE_ENVIRONMENTS", "off")
    versions, log = run_processing(executor, "versions-off", IMAGE)
    assert versions["sklearn"] == sklearn.__version__ != "1.2.1"
    assert Path(versions["python"]).parent == Path(sys.executable).parent
    assert "SMFLOW_IMAGE_ENVIRONMENTS=off: the job runs in smflow's own Python environment" in log
    assert "environment sklearn-1.2-1" not in log


def test_an_unknown_image_runs_in_smflows_environment_and_says_so_once(executor: LocalExecutor) -> None:
    own = "123456789012.dkr.ecr.us-east-1.amazonaws.com/my-team/preprocess:3"
    versions, log = run_processing(executor, "versions-own", own)
    assert versions["sklearn"] == sklearn.__version__
    notice = f"image {own} is not a SageMaker framework image smflow knows; the job runs in smflow's own Python"
    assert log.count(notice) == 1


def test_a_bad_opt_out_value_fails_the_job_saying_what_to_write(executor: LocalExecutor,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMFLOW_IMAGE_ENVIRONMENTS", "sometimes")
    executor.write_bytes("s3://ml-bucket/code/versions.py", VERSIONS_SCRIPT.encode())
    executor.call("CreateProcessingJob", processing_request("versions-bad", IMAGE))
    with pytest.raises(JobFailedError) as failed:
        executor.wait_for_job("CreateProcessingJob", "versions-bad", poll_seconds=0.1, timeout_seconds=120)
    reason = failed.value.description["FailureReason"]
    assert reason == ("ClientError: SMFLOW_IMAGE_ENVIRONMENTS='sometimes' is neither on nor off; set it to on (jobs "
                      "run in their image's environment) or off (in smflow's own)")


def test_a_build_that_cannot_reach_the_index_fails_the_job_clearly(executor: LocalExecutor, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """No network and an empty cache: the job fails naming the packages and the opt-out, not a traceback."""
    monkeypatch.setenv("SMFLOW_ENVIRONMENTS_DIR", str(tmp_path / "fresh-environments"))
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "empty-uv-cache"))
    monkeypatch.setenv("UV_OFFLINE", "1")
    executor.write_bytes("s3://ml-bucket/code/versions.py", VERSIONS_SCRIPT.encode())
    executor.call("CreateProcessingJob", processing_request("versions-offline", IMAGE))
    with pytest.raises(JobFailedError) as failed:
        executor.wait_for_job("CreateProcessingJob", "versions-offline", poll_seconds=0.1, timeout_seconds=300)
    reason = failed.value.description["FailureReason"]
    assert reason.startswith("ClientError: could not build the Python environment for image "
                             "sagemaker-scikit-learn:1.2-1-cpu-py3 (sklearn 1.2-1)")
    assert "scikit-learn==1.2.1" in reason and "SMFLOW_IMAGE_ENVIRONMENTS=off" in reason
    assert "Traceback" not in reason
    leftovers = [p.name for p in (tmp_path / "fresh-environments").iterdir() if not p.name.endswith(".lock")]
    assert leftovers == []
    shutil.rmtree(tmp_path / "empty-uv-cache", ignore_errors=True)


def test_by_default_environments_live_in_the_executors_home_and_are_reused(
        executor: LocalExecutor, monkeypatch: pytest.MonkeyPatch) -> None:
    """The runner starts in the job's folder with SMFLOW_HOME possibly unset: the home is the executor's."""
    monkeypatch.delenv("SMFLOW_ENVIRONMENTS_DIR", raising=False)
    monkeypatch.delenv("SMFLOW_HOME", raising=False)
    first, first_log = run_processing(executor, "versions-home-1", IMAGE)
    second, second_log = run_processing(executor, "versions-home-2", IMAGE)
    home_environments = executor.home / "environments"
    assert Path(first["python"]).is_relative_to(home_environments) and first["python"] == second["python"]
    assert "(built in " in first_log and "(reused)" in second_log
