"""register step: a new model package version, idempotent per run through the request's ClientToken."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from smflow.operators.base import SmflowOperator
from smflow.sagemaker_api import is_not_found

if TYPE_CHECKING:
    from airflow.sdk import Context

    from smflow.executors.base import Executor
    from smflow.operators.result import TaskResult


def ensure_group(executor: Executor, request: dict[str, Any]) -> None:
    """Create the model package group unless it exists (SageMaker answers ValidationException 'already exists')."""
    try:
        executor.call("DescribeModelPackageGroup", {"ModelPackageGroupName": request["ModelPackageGroupName"]})
        return
    except ClientError as e:
        if not is_not_found(e):
            raise  # AccessDenied, throttling…: say so rather than guess the group is missing
    try:
        executor.call("CreateModelPackageGroup", request)
    except ClientError as e:
        if "already exists" not in str(e).lower():
            raise


class ModelRegistrationOperator(SmflowOperator):
    """A register step: one CreateModelPackage version; the ClientToken (run, task, request fingerprint)
    makes a retry return the version it made, while a changed model registers a new version."""

    ui_color = "#e5dbff"

    def execute(self, context: Context) -> TaskResult:
        executor = self.get_executor()
        for step in self.pre:
            if step["operation"] == "CreateModelPackageGroup":
                ensure_group(executor, step["request"])
        self.stage_uploads(executor)
        response = executor.call("CreateModelPackage", self.request)
        arn = response["ModelPackageArn"]
        described = executor.call("DescribeModelPackage", {"ModelPackageName": arn})
        version = described.get("ModelPackageVersion")
        status = described.get("ModelApprovalStatus", self.request.get("ModelApprovalStatus"))
        self.log.info("registered %s (version %s, %s)", arn, version, status)
        return self.result(arn, str(status), {"model_package_arn": arn, "version": version},
                           model_package_arn=arn, version=version)
