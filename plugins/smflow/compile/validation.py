"""Check a request against botocore's real SageMaker service model: the shapes AWS itself would accept."""

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


def validate_request(operation: str, request: Mapping[str, Any]) -> None:
    """Raise `RequestValidationError` listing every problem botocore finds (types, required keys, lengths)."""
    report = ParamValidator().validate(dict(request), operation_model(operation).input_shape)
    if report.has_errors():
        raise RequestValidationError(f"invalid {operation} request:\n{report.generate_report()}")
