"""Fidelity: the same SageMaker scenarios against the local SageMaker and against a moto server.

"Faithful to SageMaker" is a test wherever moto models the API: each scenario runs through an executor's
`call` (the local adapter over `smflow.local_sagemaker`, or the sagemaker executor over the provider's hook
pointed at moto) and asserts what a SageMaker user observes — response keys, ARN shapes, statuses, error
codes, paging. Where moto is known not to model the behaviour the scenario is skipped for moto, saying why.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from smflow.executors.base import Executor
from smflow.sagemaker_api import JOB_KINDS, TERMINAL_STATUSES, is_not_found

ROLE = "arn:aws:iam::111122223333:role/service-role/AmazonSageMaker-ExecutionRole"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
PROCESSING = JOB_KINDS["CreateProcessingJob"]
ARN = r"arn:aws:sagemaker:[a-z0-9-]+:\d{12}:"


@pytest.fixture(params=["local", "moto"])
def sagemaker(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Executor]:
    if request.param == "local":
        from smflow.executors.local import LocalExecutor

        monkeypatch.setenv("SMFLOW_STOP_GRACE_SECONDS", "2")
        executor: Executor = LocalExecutor(home=tmp_path / "home")
    else:
        request.getfixturevalue("aws_env")
        from smflow.executors.sagemaker import SageMakerExecutor

        executor = SageMakerExecutor(aws_conn_id="smflow_moto", region_name="us-east-1")
    yield executor
    if request.param == "local":  # end whatever is still running
        for summary in executor.call(PROCESSING.list, {"MaxResults": 100})[PROCESSING.summaries_key]:
            if summary[PROCESSING.status_key] == "InProgress":
                executor.call(PROCESSING.stop, {PROCESSING.name_key: summary[PROCESSING.name_key]})


def skip_on_moto(executor: Executor, reason: str) -> None:
    if executor.name == "sagemaker":
        pytest.skip(f"moto: {reason}")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def processing_request(name: str, seconds: int = 30) -> dict[str, Any]:
    return {
        "ProcessingJobName": name,
        "RoleArn": ROLE,
        "AppSpecification": {"ImageUri": IMAGE, "ContainerEntrypoint": ["/bin/sh", "-c", f"sleep {seconds}"]},
        "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large",
                                                  "VolumeSizeInGB": 1}},
        "StoppingCondition": {"MaxRuntimeInSeconds": 120},
    }


def describe(executor: Executor, name: str) -> dict[str, Any]:
    return executor.call(PROCESSING.describe, {PROCESSING.name_key: name})


# ---- jobs --------------------------------------------------------------------------------------------


def test_create_then_describe(sagemaker: Executor) -> None:
    name = unique("fid-create")
    created = sagemaker.call(PROCESSING.create, processing_request(name))
    assert set(created) == {PROCESSING.arn_key}
    assert re.fullmatch(ARN + f"processing-job/{name}", created[PROCESSING.arn_key])
    described = describe(sagemaker, name)
    assert described[PROCESSING.name_key] == name
    assert described[PROCESSING.arn_key] == created[PROCESSING.arn_key]
    assert described[PROCESSING.status_key] in {"InProgress", *TERMINAL_STATUSES}
    assert isinstance(described["CreationTime"], datetime) and described["CreationTime"].tzinfo is not None
    assert described["AppSpecification"]["ImageUri"] == IMAGE
    assert described["RoleArn"] == ROLE  # (moto does not echo ProcessingResources; SageMaker and local do)


def test_a_duplicate_job_name_is_refused(sagemaker: Executor) -> None:
    skip_on_moto(sagemaker, "CreateProcessingJob with a taken name silently overwrites the first job")
    name = unique("fid-dup")
    sagemaker.call(PROCESSING.create, processing_request(name))
    with pytest.raises(ClientError) as error:
        sagemaker.call(PROCESSING.create, processing_request(name))
    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert not is_not_found(error.value)


@pytest.mark.parametrize("operation", [PROCESSING.describe, PROCESSING.stop])
def test_an_unknown_job_is_not_found(sagemaker: Executor, operation: str) -> None:
    if operation == PROCESSING.stop:
        skip_on_moto(sagemaker, "StopProcessingJob accepts any name without looking it up")
    with pytest.raises(ClientError) as error:
        sagemaker.call(operation, {PROCESSING.name_key: unique("fid-missing")})
    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert is_not_found(error.value)
    assert sagemaker.describe_job(PROCESSING.create, unique("fid-missing")) is None


def test_stop_ends_the_job_stopped(sagemaker: Executor) -> None:
    skip_on_moto(sagemaker, "jobs are Completed at creation (nothing InProgress to stop), and moto has no "
                            "StopTrainingJob")
    name = unique("fid-stop")
    sagemaker.call(PROCESSING.create, processing_request(name, seconds=60))
    assert sagemaker.call(PROCESSING.stop, {PROCESSING.name_key: name}) == {}
    assert describe(sagemaker, name)[PROCESSING.status_key] in {"Stopping", "Stopped"}
    with pytest.raises(Exception) as ended:
        sagemaker.wait_for_job(PROCESSING.create, name, poll_seconds=0.2, timeout_seconds=60)
    assert getattr(ended.value, "status", None) == "Stopped"  # JobFailedError: Stopped is never success


def test_list_pages_with_next_token_and_max_results(sagemaker: Executor, request: pytest.FixtureRequest) -> None:
    if sagemaker.name == "sagemaker":  # moto pages before it filters by NameContains: start from no jobs
        import urllib.request

        urllib.request.urlopen(urllib.request.Request(f"{request.getfixturevalue('aws_env')}/moto-api/reset",
                                                      method="POST"), timeout=10).close()
    prefix = unique("fid-list")
    names = {f"{prefix}-{i}" for i in range(3)}
    for name in sorted(names):
        sagemaker.call(PROCESSING.create, processing_request(name, seconds=60))
    params = {"MaxResults": 2, "SortBy": "CreationTime", "SortOrder": "Ascending"}
    first = sagemaker.call(PROCESSING.list, params)
    assert len(first[PROCESSING.summaries_key]) == 2 and first.get("NextToken")
    second = sagemaker.call(PROCESSING.list, {**params, "NextToken": first["NextToken"]})
    assert len(second[PROCESSING.summaries_key]) == 1 and not second.get("NextToken")
    seen = [s[PROCESSING.name_key] for s in first[PROCESSING.summaries_key] + second[PROCESSING.summaries_key]]
    assert set(seen) == names and len(seen) == 3
    for summary in first[PROCESSING.summaries_key]:
        assert {PROCESSING.name_key, PROCESSING.arn_key, PROCESSING.status_key, "CreationTime"} <= set(summary)


# ---- the model registry ------------------------------------------------------------------------------


def package_request(group: str) -> dict[str, Any]:
    return {
        "ModelPackageGroupName": group,
        "ModelApprovalStatus": "PendingManualApproval",
        "InferenceSpecification": {"Containers": [{"Image": IMAGE, "ModelDataUrl": "s3://bucket/model.tar.gz"}],
                                   "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]},
    }


def test_model_package_versions_and_approval(sagemaker: Executor) -> None:
    group = unique("fid-group")
    created = sagemaker.call("CreateModelPackageGroup", {"ModelPackageGroupName": group})
    assert re.fullmatch(ARN + f"model-package-group/{group}", created["ModelPackageGroupArn"])
    arns = [sagemaker.call("CreateModelPackage", package_request(group))["ModelPackageArn"] for _ in range(2)]
    assert [re.fullmatch(ARN + f"model-package/{group}/(\\d+)", arn).group(1) for arn in arns] == ["1", "2"]  # type: ignore[union-attr]
    first = sagemaker.call("DescribeModelPackage", {"ModelPackageName": arns[0]})
    assert (first["ModelPackageGroupName"], first["ModelPackageVersion"]) == (group, 1)
    assert first["ModelApprovalStatus"] == "PendingManualApproval"

    updated = sagemaker.call("UpdateModelPackage", {"ModelPackageArn": arns[0], "ModelApprovalStatus": "Approved",
                                                    "ApprovalDescription": "beats the baseline"})
    assert updated["ModelPackageArn"] == arns[0]
    approved = sagemaker.call("DescribeModelPackage", {"ModelPackageName": arns[0]})
    assert (approved["ModelApprovalStatus"], approved["ApprovalDescription"]) == ("Approved", "beats the baseline")

    listed = sagemaker.call("ListModelPackages", {"ModelPackageGroupName": group})["ModelPackageSummaryList"]
    assert sorted((s["ModelPackageVersion"], s["ModelApprovalStatus"]) for s in listed) == [
        (1, "Approved"), (2, "PendingManualApproval")]
    only = sagemaker.call("ListModelPackages", {"ModelPackageGroupName": group, "ModelApprovalStatus": "Approved"})
    assert [s["ModelPackageArn"] for s in only["ModelPackageSummaryList"]] == [arns[0]]
    page = sagemaker.call("ListModelPackages", {"ModelPackageGroupName": group, "MaxResults": 1})
    assert len(page["ModelPackageSummaryList"]) == 1 and page.get("NextToken")


def test_an_unknown_group_or_version_is_not_found(sagemaker: Executor) -> None:
    with pytest.raises(ClientError) as error:
        sagemaker.call("DescribeModelPackageGroup", {"ModelPackageGroupName": unique("fid-nogroup")})
    assert is_not_found(error.value)
    group = unique("fid-group")
    sagemaker.call("CreateModelPackageGroup", {"ModelPackageGroupName": group})
    arn = sagemaker.call("CreateModelPackage", package_request(group))["ModelPackageArn"]
    with pytest.raises(ClientError) as missing:
        sagemaker.call("DescribeModelPackage", {"ModelPackageName": arn[: arn.rfind("/")] + "/9"})
    assert is_not_found(missing.value)


def test_a_duplicate_group_is_refused(sagemaker: Executor) -> None:
    skip_on_moto(sagemaker, "CreateModelPackageGroup with a taken name succeeds again")
    group = unique("fid-group")
    sagemaker.call("CreateModelPackageGroup", {"ModelPackageGroupName": group})
    with pytest.raises(ClientError) as error:
        sagemaker.call("CreateModelPackageGroup", {"ModelPackageGroupName": group})
    assert error.value.response["Error"]["Code"] == "ValidationException" and "already exists" in str(error.value)


def test_the_registry_read_model_reads_both(sagemaker: Executor) -> None:
    """What `smflow registry list|approve` shows, through the executor protocol, from either registry."""
    group = unique("fid-view")
    sagemaker.call("CreateModelPackageGroup", {"ModelPackageGroupName": group})
    for _ in range(2):
        sagemaker.call("CreateModelPackage", package_request(group))
    registry = sagemaker.model_registry()
    assert [(r["version"], r["status"]) for r in registry.list_versions(group)] == [
        (1, "PendingManualApproval"), (2, "PendingManualApproval")]
    row = registry.set_status(group, 2, "Approved", "ok")
    assert (row["version"], row["status"], row["approval_description"]) == (2, "Approved", "ok")
    latest = registry.latest_approved(group)
    assert latest is not None and latest["version"] == 2 and latest["model_data_url"] == "s3://bucket/model.tar.gz"


def test_smflow_registry_approves_on_aws_through_the_executor(aws_env: str, monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    from smflow.cli import main
    from smflow.executors.sagemaker import SageMakerExecutor

    monkeypatch.setenv("SMFLOW_AWS_CONN_ID", "smflow_moto")
    monkeypatch.setenv("SMFLOW_EXECUTOR", "sagemaker")  # the default comes from the executor setting
    aws = SageMakerExecutor(aws_conn_id="smflow_moto", region_name="us-east-1")
    group = unique("fid-cli")
    aws.call("CreateModelPackageGroup", {"ModelPackageGroupName": group})
    arn = aws.call("CreateModelPackage", package_request(group))["ModelPackageArn"]
    assert main(["registry", "approve", group, "1", "--note", "ok"]) == 0
    assert f"{arn}: Approved\n" in capsys.readouterr().out  # (Airflow logs the hook to stdout too)
    assert main(["registry", "list", "--group", group, "--json", "--executor", "sagemaker"]) == 0
    assert '"status": "Approved"' in capsys.readouterr().out
    assert main(["registry", "reject", group, "7", "--executor", "sagemaker"]) == 1
    assert "has no version 7; versions: 1" in capsys.readouterr().err
