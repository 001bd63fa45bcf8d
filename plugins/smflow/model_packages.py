"""A model package group's versions through ListModelPackages, newest first, read in one place.

The gate (the version to beat), the batch and monitor DAGs (the version to use), a deployment (the version to
deploy) and an approval (the version to change) all ask a group one of two things: its versions, every page,
or its newest Approved one. Errors (a missing group, AccessDenied, throttling) reach the caller unchanged, as
each words them for its own user.
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ListModelPackages.html
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from smflow.executors.base import Executor

PAGE_SIZE = 100  # ListModelPackages' largest MaxResults


def package_summaries(executor: Executor, group: str, *, status: str | None = None) -> list[dict[str, Any]]:
    """Every ModelPackageSummary of `group` (of one ModelApprovalStatus when given), newest first, all pages."""
    request: dict[str, Any] = {"ModelPackageGroupName": group, "SortBy": "CreationTime", "SortOrder": "Descending",
                               "MaxResults": PAGE_SIZE}
    if status:
        request["ModelApprovalStatus"] = status
    summaries: list[dict[str, Any]] = []
    while True:
        page = executor.call("ListModelPackages", request)
        summaries.extend(page.get("ModelPackageSummaryList", []))
        if not page.get("NextToken"):
            return summaries
        request["NextToken"] = page["NextToken"]


def newest_package(executor: Executor, group: str, *, status: str | None = None) -> dict[str, Any] | None:
    """The newest ModelPackageSummary of `group` (of that status, e.g. "Approved"), or None: one short page."""
    request: dict[str, Any] = {"ModelPackageGroupName": group, "SortBy": "CreationTime", "SortOrder": "Descending",
                               "MaxResults": 1}
    if status:
        request["ModelApprovalStatus"] = status
    found = executor.call("ListModelPackages", request).get("ModelPackageSummaryList", [])
    return found[0] if found else None
