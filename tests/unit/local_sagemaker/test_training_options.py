"""CreateTrainingJob options on the local executor: checkpoints round-trip between jobs, SageMaker's spot rules,
and options with no effect here (spot, distribution, KMS, warm pools) kept in the description and named once
in the job log as "not emulated locally"."""

from __future__ import annotations

import io
import json
import tarfile
from typing import Any

import pytest
from botocore.exceptions import ClientError
from botocore.validate import ParamValidator

from smflow.executors.local import LocalExecutor
from smflow.service_model import sagemaker_model
from tests.unit.local_sagemaker.conftest import needs_namespace
from tests.unit.local_sagemaker.test_training import OP, OUTPUT, finished, script_mode_request, upload_source

CHECKPOINTS = {"S3Uri": "s3://ml-bucket/runs/r1/train/checkpoints/", "LocalPath": "/opt/ml/checkpoints"}
NOT_EMULATED = "not emulated locally"


def model_state(executor: LocalExecutor, name: str) -> dict[str, Any]:
    archive = executor.read_bytes(f"{OUTPUT}/{name}/output/model.tar.gz")
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        member = tar.extractfile("model.json")
        assert member is not None
        state: dict[str, Any] = json.loads(member.read())
        return state


@needs_namespace  # the script opens /opt/ml/checkpoints itself, as the public examples do
def test_checkpoints_survive_a_failed_try_and_seed_the_next_job(executor: LocalExecutor, tmp_path: Any) -> None:
    source = upload_source(executor, tmp_path, "checkpointed_train.py")
    first = script_mode_request("ckpt-try-1", "checkpointed_train.py", source,
                                hyperparameters={"epochs": 4, "crash-after-epoch": 2})
    first["CheckpointConfig"] = CHECKPOINTS
    executor.call(OP, first)
    failed = finished(executor, "ckpt-try-1")
    assert failed["TrainingJobStatus"] == "Failed" and "exit code 3" in failed["FailureReason"]
    saved = json.loads(executor.read_bytes(CHECKPOINTS["S3Uri"] + "checkpoint.json"))
    assert saved == {"epoch": 2, "history": [1, 2]}  # what the failed try wrote is in S3

    retry = script_mode_request("ckpt-try-2", "checkpointed_train.py", source, hyperparameters={"epochs": 4})
    retry["CheckpointConfig"] = CHECKPOINTS
    executor.call(OP, retry)
    done = finished(executor, "ckpt-try-2")
    assert done["TrainingJobStatus"] == "Completed", done.get("FailureReason")
    assert model_state(executor, "ckpt-try-2") == {"resumed_from": 2, "history": [1, 2, 3, 4]}
    log = executor.read_log(OP, "ckpt-try-2", 0)[0]
    assert f"checkpoints restored from {CHECKPOINTS['S3Uri']}" in log and "resuming from epoch 2" in log
    assert json.loads(executor.read_bytes(CHECKPOINTS["S3Uri"] + "checkpoint.json"))["epoch"] == 4
    assert done["CheckpointConfig"] == CHECKPOINTS


@needs_namespace
def test_a_job_without_checkpoint_config_starts_fresh(executor: LocalExecutor, tmp_path: Any) -> None:
    executor.write_bytes(CHECKPOINTS["S3Uri"] + "checkpoint.json", json.dumps({"epoch": 9, "history": []}).encode())
    source = upload_source(executor, tmp_path, "checkpointed_train.py")
    executor.call(OP, script_mode_request("no-ckpt", "checkpointed_train.py", source, hyperparameters={"epochs": 1}))
    assert finished(executor, "no-ckpt")["TrainingJobStatus"] == "Completed"
    assert model_state(executor, "no-ckpt") == {"resumed_from": 0, "history": [1]}


@needs_namespace  # the script writes /opt/ml/checkpoints
def test_options_without_local_effect_are_recorded_and_logged_once(executor: LocalExecutor, tmp_path: Any) -> None:
    source = upload_source(executor, tmp_path, "checkpointed_train.py")
    request = script_mode_request("spot-dist-kms", "checkpointed_train.py", source, max_runtime=3600,
                                  hyperparameters={"epochs": 1})
    request["HyperParameters"].update({"sagemaker_mpi_enabled": "true", "sagemaker_mpi_custom_mpi_options": '""',
                                       "sagemaker_mpi_num_of_processes_per_host": "2"})
    request["EnableManagedSpotTraining"] = True
    request["StoppingCondition"]["MaxWaitTimeInSeconds"] = 7200
    request["ResourceConfig"].update({"InstanceCount": 2, "VolumeKmsKeyId": "alias/training",
                                      "KeepAlivePeriodInSeconds": 600})
    request["OutputDataConfig"]["KmsKeyId"] = "alias/artifacts"
    executor.call(OP, request)
    done = finished(executor, "spot-dist-kms")
    assert done["TrainingJobStatus"] == "Completed", done.get("FailureReason")

    # DescribeTrainingJob keeps what was asked for, in SageMaker's shape
    assert done["EnableManagedSpotTraining"] is True
    assert done["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 7200}
    assert done["ResourceConfig"]["VolumeKmsKeyId"] == "alias/training"
    assert done["ResourceConfig"]["KeepAlivePeriodInSeconds"] == 600 and done["ResourceConfig"]["InstanceCount"] == 2
    assert done["OutputDataConfig"]["KmsKeyId"] == "alias/artifacts"
    assert done["HyperParameters"]["sagemaker_mpi_enabled"] == "true"
    shape = sagemaker_model().operation_model("DescribeTrainingJob").output_shape
    assert not ParamValidator().validate(done, shape).has_errors()

    lines = [line for line in executor.read_log(OP, "spot-dist-kms", 0)[0].splitlines() if NOT_EMULATED in line]
    assert len(lines) == 4, lines
    spot, distributed, kms, warm = lines
    assert "managed spot training (EnableManagedSpotTraining, MaxWaitTimeInSeconds 7200)" in spot
    assert "add checkpoints" in spot  # SageMaker's advice for spot jobs, since none are configured
    assert "distributed training (InstanceCount 2, sagemaker_mpi_enabled)" in distributed
    assert "KMS encryption (VolumeKmsKeyId, OutputDataConfig.KmsKeyId)" in kms
    assert "warm pools (KeepAlivePeriodInSeconds 600)" in warm


@needs_namespace  # the script writes /opt/ml/checkpoints
def test_a_plain_job_logs_nothing_about_emulation(executor: LocalExecutor, tmp_path: Any) -> None:
    source = upload_source(executor, tmp_path, "checkpointed_train.py")
    request = script_mode_request("plain", "checkpointed_train.py", source, hyperparameters={"epochs": 1})
    request["HyperParameters"]["sagemaker_mpi_enabled"] = "false"  # named but off: one process, as asked
    executor.call(OP, request)
    finished(executor, "plain")
    assert NOT_EMULATED not in executor.read_log(OP, "plain", 0)[0]


@pytest.mark.parametrize("change,message", [
    ({"EnableManagedSpotTraining": True}, "Invalid MaxWaitTimeInSeconds: managed spot training"),
    ({"StoppingCondition": {"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 7200}},
     "MaxWaitTimeInSeconds applies to managed spot training only"),
    ({"EnableManagedSpotTraining": True, "StoppingCondition": {"MaxRuntimeInSeconds": 3600,
                                                               "MaxWaitTimeInSeconds": 1800}},
     r"Invalid MaxWaitTimeInSeconds 1800: it must be greater than or equal to MaxRuntimeInSeconds \(3600\)"),
])
def test_spot_rules_are_sagemakers(executor: LocalExecutor, change: dict[str, Any], message: str) -> None:
    request = script_mode_request("spot-bad", "train.py", "s3://ml-bucket/src/sourcedir.tar.gz", max_runtime=3600)
    request.update(change)
    with pytest.raises(ClientError, match=message) as caught:
        executor.call(OP, request)
    assert caught.value.response["Error"]["Code"] == "ValidationException"
