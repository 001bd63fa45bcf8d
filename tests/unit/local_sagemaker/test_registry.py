"""The SQLite model registry speaks SageMaker's model-package API and stays consistent under concurrency."""

from __future__ import annotations

import multiprocessing
import sqlite3
from contextlib import closing
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from smflow.executors.base import is_not_found
from smflow.local_sagemaker.registry import ModelRegistry, RegistryError

GROUP = "churn-model"
ARN_PREFIX = "arn:aws:sagemaker:us-east-1:000000000000"


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModelRegistry:
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    registry = ModelRegistry(tmp_path / "registry.sqlite")
    registry.call("CreateModelPackageGroup", {"ModelPackageGroupName": GROUP,
                                              "ModelPackageGroupDescription": "churn classifier"})
    return registry


def package_request(token: str | None = None, **extra: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "ModelPackageGroupName": GROUP,
        "ModelPackageDescription": "trained by churn__train",
        "InferenceSpecification": {
            "Containers": [{
                "Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3",
                "ModelDataUrl": "s3://bucket/churn/train/output/model.tar.gz",
                "Environment": {"SAGEMAKER_PROGRAM": "inference.py"},
            }],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        "ModelMetrics": {"ModelQuality": {"Statistics": {
            "ContentType": "application/json", "S3Uri": "s3://bucket/churn/eval/metrics.json"}}},
        "CustomerMetadataProperties": {"accuracy": "0.93", "run_id": "manual__2024-01-01",
                                       "training_job": "churn-tr-1"},
        **extra,
    }
    if token:
        request["ClientToken"] = token
    return request


def register(registry: ModelRegistry, token: str | None = None, **extra: Any) -> str:
    arn: str = registry.call("CreateModelPackage", package_request(token, **extra))["ModelPackageArn"]
    return arn


def test_versions_increment_and_describe_echoes_the_request(registry: ModelRegistry) -> None:
    arns = [register(registry) for _ in range(3)]

    assert arns == [f"{ARN_PREFIX}:model-package/{GROUP}/{v}" for v in (1, 2, 3)]
    described = registry.call("DescribeModelPackage", {"ModelPackageName": arns[1]})
    assert described["ModelPackageVersion"] == 2
    assert described["ModelPackageGroupName"] == GROUP
    assert described["ModelApprovalStatus"] == "PendingManualApproval"
    assert described["ModelPackageStatus"] == "Completed"
    assert described["InferenceSpecification"] == package_request()["InferenceSpecification"]
    assert described["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"] == "s3://bucket/churn/eval/metrics.json"
    assert described["CustomerMetadataProperties"]["accuracy"] == "0.93"
    assert isinstance(described["CreationTime"], datetime) and described["CreationTime"].tzinfo is not None
    # SageMaker also accepts "<group>/<version>" as the name.
    assert registry.call("DescribeModelPackage", {"ModelPackageName": f"{GROUP}/2"})["ModelPackageArn"] == arns[1]


def test_client_token_returns_the_existing_version(registry: ModelRegistry) -> None:
    first = register(registry, token="run-1-register")
    again = register(registry, token="run-1-register")
    other = register(registry, token="run-2-register")

    assert first == again == f"{ARN_PREFIX}:model-package/{GROUP}/1"
    assert other.endswith("/2")
    assert [v["version"] for v in registry.list_versions(GROUP)] == [1, 2]


def test_approve_and_reject_and_latest_approved(registry: ModelRegistry) -> None:
    for _ in range(3):
        register(registry)
    assert registry.latest_approved(GROUP) is None

    registry.set_status(GROUP, 1, "Approved", "baseline")
    approved = registry.set_status(GROUP, 2, "Approved")
    rejected = registry.set_status(GROUP, 3, "Rejected", "worse AUC")

    assert approved["status"] == "Approved" and approved["version"] == 2
    assert rejected["approval_description"] == "worse AUC"
    latest = registry.latest_approved(GROUP)
    assert latest is not None and latest["version"] == 2
    assert latest["model_data_url"] == "s3://bucket/churn/train/output/model.tar.gz"
    described = registry.call("DescribeModelPackage", {"ModelPackageName": f"{ARN_PREFIX}:model-package/{GROUP}/1"})
    assert (described["ModelApprovalStatus"], described["ApprovalDescription"]) == ("Approved", "baseline")
    assert described["LastModifiedTime"] >= described["CreationTime"]


def test_set_status_errors_list_the_valid_choices(registry: ModelRegistry) -> None:
    register(registry)
    with pytest.raises(RegistryError, match="use one of Approved, Rejected, PendingManualApproval"):
        registry.set_status(GROUP, 1, "approved")
    with pytest.raises(RegistryError, match="has no version 7; versions: 1"):
        registry.set_status(GROUP, 7, "Approved")
    with pytest.raises(RegistryError, match=f"no model package group 'nope'.*groups: {GROUP}"):
        registry.latest_approved("nope")


def test_list_filters_sorts_and_paginates(registry: ModelRegistry) -> None:
    registry.call("CreateModelPackageGroup", {"ModelPackageGroupName": "other-model"})
    for _ in range(5):
        register(registry)
    registry.call("CreateModelPackage", {**package_request(), "ModelPackageGroupName": "other-model"})
    registry.call("UpdateModelPackage", {"ModelPackageArn": f"{ARN_PREFIX}:model-package/{GROUP}/2",
                                         "ModelApprovalStatus": "Approved"})
    registry.call("UpdateModelPackage", {"ModelPackageArn": f"{ARN_PREFIX}:model-package/{GROUP}/4",
                                         "ModelApprovalStatus": "Approved"})

    approved = registry.call("ListModelPackages", {
        "ModelPackageGroupName": GROUP, "ModelApprovalStatus": "Approved",
        "SortBy": "CreationTime", "SortOrder": "Descending"})["ModelPackageSummaryList"]
    assert [p["ModelPackageVersion"] for p in approved] == [4, 2]
    assert set(approved[0]) >= {"ModelPackageArn", "ModelApprovalStatus", "CreationTime", "ModelPackageStatus"}

    first = registry.call("ListModelPackages", {"ModelPackageGroupName": GROUP, "MaxResults": 2})
    second = registry.call("ListModelPackages", {"ModelPackageGroupName": GROUP, "MaxResults": 2,
                                                 "NextToken": first["NextToken"]})
    third = registry.call("ListModelPackages", {"ModelPackageGroupName": GROUP, "MaxResults": 2,
                                                "NextToken": second["NextToken"]})
    pages = [first, second, third]
    assert [[p["ModelPackageVersion"] for p in page["ModelPackageSummaryList"]] for page in pages] == [[1, 2], [3, 4],
                                                                                                       [5]]
    assert "NextToken" not in third
    everything = registry.call("ListModelPackages", {"MaxResults": 100})["ModelPackageSummaryList"]
    assert len(everything) == 6

    groups = registry.call("ListModelPackageGroups", {"SortBy": "Name", "SortOrder": "Ascending"})
    assert [g["ModelPackageGroupName"] for g in groups["ModelPackageGroupSummaryList"]] == [GROUP, "other-model"]


def test_update_merges_and_removes_customer_metadata(registry: ModelRegistry) -> None:
    arn = register(registry)
    registry.call("UpdateModelPackage", {"ModelPackageArn": arn, "CustomerMetadataProperties": {"auc": "0.88"},
                                         "CustomerMetadataPropertiesToRemove": ["run_id"]})
    metadata = registry.call("DescribeModelPackage", {"ModelPackageName": arn})["CustomerMetadataProperties"]
    assert metadata == {"accuracy": "0.93", "training_job": "churn-tr-1", "auc": "0.88"}


def test_errors_are_client_errors_shaped_like_sagemakers(registry: ModelRegistry) -> None:
    with pytest.raises(ClientError, match="Model Package Group already exists") as exists:
        registry.call("CreateModelPackageGroup", {"ModelPackageGroupName": GROUP})
    assert exists.value.response["Error"]["Code"] == "ValidationException"
    assert not is_not_found(exists.value)

    with pytest.raises(ClientError) as missing:
        registry.call("DescribeModelPackage", {"ModelPackageName": f"{ARN_PREFIX}:model-package/{GROUP}/9"})
    assert is_not_found(missing.value)
    with pytest.raises(ClientError) as missing_group:
        registry.call("DescribeModelPackageGroup", {"ModelPackageGroupName": "absent"})
    assert is_not_found(missing_group.value)
    with pytest.raises(ClientError, match="does not exist"):
        registry.call("CreateModelPackage", {**package_request(), "ModelPackageGroupName": "absent"})

    with pytest.raises(ClientError, match="enum value set: \\[Approved, Rejected, PendingManualApproval\\]"):
        registry.call("CreateModelPackage", package_request(ModelApprovalStatus="Maybe"))
    with pytest.raises(ClientError, match='Unknown parameter in input: "ModelName"'):
        registry.call("CreateModelPackage", package_request(ModelName="x"))
    with pytest.raises(ClientError, match="values are strings of 1-256"):
        registry.call("CreateModelPackage", package_request(CustomerMetadataProperties={"metrics": '{"a": 1}'}))
    with pytest.raises(ClientError, match="ModelPackageGroupName 'bad_name' is not valid"):
        registry.call("CreateModelPackageGroup", {"ModelPackageGroupName": "bad_name"})
    assert registry.list_versions(GROUP) == []


def test_delete_group_requires_it_to_be_empty_and_versions_are_never_reused(registry: ModelRegistry) -> None:
    arn = register(registry)
    with pytest.raises(ClientError, match="still has 1 model package version"):
        registry.call("DeleteModelPackageGroup", {"ModelPackageGroupName": GROUP})
    registry.call("DeleteModelPackage", {"ModelPackageName": arn})
    assert register(registry).endswith("/2")


def test_a_failure_inside_the_transaction_leaves_no_version(
    registry: ModelRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(*_args: Any) -> None:
        raise RuntimeError("killed mid-registration")

    monkeypatch.setattr(ModelRegistry, "_package_row", crash)  # called after the INSERT, before COMMIT
    with pytest.raises(RuntimeError, match="killed mid-registration"):
        register(registry)
    monkeypatch.undo()

    with closing(sqlite3.connect(registry.path)) as conn:
        assert conn.execute("SELECT COUNT(*) FROM model_packages").fetchone()[0] == 0
    assert register(registry).endswith(f"{GROUP}/1")  # the counter rolled back too


def _die_mid_registration(path: str) -> None:
    """Child process: the interpreter exits (no cleanup, no rollback) between INSERT and COMMIT."""
    import os

    def exit_now(*_args: Any) -> None:
        os._exit(3)

    ModelRegistry._package_row = exit_now  # type: ignore[method-assign]
    ModelRegistry(Path(path)).call("CreateModelPackage", package_request())


def test_a_process_killed_mid_registration_leaves_no_version(registry: ModelRegistry) -> None:
    child = multiprocessing.get_context("fork").Process(target=_die_mid_registration, args=(str(registry.path),))
    child.start()
    child.join(30)
    assert child.exitcode == 3

    assert registry.list_versions(GROUP) == []
    assert register(registry).endswith(f"{GROUP}/1")


def _register_many(path: str, count: int, barrier: Any, results: Any) -> None:
    registry = ModelRegistry(Path(path))
    barrier.wait()
    for _ in range(count):
        results.put(registry.call("CreateModelPackage", package_request())["ModelPackageArn"])


def test_concurrent_registrations_from_four_processes_get_distinct_contiguous_versions(
    registry: ModelRegistry,
) -> None:
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(4), context.Queue()
    workers = [context.Process(target=_register_many, args=(str(registry.path), 5, barrier, results))
               for _ in range(4)]
    for worker in workers:
        worker.start()
    arns = [results.get(timeout=60) for _ in range(20)]
    for worker in workers:
        worker.join(30)
        assert worker.exitcode == 0

    versions = sorted(int(arn.rsplit("/", 1)[1]) for arn in arns)
    assert versions == list(range(1, 21))
    assert [v["version"] for v in registry.list_versions(GROUP)] == list(range(1, 21))
