"""SageMaker's Model Registry API on this machine (model package groups and versioned model packages).

Requests and responses follow boto3's SageMaker shapes, so the register and approval steps run unchanged
against AWS. Requests are checked with botocore's own parameter validator (unknown or missing keys fail as
boto3 would fail them) plus the enum and pattern rules SageMaker enforces server-side. The records live in
one SQLite file (store.py).

Timestamps: `call` responses carry timezone-aware `datetime` objects, exactly like boto3, so code written
against the local registry behaves the same on AWS. The friendly methods for the CLI (`list_versions`,
`set_status`, `latest_approved`) return JSON-safe dicts with ISO-8601 strings instead (read_model.py).
"""

from __future__ import annotations

import base64
import json
import sqlite3
import unicodedata
from collections.abc import Callable, Mapping
from datetime import UTC
from functools import cached_property
from typing import Any, ClassVar

from botocore.exceptions import ClientError

from smflow.local_sagemaker.registry.read_model import APPROVAL_STATUSES, RegistryError, version_summary
from smflow.local_sagemaker.registry.store import RegistryStore
from smflow.local_sagemaker.timestamps import as_datetime, now_iso
from smflow.sagemaker_api import client_error, not_found_error, validation_error
from smflow.service_model import request_problems

_GROUP_NAME_HELP = "1-63 letters, digits and hyphens, starting and ending with a letter or digit"
_METADATA_EXTRA_CHARS = frozenset("_.:/=+-@")
_ECHOED_FIELDS = (
    "ModelPackageDescription", "InferenceSpecification", "SourceAlgorithmSpecification", "ValidationSpecification",
    "CertifyForMarketplace", "MetadataProperties", "ModelMetrics", "Domain", "Task", "SamplePayloadUrl",
    "DriftCheckBaselines", "AdditionalInferenceSpecifications", "SkipModelValidation", "SourceUri",
    "SecurityConfig", "ModelCard", "ModelLifeCycle",
)


def _validate_shape(operation: str, params: Mapping[str, Any]) -> None:
    """The client-side checks boto3 runs before sending (required, unknown, types, lengths)."""
    problems = request_problems(operation, params)
    if problems:
        raise validation_error(operation, f"Invalid parameters for {operation}: {problems}")



class ModelRegistry(RegistryStore):
    """Model package groups and their versions; `call` speaks the SageMaker API, the rest is for the CLI."""

    OPERATIONS: ClassVar[frozenset[str]] = frozenset({
        "CreateModelPackageGroup", "DescribeModelPackageGroup", "ListModelPackageGroups", "DeleteModelPackageGroup",
        "CreateModelPackage", "DescribeModelPackage", "ListModelPackages", "UpdateModelPackage", "DeleteModelPackage",
    })

    def call(self, operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """Perform one model-registry operation of the SageMaker API; errors are boto3 `ClientError`s."""
        if operation not in self.OPERATIONS:
            raise ValueError(f"ModelRegistry does not handle {operation}; it handles {sorted(self.OPERATIONS)}")
        _validate_shape(operation, params)
        return self._handlers[operation](params)

    @cached_property
    def _handlers(self) -> dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]]:
        """Operation → handler, written out (no dispatch by name strings): the table mypy and grep can see."""
        return {
            "CreateModelPackageGroup": self._create_group, "DescribeModelPackageGroup": self._describe_group,
            "ListModelPackageGroups": self._list_groups, "DeleteModelPackageGroup": self._delete_group,
            "CreateModelPackage": self._create_package, "DescribeModelPackage": self._describe_package,
            "ListModelPackages": self._list_packages, "UpdateModelPackage": self._update_package,
            "DeleteModelPackage": self._delete_package,
        }

    # ---- groups ---------------------------------------------------------------------------------

    def _create_group(self, params: Mapping[str, Any]) -> dict[str, Any]:
        name = _group_name(params["ModelPackageGroupName"], "CreateModelPackageGroup")
        with self._transaction() as conn:
            if self._group_row(conn, name) is not None:
                raise validation_error("CreateModelPackageGroup",
                                        f"Model Package Group already exists: {self.group_arn(name)}")
            conn.execute(
                "INSERT INTO model_package_groups (name, description, tags, creation_time) VALUES (?, ?, ?, ?)",
                (name, params.get("ModelPackageGroupDescription"), json.dumps(params.get("Tags") or []), now_iso()),
            )
        return {"ModelPackageGroupArn": self.group_arn(name)}

    def _describe_group(self, params: Mapping[str, Any]) -> dict[str, Any]:
        name = self._group_from(params["ModelPackageGroupName"])
        with self._connect() as conn:
            row = self._group_row(conn, name)
        if row is None:
            raise self._group_missing("DescribeModelPackageGroup", name)
        return self._group_description(row)

    def _list_groups(self, params: Mapping[str, Any]) -> dict[str, Any]:
        where, args = ["1=1"], []
        if params.get("NameContains"):
            where.append("instr(lower(name), lower(?)) > 0")
            args.append(params["NameContains"])
        page, token = self._select_page("model_package_groups", where, args, params, "ListModelPackageGroups",
                                        {"Name": "name", "CreationTime": "creation_time"}, tiebreak="name")
        summaries = [{k: v for k, v in self._group_description(row).items() if k != "CreatedBy"} for row in page]
        return {"ModelPackageGroupSummaryList": summaries, **({"NextToken": token} if token else {})}

    def _delete_group(self, params: Mapping[str, Any]) -> dict[str, Any]:
        name = self._group_from(params["ModelPackageGroupName"])
        with self._transaction() as conn:
            if self._group_row(conn, name) is None:
                raise self._group_missing("DeleteModelPackageGroup", name)
            count = conn.execute("SELECT COUNT(*) FROM model_packages WHERE group_name = ?", (name,)).fetchone()[0]
            if count:
                raise client_error("DeleteModelPackageGroup", "ConflictException", (
                    f"Model Package Group {self.group_arn(name)} still has {count} model package version(s); "
                    "delete them (DeleteModelPackage) before deleting the group"))
            conn.execute("DELETE FROM model_package_groups WHERE name = ?", (name,))
        return {}

    def _group_missing(self, operation: str, name: str) -> ClientError:
        return not_found_error(operation, f"ModelPackageGroup {self.group_arn(name)} does not exist.")


    # ---- packages -------------------------------------------------------------------------------

    def _create_package(self, params: Mapping[str, Any]) -> dict[str, Any]:
        operation = "CreateModelPackage"
        if not params.get("ModelPackageGroupName"):
            raise validation_error(operation, (
                "the local registry keeps versioned model packages only: give ModelPackageGroupName "
                "(create the group first with CreateModelPackageGroup)"))
        group = self._group_from(params["ModelPackageGroupName"])
        status = params.get("ModelApprovalStatus", "PendingManualApproval")
        _check_status(status, operation)
        _check_inference_specification(params.get("InferenceSpecification"), operation)
        metadata = _check_metadata(params.get("CustomerMetadataProperties") or {}, operation)
        token = params.get("ClientToken")
        stored = {k: params[k] for k in _ECHOED_FIELDS if k in params}
        with self._transaction() as conn:
            group_row = self._group_row(conn, group)
            if group_row is None:
                raise self._group_missing(operation, group)
            group = group_row["name"]
            if token:
                existing = conn.execute("SELECT version FROM model_packages WHERE group_name = ? AND client_token = ?",
                                        (group, token)).fetchone()
                if existing is not None:
                    return {"ModelPackageArn": self.package_arn(group, existing["version"])}
            version = group_row["next_version"]
            now = now_iso()
            conn.execute(
                "INSERT INTO model_packages (group_name, version, approval_status, client_token, creation_time, "
                "last_modified_time, request, approval_description, customer_metadata) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?)",
                (group, version, status, token, now, now, json.dumps(stored), json.dumps(metadata)),
            )
            conn.execute("UPDATE model_package_groups SET next_version = ? WHERE name = ?", (version + 1, group))
            self._package_row(conn, group, version)  # read back inside the transaction: the row must be whole
        return {"ModelPackageArn": self.package_arn(group, version)}

    def _describe_package(self, params: Mapping[str, Any]) -> dict[str, Any]:
        group, version = self._package_from(params["ModelPackageName"], "DescribeModelPackage")
        with self._connect() as conn:
            row = self._package_row(conn, group, version)
        if row is None:
            raise self._package_missing("DescribeModelPackage", group, version)
        return self._package_description(row)

    def _select_page(self, table: str, where: list[str], args: list[Any], params: Mapping[str, Any], operation: str,
                     sort_columns: Mapping[str, str], *, tiebreak: str) -> tuple[list[Any], str | None]:
        """One page of a List call: the call's filters plus its time filters, in its sort order."""
        where, args = self._time_filters(where, args, params)
        order = self._order(params, operation, sort_columns, "CreationTime", tiebreak=tiebreak)
        with self._connect() as conn:
            rows = conn.execute(f"SELECT * FROM {table} WHERE {' AND '.join(where)} ORDER BY {order}",
                                args).fetchall()
        return self._page(rows, params, operation)

    def _list_packages(self, params: Mapping[str, Any]) -> dict[str, Any]:
        where, args = ["1=1"], []
        if params.get("ModelPackageType") == "Unversioned":
            where.append("0")  # only versioned packages exist here
        if params.get("ModelPackageGroupName"):
            where.append("group_name = ? COLLATE NOCASE")
            args.append(self._group_from(params["ModelPackageGroupName"]))
        if params.get("ModelApprovalStatus"):
            _check_status(params["ModelApprovalStatus"], "ListModelPackages")
            where.append("approval_status = ?")
            args.append(params["ModelApprovalStatus"])
        if params.get("NameContains"):
            where.append("instr(lower(group_name), lower(?)) > 0")
            args.append(params["NameContains"])
        page, token = self._select_page("model_packages", where, args, params, "ListModelPackages",
                                        {"Name": "group_name", "CreationTime": "creation_time"}, tiebreak="version")
        summary_keys = ("ModelPackageName", "ModelPackageGroupName", "ModelPackageVersion", "ModelPackageArn",
                        "ModelPackageDescription", "CreationTime", "ModelPackageStatus", "ModelApprovalStatus")
        summaries = []
        for row in page:
            description = self._package_description(row)
            summaries.append({k: description[k] for k in summary_keys if k in description})
        return {"ModelPackageSummaryList": summaries, **({"NextToken": token} if token else {})}

    def _update_package(self, params: Mapping[str, Any]) -> dict[str, Any]:
        operation = "UpdateModelPackage"
        group, version = self._package_from(params["ModelPackageArn"], operation)
        if "ModelApprovalStatus" in params:
            _check_status(params["ModelApprovalStatus"], operation)
        additions = _check_metadata(params.get("CustomerMetadataProperties") or {}, operation)
        removals = params.get("CustomerMetadataPropertiesToRemove") or []
        with self._transaction() as conn:
            row = self._package_row(conn, group, version)
            if row is None:
                raise self._package_missing(operation, group, version)
            metadata = {k: v for k, v in json.loads(row["customer_metadata"]).items() if k not in removals}
            metadata.update(additions)
            if len(metadata) > 50:
                raise validation_error(operation, "CustomerMetadataProperties may hold at most 50 entries")
            conn.execute(
                "UPDATE model_packages SET approval_status = ?, approval_description = ?, customer_metadata = ?, "
                "last_modified_time = ? WHERE group_name = ? AND version = ?",
                (params.get("ModelApprovalStatus", row["approval_status"]),
                 params.get("ApprovalDescription", row["approval_description"]),
                 json.dumps(metadata), now_iso(), row["group_name"], version),
            )
        return {"ModelPackageArn": self.package_arn(row["group_name"], version)}

    def _delete_package(self, params: Mapping[str, Any]) -> dict[str, Any]:
        group, version = self._package_from(params["ModelPackageName"], "DeleteModelPackage")
        with self._transaction() as conn:
            deleted = conn.execute("DELETE FROM model_packages WHERE group_name = ? COLLATE NOCASE AND version = ?",
                                   (group, version)).rowcount
        if not deleted:
            raise self._package_missing("DeleteModelPackage", group, version)
        return {}

    def _package_from(self, name: str, operation: str) -> tuple[str, int]:
        """A versioned package is named by its ARN (`...:model-package/<group>/<version>`) or `<group>/<version>`."""
        tail = name.split(":model-package/", 1)[1] if name.startswith("arn:") and ":model-package/" in name else name
        group, _, version = tail.rpartition("/")
        if not group or not version.isdigit():
            raise validation_error(operation, (
                f"ModelPackageName {name!r} does not name a model package version; give its ARN "
                f"({self.package_arn('<group>', 1).replace('/1', '/<version>')}) or '<group>/<version>'"))
        return group, int(version)


    def _package_missing(self, operation: str, group: str, version: int) -> ClientError:
        return not_found_error(operation, f"ModelPackage {self.package_arn(group, version)} does not exist.")


    # ---- listing helpers ------------------------------------------------------------------------

    @staticmethod
    def _time_filters(where: list[str], args: list[Any], params: Mapping[str, Any]) -> tuple[list[str], list[Any]]:
        for key, op in (("CreationTimeAfter", ">"), ("CreationTimeBefore", "<")):
            if params.get(key) is not None:
                moment = as_datetime(params[key])
                where.append(f"creation_time {op} ?")
                args.append(moment.astimezone(UTC).isoformat(timespec="microseconds"))
        return where, args

    @staticmethod
    def _order(params: Mapping[str, Any], operation: str, columns: Mapping[str, str], default: str,
               tiebreak: str) -> str:
        sort_by = params.get("SortBy", default)
        sort_order = params.get("SortOrder", "Ascending")
        if sort_by not in columns:
            raise validation_error(operation, f"SortBy {sort_by!r} is not valid; use one of {', '.join(columns)}")
        if sort_order not in ("Ascending", "Descending"):
            raise validation_error(operation, f"SortOrder {sort_order!r} is not valid; use Ascending or Descending")
        direction = "ASC" if sort_order == "Ascending" else "DESC"
        return f"{columns[sort_by]} {direction}, {tiebreak} {direction}, rowid {direction}"

    @staticmethod
    def _page(rows: list[sqlite3.Row], params: Mapping[str, Any], operation: str) -> tuple[list[sqlite3.Row], str]:
        """Offset pagination behind an opaque NextToken; MaxResults defaults to 10 as on SageMaker."""
        limit = int(params.get("MaxResults", 10))
        if not 1 <= limit <= 100:
            raise validation_error(operation, f"MaxResults {limit} is not valid; use 1 to 100")
        offset = 0
        if params.get("NextToken"):
            try:
                offset = int(json.loads(base64.urlsafe_b64decode(params["NextToken"]))["offset"])
            except (ValueError, KeyError, TypeError) as e:
                raise validation_error(operation, "NextToken is not a token this registry returned") from e
        page = rows[offset:offset + limit]
        more = offset + limit < len(rows)
        token = base64.urlsafe_b64encode(json.dumps({"offset": offset + limit}).encode()).decode() if more else ""
        return page, token

    # ---- friendly methods for the CLI -----------------------------------------------------------

    def list_versions(self, group: str | None = None) -> list[dict[str, Any]]:
        """Every version (of one group, or of all), oldest first, as JSON-safe dicts."""
        with self._connect() as conn:
            if group is None:
                rows = conn.execute("SELECT * FROM model_packages ORDER BY group_name, version").fetchall()
            else:
                self._require_group(conn, group)
                rows = conn.execute("SELECT * FROM model_packages WHERE group_name = ? COLLATE NOCASE "
                                    "ORDER BY version", (group,)).fetchall()
        return [self._summary(row) for row in rows]

    def set_status(self, group: str, version: int, status: str, note: str | None = None) -> dict[str, Any]:
        """Approve, reject or reset one version; returns its summary."""
        if status not in APPROVAL_STATUSES:
            raise RegistryError(f"status {status!r} is not valid; use one of {', '.join(APPROVAL_STATUSES)}")
        with self._connect() as conn:
            self._require_group(conn, group)
            if self._package_row(conn, group, version) is None:
                known = [r["version"] for r in conn.execute(
                    "SELECT version FROM model_packages WHERE group_name = ? COLLATE NOCASE ORDER BY version",
                    (group,))]
                raise RegistryError(f"model package group {group!r} has no version {version}; versions: "
                                    f"{', '.join(map(str, known)) or 'none yet'}")
        params: dict[str, Any] = {"ModelPackageArn": self.package_arn(group, version), "ModelApprovalStatus": status}
        if note is not None:
            params["ApprovalDescription"] = note
        self.call("UpdateModelPackage", params)
        return self._version_summary(group, version)

    def latest_approved(self, group: str) -> dict[str, Any] | None:
        """The highest Approved version of a group (what a deployment should serve), or None."""
        with self._connect() as conn:
            self._require_group(conn, group)
            row = conn.execute(
                "SELECT * FROM model_packages WHERE group_name = ? COLLATE NOCASE AND approval_status = 'Approved' "
                "ORDER BY version DESC LIMIT 1", (group,)).fetchone()
        return None if row is None else self._summary(row)

    def _version_summary(self, group: str, version: int) -> dict[str, Any]:
        with self._connect() as conn:
            row = self._package_row(conn, group, version)
        assert row is not None
        return self._summary(row)

    def _require_group(self, conn: sqlite3.Connection, group: str) -> None:
        if conn.execute("SELECT 1 FROM model_package_groups WHERE name = ? COLLATE NOCASE", (group,)).fetchone():
            return
        known = [r["name"] for r in conn.execute("SELECT name FROM model_package_groups ORDER BY name")]
        raise RegistryError(f"no model package group {group!r} in {self.path}; groups: "
                            f"{', '.join(known) or 'none (run a training pipeline with a register step first)'}")

    def _summary(self, row: sqlite3.Row) -> dict[str, Any]:
        return version_summary(self._package_description(row))


# ---- server-side validation (what botocore's client-side validator does not check) -------------


def _group_name(name: str, operation: str) -> str:
    stripped = name.replace("-", "")
    if not (1 <= len(name) <= 63 and stripped.isascii() and stripped.isalnum() and name[0] != "-"
            and name[-1] != "-"):
        raise validation_error(operation, f"ModelPackageGroupName {name!r} is not valid: {_GROUP_NAME_HELP}")
    return name


def _check_status(status: Any, operation: str) -> None:
    if status not in APPROVAL_STATUSES:
        raise validation_error(operation, (
            f"1 validation error detected: Value {status!r} at 'modelApprovalStatus' failed to satisfy constraint: "
            f"Member must satisfy enum value set: [{', '.join(APPROVAL_STATUSES)}]"))


def _check_inference_specification(spec: Mapping[str, Any] | None, operation: str) -> None:
    if spec is None:
        return
    for i, container in enumerate(spec.get("Containers") or []):
        url = container.get("ModelDataUrl")
        if url is not None and not url.startswith(("s3://", "https://")):
            raise validation_error(operation, (
                f"InferenceSpecification.Containers[{i}].ModelDataUrl {url!r} must be an s3:// URI"))


def _metadata_text_ok(text: str, limit: int) -> bool:
    """SageMaker's pattern `[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*` and length limit for metadata keys and values."""
    return 1 <= len(text) <= limit and all(
        unicodedata.category(c)[0] in "LZN" or c in _METADATA_EXTRA_CHARS for c in text)


def _check_metadata(metadata: Mapping[str, Any], operation: str) -> dict[str, str]:
    if len(metadata) > 50:
        raise validation_error(operation, "CustomerMetadataProperties may hold at most 50 entries")
    for key, value in metadata.items():
        if not _metadata_text_ok(key, 128):
            raise validation_error(operation, (
                f"CustomerMetadataProperties key {key!r} is not valid: 1-128 letters, digits, spaces or _.:/=+-@"))
        if not isinstance(value, str) or not _metadata_text_ok(value, 256):
            raise validation_error(operation, (
                f"CustomerMetadataProperties[{key!r}] = {value!r} is not valid: values are strings of 1-256 "
                "letters, digits, spaces or _.:/=+-@ (store numbers as e.g. '0.93', not JSON)"))
    return dict(metadata)
