"""The model registry as the CLI (and a future UI) reads it: JSON-safe version summaries, approve, reject.

Written against the SageMaker API alone (ListModelPackageGroups, ListModelPackages, DescribeModelPackage,
UpdateModelPackage through any `call(operation, params)`), so it reads the local registry and AWS alike.
The local registry answers the same questions straight from SQLite (`ModelRegistry.list_versions`, ...)
with the same summaries, built by `version_summary`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any, Protocol

from smflow.errors import SmflowError

APPROVAL_STATUSES = ("Approved", "Rejected", "PendingManualApproval")

Call = Callable[[str, Mapping[str, Any]], dict[str, Any]]


class RegistryReader(Protocol):
    """What the CLI asks of a registry: the local one answers from SQLite, `RegistryView` through the API."""

    def list_versions(self, group: str | None = None) -> list[dict[str, Any]]: ...

    def set_status(self, group: str, version: int, status: str, note: str | None = None) -> dict[str, Any]: ...

    def latest_approved(self, group: str) -> dict[str, Any] | None: ...


class RegistryError(SmflowError, ValueError):
    """A read-model (CLI) error whose message says what to do."""


def _iso(value: Any) -> Any:
    return value.isoformat(timespec="microseconds") if isinstance(value, datetime) else value


def version_summary(description: Mapping[str, Any]) -> dict[str, Any]:
    """One DescribeModelPackage response → the JSON-safe summary `smflow registry list --json` prints."""
    containers = (description.get("InferenceSpecification") or {}).get("Containers") or [{}]
    return {
        "group": description["ModelPackageGroupName"],
        "version": description["ModelPackageVersion"],
        "arn": description["ModelPackageArn"],
        "status": description["ModelApprovalStatus"],
        "created": _iso(description["CreationTime"]),
        "modified": _iso(description.get("LastModifiedTime", description["CreationTime"])),
        "description": description.get("ModelPackageDescription"),
        "approval_description": description.get("ApprovalDescription"),
        "image": containers[0].get("Image"),
        "model_data_url": containers[0].get("ModelDataUrl"),
        "metadata": dict(description.get("CustomerMetadataProperties") or {}),
    }


def _pages(call: Call, operation: str, params: Mapping[str, Any], key: str) -> Iterator[dict[str, Any]]:
    token: str | None = None
    while True:
        response = call(operation, {**params, "MaxResults": 100, **({"NextToken": token} if token else {})})
        yield from response.get(key) or []
        token = response.get("NextToken")
        if not token:
            return


class RegistryView:
    """The registry of whatever a `call` reaches (an executor's `call`: the local SageMaker or AWS)."""

    def __init__(self, call: Call):
        self.call = call

    def groups(self) -> list[str]:
        return sorted(g["ModelPackageGroupName"] for g in _pages(
            self.call, "ListModelPackageGroups", {}, "ModelPackageGroupSummaryList"))

    def _require_group(self, group: str) -> None:
        known = self.groups()
        if group.lower() not in {g.lower() for g in known}:
            raise RegistryError(f"no model package group {group!r}; groups: "
                                f"{', '.join(known) or 'none (run a training pipeline with a register step first)'}")

    def list_versions(self, group: str | None = None) -> list[dict[str, Any]]:
        """Every version (of one group, or of all), oldest first."""
        groups = self.groups() if group is None else [group]
        if group is not None:
            self._require_group(group)
        rows = []
        for name in groups:
            for summary in _pages(self.call, "ListModelPackages",
                                  {"ModelPackageGroupName": name, "SortBy": "CreationTime", "SortOrder": "Ascending"},
                                  "ModelPackageSummaryList"):
                rows.append(version_summary(self.call("DescribeModelPackage",
                                                      {"ModelPackageName": summary["ModelPackageArn"]})))
        return sorted(rows, key=lambda r: (r["group"].lower(), r["version"]))

    def set_status(self, group: str, version: int, status: str, note: str | None = None) -> dict[str, Any]:
        """Approve, reject or reset one version; returns its summary."""
        if status not in APPROVAL_STATUSES:
            raise RegistryError(f"status {status!r} is not valid; use one of {', '.join(APPROVAL_STATUSES)}")
        versions = {row["version"]: row for row in self.list_versions(group)}
        if version not in versions:
            raise RegistryError(f"model package group {group!r} has no version {version}; versions: "
                                f"{', '.join(map(str, sorted(versions))) or 'none yet'}")
        params: dict[str, Any] = {"ModelPackageArn": versions[version]["arn"], "ModelApprovalStatus": status}
        if note is not None:
            params["ApprovalDescription"] = note
        self.call("UpdateModelPackage", params)
        return version_summary(self.call("DescribeModelPackage", {"ModelPackageName": versions[version]["arn"]}))

    def latest_approved(self, group: str) -> dict[str, Any] | None:
        """The highest Approved version of a group (what a deployment should serve), or None."""
        approved = [row for row in self.list_versions(group) if row["status"] == "Approved"]
        return approved[-1] if approved else None
