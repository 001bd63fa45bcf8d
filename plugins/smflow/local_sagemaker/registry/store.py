"""The SQLite file behind the local Model Registry: schema, connections, one-transaction writes, readable-file
checks, and rows turned into SageMaker descriptions.

Durability and concurrency: every write is one `BEGIN IMMEDIATE` transaction (WAL mode, busy timeout), so
concurrent registrations from several processes serialise, version numbers come from a per-group counter
guarded by `UNIQUE(group_name, version)`, and a crash mid-registration rolls back to no version at all.
Version numbers are never reused, even after a version is deleted, as on SageMaker.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from smflow import settings
from smflow.errors import UserError
from smflow.local_sagemaker.timestamps import as_datetime

_SCHEMA = """
CREATE TABLE IF NOT EXISTS model_package_groups (
    name          TEXT PRIMARY KEY COLLATE NOCASE,
    description   TEXT,
    tags          TEXT NOT NULL,
    creation_time TEXT NOT NULL,
    next_version  INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS model_packages (
    group_name         TEXT NOT NULL COLLATE NOCASE REFERENCES model_package_groups(name),
    version            INTEGER NOT NULL,
    approval_status    TEXT NOT NULL,
    client_token       TEXT,
    creation_time      TEXT NOT NULL,
    last_modified_time TEXT NOT NULL,
    request            TEXT NOT NULL,
    approval_description TEXT,
    customer_metadata  TEXT NOT NULL,
    UNIQUE (group_name, version),
    UNIQUE (group_name, client_token)
);
CREATE INDEX IF NOT EXISTS model_packages_status ON model_packages (group_name, approval_status, version);
"""
# Request fields echoed back by DescribeModelPackage as given.

_SQLITE_HEADER = b"SQLite format 3\x00"  # https://www.sqlite.org/fileformat.html#the_database_header


class RegistryDamagedError(UserError):
    """registry.sqlite exists but SQLite cannot read it."""



class RegistryStore:
    """One registry file: where the records are, and how they are read and written."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.region = settings.region()
        self.account = settings.DEFAULT_ACCOUNT
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._check_readable()
        try:
            with self._connect() as conn:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.executescript(_SCHEMA)
        except sqlite3.DatabaseError as e:
            raise self._damaged(e) from None

    def _check_readable(self) -> None:
        """Refuse a registry file SQLite cannot read (truncated, overwritten) before anything writes to it, so
        a damaged registry is never changed further. An empty file holds nothing yet and is a new registry."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            return
        with self.path.open("rb") as f:
            header = f.read(len(_SQLITE_HEADER))
        if header != _SQLITE_HEADER:
            raise self._damaged("the file does not start with the SQLite header")
        try:
            conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30.0)
            try:
                result = conn.execute("PRAGMA quick_check").fetchone()
            finally:
                conn.close()
        except sqlite3.DatabaseError as e:
            if "locked" in str(e):
                return  # a writer holds it: the file is fine, and the writer's transaction will end
            raise self._damaged(e) from None
        if not result or result[0] != "ok":
            raise self._damaged(result[0] if result else "quick_check found problems")

    def _damaged(self, cause: object) -> RegistryDamagedError:
        return RegistryDamagedError(
            f"the model registry {self.path} is damaged ({cause}); nothing was written to it. Restore it from a "
            f"backup, or move it aside (mv {self.path} {self.path}.damaged) to start an empty registry — the "
            "versions it held are then no longer known to smflow")

    # ---- plumbing -------------------------------------------------------------------------------

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A fresh connection per call: safe across threads and forked workers, closed on exit."""
        conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        try:
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA synchronous=FULL")
            yield conn
        finally:
            conn.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken up front (IMMEDIATE) so readers-turned-writers cannot deadlock."""
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:  # SQLite may already have rolled back (e.g. disk full)
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def group_arn(self, group: str) -> str:
        return f"arn:aws:sagemaker:{self.region}:{self.account}:model-package-group/{group.lower()}"

    def package_arn(self, group: str, version: int) -> str:
        return f"arn:aws:sagemaker:{self.region}:{self.account}:model-package/{group.lower()}/{version}"


    def _group_row(self, conn: sqlite3.Connection, name: str) -> sqlite3.Row | None:
        row: sqlite3.Row | None = conn.execute(
            "SELECT * FROM model_package_groups WHERE name = ?", (name,)).fetchone()
        return row

    def _group_description(self, row: sqlite3.Row) -> dict[str, Any]:
        description = {
            "ModelPackageGroupName": row["name"],
            "ModelPackageGroupArn": self.group_arn(row["name"]),
            "CreationTime": as_datetime(row["creation_time"]),
            "CreatedBy": {},
            "ModelPackageGroupStatus": "Completed",
        }
        if row["description"] is not None:
            description["ModelPackageGroupDescription"] = row["description"]
        return description

    def _group_from(self, name_or_arn: str) -> str:
        """Group names are case-insensitive on SageMaker and may be given as ARNs."""
        return name_or_arn.rsplit("/", 1)[-1] if name_or_arn.startswith("arn:") else name_or_arn


    def _package_row(self, conn: sqlite3.Connection, group: str, version: int) -> sqlite3.Row | None:
        row: sqlite3.Row | None = conn.execute(
            "SELECT * FROM model_packages WHERE group_name = ? COLLATE NOCASE AND version = ?", (group, version)
        ).fetchone()
        return row


    def _package_description(self, row: sqlite3.Row) -> dict[str, Any]:
        group, version = row["group_name"], row["version"]
        description: dict[str, Any] = {
            "ModelPackageName": group,
            "ModelPackageGroupName": group,
            "ModelPackageVersion": version,
            "ModelPackageArn": self.package_arn(group, version),
            "CreationTime": as_datetime(row["creation_time"]),
            "ModelPackageStatus": "Completed",
            "ModelPackageStatusDetails": {"ValidationStatuses": [], "ImageScanStatuses": []},
            "CertifyForMarketplace": False,
            "ModelApprovalStatus": row["approval_status"],
            "CreatedBy": {},
            "LastModifiedTime": as_datetime(row["last_modified_time"]),
        }
        description.update(json.loads(row["request"]))
        if row["approval_description"] is not None:
            description["ApprovalDescription"] = row["approval_description"]
        metadata = json.loads(row["customer_metadata"])
        if metadata:
            description["CustomerMetadataProperties"] = metadata
        return description

