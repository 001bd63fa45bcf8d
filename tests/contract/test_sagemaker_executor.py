"""The `sagemaker` executor sends the compiled requests to AWS through the provider's hook.

Against a moto server: moto runs nothing (jobs are Completed at once) but stores what it was sent, so these
tests check request shapes, names and state round trips — the contract — not job behaviour.
"""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from smflow.compile.graph import compile_pipeline
from smflow.compile.render import RunTemplateContext, render_value
from smflow.executors.base import JobFailedError
from smflow.executors.sagemaker import SageMakerExecutor
from smflow.spec import load_pipeline
from tests.conftest import PIPELINES

RUN_ID = "manual__2026-11-23T12:00:00+00:00"


@pytest.fixture
def executor(aws_env: str) -> SageMakerExecutor:
    s3 = boto3.client("s3", endpoint_url=aws_env, region_name="us-east-1")
    s3.create_bucket(Bucket="smflow-demo")
    return SageMakerExecutor(aws_conn_id="smflow_moto", region_name="us-east-1")


def compiled_tasks() -> dict:
    compiled = compile_pipeline(load_pipeline(PIPELINES / "diabetes" / "pipeline.yaml"))
    return {t.task_id: t for t in compiled.dags[0].tasks}


def render(task, outputs: dict[str, str]) -> dict:  # noqa: ANN001
    ctx = RunTemplateContext("diabetes__train", RUN_ID, task.task_id, 1, lambda t, n: outputs[f"{t}:{n}"])
    variables = {"smflow": ctx, "run_id": RUN_ID, "dag": {"dag_id": "diabetes__train"}}
    return render_value({"request": task.request, "uploads": task.uploads, "pre": task.pre,
                         "outputs": task.outputs}, variables)


def test_the_demo_pipeline_requests_are_accepted_and_round_trip(executor: SageMakerExecutor) -> None:
    tasks = compiled_tasks()
    # The baseline step runs in the worker, not as a SageMaker job: its outputs as it hands them on.
    outputs: dict[str, str] = {"regressor.baseline:baseline": "s3://smflow-demo/baseline/baseline.json",
                               "regressor.baseline:predictions_baseline": "s3://smflow-demo/baseline/predictions.json",
                               "regressor.baseline:trigger": "none"}
    for task_id in ("regressor.preprocess", "regressor.train", "regressor.model", "regressor.predict",
                    "regressor.evaluate", "regressor.register"):
        task = tasks[task_id]
        final = render(task, outputs)
        for upload in final["uploads"]:
            executor.upload(Path(upload["source"]), upload["uri"], tar=upload["tar"])
            assert executor.exists(upload["uri"])
        request = final["request"]
        if task.operation in {"CreateProcessingJob", "CreateTrainingJob", "CreateTransformJob"}:
            described = executor.start_job(task.operation, request)
            name = next(v for k, v in request.items() if k.endswith("JobName"))
            done = executor.wait_for_job(task.operation, name, poll_seconds=0)
            assert done == executor.describe_job(task.operation, name)
            status_key = next(k for k in described if k.endswith("JobStatus"))
            assert done[status_key] == "Completed"
            if task.operation == "CreateTrainingJob":
                assert done["ModelArtifacts"]["S3ModelArtifacts"] == \
                    f"{request['OutputDataConfig']['S3OutputPath']}/{name}/output/model.tar.gz"
                assert done["HyperParameters"]["sagemaker_program"] == json.dumps("train.py")
                outputs[f"{task_id}:model"] = done["ModelArtifacts"]["S3ModelArtifacts"]
                outputs[f"{task_id}:job_name"] = name
            if task.operation == "CreateProcessingJob":
                sent = {i["InputName"]: i["S3Input"]["LocalPath"] for i in done["ProcessingInputs"]}
                assert sent["code"] == "/opt/ml/processing/input/code"
            for key, value in final["outputs"].items():
                outputs[f"{task_id}:{key}"] = value
        elif task.operation == "CreateModel":
            executor.call("CreateModel", request)
            described = executor.call("DescribeModel", {"ModelName": request["ModelName"]})
            assert described["PrimaryContainer"]["ModelDataUrl"] == outputs["regressor.train:model"]
            outputs[f"{task_id}:model_name"] = request["ModelName"]
        elif task.operation == "CreateModelPackage":
            for pre in final["pre"]:
                executor.call(pre["operation"], pre["request"])
            arn = executor.call("CreateModelPackage", request)["ModelPackageArn"]
            described = executor.call("DescribeModelPackage", {"ModelPackageName": arn})
            assert described["ModelPackageGroupName"] == "diabetes-regressor"
            assert described["ModelApprovalStatus"] == "PendingManualApproval"
            assert described["DriftCheckBaselines"]["ModelDataQuality"]["Statistics"]["S3Uri"] == \
                "s3://smflow-demo/baseline/baseline.json"


def test_unknown_job_describes_as_none_and_stopped_counts_as_failure(executor: SageMakerExecutor) -> None:
    tasks = compiled_tasks()
    assert executor.describe_job("CreateProcessingJob", "no-such-job") is None
    request = render(tasks["regressor.preprocess"], {})["request"]
    request["ProcessingJobName"] = "to-be-stopped"
    executor.call("CreateProcessingJob", request)
    executor.stop_job("CreateProcessingJob", "to-be-stopped")  # moto: Stopped at once
    with pytest.raises(JobFailedError) as err:
        executor.wait_for_job("CreateProcessingJob", "to-be-stopped", poll_seconds=0)
    assert err.value.status == "Stopped"


def test_read_and_write_objects(executor: SageMakerExecutor) -> None:
    executor.write_bytes("s3://smflow-demo/x/report.json", b'{"a": 1}')
    assert json.loads(executor.read_bytes("s3://smflow-demo/x/report.json")) == {"a": 1}
    assert executor.exists("s3://smflow-demo/x/")
    assert not executor.exists("s3://smflow-demo/nothing/")


def test_list_objects_gives_s3_etags_as_the_local_store_computes_them(executor: SageMakerExecutor,
                                                                      tmp_path) -> None:  # noqa: ANN001
    from smflow.local_sagemaker.store import LocalStore

    local = LocalStore(tmp_path)
    for key, body in (("in/day1.csv", b"1,2\n"), ("in/day2.csv", b"3,4\n"), ("input.csv", b"5\n")):
        executor.write_bytes(f"s3://smflow-demo/{key}", body)
        local.write_bytes(f"s3://smflow-demo/{key}", body)
    listed = executor.list_objects("s3://smflow-demo/in/")
    assert listed == [("s3://smflow-demo/in/day1.csv", local.etag("s3://smflow-demo/in/day1.csv")),
                      ("s3://smflow-demo/in/day2.csv", local.etag("s3://smflow-demo/in/day2.csv"))]


def test_local_file_streams_an_object_to_a_temporary_file_and_removes_it(executor: SageMakerExecutor) -> None:
    """What the baseline and monitor read in chunks: boto3's managed download, never the object in memory."""
    body = b"".join(b"%d,%d\n" % (i, i % 7) for i in range(20000))
    executor.write_bytes("s3://smflow-demo/train/part-1.csv", body)
    with executor.local_file("s3://smflow-demo/train/part-1.csv") as path:
        assert path.name == "part-1.csv" and path.read_bytes() == body
    assert not path.exists() and not path.parent.exists()


def test_the_batch_dag_resolves_the_latest_approved_package_on_sagemaker(executor: SageMakerExecutor) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from smflow.operators.batch import resolve_package

    group = "batch-contract"
    executor.call("CreateModelPackageGroup", {"ModelPackageGroupName": group})
    container = {"Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3",
                 "ModelDataUrl": "s3://smflow-demo/model.tar.gz"}
    arns = [executor.call("CreateModelPackage", {
        "ModelPackageGroupName": group, "ModelApprovalStatus": "PendingManualApproval",
        "InferenceSpecification": {"Containers": [container], "SupportedContentTypes": ["text/csv"],
                                   "SupportedResponseMIMETypes": ["text/csv"]}})["ModelPackageArn"]
            for _ in range(2)]
    with pytest.raises(AirflowFailException, match=f"smflow registry approve {group} VERSION"):
        resolve_package(executor, group, None)
    executor.call("UpdateModelPackage", {"ModelPackageArn": arns[0], "ModelApprovalStatus": "Approved"})
    package = resolve_package(executor, group, None)
    assert package["ModelPackageArn"] == arns[0] and package["ModelPackageVersion"] == 1
    assert resolve_package(executor, group, 2)["ModelPackageArn"] == arns[1]
    assert package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"] == container["ModelDataUrl"]
