"""SageMaker's job, model and model-registry API, emulated on this machine: one operation → handler table.

Every request is first checked by botocore's own validator against the real SageMaker service model (what
boto3 would reject, this rejects, with the same `ParamValidationError`), then by the server-side rules
SageMaker applies (name patterns, unique names, LocalPath prefixes, ...), which raise `ClientError`
ValidationException like the service.

The API families live beside this table: jobs/ (jobs run in detached runner processes and are described
from their durable job directories, so any process — this one, a restarted scheduler, the CLI — can
describe, list and stop them), models.py, and registry/. Endpoints and monitoring join the table the same
way.

Responses are shaped like boto3's (without ResponseMetadata, as the sagemaker executor returns them):
timestamps are timezone-aware `datetime`s, converted from the ISO strings the records hold by walking
the operation's output shape.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cached_property, partial
from pathlib import Path
from typing import Any

from smflow import settings
from smflow.local_sagemaker.endpoints.api import Endpoints
from smflow.local_sagemaker.jobs.api import Jobs
from smflow.local_sagemaker.jobs.records import JobStore
from smflow.local_sagemaker.models import Models
from smflow.local_sagemaker.registry.api import ModelRegistry
from smflow.local_sagemaker.shapes import Arns, validate_request
from smflow.local_sagemaker.store import LocalStore
from smflow.sagemaker_api import JOB_OPERATIONS, validation_error

Handler = Callable[[dict[str, Any]], dict[str, Any]]

class LocalSageMaker:
    """SageMaker on this machine: jobs as sandboxed subprocesses, S3 as a directory, the registry in SQLite."""

    def __init__(self, home: Path | None = None, store_root: Path | None = None):
        self.home = Path(home).resolve() if home is not None else settings.smflow_home()
        if store_root is not None:
            root = Path(store_root)
        else:
            root = self.home / "store" if home is not None else settings.store_root()
        self.store = LocalStore(root)
        self.arns = Arns(settings.region(), settings.DEFAULT_ACCOUNT)
        self.models = Models(self.home / "models", self.arns)
        self.jobs = Jobs(self.store, JobStore(self.home / "jobs"), self.arns, self.models)
        self.endpoints = Endpoints(self.home / "endpoints", self.store.root, self.arns, self.models)

    @cached_property
    def registry(self) -> ModelRegistry:
        return ModelRegistry(self.home / settings.registry_path().name)

    @cached_property
    def handlers(self) -> dict[str, Handler]:
        """Every operation this SageMaker implements → its handler."""
        job_handlers = self.jobs.handlers()
        table: dict[str, Handler] = {
            operation: partial(self._job_call, operation, job_handlers[verb], kind)
            for operation, (verb, kind) in JOB_OPERATIONS.items()
        }
        table.update({operation: partial(self._checked_call, operation, handler)
                      for operation, handler in self.models.handlers().items()})
        table.update({operation: partial(self._checked_call, operation, handler)
                      for operation, handler in self.endpoints.handlers().items()})
        table.update({operation: partial(self._registry_call, operation)  # the registry validates its own requests
                      for operation in sorted(ModelRegistry.OPERATIONS)})
        return table

    def call(self, operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
        handler = self.handlers.get(operation)
        if handler is None:
            raise validation_error(operation, f"the local executor does not implement the SageMaker operation "
                                              f"{operation!r}; it implements {', '.join(sorted(self.handlers))}. "
                                              "Run this step with the sagemaker executor")
        return handler(dict(params))

    def _job_call(self, operation: str, handler: Callable[..., dict[str, Any]], kind: Any,
                  params: dict[str, Any]) -> dict[str, Any]:
        self.jobs.supervisor.reap()
        validate_request(operation, params)
        return handler(kind, params)

    def _checked_call(self, operation: str, handler: Handler, params: dict[str, Any]) -> dict[str, Any]:
        validate_request(operation, params)
        return handler(params)

    def _registry_call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        return self.registry.call(operation, params)

    def invoke_endpoint(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """sagemaker-runtime's InvokeEndpoint: the request to the endpoint's model server (endpoints/invoke.py)."""
        from smflow.local_sagemaker.endpoints.invoke import check_invoke_request, post_invocation

        body = check_invoke_request(params)
        port, record = self.endpoints.serving_port("InvokeEndpoint", params["EndpointName"])
        variant = (record.get("ProductionVariants") or [{}])[0].get("VariantName", "AllTraffic")
        return post_invocation(port, body, params, variant)

    # ---- beyond the API ---------------------------------------------------------------------------

    def job_dir(self, operation: str, name: str) -> Path | None:
        return self.jobs.job_dir(operation, name)

    def read_log(self, operation: str, name: str, offset: int) -> tuple[str, int]:
        return self.jobs.read_log(operation, name, offset)

    def read_log_lines(self, operation: str, name: str, offset: int) -> tuple[list[tuple[str, bool]], int]:
        return self.jobs.read_log_lines(operation, name, offset)
