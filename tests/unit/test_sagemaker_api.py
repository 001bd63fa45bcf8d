"""The one SageMaker vocabulary: what counts as "no such name" across AWS, moto and the local SageMaker, the
job-kind table, and that no other module writes a second copy of it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from smflow import sagemaker_api
from smflow.sagemaker_api import (
    JOB_KINDS,
    JOB_OPERATIONS,
    is_not_found,
    not_found_error,
    validation_error,
)
from tests.conftest import REPO


def error(code: str, message: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "DescribeTrainingJob")


@pytest.mark.parametrize("code,message", [
    ("ValidationException", "Requested resource not found."),  # real SageMaker DescribeTrainingJob
    ("ValidationException", "Could not find training job 'x'."),  # moto, the local SageMaker
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


def test_error_builders_shape_client_errors_as_the_service() -> None:
    missing = not_found_error("DescribeModel", "Could not find model x.")
    assert missing.response["Error"] == {"Code": "ValidationException", "Message": "Could not find model x."}
    assert missing.operation_name == "DescribeModel" and is_not_found(missing)
    invalid = validation_error("CreateModel", "a model needs PrimaryContainer or Containers")
    assert invalid.response["Error"]["Code"] == "ValidationException" and not is_not_found(invalid)


def test_job_kinds_name_the_api_operations_and_keys() -> None:
    training = JOB_KINDS["CreateTrainingJob"]
    assert (training.describe, training.stop, training.list) == (
        "DescribeTrainingJob", "StopTrainingJob", "ListTrainingJobs")
    assert (training.name_key, training.status_key, training.arn_key, training.summaries_key) == (
        "TrainingJobName", "TrainingJobStatus", "TrainingJobArn", "TrainingJobSummaries")
    assert (training.start_time_key, training.end_time_key) == ("TrainingStartTime", "TrainingEndTime")
    assert JOB_KINDS["CreateProcessingJob"].end_time_key == "ProcessingEndTime"
    assert JOB_OPERATIONS["StopTransformJob"] == ("stop", JOB_KINDS["CreateTransformJob"])
    assert len(JOB_OPERATIONS) == 12


def test_every_job_operation_and_key_exists_in_the_service_model() -> None:
    from smflow.service_model import sagemaker_model

    model = sagemaker_model()
    for operation, (verb, kind) in JOB_OPERATIONS.items():
        operation_model = model.operation_model(operation)
        if verb == "describe":
            members = operation_model.output_shape.members
            for key in (kind.name_key, kind.arn_key, kind.status_key, kind.end_time_key):
                assert key in members, (operation, key)
        if verb == "list":
            assert kind.summaries_key in operation_model.output_shape.members


_VOCABULARY = re.compile(r"^(?:(?:Create|Describe|Stop|List)(?P<a>Processing|Training|Transform)Jobs?"
                         r"|(?P<b>Processing|Training|Transform)(?:JobStatus|JobName|JobArn|StartTime|EndTime"
                         r"|JobSummaries))$")


def _kinds_named(node: ast.AST) -> set[str]:
    kinds = set()
    for child in ast.walk(node):
        if isinstance(child, ast.Constant) and isinstance(child.value, str):
            match = _VOCABULARY.match(child.value)
            if match:
                kinds.add(match.group("a") or match.group("b"))
    return kinds


def test_no_module_outside_the_vocabulary_defines_a_job_kind_table() -> None:
    """A table is a literal (dict, list, tuple, set) naming the operations or keys of more than one job kind,
    or a class or call building job kinds; only smflow/sagemaker_api.py may hold one."""
    vocabulary = Path(sagemaker_api.__file__).resolve()
    offenders = []
    for path in sorted((REPO / "plugins" / "smflow").rglob("*.py")):
        if path.resolve() == vocabulary:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Dict | ast.List | ast.Tuple | ast.Set) and len(_kinds_named(node)) > 1:
                offenders.append(f"{path.relative_to(REPO)}:{node.lineno}: a job-kind table")
            if isinstance(node, ast.ClassDef) and node.name in {"JobKind", "JobApi"}:
                offenders.append(f"{path.relative_to(REPO)}:{node.lineno}: class {node.name}")
    assert not offenders, "\n".join(offenders)
