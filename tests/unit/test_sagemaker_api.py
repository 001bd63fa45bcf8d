"""The executor protocol's shared helpers: what counts as "no such job" across AWS, moto and local."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from smflow.executors.base import is_not_found


def error(code: str, message: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "DescribeTrainingJob")


@pytest.mark.parametrize("code,message", [
    ("ValidationException", "Requested resource not found."),  # real SageMaker DescribeTrainingJob
    ("ValidationException", "Could not find training job 'x'."),  # moto, the local executor
    ("ValidationException", "Model package group x does not exist."),
    ("ResourceNotFound", "anything"),
])
def test_not_found_messages(code: str, message: str) -> None:
    assert is_not_found(error(code, message))


@pytest.mark.parametrize("code,message", [
    ("ValidationException", "1 validation error detected: Value 'x' at 'RoleArn' failed to satisfy constraint"),
    ("ThrottlingException", "Rate exceeded"),
    ("AccessDeniedException", "not authorized"),
])
def test_other_errors_are_not_not_found(code: str, message: str) -> None:
    assert not is_not_found(error(code, message))
