"""Approve or reject a registered model version from a DAG (e.g. after a human check or an A/B test).

Executor-agnostic: it sends UpdateModelPackage, which the local SQLite registry and SageMaker's Model
Registry both implement, so the same DAG approves locally and on AWS.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException

from smflow.model_packages import newest_package, package_summaries
from smflow.operators.base import executor_name

if TYPE_CHECKING:
    from airflow.sdk import Context

    from smflow.executors.base import Executor

STATUSES = ("Approved", "Rejected", "PendingManualApproval")


def set_model_approval(executor: Executor, group: str, version: int | str, status: str,
                       note: str | None = None) -> dict[str, Any]:
    """Set one version's approval status; `version="latest"` means the newest version of the group."""
    if status not in STATUSES:
        raise ValueError(f"approval status {status!r} is not valid; use one of {', '.join(STATUSES)}")
    if version == "latest":
        newest = newest_package(executor, group)
        packages = chosen = [newest] if newest else []
    else:  # every page: a group may hold far more than one page of versions
        packages = package_summaries(executor, group)
        chosen = [p for p in packages if int(p.get("ModelPackageVersion", -1)) == int(version)]
    if not chosen:
        known = sorted(int(p["ModelPackageVersion"]) for p in packages if "ModelPackageVersion" in p)
        raise LookupError(f"model package group {group!r} has no version {version}; versions: {known or 'none'}")
    arn = chosen[0]["ModelPackageArn"]
    update: dict[str, Any] = {"ModelPackageArn": arn, "ModelApprovalStatus": status}
    if note:
        update["ApprovalDescription"] = note
    executor.call("UpdateModelPackage", update)
    return {"model_package_arn": arn, "status": status}


class ModelApprovalOperator(BaseOperator):
    """Sets the approval status of `group`'s `version` (an int, or "latest")."""

    template_fields: Sequence[str] = ("group", "version", "status", "note")
    ui_color = "#e5dbff"

    def __init__(self, *, group: str, version: int | str = "latest", status: str = "Approved",
                 note: str | None = None, executor: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.group = group
        self.version = version
        self.status = status
        self.note = note
        self.executor = executor

    def execute(self, context: Context) -> dict[str, Any]:
        from smflow.executors import get_executor

        try:
            result = set_model_approval(get_executor(self.executor or executor_name()), self.group, self.version,
                                        self.status, self.note)
        except (ValueError, LookupError) as e:
            raise AirflowException(str(e)) from e
        self.log.info("%s is now %s", result["model_package_arn"], self.status)
        return result
