"""botocore's SageMaker service model: the request shapes AWS itself accepts, for compile checks and the local
executor alike (one copy of the rules, loaded once per process)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from botocore.loaders import create_loader
from botocore.model import OperationModel, ServiceModel
from botocore.validate import ParamValidator

from smflow.errors import SmflowError


class RequestValidationError(SmflowError, ValueError):
    pass


@lru_cache(maxsize=1)
def sagemaker_model() -> ServiceModel:
    """The model botocore's session would give, read by its loader directly (a session imports the whole client
    stack: ~0.1 s of every cold parse)."""
    return ServiceModel(create_loader().load_service_model("sagemaker", "service-2"), service_name="sagemaker")


_VALIDATOR = ParamValidator()  # stateless: each `validate` call builds its own report


def operation_model(operation: str) -> OperationModel:
    model = sagemaker_model()
    if operation not in model.operation_names:
        raise RequestValidationError(f"'{operation}' is not a SageMaker API operation")
    return model.operation_model(operation)


def request_problems(operation: str, request: Mapping[str, Any]) -> str | None:
    """botocore's client-side report (types, required and unknown keys, lengths), or None when valid."""
    report = _VALIDATOR.validate(dict(request), operation_model(operation).input_shape)
    return report.generate_report() if report.has_errors() else None


def validate_request(operation: str, request: Mapping[str, Any]) -> None:
    """Raise `RequestValidationError` listing every problem botocore finds."""
    problems = request_problems(operation, request)
    if problems:
        raise RequestValidationError(f"invalid {operation} request:\n{problems}")


def constraint_problems(operation: str, request: Mapping[str, Any]) -> list[str]:
    """The server-side limits botocore does not check client-side: string max lengths and patterns, list and
    map sizes, numeric maxima — what SageMaker answers with a ValidationException after the request is sent."""
    problems: list[str] = []
    _walk(operation_model(operation).input_shape, request, operation, problems)
    return problems


def _walk(shape: Any, value: Any, where: str, problems: list[str]) -> None:  # noqa: C901 - one branch per type
    meta = shape.metadata
    if shape.type_name == "structure" and isinstance(value, Mapping):
        for key, item in value.items():
            if key in shape.members:
                _walk(shape.members[key], item, f"{where}.{key}", problems)
    elif shape.type_name == "list" and isinstance(value, list):
        if "max" in meta and len(value) > meta["max"]:
            problems.append(f"{where} has {len(value)} items; at most {meta['max']} are allowed")
        for index, item in enumerate(value):
            _walk(shape.member, item, f"{where}[{index}]", problems)
    elif shape.type_name == "map" and isinstance(value, Mapping):
        if "max" in meta and len(value) > meta["max"]:
            problems.append(f"{where} has {len(value)} entries; at most {meta['max']} are allowed")
        for key, item in value.items():
            _walk(shape.key, key, f"{where} key", problems)
            _walk(shape.value, item, f"{where}[{key!r}]", problems)
    elif shape.type_name == "string" and isinstance(value, str):
        if "max" in meta and len(value) > meta["max"]:
            problems.append(f"{where} is {len(value)} characters long; at most {meta['max']} are allowed")
        pattern = meta.get("pattern")
        if pattern and not _matches(pattern, value):
            shown = value if len(value) <= 60 else value[:57] + "..."
            problems.append(f"{where} {shown!r} does not match SageMaker's pattern {pattern}")
    elif shape.type_name in {"integer", "long", "float", "double"} and isinstance(value, int | float):
        if "max" in meta and value > meta["max"]:
            problems.append(f"{where} is {value}; at most {meta['max']} is allowed")


@lru_cache(maxsize=512)
def _compiled(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern, re.DOTALL)
    except re.error:
        return None  # Java-only syntax (\p{...}); SageMaker checks it, we cannot


def _matches(pattern: str, value: str) -> bool:
    compiled = _compiled(pattern)
    return compiled is None or compiled.fullmatch(value) is not None
