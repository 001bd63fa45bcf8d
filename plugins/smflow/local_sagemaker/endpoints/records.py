"""Durable records of local endpoint configs and endpoints: files any later process can read back.

Layout, under `<home>/endpoints/`:

- `configs/<name>.json`            one endpoint config: its CreateEndpointConfig request, ARN, creation time;
                                   created atomically and exclusively (the name is taken once), never edited;
- `endpoints/<name>/record.json`   one endpoint: its DescribeEndpoint fields plus what the local SageMaker
                                   needs to find its server again (`Serving`: generation, config, pid, port),
                                   the deployment in flight (`Pending`) and the configs it served (`History`);
- `endpoints/<name>/log.txt`       what the deployer and the supervisor did, one `[smflow]` line each;
- `endpoints/<name>/generations/<N>/`  one deployment: extracted model data, the server's config, its log.

Every read-modify-write of a record holds an exclusive `flock` on `<endpoint>/.lock`, so a deployer process,
an UpdateEndpoint call and a Describe that restarts a dead server never overwrite each other's changes.
Timestamps are ISO strings in UTC, as in the job records.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smflow.errors import SmflowError
from smflow.local_sagemaker.file_lock import exclusive_lock
from smflow.local_sagemaker.jobs.records import ProcessId, read_json, write_json_atomic
from smflow.local_sagemaker.timestamps import now_iso

MAX_FAILURE_REASON = 1024


class EndpointExistsError(SmflowError, FileExistsError):
    """The endpoint or endpoint config name is taken."""


def clip(reason: str) -> str:
    return reason if len(reason) <= MAX_FAILURE_REASON else reason[: MAX_FAILURE_REASON - 3] + "..."


@dataclass(frozen=True)
class EndpointDir:
    """Paths and locked updates of one endpoint's directory; cheap to build from the path alone."""

    path: Path

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def home(self) -> Path:
        """The local SageMaker's home (`<home>/endpoints/endpoints/<name>`)."""
        return self.path.parents[2]

    @property
    def record_file(self) -> Path:
        return self.path / "record.json"

    @property
    def log_file(self) -> Path:
        return self.path / "log.txt"

    def generation_dir(self, generation: int) -> Path:
        return self.path / "generations" / str(generation)

    def record(self) -> dict[str, Any]:
        value: dict[str, Any] = read_json(self.record_file)
        return value

    def locked(self) -> AbstractContextManager[None]:
        return exclusive_lock(self.path / ".lock")

    def update(self, change: Callable[[dict[str, Any]], Mapping[str, Any] | None]) -> dict[str, Any]:
        """Apply `change` to the record under the lock (it returns fields to set, or None); keys set to None
        are removed. LastModifiedTime is bumped on every real change; returns the record now on disk."""
        with self.locked():
            record = self.record()
            fields = change(record)
            if fields:
                for key, value in fields.items():
                    if value is None:
                        record.pop(key, None)
                    else:
                        record[key] = value
                record["LastModifiedTime"] = now_iso()
                write_json_atomic(self.record_file, record)
            return record

    def log(self, line: str) -> None:
        """Append one line to the endpoint's log (O_APPEND: safe beside other writers)."""
        with self.log_file.open("a", encoding="utf-8") as fh:
            fh.write(f"[smflow] {now_iso()} {line}\n")


def server_process(serving: Mapping[str, Any] | None) -> ProcessId | None:
    """The server process a record's `Serving` (or `Pending`) entry names, if it recorded one."""
    if not serving or not serving.get("pid"):
        return None
    return ProcessId.parse(str(serving["pid"]))


class EndpointStore:
    """All endpoint configs and endpoints under one root (`<home>/endpoints`)."""

    def __init__(self, root: Path):
        self.root = Path(root)

    # ---- endpoint configs ----------------------------------------------------------------------

    @property
    def configs_dir(self) -> Path:
        return self.root / "configs"

    def config_path(self, name: str) -> Path:
        return self.configs_dir / f"{name}.json"

    def read_config(self, name: str) -> dict[str, Any] | None:
        path = self.config_path(name)
        if not path.is_file():
            return None
        value: dict[str, Any] = read_json(path)
        return value

    def create_config(self, name: str, record: Mapping[str, Any]) -> None:
        """Write the config record once: a hard link of a finished temp file, which fails if the name is taken."""
        self.configs_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.configs_dir, prefix=f".{name}.", suffix=".tmp")
        os.close(fd)
        try:
            write_json_atomic(Path(tmp), dict(record))
            os.link(tmp, self.config_path(name))
        except FileExistsError:
            raise EndpointExistsError(name) from None
        finally:
            Path(tmp).unlink(missing_ok=True)

    def delete_config(self, name: str) -> None:
        self.config_path(name).unlink(missing_ok=True)

    def config_names(self) -> list[str]:
        if not self.configs_dir.is_dir():
            return []
        return sorted(p.stem for p in self.configs_dir.glob("*.json") if not p.name.startswith("."))

    # ---- endpoints -----------------------------------------------------------------------------

    @property
    def endpoints_dir(self) -> Path:
        return self.root / "endpoints"

    def endpoint(self, name: str) -> EndpointDir:
        return EndpointDir(self.endpoints_dir / name)

    def find(self, name: str) -> EndpointDir | None:
        endpoint = self.endpoint(name)
        return endpoint if endpoint.record_file.is_file() else None

    def create(self, name: str, record: Mapping[str, Any]) -> EndpointDir:
        """Build the directory under a hidden name, then rename it into place; EndpointExistsError if taken."""
        self.endpoints_dir.mkdir(parents=True, exist_ok=True)
        final = self.endpoints_dir / name
        if final.exists():
            raise EndpointExistsError(name)
        tmp = Path(tempfile.mkdtemp(dir=self.endpoints_dir, prefix=f".creating-{name}."))
        try:
            write_json_atomic(tmp / "record.json", dict(record))
            (tmp / "log.txt").touch()
            (tmp / ".lock").touch()
            try:
                os.rename(tmp, final)
            except OSError as e:
                raise EndpointExistsError(name) from e
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return EndpointDir(final)

    def remove(self, endpoint: EndpointDir) -> None:
        """Take the directory out of sight first (a rename), then delete it: a reader never sees half of it."""
        doomed = self.endpoints_dir / f".deleting-{endpoint.name}-{os.getpid()}"
        try:
            os.rename(endpoint.path, doomed)
        except OSError:
            return
        shutil.rmtree(doomed, ignore_errors=True)

    def names(self) -> list[str]:
        if not self.endpoints_dir.is_dir():
            return []
        return sorted(p.name for p in self.endpoints_dir.iterdir()
                      if not p.name.startswith(".") and (p / "record.json").is_file())
