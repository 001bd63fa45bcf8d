"""The SageMaker vocabulary, written once: job kinds and their keys, statuses, error builders, "not found".

Both executors, the operators and the local SageMaker (`smflow.local_sagemaker`) read the names of job
operations and fields from here, so no second copy can drift. Kept import-free (botocore is imported
only to build an error): the local job runner imports it and its start-up time is part of every local job.

Operation and field names are those of the SageMaker API reference
(https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_Operations_Amazon_SageMaker_Service.html).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from botocore.exceptions import ClientError

TERMINAL_STATUSES = frozenset({"Completed", "Failed", "Stopped"})
FAILED_STATUSES = frozenset({"Failed", "Stopped"})  # Stopped is never success (Amazon provider PR #42423)
ACTIVE_STATUSES = frozenset({"InProgress", "Stopping"})

JobVerb = Literal["create", "describe", "stop", "list"]
JOB_VERBS: tuple[JobVerb, ...] = ("create", "describe", "stop", "list")


@dataclass(frozen=True)
class JobKind:
    """How one long-running SageMaker job type is created, named, described, stopped and listed."""

    noun: str  # "Processing", "Training", "Transform"
    directory: str  # the local SageMaker's directory name for jobs of this kind
    arn_type: str  # the resource part of the job's ARN
    image_field: tuple[str, ...] = ()  # where the Create request names the image it runs (a transform: its model's)

    @property
    def create(self) -> str:
        return f"Create{self.noun}Job"

    @property
    def describe(self) -> str:
        return f"Describe{self.noun}Job"

    @property
    def stop(self) -> str:
        return f"Stop{self.noun}Job"

    @property
    def list(self) -> str:
        return f"List{self.noun}Jobs"

    @property
    def name_key(self) -> str:
        return f"{self.noun}JobName"

    @property
    def arn_key(self) -> str:
        return f"{self.noun}JobArn"

    @property
    def status_key(self) -> str:
        return f"{self.noun}JobStatus"

    @property
    def summaries_key(self) -> str:
        return f"{self.noun}JobSummaries"

    @property
    def start_time_key(self) -> str:
        return f"{self.noun}StartTime"

    @property
    def end_time_key(self) -> str:
        return f"{self.noun}EndTime"

    def operation(self, verb: JobVerb) -> str:
        return {"create": self.create, "describe": self.describe, "stop": self.stop, "list": self.list}[verb]


PROCESSING = JobKind("Processing", "processing", "processing-job", ("AppSpecification", "ImageUri"))
TRAINING = JobKind("Training", "training", "training-job", ("AlgorithmSpecification", "TrainingImage"))
TRANSFORM = JobKind("Transform", "transform", "transform-job")

JOB_KINDS: dict[str, JobKind] = {kind.create: kind for kind in (PROCESSING, TRAINING, TRANSFORM)}
"""Job kinds by their Create operation name (what a compiled task's `operation` is)."""

JOB_KINDS_BY_DIRECTORY: dict[str, JobKind] = {kind.directory: kind for kind in JOB_KINDS.values()}

JOB_OPERATIONS: dict[str, tuple[JobVerb, JobKind]] = {
    kind.operation(verb): (verb, kind) for kind in JOB_KINDS.values() for verb in JOB_VERBS
}
"""Every job operation (CreateTrainingJob, DescribeTrainingJob, StopTrainingJob, ListTrainingJobs, ...)."""


def request_image(kind: JobKind, request: dict[str, Any]) -> str | None:
    """The image URI a Create request of `kind` names itself (None for a transform, which runs its model's)."""
    value: Any = request
    for key in kind.image_field:
        value = value.get(key) if isinstance(value, dict) else None
    return value if kind.image_field and isinstance(value, str) and value else None


def model_images(model: dict[str, Any]) -> list[str]:
    """The images a CreateModel request (or DescribeModel response) runs: its PrimaryContainer's, or each of
    its Containers' for a serial inference pipeline — a model has one or the other."""
    containers = [model["PrimaryContainer"]] if model.get("PrimaryContainer") else model.get("Containers") or []
    return [c["Image"] for c in containers if isinstance(c, dict) and isinstance(c.get("Image"), str) and c["Image"]]


def job_kind(operation: str) -> JobKind:
    """The job kind any of its operations names; KeyError for a non-job operation."""
    return JOB_OPERATIONS[operation][1]


# ---- errors ------------------------------------------------------------------------------------------


def client_error(operation: str, code: str, message: str) -> ClientError:
    """A botocore ClientError shaped as the service returns it (botocore imported here: the job runner never
    builds one, and starts faster without it)."""
    from botocore.exceptions import ClientError

    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


def validation_error(operation: str, message: str) -> ClientError:
    """SageMaker's ValidationException: a bad request, a duplicate name, a state that forbids the call."""
    return client_error(operation, "ValidationException", message)


def not_found_error(operation: str, message: str) -> ClientError:
    """The error SageMaker returns for an unknown name (Airflow's provider treats it as 'name is free')."""
    return validation_error(operation, message)


NOT_FOUND_PHRASES = ("not find", "not found", "does not exist")


def is_not_found(error: ClientError) -> bool:
    """SageMaker's "no such name": ValidationException with "Requested resource not found." (real AWS),
    "Could not find …" (moto, the local SageMaker) or "… does not exist", or ResourceNotFound."""
    err = error.response.get("Error", {})
    message = str(err.get("Message", "")).lower()
    return err.get("Code") == "ResourceNotFound" or (
        err.get("Code") == "ValidationException" and any(phrase in message for phrase in NOT_FOUND_PHRASES))
