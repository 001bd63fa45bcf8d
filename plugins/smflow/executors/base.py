"""The one protocol both executors implement: the SageMaker API itself, plus object-store access.

Operators speak SageMaker API operation names and request shapes (`CreateTrainingJob`, …) to an
`Executor`; the local executor emulates those operations on this machine, the sagemaker executor
forwards them to AWS through the Amazon provider's hook. Because both receive identical requests,
what runs locally is what would run on AWS.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from botocore.exceptions import ClientError

TERMINAL_STATUSES = frozenset({"Completed", "Failed", "Stopped"})
FAILED_STATUSES = frozenset({"Failed", "Stopped"})  # Stopped is never success (provider bug #42423)


@dataclass(frozen=True)
class JobKind:
    """How one long-running SageMaker job type is named, described and stopped."""

    create: str
    name_key: str
    describe: str
    stop: str
    status_key: str
    end_time_key: str


JOB_KINDS: dict[str, JobKind] = {
    k.create: k
    for k in (
        JobKind("CreateProcessingJob", "ProcessingJobName", "DescribeProcessingJob", "StopProcessingJob",
                "ProcessingJobStatus", "ProcessingEndTime"),
        JobKind("CreateTrainingJob", "TrainingJobName", "DescribeTrainingJob", "StopTrainingJob",
                "TrainingJobStatus", "TrainingEndTime"),
        JobKind("CreateTransformJob", "TransformJobName", "DescribeTransformJob", "StopTransformJob",
                "TransformJobStatus", "TransformEndTime"),
    )
}


class JobFailedError(RuntimeError):
    """A job ended Failed or Stopped; carries the describe response so callers can log the reason."""

    def __init__(self, name: str, status: str, reason: str, description: Mapping[str, Any]):
        super().__init__(f"SageMaker job {name} ended {status}: {reason or 'no FailureReason given'}")
        self.name = name
        self.status = status
        self.reason = reason
        self.description = dict(description)


class JobTimeoutError(TimeoutError):
    pass


def not_found_error(operation: str, message: str) -> ClientError:
    """The error SageMaker returns for an unknown name (Airflow's provider treats it as 'name is free')."""
    return ClientError({"Error": {"Code": "ValidationException", "Message": message}}, operation)


NOT_FOUND_PHRASES = ("not find", "not found", "does not exist")


def is_not_found(error: ClientError) -> bool:
    """SageMaker's "no such name": ValidationException with "Requested resource not found." (real AWS),
    "Could not find …" (moto, the local executor) or "… does not exist", or ResourceNotFound."""
    err = error.response.get("Error", {})
    message = str(err.get("Message", "")).lower()
    return err.get("Code") == "ResourceNotFound" or (
        err.get("Code") == "ValidationException" and any(phrase in message for phrase in NOT_FOUND_PHRASES))


class Executor(ABC):
    """A place SageMaker API requests run. Subclasses implement `call` and the object-store verbs."""

    name: ClassVar[str]

    @abstractmethod
    def call(self, operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """Perform one SageMaker API operation (boto3 operation name, request dict) and return its response.

        Unknown names raise botocore `ClientError` with code `ValidationException`, as SageMaker does.
        """

    @abstractmethod
    def upload(self, source: Path, uri: str, *, tar: bool = False) -> None:
        """Copy a local file or directory to an `s3://` URI; `tar=True` packs it as a .tar.gz first."""

    @abstractmethod
    def read_bytes(self, uri: str) -> bytes: ...

    @abstractmethod
    def write_bytes(self, uri: str, data: bytes) -> None: ...

    @abstractmethod
    def exists(self, uri: str) -> bool: ...

    def read_log(self, operation: str, name: str, offset: int) -> tuple[str, int]:
        """New log text of a job since `offset`, and the next offset; executors without logs return ''."""
        return "", offset

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
        on_log: Callable[[str], None] | None = None,
        log_offset: int = 0,
    ) -> dict[str, Any]:
        """Poll until the job is terminal; raise `JobFailedError` on Failed *or* Stopped.

        Log lines from `log_offset` on go to `on_log`. A timeout stops the job before raising, unlike the
        provider's `check_status`, which leaves it running.
        """
        kind = JOB_KINDS[operation]
        deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds
        offset = log_offset
        while True:
            description = self.describe_job(operation, name)
            if description is None:
                raise not_found_error(kind.describe, f"Could not find job {name}")
            if on_log is not None:
                text, offset = self.read_log(operation, name, offset)
                for line in text.splitlines():
                    on_log(line)
            status = description[kind.status_key]
            if status in TERMINAL_STATUSES:
                if status in FAILED_STATUSES:
                    raise JobFailedError(name, status, description.get("FailureReason", ""), description)
                return description
            if deadline is not None and time.monotonic() > deadline:
                self.stop_job(operation, name)
                raise JobTimeoutError(f"job {name} still {status} after {timeout_seconds}s; stop requested")
            time.sleep(poll_seconds)
