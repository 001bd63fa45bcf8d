"""The gate's look-up of the approved version: only "not found" means nothing is approved yet."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowException
from botocore.exceptions import ClientError

from smflow.executors.local import LocalExecutor
from smflow.operators.condition import approved_baseline


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
