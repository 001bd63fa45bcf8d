"""What every local API family shares with the service model: botocore's request check, SageMaker's name
pattern, ARNs, and responses shaped (and timestamp-typed) like boto3's."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ParamValidationError
from botocore.model import Shape

from smflow.sagemaker_api import validation_error
from smflow.service_model import request_problems, sagemaker_model


def to_boto(value: Any, shape: Shape | None) -> Any:
    """Stored JSON → what boto3 returns: ISO strings at timestamp members become timezone-aware datetimes."""
    if shape is None:
        return value
    if shape.type_name == "timestamp" and isinstance(value, str):
        return datetime.fromisoformat(value)
    if shape.type_name == "structure" and isinstance(value, dict):
        members = shape.members  # type: ignore[attr-defined]
        return {k: to_boto(v, members.get(k)) for k, v in value.items()}
    if shape.type_name == "list" and isinstance(value, list):
        return [to_boto(v, shape.member) for v in value]  # type: ignore[attr-defined]
    if shape.type_name == "map" and isinstance(value, dict):
        return {k: to_boto(v, shape.value) for k, v in value.items()}  # type: ignore[attr-defined]
    return value


def output(operation: str, value: Mapping[str, Any]) -> dict[str, Any]:
    """A stored record → the operation's response: only its output members, typed as boto3 types them."""
    shape = sagemaker_model().operation_model(operation).output_shape
    members = shape.members if shape is not None else {}  # type: ignore[attr-defined]
    result: dict[str, Any] = to_boto({k: v for k, v in value.items() if k in members}, shape)
    return result


def validate_request(operation: str, params: Mapping[str, Any]) -> None:
    """botocore's client-side check, exactly as boto3 runs it before sending a request."""
    problems = request_problems(operation, params)
    if problems:
        raise ParamValidationError(report=f"invalid {operation} request:\n{problems}")


def check_name(operation: str, key: str, name: str) -> None:
    """SageMaker's server-side name pattern; names also become directory names, so this guards paths."""
    pattern = sagemaker_model().operation_model(operation).input_shape.members[key].metadata["pattern"]
    if not re.fullmatch(pattern, name):
        raise validation_error(operation, f"1 validation error detected: Value {name!r} at '{key}' failed to "
                                          f"satisfy constraint: Member must satisfy regular expression pattern: "
                                          f"{pattern} (letters, digits and hyphens, at most 63 characters)")


def is_plain_name(name: str) -> bool:
    """A name that can be a file name here (SageMaker's job and model names are this and shorter)."""
    return re.fullmatch(r"[a-zA-Z0-9-]{1,63}", name) is not None


@dataclass(frozen=True)
class Arns:
    region: str
    account: str

    def arn(self, resource: str, name: str) -> str:
        return f"arn:aws:sagemaker:{self.region}:{self.account}:{resource}/{name.lower()}"
