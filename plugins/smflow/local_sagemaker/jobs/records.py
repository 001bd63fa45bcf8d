"""Durable records of local SageMaker jobs: one directory per job that any later process can read back.

Layout, under `<home>/jobs/<kind>/<name>/` (kind is `processing`, `training` or `transform`):

- `request.json`      the Create*Job request exactly as given;
- `description.json`  the Describe*Job response as it stands, rewritten atomically on every change;
- `log.txt`           the job's combined stdout/stderr (plus the runner's own lines, prefixed `[smflow]`);
- `runner.pid`        `<pid> <start ticks>` of the detached runner process;
- `container.pid`     the same for the job's container process (its own process group);
- `opt_ml/`           the job's private `/opt/ml`.

Timestamps in `description.json` are ISO-8601 strings in UTC (`2024-05-01T12:00:00.123456+00:00`) so the
file is plain JSON; the executor turns them into timezone-aware `datetime`s on the way out, as boto3 does.

A job directory appears all at once (built under a hidden temporary name, then renamed), which is also
what makes job names unique: the rename fails when the name is taken. Read-modify-write of a description
holds an exclusive `flock` on `<jobdir>/.lock`, so the runner, a Stop call and a staleness check never
overwrite each other's changes.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smflow.atomic_files import replacing, write_text_atomic
from smflow.errors import SmflowError
from smflow.local_sagemaker.file_lock import exclusive_lock
from smflow.local_sagemaker.jobs.processes import proc_stat_fields
from smflow.local_sagemaker.timestamps import now_iso
from smflow.sagemaker_api import ACTIVE_STATUSES, JOB_KINDS_BY_DIRECTORY, JobKind

__all__ = ["ACTIVE_STATUSES", "now_iso"]  # re-exported: the service and runner read them with the records

MAX_FAILURE_REASON = 1024  # SageMaker's FailureReason limit
RUNNER_START_GRACE_SECONDS = 30.0


class JobFailure(SmflowError):
    """The job failed for a reason its author can act on; `reason` becomes FailureReason."""

    def __init__(self, reason: str, fields: Mapping[str, Any] | None = None):
        super().__init__(reason)
        self.reason = reason
        self.fields = dict(fields or {})  # describe fields that still apply (e.g. a processing ExitMessage)


class JobStopped(BaseException):
    """The job was stopped (StopXJob, SIGTERM or MaxRuntimeInSeconds); `reason` becomes FailureReason.

    A BaseException, like KeyboardInterrupt: it may be raised from the SIGTERM handler in the middle of
    in-process user code (a transform's handler), whose `except Exception` must not turn a stop into a failure.
    """

    def __init__(self, reason: str, secondary_status: str = "Stopped"):
        super().__init__(reason)
        self.reason = reason
        self.secondary_status = secondary_status


class JobExistsError(SmflowError, FileExistsError):
    pass


def clip_reason(reason: str) -> str:
    """FailureReason is at most 1024 characters on SageMaker; keep the head, which names the error."""
    return reason if len(reason) <= MAX_FAILURE_REASON else reason[: MAX_FAILURE_REASON - 3] + "..."


def write_json_atomic(path: Path, value: Any) -> None:
    """Replace `path` atomically, fsynced first: a reader (or a crash) sees the old or the new record."""
    with replacing(path) as tmp, tmp.open("w", encoding="utf-8") as fh:
        json.dump(value, fh, indent=1, sort_keys=True, default=str)
        fh.flush()
        os.fsync(fh.fileno())


def read_json(path: Path) -> Any:
    with path.open(encoding="utf-8") as fh:
        return json.load(fh)


# ---- process identity ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProcessId:
    """A pid plus its kernel start time, so a recycled pid is never mistaken for our process."""

    pid: int
    start_ticks: int | None

    @classmethod
    def of(cls, pid: int) -> ProcessId:
        return cls(pid, _start_ticks(pid))

    def serialise(self) -> str:
        return f"{self.pid} {self.start_ticks if self.start_ticks is not None else '-'}\n"

    @classmethod
    def parse(cls, text: str) -> ProcessId | None:
        parts = text.split()
        if not parts or not parts[0].isdigit():
            return None
        ticks = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
        return cls(int(parts[0]), ticks)

    def alive(self) -> bool:
        """True while the process runs; a zombie (exited, not yet reaped) counts as dead."""
        stat = _proc_stat(self.pid)
        if stat is None:
            if Path("/proc/self/stat").exists():
                return False
            try:  # no procfs (macOS): signal 0 is the only probe there is
                os.kill(self.pid, 0)
            except ProcessLookupError:
                return False
            except PermissionError:
                return True
            return True
        state, ticks = stat
        if state in {"Z", "X"}:
            return False
        return self.start_ticks is None or ticks == self.start_ticks


def _proc_stat(pid: int) -> tuple[str, int] | None:
    fields = proc_stat_fields(pid)
    return None if fields is None else (fields[0], int(fields[19]))


def _start_ticks(pid: int) -> int | None:
    stat = _proc_stat(pid)
    return None if stat is None else stat[1]


# ---- job directories --------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobDir:
    """Paths and atomic updates of one job's directory; cheap to build from a path alone (the runner does)."""

    path: Path

    @property
    def kind(self) -> str:
        return self.path.parent.name

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def request_file(self) -> Path:
        return self.path / "request.json"

    @property
    def description_file(self) -> Path:
        return self.path / "description.json"

    @property
    def log_file(self) -> Path:
        return self.path / "log.txt"

    @property
    def runner_pid_file(self) -> Path:
        return self.path / "runner.pid"

    @property
    def container_pid_file(self) -> Path:
        return self.path / "container.pid"

    @property
    def opt_ml(self) -> Path:
        return self.path / "opt_ml"

    @property
    def job_kind(self) -> JobKind:
        return JOB_KINDS_BY_DIRECTORY[self.kind]

    @property
    def status_key(self) -> str:
        return self.job_kind.status_key

    def request(self) -> dict[str, Any]:
        value: dict[str, Any] = read_json(self.request_file)
        return value

    def description(self) -> dict[str, Any]:
        value: dict[str, Any] = read_json(self.description_file)
        return value

    def locked(self) -> AbstractContextManager[None]:
        return exclusive_lock(self.path / ".lock")

    def update(self, change: Callable[[dict[str, Any]], Mapping[str, Any] | None]) -> dict[str, Any]:
        """Apply `change` to the current description under the lock; it returns fields to set, or None.

        LastModifiedTime is bumped on every real change; the result is the description now on disk.
        """
        with self.locked():
            description = self.description()
            fields = change(description)
            if fields:
                description.update(fields)
                description["LastModifiedTime"] = now_iso()
                write_json_atomic(self.description_file, description)
            return description

    def set_fields(self, **fields: Any) -> dict[str, Any]:
        return self.update(lambda _d: fields)

    def finish(self, status: str, reason: str | None = None, **fields: Any) -> dict[str, Any]:
        """Move to a terminal status once: a job already Completed/Failed/Stopped keeps its first ending."""

        def change(description: dict[str, Any]) -> dict[str, Any] | None:
            if description[self.status_key] not in ACTIVE_STATUSES:
                return None
            done = {self.status_key: status, self.job_kind.end_time_key: now_iso(), **fields}
            if reason:
                done["FailureReason"] = clip_reason(reason)
            return done

        return self.update(change)

    def write_pid(self, file: Path, pid: int) -> None:
        write_text_atomic(file, ProcessId.of(pid).serialise())

    def read_pid(self, file: Path) -> ProcessId | None:
        try:
            return ProcessId.parse(file.read_text())
        except OSError:
            return None

    def log_line(self, line: str) -> None:
        """Append one runner line to the job log (O_APPEND: safe beside the container's own output)."""
        with self.log_file.open("a", encoding="utf-8") as fh:
            fh.write(f"[smflow] {line}\n")


class JobStore:
    """All job directories under one root (`<home>/jobs`)."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def job(self, kind: str, name: str) -> JobDir:
        return JobDir(self.root / kind / name)

    def find(self, kind: str, name: str) -> JobDir | None:
        job = self.job(kind, name)
        return job if job.description_file.is_file() else None

    def create(self, kind: str, name: str, request: Mapping[str, Any], description: Mapping[str, Any],
               extra_files: Mapping[str, Any] | None = None) -> JobDir:
        """Build the directory under a hidden name, then rename it into place; JobExistsError if taken."""
        kind_dir = self.root / kind
        kind_dir.mkdir(parents=True, exist_ok=True)
        final = kind_dir / name
        if final.exists():
            raise JobExistsError(str(final))
        tmp = Path(tempfile.mkdtemp(dir=kind_dir, prefix=f".creating-{name}."))
        try:
            write_json_atomic(tmp / "request.json", dict(request))
            write_json_atomic(tmp / "description.json", dict(description))
            for filename, value in (extra_files or {}).items():
                write_json_atomic(tmp / filename, value)
            (tmp / "log.txt").touch()
            (tmp / ".lock").touch()
            try:
                os.rename(tmp, final)  # fails if `final` appeared meanwhile (it is never an empty dir)
            except OSError as e:
                raise JobExistsError(str(final)) from e
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return JobDir(final)

    def names(self, kind: str) -> list[str]:
        kind_dir = self.root / kind
        if not kind_dir.is_dir():
            return []
        return sorted(p.name for p in kind_dir.iterdir()
                      if not p.name.startswith(".") and (p / "description.json").is_file())
