"""The local SageMaker's one operation → handler table."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

import smflow.local_sagemaker
from smflow.local_sagemaker.service import LocalSageMaker
from smflow.sagemaker_api import JOB_OPERATIONS
from smflow.service_model import sagemaker_model


def test_every_operation_in_the_table_is_a_sagemaker_operation(tmp_path: Path) -> None:
    handlers = LocalSageMaker(home=tmp_path / "home").handlers
    assert set(JOB_OPERATIONS) | {"CreateModel", "DescribeModel", "DeleteModel", "CreateModelPackageGroup",
                                  "UpdateModelPackage", "ListModelPackages"} <= set(handlers)
    assert set(handlers) <= set(sagemaker_model().operation_names)
    assert not (tmp_path / "home" / "registry.sqlite").exists(), "building the table opens no registry"


def test_an_operation_outside_the_table_is_a_validation_exception_naming_the_table(tmp_path: Path) -> None:
    with pytest.raises(ClientError) as error:
        LocalSageMaker(home=tmp_path / "home").call("CreateHyperParameterTuningJob", {})
    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert "CreateModel, CreateModelPackage" in str(error.value) and "sagemaker executor" in str(error.value)


def test_no_dispatch_by_getattr_on_strings() -> None:
    """Handlers are found in tables mypy and grep can see, never by building a method name."""
    offenders = []
    for path in sorted(Path(smflow.local_sagemaker.__file__).parent.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr"
                    and len(node.args) >= 2 and not isinstance(node.args[1], ast.Constant)):
                offenders.append(f"{path.name}:{node.lineno}")
    assert not offenders
