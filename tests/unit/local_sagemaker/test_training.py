"""CreateTrainingJob on the local executor: script mode, the TTK environment, failures, limits, kills."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import tarfile
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from botocore.validate import ParamValidator

from smflow.executors.base import JobFailedError
from smflow.executors.local import LocalExecutor
from smflow.local_sagemaker.containers.training import to_cmd_args, to_env_vars
from smflow.local_sagemaker.jobs.records import ProcessId
from smflow.local_sagemaker.jobs.sandbox import choose_mode
from smflow.local_sagemaker.requirements import unsatisfied_requirements
from smflow.service_model import sagemaker_model
from tests.unit.local_sagemaker.conftest import IMAGE, ROLE, SCRIPTS, needs_namespace

OP = "CreateTrainingJob"
OUTPUT = "s3://ml-bucket/runs/r1/train/output"


def csv_transform(name: str, model: str, output: str) -> dict[str, Any]:
    """A CSV batch transform over s3://ml-bucket/batch/in, one prediction per line."""
    return {
        "TransformJobName": name, "ModelName": model,
        "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                                                           "S3Uri": "s3://ml-bucket/batch/in"}},
                           "ContentType": "text/csv", "SplitType": "Line"},
        "TransformOutput": {"S3OutputPath": output, "AssembleWith": "Line", "Accept": "text/csv"},
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1}}


def upload_source(executor: LocalExecutor, tmp_path: Path, *files: str) -> str:
    source = tmp_path / "source"
    shutil.rmtree(source, ignore_errors=True)
    source.mkdir()
    for name in files:
        shutil.copy(SCRIPTS / name, source / name)
    uri = "s3://ml-bucket/runs/r1/train/source/sourcedir.tar.gz"
    executor.upload(source, uri, tar=True)
    return uri


def script_mode_request(name: str, program: str, source_uri: str, *, hyperparameters: dict[str, Any] | None = None,
                        channels: list[dict[str, Any]] | None = None, max_runtime: int = 3600,
                        metrics: dict[str, str] | None = None) -> dict[str, Any]:
    """A request as the SageMaker Python SDK's SKLearn estimator sends it (JSON-encoded hyperparameters)."""
    hps = {k: json.dumps(v) for k, v in (hyperparameters or {}).items()}
    hps.update({"sagemaker_program": json.dumps(program), "sagemaker_submit_directory": json.dumps(source_uri),
                "sagemaker_region": json.dumps("us-east-1"), "sagemaker_container_log_level": "20",
                "sagemaker_job_name": json.dumps(name)})
    algorithm: dict[str, Any] = {"TrainingImage": IMAGE, "TrainingInputMode": "File"}
    if metrics:
        algorithm["MetricDefinitions"] = [{"Name": k, "Regex": v} for k, v in metrics.items()]
    req: dict[str, Any] = {
        "TrainingJobName": name,
        "RoleArn": ROLE,
        "AlgorithmSpecification": algorithm,
        "HyperParameters": hps,
        "OutputDataConfig": {"S3OutputPath": OUTPUT},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30},
        "StoppingCondition": {"MaxRuntimeInSeconds": max_runtime},
        "Environment": {"PIPELINE_STAGE": "test"},
        "Tags": [{"Key": "project", "Value": "smflow-tests"}],
    }
    if channels:
        req["InputDataConfig"] = channels
    return req


def channel(name: str, uri: str, mode: str | None = None) -> dict[str, Any]:
    ch: dict[str, Any] = {"ChannelName": name, "ContentType": "text/csv", "DataSource": {"S3DataSource": {
        "S3DataType": "S3Prefix", "S3Uri": uri, "S3DataDistributionType": "FullyReplicated"}}}
    if mode:
        ch["InputMode"] = mode
    return ch


def finished(executor: LocalExecutor, name: str, timeout: float = 60) -> dict[str, Any]:
    try:
        return executor.wait_for_job(OP, name, poll_seconds=0.05, timeout_seconds=timeout)
    except JobFailedError as e:
        return e.description


def wait_for_log(executor: LocalExecutor, name: str, text: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in executor.read_log(OP, name, 0)[0]:
            return
        time.sleep(0.05)
    raise AssertionError(f"{text!r} never appeared in the log of {name}: {executor.read_log(OP, name, 0)[0]}")


def tar_members(data: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


def test_script_mode_training_with_sklearn(executor: LocalExecutor, tmp_path: Path) -> None:
    rng_rows = [(i % 7, (i * 3) % 11) for i in range(60)]
    train = "".join(f"{2 * a + 3 * b + 1},{a},{b}\n" for a, b in rng_rows[:48])
    validation = "".join(f"{2 * a + 3 * b + 1},{a},{b}\n" for a, b in rng_rows[48:])
    executor.write_bytes("s3://ml-bucket/prepared/train/train.csv", train.encode())
    executor.write_bytes("s3://ml-bucket/prepared/validation/validation.csv", validation.encode())
    source = upload_source(executor, tmp_path, "train.py", "inference.py", "requirements.txt")
    req = script_mode_request(
        "sklearn-train-1", "train.py", source, hyperparameters={"alpha": 0.01, "max_iter": 50, "solver": "svd"},
        channels=[channel("train", "s3://ml-bucket/prepared/train"),
                  channel("validation", "s3://ml-bucket/prepared/validation")],
        metrics={"validation:rmse": r"val_rmse=([0-9.]+)", "train:rows": r"train_rows=(\d+)"})
    executor.call(OP, req)
    description = executor.wait_for_job(OP, "sklearn-train-1", poll_seconds=0.05, timeout_seconds=60)

    assert description["TrainingJobStatus"] == "Completed" and description["SecondaryStatus"] == "Completed"
    model_uri = f"{OUTPUT}/sklearn-train-1/output/model.tar.gz"
    assert description["ModelArtifacts"] == {"S3ModelArtifacts": model_uri}
    assert list(tar_members(executor.read_bytes(model_uri))) == ["model.joblib"]  # packed from inside the dir
    metrics = {m["MetricName"]: m["Value"] for m in description["FinalMetricDataList"]}
    assert metrics["train:rows"] == 48.0 and 0 <= metrics["validation:rmse"] < 0.1
    assert [t["Status"] for t in description["SecondaryStatusTransitions"]] == [
        "Starting", "Downloading", "Training", "Uploading", "Completed"]
    shape = sagemaker_model().operation_model("DescribeTrainingJob").output_shape
    assert not ParamValidator().validate(description, shape).has_errors()

    seen = json.loads(tar_members(executor.read_bytes(f"{OUTPUT}/sklearn-train-1/output/output.tar.gz"))
                      ["environment.json"])
    assert seen["argv"] == ["--alpha", "0.01", "--max_iter", "50", "--solver", "svd"]
    assert seen["cwd"] == "/opt/ml/code"
    env = seen["env"]
    assert env["SM_MODEL_DIR"] == "/opt/ml/model"
    assert env["SM_CHANNELS"] == '["train","validation"]'
    assert env["SM_CHANNEL_TRAIN"] == "/opt/ml/input/data/train"
    assert json.loads(env["SM_HPS"]) == {"alpha": 0.01, "max_iter": 50, "solver": "svd"}
    assert env["SM_HP_ALPHA"] == "0.01" and env["SM_HP_SOLVER"] == "svd"
    assert env["SM_USER_ARGS"] == '["--alpha","0.01","--max_iter","50","--solver","svd"]'
    assert env["SM_CURRENT_HOST"] == "algo-1" and env["SM_HOSTS"] == '["algo-1"]'
    assert env["SM_OUTPUT_DATA_DIR"] == "/opt/ml/output/data" and env["SM_LOG_LEVEL"] == "20"
    assert env["SM_MODULE_DIR"] == source and env["SM_CURRENT_INSTANCE_TYPE"] == "ml.m5.large"
    assert json.loads(env["SM_TRAINING_ENV"])["hyperparameters"] == {"alpha": 0.01, "max_iter": 50, "solver": "svd"}
    assert json.loads(env["SM_INPUT_DATA_CONFIG"])["train"] == {
        "ContentType": "text/csv", "TrainingInputMode": "File", "S3DistributionType": "FullyReplicated",
        "RecordWrapperType": "None"}
    assert env["TRAINING_JOB_NAME"] == "sklearn-train-1"
    assert env["TRAINING_JOB_ARN"] == "arn:aws:sagemaker:us-east-1:000000000000:training-job/sklearn-train-1"
    log = executor.read_log(OP, "sklearn-train-1", 0)[0]
    assert "requirements.txt is already satisfied" in log and "val_rmse=" in log

    # the trained model serves a batch transform through CreateModel + CreateTransformJob
    pytest.importorskip("smflow.local_sagemaker.containers.transform")
    executor.call("CreateModel", {"ModelName": "sklearn-model-1", "ExecutionRoleArn": ROLE, "PrimaryContainer": {
        "Image": IMAGE, "ModelDataUrl": model_uri,
        "Environment": {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": source}}})
    executor.write_bytes("s3://ml-bucket/batch/in/rows.csv", b"1,1\n0,2\n")
    executor.call("CreateTransformJob", csv_transform("sklearn-batch-1", "sklearn-model-1", "s3://ml-bucket/batch/out"))
    done = executor.wait_for_job("CreateTransformJob", "sklearn-batch-1", poll_seconds=0.05, timeout_seconds=60)
    assert done["TransformJobStatus"] == "Completed"
    output = executor.read_bytes("s3://ml-bucket/batch/out/rows.csv.out").decode()
    predictions = [float(v) for v in output.replace(",", " ").split()]
    assert predictions == pytest.approx([6.0, 7.0], abs=0.1)

    # the handler runs in the job's sandbox: a script that opens /opt/ml/model/... directly works unchanged
    if choose_mode() != "paths":
        hardcoded = upload_source(executor, tmp_path, "hardcoded_inference.py")
        executor.call("CreateModel", {"ModelName": "sklearn-model-2", "ExecutionRoleArn": ROLE, "PrimaryContainer": {
            "Image": IMAGE, "ModelDataUrl": model_uri,
            "Environment": {"SAGEMAKER_PROGRAM": "hardcoded_inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": hardcoded}}})
        executor.call("CreateTransformJob",
                      csv_transform("sklearn-batch-2", "sklearn-model-2", "s3://ml-bucket/batch/out2"))
        executor.wait_for_job("CreateTransformJob", "sklearn-batch-2", poll_seconds=0.05, timeout_seconds=60)
        assert executor.read_bytes("s3://ml-bucket/batch/out2/rows.csv.out").decode() == output


def test_model_records(executor: LocalExecutor) -> None:
    container = {"Image": IMAGE, "ModelDataUrl": "s3://ml-bucket/m/model.tar.gz"}
    arn = executor.call("CreateModel", {"ModelName": "m1", "PrimaryContainer": container})["ModelArn"]
    assert arn == "arn:aws:sagemaker:us-east-1:000000000000:model/m1"
    described = LocalExecutor(home=executor.home).call("DescribeModel", {"ModelName": "m1"})
    assert described["PrimaryContainer"] == container and described["ModelArn"] == arn
    with pytest.raises(ClientError, match="Cannot create already existing model"):
        executor.call("CreateModel", {"ModelName": "m1", "PrimaryContainer": container})
    with pytest.raises(ClientError, match="Could not find model"):
        executor.call("CreateTransformJob", {
            "TransformJobName": "t-no-model", "ModelName": "missing",
            "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/in"}}},
            "TransformOutput": {"S3OutputPath": "s3://b/out"},
            "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1}})
    executor.call("DeleteModel", {"ModelName": "m1"})
    with pytest.raises(ClientError, match="Could not find model"):
        executor.call("DescribeModel", {"ModelName": "m1"})


def test_stop_transform_job(executor: LocalExecutor, tmp_path: Path) -> None:
    pytest.importorskip("smflow.local_sagemaker.containers.transform")
    source = upload_source(executor, tmp_path, "slow_inference.py")
    executor.call("CreateModel", {"ModelName": "slow-model", "ExecutionRoleArn": ROLE, "PrimaryContainer": {
        "Image": IMAGE, "Environment": {"SAGEMAKER_PROGRAM": "slow_inference.py",
                                        "SAGEMAKER_SUBMIT_DIRECTORY": source}}})
    executor.write_bytes("s3://ml-bucket/slow/in/rows.csv", b"".join(b"%d,1\n" % i for i in range(100)))
    executor.call("CreateTransformJob", {
        "TransformJobName": "slow-batch", "ModelName": "slow-model", "BatchStrategy": "SingleRecord",
        "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                                                           "S3Uri": "s3://ml-bucket/slow/in"}},
                           "ContentType": "text/csv", "SplitType": "Line"},
        "TransformOutput": {"S3OutputPath": "s3://ml-bucket/slow/out", "Accept": "text/csv"},
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1}})
    time.sleep(1.5)
    executor.stop_job("CreateTransformJob", "slow-batch")
    with pytest.raises(JobFailedError) as stopped:
        executor.wait_for_job("CreateTransformJob", "slow-batch", poll_seconds=0.05, timeout_seconds=20)
    assert stopped.value.status == "Stopped"
    assert not executor.exists("s3://ml-bucket/slow/out/rows.csv.out")


def test_failure_file_becomes_the_failure_reason(executor: LocalExecutor, tmp_path: Path) -> None:
    source = upload_source(executor, tmp_path, "fail_train.py")
    executor.call(OP, script_mode_request("fails-1", "fail_train.py", source))
    description = finished(executor, "fails-1")
    assert description["TrainingJobStatus"] == "Failed" and description["SecondaryStatus"] == "Failed"
    assert description["FailureReason"] == ("ValueError: column 'price' has 3 non-numeric values (first at row 17); "
                                            "clean the input data")
    assert not executor.exists(f"{OUTPUT}/fails-1/output/model.tar.gz")


def test_non_zero_exit_without_failure_file(executor: LocalExecutor) -> None:
    req = script_mode_request("crash-1", "x.py", "/opt/ml/code")
    req["HyperParameters"] = {}
    req["AlgorithmSpecification"]["ContainerEntrypoint"] = [
        "python3", "-c", "import sys; print('Traceback: boom', file=sys.stderr); sys.exit(7)"]
    executor.call(OP, req)
    reason = finished(executor, "crash-1")["FailureReason"]
    assert reason.startswith("AlgorithmError:") and "exit code 7" in reason and "Traceback: boom" in reason


def test_nothing_to_run_fails_clearly(executor: LocalExecutor) -> None:
    req = script_mode_request("nothing-1", "x.py", "/opt/ml/code")
    req["HyperParameters"] = {}
    executor.call(OP, req)
    description = finished(executor, "nothing-1")
    assert description["TrainingJobStatus"] == "Failed"
    assert "sagemaker_program" in description["FailureReason"] and "ContainerEntrypoint" in description["FailureReason"]


def test_max_runtime_stops_the_job(executor: LocalExecutor, tmp_path: Path) -> None:
    source = upload_source(executor, tmp_path, "sleepy.py")
    executor.call(OP, script_mode_request("slow-1", "sleepy.py", source, max_runtime=1,
                                          metrics={"loss": r"loss=([0-9.]+)"}))
    description = finished(executor, "slow-1", timeout=30)
    assert description["TrainingJobStatus"] == "Stopped"
    assert description["SecondaryStatus"] == "MaxRuntimeExceeded"
    assert "MaxRuntimeInSeconds" in description["FailureReason"]
    assert description["FinalMetricDataList"][0]["MetricName"] == "loss"
    # the model saved before the stop is uploaded, as SageMaker does
    model = executor.read_bytes(description["ModelArtifacts"]["S3ModelArtifacts"])
    assert tar_members(model) == {"weights.txt": b"0.5 0.25\n"}


def test_stop_training_job(executor: LocalExecutor, tmp_path: Path) -> None:
    source = upload_source(executor, tmp_path, "sleepy.py")
    executor.call(OP, script_mode_request("stop-me-1", "sleepy.py", source))
    wait_for_log(executor, "stop-me-1", "ready")
    executor.stop_job(OP, "stop-me-1")
    description = finished(executor, "stop-me-1", timeout=20)
    assert description["TrainingJobStatus"] == "Stopped" and description["SecondaryStatus"] == "Stopped"
    assert "FailureReason" not in description


@needs_namespace
def test_fastfile_channel_reads_in_place(executor: LocalExecutor, tmp_path: Path) -> None:
    executor.write_bytes("s3://ml-bucket/big/part-0.csv", b"1,2\n")
    executor.write_bytes("s3://ml-bucket/big/nested/part-1.csv", b"3,4\n")
    executor.write_bytes("s3://ml-bucket/bigger/not-this.csv", b"other prefix\n")
    source = upload_source(executor, tmp_path, "fastfile_reader.py")
    executor.call(OP, script_mode_request("fastfile-1", "fastfile_reader.py", source,
                                          channels=[channel("train", "s3://ml-bucket/big/", "FastFile")]))
    description = finished(executor, "fastfile-1")
    assert description["TrainingJobStatus"] == "Completed", description.get("FailureReason")
    report = json.loads(tar_members(executor.read_bytes(description["ModelArtifacts"]["S3ModelArtifacts"]))
                        ["report.json"])
    assert report["files"] == {"part-0.csv": {"text": "1,2\n", "link": True},
                               "nested/part-1.csv": {"text": "3,4\n", "link": True}}
    if choose_mode() == "bwrap":
        assert report["writable"] is False  # the store is mounted read-only in the job
    assert executor.read_bytes("s3://ml-bucket/big/part-0.csv") == b"1,2\n"


def test_killed_runner_is_reported_failed_and_leaves_no_half_model(executor: LocalExecutor, tmp_path: Path) -> None:
    source = upload_source(executor, tmp_path, "sleepy.py")
    executor.call(OP, script_mode_request("killed-1", "sleepy.py", source))
    wait_for_log(executor, "killed-1", "ready")
    job_dir = executor.job_dir(OP, "killed-1")
    assert job_dir is not None
    runner = ProcessId.parse((job_dir / "runner.pid").read_text())
    container = ProcessId.parse((job_dir / "container.pid").read_text())
    assert runner is not None and container is not None
    os.kill(runner.pid, signal.SIGKILL)

    deadline = time.monotonic() + 10
    while executor.describe_job(OP, "killed-1")["TrainingJobStatus"] == "InProgress":  # type: ignore[index]
        assert time.monotonic() < deadline, "the dead runner was never noticed"
        time.sleep(0.05)
    description = executor.call("DescribeTrainingJob", {"TrainingJobName": "killed-1"})
    assert description["TrainingJobStatus"] == "Failed"
    assert description["FailureReason"] == f"local job runner died (pid {runner.pid})"
    deadline = time.monotonic() + 5
    while container.alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not container.alive(), "the job's container outlived its runner"
    assert not executor.exists(f"{OUTPUT}/killed-1/output/model.tar.gz")
    assert executor.store.list(f"{OUTPUT}/killed-1/") == []  # no half-written archive is visible
    with pytest.raises(ClientError, match="Job name must be unique"):
        executor.call(OP, script_mode_request("killed-1", "sleepy.py", source))

    quick = script_mode_request("killed-1-retry", "x.py", "/opt/ml/code")
    quick["HyperParameters"] = {}
    quick["AlgorithmSpecification"]["ContainerEntrypoint"] = [
        "python3", "-c", "open('/opt/ml/model/w.txt', 'w').write('ok')"]
    executor.call(OP, quick)
    retried = finished(executor, "killed-1-retry")
    assert retried["TrainingJobStatus"] == "Completed"
    assert tar_members(executor.read_bytes(retried["ModelArtifacts"]["S3ModelArtifacts"])) == {"w.txt": b"ok"}


def test_stale_record_from_a_dead_process_is_failed_on_create(executor: LocalExecutor, tmp_path: Path) -> None:
    """A runner that died while nobody watched (machine reboot) is found out by the next Create or Describe."""
    source = upload_source(executor, tmp_path, "sleepy.py")
    executor.call(OP, script_mode_request("reboot-1", "sleepy.py", source))
    wait_for_log(executor, "reboot-1", "ready")
    job_dir = executor.job_dir(OP, "reboot-1")
    assert job_dir is not None
    runner = ProcessId.parse((job_dir / "runner.pid").read_text())
    assert runner is not None
    os.kill(runner.pid, signal.SIGKILL)
    other = LocalExecutor(home=executor.home)  # a different process would not be the runner's parent
    deadline = time.monotonic() + 10
    while runner.alive():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    with pytest.raises(ClientError, match="Job name must be unique"):
        other.call(OP, script_mode_request("reboot-1", "sleepy.py", source))
    assert json.loads((job_dir / "description.json").read_text())["TrainingJobStatus"] == "Failed"


def test_ttk_argument_and_environment_encoding() -> None:
    # the examples of sagemaker-training-toolkit's mapping.to_cmd_args / to_env_vars
    assert to_cmd_args({"model_dir": "/opt/ml/model", "batch_size": 25}) == [
        "--batch_size", "25", "--model_dir", "/opt/ml/model"]
    assert to_cmd_args({"n": 3, "opts": {"b": 2, "a": 1}, "flag": True}) == [
        "--flag", "True", "-n", "3", "--opts", "a=1,b=2"]
    assert to_env_vars({"model_dir": "/opt/ml/model", "batch_size": 25, "hosts": ["algo-1"], "none": None}) == {
        "SM_MODEL_DIR": "/opt/ml/model", "SM_BATCH_SIZE": "25", "SM_HOSTS": '["algo-1"]', "SM_NONE": ""}


def test_requirements_check() -> None:
    assert unsatisfied_requirements(["# comment", "", "numpy", "scikit-learn>=1.0  # the model",
                                     'pytest ; python_version < "3.0"']) == []
    assert unsatisfied_requirements(["numpy<1.0", "no-such-package-smflow-test==1.0", "-r other.txt"]) == [
        "numpy<1.0", "no-such-package-smflow-test==1.0", "-r other.txt"]


def test_channel_names_must_be_unique(executor: LocalExecutor) -> None:
    req = script_mode_request("dup-channels", "train.py", "s3://ml-bucket/src.tar.gz",
                              channels=[channel("train", "s3://ml-bucket/a"), channel("train", "s3://ml-bucket/b")])
    with pytest.raises(ClientError, match="ChannelName 'train' is used twice"):
        executor.call(OP, req)


def test_the_training_toolkit_environment_is_a_pure_function_of_the_request() -> None:
    from smflow.local_sagemaker.containers.training import ChannelPlan, training_environment

    request = {"ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 1}}
    channels = [ChannelPlan("train", "s3://b/train/", "S3Prefix", "File", {"TrainingInputMode": "File"})]
    env = training_environment(request, "job-1", {"sagemaker_program": "train.py"}, {"epochs": 3}, channels)
    assert env["SM_CHANNEL_TRAIN"] == "/opt/ml/input/data/train"
    assert env["SM_HP_EPOCHS"] == "3" and env["SM_USER_ARGS"] == '["--epochs","3"]'
    assert env["SM_MODULE_NAME"] == "train" and env["SM_CURRENT_INSTANCE_TYPE"] == "ml.m5.xlarge"
    assert json.loads(env["SM_TRAINING_ENV"])["job_name"] == "job-1"
    assert training_environment(request, "job-1", {"sagemaker_program": "train.py"}, {"epochs": 3}, channels) == env
