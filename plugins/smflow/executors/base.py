"""The one protocol both executors implement: the SageMaker API itself, plus object-store access.

Operators speak SageMaker API operation names and request shapes (`CreateTrainingJob`, …) to an
`Executor`; the local executor emulates those operations on this machine, the sagemaker executor
forwards them to AWS through the Amazon provider's hook. Because both receive identical requests,
what runs locally is what would run on AWS.
"""

from __future__ import annotations

import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from botocore.exceptions import ClientError

from smflow.errors import SmflowError
from smflow.sagemaker_api import (
    FAILED_STATUSES,
    JOB_KINDS,
    TERMINAL_STATUSES,
    JobKind,
    is_not_found,
    not_found_error,
)

if TYPE_CHECKING:
    from smflow.local_sagemaker.registry.read_model import RegistryReader

__all__ = ["FAILED_STATUSES", "JOB_KINDS", "TERMINAL_STATUSES", "Executor", "JobFailedError", "JobKind",
           "JobTimeoutError", "is_not_found", "not_found_error"]  # the vocabulary, re-exported for executor users


class JobFailedError(SmflowError, RuntimeError):
    """A job ended Failed or Stopped; carries the describe response so callers can log the reason."""

    def __init__(self, name: str, status: str, reason: str, description: Mapping[str, Any]):
        super().__init__(f"SageMaker job {name} ended {status}: {reason or 'no FailureReason given'}")
        self.name = name
        self.status = status
        self.reason = reason
        self.description = dict(description)


class JobTimeoutError(SmflowError, TimeoutError):
    pass


class Executor(ABC):
    """A place SageMaker API requests run. Subclasses implement `call` and the object-store verbs."""

    name: ClassVar[str]

    @abstractmethod
    def call(self, operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """Perform one SageMaker API operation (boto3 operation name, request dict) and return its response.

        Unknown names raise botocore `ClientError` with code `ValidationException`, as SageMaker does.
        """

    @abstractmethod
    def upload(self, source: Path, uri: str, *, tar: bool = False, dependencies: Sequence[Path] = ()) -> None:
        """Copy a local file or directory to an `s3://` URI; `tar=True` packs it as a .tar.gz first, with each of
        `dependencies` added at the top level under its own name (an estimator's sourcedir.tar.gz)."""

    @abstractmethod
    def read_bytes(self, uri: str) -> bytes: ...

    @abstractmethod
    def write_bytes(self, uri: str, data: bytes) -> None: ...

    @contextmanager
    def local_file(self, uri: str) -> Iterator[Path]:
        """The object at `uri` as a file here, for readers that go through it in chunks instead of holding it
        in memory (a training set of many GB): a temporary download, removed afterwards, unless the executor's
        store already is local files."""
        with tempfile.TemporaryDirectory(prefix="smflow-object-") as folder:
            path = Path(folder) / (uri.rstrip("/").rsplit("/", 1)[-1] or "object")
            self.download(uri, path)
            yield path

    def download(self, uri: str, destination: Path) -> None:
        """Copy the object at `uri` to the file `destination` (executors that can stream it override this)."""
        destination.write_bytes(self.read_bytes(uri))

    @abstractmethod
    def exists(self, uri: str) -> bool: ...

    def list_objects(self, prefix: str) -> list[tuple[str, str]]:
        """(uri, ETag) of every object whose URI starts with `prefix` (S3 ListObjectsV2 string-prefix semantics;
        a prefix ending in '/' lists that folder only), sorted by URI. ETags without S3's quotes."""
        raise NotImplementedError(f"the {self.name} executor cannot list objects; batch prediction needs it")

    def invoke_endpoint(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """sagemaker-runtime's InvokeEndpoint (EndpointName, Body, ContentType, Accept, TargetModel, ...) →
        {Body: bytes, ContentType, InvokedProductionVariant}; the Body is read, on both executors. A container's
        4xx/5xx is a `ClientError` with code ModelError (OriginalStatusCode, OriginalMessage), as on AWS."""
        raise NotImplementedError(f"the {self.name} executor cannot invoke endpoints")

    def model_registry(self) -> RegistryReader:
        """The model registry this executor reaches, for `smflow registry` (through the SageMaker API)."""
        from smflow.local_sagemaker.registry.read_model import RegistryView

        return RegistryView(self.call)

    def read_log(self, operation: str, name: str, offset: int) -> tuple[str, int]:
        """New log text of a job since `offset`, and the next offset; executors without logs return ''."""
        return "", offset

    def read_log_lines(self, operation: str, name: str, offset: int) -> tuple[list[tuple[str, bool]], int]:
        """`read_log` as (line, written to stderr?) pairs; where the streams are merged, all count as stdout."""
        text, end = self.read_log(operation, name, offset)
        return [(line, False) for line in text.splitlines()], end

    # ---- job helpers shared by both executors -------------------------------------------------

    def describe_job(self, operation: str, name: str) -> dict[str, Any] | None:
        kind = JOB_KINDS[operation]
        try:
            return self.call(kind.describe, {kind.name_key: name})
        except ClientError as e:
            if is_not_found(e):
                return None
            raise

    def start_job(self, operation: str, request: Mapping[str, Any]) -> dict[str, Any]:
        kind = JOB_KINDS[operation]
        self.call(operation, request)
        description = self.describe_job(operation, request[kind.name_key])
        assert description is not None
        return description

    def stop_job(self, operation: str, name: str) -> None:
        kind = JOB_KINDS[operation]
        self.call(kind.stop, {kind.name_key: name})

    def wait_for_job(
        self,
        operation: str,
        name: str,
        *,
        poll_seconds: float = 1.0,
        timeout_seconds: float | None = None,
        on_log: Callable[[str, bool], None] | None = None,
        log_offset: int = 0,
    ) -> dict[str, Any]:
        """Poll until the job is terminal; raise `JobFailedError` on Failed *or* Stopped.

        Log lines from `log_offset` on go to `on_log(line, written_to_stderr)`. A timeout stops the job before
        raising, unlike the provider's `check_status`, which leaves it running.
        """
        kind = JOB_KINDS[operation]
        deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds
        offset = log_offset
        while True:
            description = self.describe_job(operation, name)
            if description is None:
                raise not_found_error(kind.describe, f"Could not find job {name}")
            if on_log is not None:
                lines, offset = self.read_log_lines(operation, name, offset)
                for line, stderr in lines:
                    on_log(line, stderr)
            status = description[kind.status_key]
            if status in TERMINAL_STATUSES:
                if status in FAILED_STATUSES:
                    raise JobFailedError(name, status, description.get("FailureReason", ""), description)
                return description
            if deadline is not None and time.monotonic() > deadline:
                self.stop_job(operation, name)
                raise JobTimeoutError(f"job {name} still {status} after {timeout_seconds}s; stop requested")
            time.sleep(poll_seconds)
