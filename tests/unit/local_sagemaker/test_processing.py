"""CreateProcessingJob on the local executor: real subprocesses under the processing container contract."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError, ParamValidationError
from botocore.validate import ParamValidator

from smflow.executors.base import JobFailedError
from smflow.executors.local import LocalExecutor
from smflow.service_model import sagemaker_model
from tests.unit.local_sagemaker.conftest import IMAGE, ROLE, SCRIPTS, needs_namespace

OP = "CreateProcessingJob"


def s3_input(name: str, uri: str, local_path: str, **extra: Any) -> dict[str, Any]:
    return {"InputName": name, "AppManaged": False, "S3Input": {
        "S3Uri": uri, "LocalPath": local_path, "S3DataType": "S3Prefix", "S3InputMode": "File",
        "S3DataDistributionType": "FullyReplicated", "S3CompressionType": "None", **extra}}


def s3_output(name: str, uri: str, local_path: str) -> dict[str, Any]:
    return {"OutputName": name, "S3Output": {"S3Uri": uri, "LocalPath": local_path, "S3UploadMode": "EndOfJob"}}


def request(name: str, entrypoint: list[str] | None, *, inputs: list[dict[str, Any]] | None = None,
            outputs: list[dict[str, Any]] | None = None, arguments: list[str] | None = None,
            environment: dict[str, str] | None = None, max_runtime: int = 3600) -> dict[str, Any]:
    app: dict[str, Any] = {"ImageUri": IMAGE}
    if entrypoint is not None:
        app["ContainerEntrypoint"] = entrypoint
    if arguments:
        app["ContainerArguments"] = arguments
    req: dict[str, Any] = {
        "ProcessingJobName": name,
        "RoleArn": ROLE,
        "AppSpecification": app,
        "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge",
                                                  "VolumeSizeInGB": 30}},
        "StoppingCondition": {"MaxRuntimeInSeconds": max_runtime},
        "Environment": environment or {},
        "Tags": [{"Key": "project", "Value": "smflow-tests"}],
    }
    if inputs:
        req["ProcessingInputs"] = inputs
    if outputs:
        req["ProcessingOutputConfig"] = {"Outputs": outputs}
    return req


def run_to_end(executor: LocalExecutor, req: dict[str, Any]) -> dict[str, Any]:
    executor.call(OP, req)
    try:
        return executor.wait_for_job(OP, req["ProcessingJobName"], poll_seconds=0.05, timeout_seconds=60)
    except JobFailedError as e:
        return e.description


def upload_raw_data(executor: LocalExecutor) -> None:
    rows = ["x1,x2,y"] + [f"{i},{i * 2},{i * 3 + 1}" for i in range(20)]
    executor.write_bytes("s3://ml-bucket/raw/part-0.csv", "\n".join(rows[:11]).encode() + b"\n")
    executor.write_bytes("s3://ml-bucket/raw/part-1.csv", ("\n".join([rows[0], *rows[11:]]) + "\n").encode())
    executor.upload(SCRIPTS / "preprocess.py", "s3://ml-bucket/code/preprocess/preprocess.py")


def test_unmodified_script_with_hard_coded_paths(executor: LocalExecutor) -> None:
    upload_raw_data(executor)
    req = request(
        "preprocess-1", ["python3", "/opt/ml/processing/input/code/preprocess.py"],
        arguments=["--validation-every", "4"],
        inputs=[s3_input("code", "s3://ml-bucket/code/preprocess", "/opt/ml/processing/input/code"),
                s3_input("raw", "s3://ml-bucket/raw", "/opt/ml/processing/input/raw")],
        outputs=[s3_output("train", "s3://ml-bucket/prepared/train", "/opt/ml/processing/output/train"),
                 s3_output("validation", "s3://ml-bucket/prepared/validation",
                           "/opt/ml/processing/output/validation")])
    response = executor.call(OP, req)
    assert response == {"ProcessingJobArn": "arn:aws:sagemaker:us-east-1:000000000000:processing-job/preprocess-1"}
    description = executor.wait_for_job(OP, "preprocess-1", poll_seconds=0.05, timeout_seconds=60)

    assert description["ProcessingJobStatus"] == "Completed"
    train = executor.read_bytes("s3://ml-bucket/prepared/train/train.csv").decode().splitlines()
    validation = executor.read_bytes("s3://ml-bucket/prepared/validation/validation.csv").decode().splitlines()
    assert len(train) == 15 and len(validation) == 5
    assert validation[0] == "1,0,0"  # label moved first
    log, _ = executor.read_log(OP, "preprocess-1", 0)
    assert "preprocess-1: processed 20 rows from /opt/ml/processing/input/raw" in log
    assert "is not pulled" in log  # the image note, once
    # the response is boto3's shape: datetimes, the request's fields, no Tags; it validates as DescribeProcessingJob
    shape = sagemaker_model().operation_model("DescribeProcessingJob").output_shape
    assert not ParamValidator().validate(description, shape).has_errors()
    assert description["ProcessingEndTime"] >= description["ProcessingStartTime"] >= description["CreationTime"]
    assert "Tags" not in description and description["AppSpecification"] == req["AppSpecification"]


def test_job_config_files_follow_the_contract(executor: LocalExecutor) -> None:
    script = ("import json,shutil;"
              "shutil.copytree('/opt/ml/config', '/opt/ml/processing/output/config', dirs_exist_ok=True)")
    req = request("config-files", ["python3", "-c", script],
                  outputs=[s3_output("config", "s3://ml-bucket/config", "/opt/ml/processing/output/config")])
    assert run_to_end(executor, req)["ProcessingJobStatus"] == "Completed"
    job_config = json.loads(executor.read_bytes("s3://ml-bucket/config/processingjobconfig.json"))
    resources = json.loads(executor.read_bytes("s3://ml-bucket/config/resourceconfig.json"))
    assert job_config["ProcessingJobName"] == "config-files"
    assert job_config["ProcessingJobArn"].endswith("processing-job/config-files")
    assert job_config["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3UploadMode"] == "EndOfJob"
    assert resources["current_host"] == "algo-1" and resources["hosts"] == ["algo-1"]


def test_non_zero_exit_fails_with_exit_code_and_stderr_tail(executor: LocalExecutor) -> None:
    script = "import sys; print('loading'); print('KeyError: column price missing', file=sys.stderr); sys.exit(3)"
    description = run_to_end(executor, request("fails", ["python3", "-c", script]))
    assert description["ProcessingJobStatus"] == "Failed"
    reason = description["FailureReason"]
    assert reason.startswith("AlgorithmError:") and "exit code 3" in reason
    assert "KeyError: column price missing" in reason


def test_without_container_entrypoint_the_job_fails_clearly(executor: LocalExecutor) -> None:
    description = run_to_end(executor, request("no-entrypoint", None))
    assert description["ProcessingJobStatus"] == "Failed"
    assert "ContainerEntrypoint" in description["FailureReason"] and IMAGE in description["FailureReason"]


def test_missing_input_fails_naming_the_uri(executor: LocalExecutor) -> None:
    req = request("missing-input", ["python3", "-c", "pass"],
                  inputs=[s3_input("raw", "s3://ml-bucket/nothing-here", "/opt/ml/processing/input/raw")])
    description = run_to_end(executor, req)
    assert description["ProcessingJobStatus"] == "Failed"
    assert "s3://ml-bucket/nothing-here" in description["FailureReason"]
    assert "ProcessingInputs[0] ('raw')" in description["FailureReason"]


def test_manifest_file_input(executor: LocalExecutor) -> None:
    executor.write_bytes("s3://ml-bucket/images/a/1.txt", b"one")
    executor.write_bytes("s3://ml-bucket/images/b/2.txt", b"two")
    executor.write_bytes("s3://ml-bucket/images/c/3.txt", b"not listed")
    manifest = [{"prefix": "s3://ml-bucket/images/"}, "a/1.txt", "b/2.txt"]
    executor.write_bytes("s3://ml-bucket/manifests/m.json", json.dumps(manifest).encode())
    script = ("import os,json; root='/opt/ml/processing/input/imgs'; "
              "files=sorted(os.path.relpath(os.path.join(d,f),root) for d,_,fs in os.walk(root) for f in fs); "
              "os.makedirs('/opt/ml/processing/output/o', exist_ok=True); "
              "json.dump(files, open('/opt/ml/processing/output/o/files.json','w'))")
    req = request("manifest", ["python3", "-c", script],
                  inputs=[s3_input("imgs", "s3://ml-bucket/manifests/m.json", "/opt/ml/processing/input/imgs",
                                   S3DataType="ManifestFile")],
                  outputs=[s3_output("o", "s3://ml-bucket/manifest-out", "/opt/ml/processing/output/o")])
    assert run_to_end(executor, req)["ProcessingJobStatus"] == "Completed"
    assert json.loads(executor.read_bytes("s3://ml-bucket/manifest-out/files.json")) == ["a/1.txt", "b/2.txt"]


def test_invalid_requests_are_rejected_at_create(executor: LocalExecutor) -> None:
    bad_shape = request("bad-shape", ["python3", "-c", "pass"])
    del bad_shape["RoleArn"]
    bad_shape["ProcessingResources"]["ClusterConfig"]["InstanceCount"] = "one"
    with pytest.raises(ParamValidationError) as shape_error:
        executor.call(OP, bad_shape)
    assert "RoleArn" in str(shape_error.value) and "InstanceCount" in str(shape_error.value)

    outside = request("bad-path", ["python3", "-c", "pass"],
                      inputs=[s3_input("raw", "s3://ml-bucket/raw", "/tmp/raw")])
    with pytest.raises(ClientError) as path_error:
        executor.call(OP, outside)
    assert path_error.value.response["Error"]["Code"] == "ValidationException"
    assert "'/tmp/raw' must start with /opt/ml/processing/" in str(path_error.value)

    with pytest.raises(ClientError, match="regular expression pattern"):
        executor.call(OP, request("../escape", ["python3", "-c", "pass"]))
    assert executor.describe_job(OP, "bad-path") is None  # nothing was created


def test_duplicate_name_is_rejected_like_sagemaker(executor: LocalExecutor) -> None:
    run_to_end(executor, request("once", ["python3", "-c", "pass"]))
    with pytest.raises(ClientError) as error:
        executor.call(OP, request("once", ["python3", "-c", "pass"]))
    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert "Job name must be unique within an AWS account and region" in str(error.value)


def test_unknown_job_is_not_found(executor: LocalExecutor) -> None:
    assert executor.describe_job(OP, "never-created") is None
    with pytest.raises(ClientError, match="Could not find requested job"):
        executor.call("StopProcessingJob", {"ProcessingJobName": "never-created"})


def test_stop_processing_job(executor: LocalExecutor) -> None:
    req = request("to-stop", ["python3", "-c", "import time\nprint('up', flush=True)\ntime.sleep(60)"])
    executor.call(OP, req)
    deadline = time.monotonic() + 20
    while "up" not in executor.read_log(OP, "to-stop", 0)[0] and time.monotonic() < deadline:
        time.sleep(0.05)
    executor.call("StopProcessingJob", {"ProcessingJobName": "to-stop"})
    assert executor.call("DescribeProcessingJob", {"ProcessingJobName": "to-stop"})["ProcessingJobStatus"] in {
        "Stopping", "Stopped"}
    with pytest.raises(JobFailedError) as stopped:
        executor.wait_for_job(OP, "to-stop", poll_seconds=0.05, timeout_seconds=20)
    assert stopped.value.status == "Stopped"
    assert "FailureReason" not in stopped.value.description  # as SageMaker: a requested stop is no failure
    with pytest.raises(ClientError, match="only an InProgress job can be stopped"):
        executor.call("StopProcessingJob", {"ProcessingJobName": "to-stop"})


def test_list_processing_jobs(executor: LocalExecutor) -> None:
    for name in ("list-a", "list-b"):
        run_to_end(executor, request(name, ["python3", "-c", "pass"]))
    run_to_end(executor, request("other", ["python3", "-c", "raise SystemExit(1)"]))
    listed = executor.call("ListProcessingJobs", {"NameContains": "LIST", "SortBy": "Name", "SortOrder": "Ascending"})
    summaries = listed["ProcessingJobSummaries"]
    assert [s["ProcessingJobName"] for s in summaries] == ["list-a", "list-b"]
    assert all(s["ProcessingJobStatus"] == "Completed" for s in summaries)
    failed = executor.call("ListProcessingJobs", {"StatusEquals": "Failed"})["ProcessingJobSummaries"]
    assert [s["ProcessingJobName"] for s in failed] == ["other"]
    page = executor.call("ListProcessingJobs", {"MaxResults": 2})
    assert len(page["ProcessingJobSummaries"]) == 2 and page["NextToken"] == "2"


@needs_namespace
def test_concurrent_jobs_do_not_see_each_others_opt_ml(executor: LocalExecutor, tmp_path: Path) -> None:
    rendezvous = tmp_path / "rendezvous"
    rendezvous.mkdir()
    executor.upload(SCRIPTS / "peek.py", "s3://ml-bucket/code/peek/peek.py")
    for me in ("left", "right"):
        executor.call(OP, request(
            f"peek-{me}", ["python3", "/opt/ml/processing/input/code/peek.py"], arguments=[me],
            environment={"RENDEZVOUS": str(rendezvous)},
            inputs=[s3_input("code", "s3://ml-bucket/code/peek", "/opt/ml/processing/input/code")],
            outputs=[s3_output("seen", f"s3://ml-bucket/peek/{me}", "/opt/ml/processing/output/seen")]))
    for me in ("left", "right"):
        assert executor.wait_for_job(OP, f"peek-{me}", poll_seconds=0.05, timeout_seconds=60)
        seen = json.loads(executor.read_bytes(f"s3://ml-bucket/peek/{me}/seen.json"))
        assert seen["both_running"], "the two jobs should have overlapped"
        assert [m for m in seen["seen"] if m.startswith("marker-")] == [f"marker-{me}"]
    assert not any(Path("/opt/ml").glob("marker-*"))  # nothing leaked onto the host's /opt/ml


def test_s3prefix_is_a_key_prefix_as_on_sagemaker(executor: LocalExecutor) -> None:
    """`s3://b/test` matches `test/…` and `test_labels/…` (S3 key prefix); `s3://b/test/` only the folder."""
    executor.write_bytes("s3://ml-bucket/p/test/a.csv", b"a\n")
    executor.write_bytes("s3://ml-bucket/p/test_labels/b.csv", b"b\n")
    listing = ("import os, json; root='/opt/ml/processing/input'; os.makedirs('/opt/ml/processing/out', "
               "exist_ok=True); json.dump({d: sorted(os.path.relpath(os.path.join(p, f), os.path.join(root, d)) "
               "for p, _, fs in os.walk(os.path.join(root, d)) for f in fs) for d in os.listdir(root)}, "
               "open('/opt/ml/processing/out/files.json', 'w'))")
    req = request("prefixes", ["python3", "-c", listing],
                  inputs=[s3_input("loose", "s3://ml-bucket/p/test", "/opt/ml/processing/input/loose"),
                          s3_input("folder", "s3://ml-bucket/p/test/", "/opt/ml/processing/input/folder")],
                  outputs=[s3_output("out", "s3://ml-bucket/result/", "/opt/ml/processing/out")])
    assert run_to_end(executor, req)["ProcessingJobStatus"] == "Completed"
    files = json.loads(executor.read_bytes("s3://ml-bucket/result/files.json"))
    assert files == {"loose": ["_labels/b.csv", "a.csv"], "folder": ["a.csv"]}


def test_a_restarted_process_reads_the_job_back(executor: LocalExecutor) -> None:
    run_to_end(executor, request("durable", ["python3", "-c", "print('hello from the job')"]))
    fresh = LocalExecutor(home=executor.home)
    description = fresh.call("DescribeProcessingJob", {"ProcessingJobName": "durable"})
    assert description["ProcessingJobStatus"] == "Completed"
    assert "hello from the job" in fresh.read_log(OP, "durable", 0)[0]
    job_dir = fresh.job_dir(OP, "durable")
    assert job_dir is not None
    assert {"request.json", "description.json", "log.txt", "runner.pid"} <= {p.name for p in job_dir.iterdir()}
    shutil.rmtree(job_dir / "opt_ml")  # describing never needs the work tree
    assert fresh.call("DescribeProcessingJob", {"ProcessingJobName": "durable"})["ProcessingJobStatus"] == "Completed"


def test_unshare_sandbox_runs_the_unmodified_script(executor: LocalExecutor, monkeypatch: pytest.MonkeyPatch) -> None:
    if subprocess.run(["unshare", "--mount", "--propagation", "private", "true"], capture_output=True).returncode:
        pytest.skip("unshare cannot make a mount namespace here")
    monkeypatch.setenv("SMFLOW_SANDBOX", "unshare")  # the runner inherits it
    upload_raw_data(executor)
    req = request(
        "preprocess-unshare", ["python3", "/opt/ml/processing/input/code/preprocess.py"],
        inputs=[s3_input("code", "s3://ml-bucket/code/preprocess", "/opt/ml/processing/input/code"),
                s3_input("raw", "s3://ml-bucket/raw", "/opt/ml/processing/input/raw")],
        outputs=[s3_output("train", "s3://ml-bucket/unshare/train", "/opt/ml/processing/output/train")])
    description = run_to_end(executor, req)
    assert description["ProcessingJobStatus"] == "Completed", description.get("FailureReason")
    assert len(executor.read_bytes("s3://ml-bucket/unshare/train/train.csv").decode().splitlines()) == 16
    assert "sandbox: unshare mount namespace" in executor.read_log(OP, "preprocess-unshare", 0)[0]


def test_paths_fallback_maps_opt_ml_in_arguments(executor: LocalExecutor, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a namespace, /opt/ml in arguments and Environment still works; the log says what will not."""
    monkeypatch.setenv("SMFLOW_SANDBOX", "paths")
    executor.write_bytes("s3://ml-bucket/code/copy/copy.py", (
        b"import os, shutil, sys\n"
        b"shutil.copy(os.path.join(sys.argv[1], 'a.txt'), os.path.join(os.environ['OUT_DIR'], 'a.txt'))\n"))
    executor.write_bytes("s3://ml-bucket/paths-in/a.txt", b"through the mapping")
    req = request("paths-mode", ["python3", "/opt/ml/processing/input/code/copy.py"],
                  arguments=["/opt/ml/processing/input/data"],
                  environment={"OUT_DIR": "/opt/ml/processing/output/o"},
                  inputs=[s3_input("code", "s3://ml-bucket/code/copy", "/opt/ml/processing/input/code"),
                          s3_input("data", "s3://ml-bucket/paths-in", "/opt/ml/processing/input/data")],
                  outputs=[s3_output("o", "s3://ml-bucket/paths-out", "/opt/ml/processing/output/o")])
    description = run_to_end(executor, req)
    assert description["ProcessingJobStatus"] == "Completed", description.get("FailureReason")
    assert executor.read_bytes("s3://ml-bucket/paths-out/a.txt") == b"through the mapping"
    assert "will not find its files" in executor.read_log(OP, "paths-mode", 0)[0]


def test_a_bad_sandbox_setting_fails_the_job_with_the_reason(executor: LocalExecutor,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMFLOW_SANDBOX", "docker")
    description = run_to_end(executor, request("bad-sandbox", ["python3", "-c", "pass"]))
    assert description["ProcessingJobStatus"] == "Failed"
    assert "SMFLOW_SANDBOX='docker' is not a sandbox mode" in description["FailureReason"]


def test_exit_message_file_becomes_exit_message(executor: LocalExecutor) -> None:
    script = ("import os; os.makedirs('/opt/ml/output', exist_ok=True); "
              "open('/opt/ml/output/message', 'w').write('no rows after filtering; check the date range'); "
              "raise SystemExit(3)")
    described = run_to_end(executor, request("with-message", ["python3", "-c", script]))
    assert described["ProcessingJobStatus"] == "Failed"
    assert described["ExitMessage"] == "no rows after filtering; check the date range"
    assert "exit code 3" in described["FailureReason"]
