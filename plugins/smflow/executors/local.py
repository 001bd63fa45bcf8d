"""The `local` executor: the same requests, sent to the SageMaker emulated on this machine.

A thin adapter, symmetric with `sagemaker.py`: API calls go to `smflow.local_sagemaker`'s operation table
(as the sagemaker executor's go to the provider's hook), object-store verbs to its S3-like store.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from smflow.executors.base import Executor
from smflow.local_sagemaker.service import LocalSageMaker

if TYPE_CHECKING:
    from smflow.local_sagemaker.registry import ModelRegistry
    from smflow.local_sagemaker.store import LocalStore


class LocalExecutor(Executor):
    name = "local"

    def __init__(self, home: Path | None = None, store_root: Path | None = None):
        self.service = LocalSageMaker(home, store_root)

    @property
    def home(self) -> Path:
        return self.service.home

    @property
    def store(self) -> LocalStore:
        return self.service.store

    @property
    def registry(self) -> ModelRegistry:
        return self.service.registry

    def model_registry(self) -> ModelRegistry:
        """The local registry answers the CLI's questions from SQLite (same summaries as through the API)."""
        return self.service.registry

    def call(self, operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
        return self.service.call(operation, params)

    def invoke_endpoint(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return self.service.invoke_endpoint(params)

    def upload(self, source: Path, uri: str, *, tar: bool = False, dependencies: Sequence[Path] = ()) -> None:
        source = Path(source)
        if not source.exists():
            raise FileNotFoundError(f"{source}: nothing to upload to {uri} (no such file or directory)")
        if dependencies and not tar:
            raise ValueError(f"dependencies are packed into an archive; upload {source} to {uri} with tar=True")
        if tar:
            self.store.upload_tar(source, uri, dependencies)
        elif source.is_dir():
            self.store.upload_dir(source, uri)
        else:
            self.store.upload_file(source, uri)

    def read_bytes(self, uri: str) -> bytes:
        return self.store.read_bytes(uri)

    def write_bytes(self, uri: str, data: bytes) -> None:
        self.store.write_bytes(uri, data)

    @contextmanager
    def local_file(self, uri: str) -> Iterator[Path]:
        """The store's own file: nothing is copied (writers replace objects by rename, so it stays whole)."""
        yield self.store.file_for(uri)

    def exists(self, uri: str) -> bool:
        return self.store.exists(uri)

    def list_objects(self, prefix: str) -> list[tuple[str, str]]:
        return [(uri, self.store.etag(uri)) for uri in self.store.list(prefix)]

    def read_log(self, operation: str, name: str, offset: int) -> tuple[str, int]:
        return self.service.read_log(operation, name, offset)

    def read_log_lines(self, operation: str, name: str, offset: int) -> tuple[list[tuple[str, bool]], int]:
        return self.service.read_log_lines(operation, name, offset)

    def job_dir(self, operation: str, name: str) -> Path | None:
        """The job's directory (log, request, private /opt/ml), for debugging and the CLI."""
        return self.service.job_dir(operation, name)
