"""The Airflow-callable approval API works against the local registry through the executor protocol."""

from __future__ import annotations

from pathlib import Path

import pytest

from smflow.executors.local import LocalExecutor
from smflow.operators.approval import set_model_approval


def register(executor: LocalExecutor, group: str) -> str:
    try:
        executor.call("CreateModelPackageGroup", {"ModelPackageGroupName": group})
    except Exception:  # noqa: BLE001 - exists already
        pass
    return executor.call("CreateModelPackage", {
        "ModelPackageGroupName": group, "ModelApprovalStatus": "PendingManualApproval",
        "InferenceSpecification": {"Containers": [{"Image": "img", "ModelDataUrl": "s3://b/model.tar.gz"}],
                                   "SupportedContentTypes": ["text/csv"],
                                   "SupportedResponseMIMETypes": ["text/csv"]}})["ModelPackageArn"]


def test_approve_latest_and_reject_by_number(tmp_path: Path) -> None:
    executor = LocalExecutor(home=tmp_path)
    first = register(executor, "g")
    second = register(executor, "g")
    assert set_model_approval(executor, "g", "latest", "Approved")["model_package_arn"] == second
    set_model_approval(executor, "g", 1, "Rejected", note="worse on holdout")
    assert executor.call("DescribeModelPackage", {"ModelPackageName": first})["ModelApprovalStatus"] == "Rejected"
    assert executor.call("DescribeModelPackage", {"ModelPackageName": second})["ModelApprovalStatus"] == "Approved"


def test_clear_errors(tmp_path: Path) -> None:
    executor = LocalExecutor(home=tmp_path)
    register(executor, "g")
    with pytest.raises(LookupError, match=r"no version 9; versions: \[1\]"):
        set_model_approval(executor, "g", 9, "Approved")
    with pytest.raises(ValueError, match="use one of Approved"):
        set_model_approval(executor, "g", 1, "approved")
