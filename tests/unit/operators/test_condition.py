"""The gate: thresholds, beating the approved version by a margin, and only "not found" meaning nothing approved."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSkipException
from botocore.exceptions import ClientError

from smflow.executors.local import LocalExecutor
from smflow.operators.condition import ModelGateOperator, approved_baseline, metric_value


class RefusingExecutor(LocalExecutor):
    """The local SageMaker, except that ListModelPackages answers with one chosen AWS error."""

    def __init__(self, home: Path, code: str, message: str):
        super().__init__(home=home)
        self.error = ClientError({"Error": {"Code": code, "Message": message}}, "ListModelPackages")

    def call(self, operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
        if operation == "ListModelPackages":
            raise self.error
        return super().call(operation, params)


def test_an_unknown_group_means_nothing_approved_yet(tmp_path: Path) -> None:
    assert approved_baseline(LocalExecutor(home=tmp_path), "no-such-group") is None


@pytest.mark.parametrize(("code", "message"), [
    ("AccessDeniedException", "User is not authorized to perform: sagemaker:ListModelPackages"),
    ("ThrottlingException", "Rate exceeded"),
    ("ValidationException", "1 validation error detected: Value at 'maxResults' failed to satisfy constraint"),
])
def test_any_other_error_fails_the_gate_with_its_reason(tmp_path: Path, code: str, message: str) -> None:
    with pytest.raises(AirflowException, match=f"{code}: .*{message[:20]}.*cannot decide"):
        approved_baseline(RefusingExecutor(tmp_path, code, message), "g")


def test_a_not_found_phrasing_from_aws_still_counts_as_nothing_approved(tmp_path: Path) -> None:
    executor = RefusingExecutor(tmp_path, "ValidationException", "Requested resource not found.")
    assert approved_baseline(executor, "g") is None


class GateTI:
    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


def approve_version_with(executor: LocalExecutor, group: str, rmse: float) -> str:
    executor.write_bytes("s3://reports/old.json", json.dumps({"rmse": {"value": rmse}}).encode())
    try:
        executor.call("CreateModelPackageGroup", {"ModelPackageGroupName": group})
    except ClientError:
        pass
    arn = executor.call("CreateModelPackage", {
        "ModelPackageGroupName": group, "ModelApprovalStatus": "Approved",
        "InferenceSpecification": {"Containers": [{"Image": "img", "ModelDataUrl": "s3://b/model.tar.gz"}],
                                   "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]},
        "ModelMetrics": {"ModelQuality": {"Statistics": {"ContentType": "application/json",
                                                         "S3Uri": "s3://reports/old.json"}}}})["ModelPackageArn"]
    return str(arn)


def gate(executor: LocalExecutor, new_rmse: float, r2: float, **beat: Any) -> tuple[GateTI, Any]:
    executor.write_bytes("s3://reports/new.json",
                         json.dumps({"rmse": {"value": new_rmse}, "r2": {"value": r2}}).encode())
    op = ModelGateOperator(task_id="gate", operation=None, request={}, params_={
        "report": "s3://reports/new.json", "checks": [{"metric": "r2.value", "ge": 0.2}],
        **({"beat_approved": {"metric": "rmse.value", "direction": "minimize", "group": "g", **beat}} if beat else {}),
    })
    op.get_executor = lambda: executor  # type: ignore[method-assign]
    ti = GateTI()
    try:
        return ti, op.execute({"ti": ti})  # type: ignore[arg-type]
    except (AirflowSkipException, AirflowFailException) as e:
        return ti, e


@pytest.mark.parametrize(("new", "margin", "passes"), [
    (59.0, 0.5, True),    # 60 - 0.5 = 59.5 needed: 59 beats it
    (59.5, 0.5, True),    # exactly the margin: passes (<=)
    (59.6, 0.5, False),   # better than approved, but not by the margin
    (61.0, 0.0, False),   # worse
])
def test_beat_the_approved_version_by_a_margin(tmp_path: Path, new: float, margin: float, passes: bool) -> None:
    executor = LocalExecutor(home=tmp_path)
    arn = approve_version_with(executor, "g", 60.0)
    ti, outcome = gate(executor, new, 0.5, margin=margin)
    assert ti.pushed["gate"]["passed"] is passes and ti.pushed["gate"]["baseline"] == arn
    assert ti.pushed["gate"]["old"] == 60.0 and ti.pushed["gate"]["new"] == new
    if passes:
        assert outcome["status"] == "Passed"
    else:
        assert isinstance(outcome, AirflowSkipException) and "does not beat approved" in str(outcome)


def test_thresholds_fail_the_gate_and_name_the_metric(tmp_path: Path) -> None:
    executor = LocalExecutor(home=tmp_path)
    ti, outcome = gate(executor, 50.0, 0.1)
    assert isinstance(outcome, AirflowSkipException)
    assert ti.pushed["gate"]["failures"] == ["r2.value = 0.1, required >= 0.2"]


def test_a_missing_metric_names_what_the_report_has(tmp_path: Path) -> None:
    with pytest.raises(AirflowFailException, match=r"metric 'mse.value' not found in r\.json: no 'mse' \(has: rmse\)"):
        metric_value({"rmse": {"value": 1}}, "mse.value", "r.json")
