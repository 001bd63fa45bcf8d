"""botocore's SageMaker service model: the request shapes AWS itself accepts, for compile checks and the local
executor alike (one copy of the rules, loaded once per process)."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import botocore.session
from botocore.model import OperationModel, ServiceModel
from botocore.validate import ParamValidator


class RequestValidationError(ValueError):
    pass


@lru_cache(maxsize=1)
def sagemaker_model() -> ServiceModel:
    return botocore.session.get_session().get_service_model("sagemaker")


def operation_model(operation: str) -> OperationModel:
    model = sagemaker_model()
    if operation not in model.operation_names:
        raise RequestValidationError(f"'{operation}' is not a SageMaker API operation")
    return model.operation_model(operation)


def request_problems(operation: str, request: Mapping[str, Any]) -> str | None:
    """botocore's client-side report (types, required and unknown keys, lengths), or None when valid."""
    report = ParamValidator().validate(dict(request), operation_model(operation).input_shape)
    return report.generate_report() if report.has_errors() else None


def validate_request(operation: str, request: Mapping[str, Any]) -> None:
    """Raise `RequestValidationError` listing every problem botocore finds."""
    problems = request_problems(operation, request)
    if problems:
        raise RequestValidationError(f"invalid {operation} request:\n{problems}")
