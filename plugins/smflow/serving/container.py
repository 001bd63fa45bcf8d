"""One model container loaded in this process: the handler SageMaker's container would run, and its environment.

The batch transform and the model server both load containers through here, so a model predicts the same
way in a transform job and behind an endpoint: an XGBoost image without `SAGEMAKER_PROGRAM` is the built-in
algorithm (it serves itself), anything else runs the inference-script contract (`smflow.serving.handler`).
A container of a serial pipeline sees only its own `Environment` while its code runs.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from smflow.serving.handler import DEFAULT_ACCEPT_ENV, InferenceHandler, load_handler
from smflow.serving.xgboost_algorithm import XGBoostAlgorithmHandler, load_xgboost_algorithm, serves_itself

Handler = InferenceHandler | XGBoostAlgorithmHandler

# os.environ is one per process: a container whose call sets its own variables holds this lock meanwhile, so
# two threads never see each other's. Re-entrant: a pipeline holds it across its containers.
ENVIRON_LOCK = threading.RLock()


@dataclass
class LoadedContainer:
    """A container's handler plus the variables its code must see; `invoke` is its `POST /invocations`."""

    name: str
    handler: Handler
    environment: dict[str, str]
    swap_environment: bool  # a pipeline's containers differ in environment: set it around each call

    @property
    def default_accept(self) -> str:
        return self.handler.default_accept

    def invoke(self, body: bytes, content_type: str, accept: str | None) -> tuple[bytes, str]:
        if not self.swap_environment:
            return self.handler.invoke(body, content_type, accept)
        with ENVIRON_LOCK, scoped_environ(self.environment):
            return self.handler.invoke(body, content_type, accept)


def describe_handler(image: str | None, environment: Mapping[str, str]) -> str:
    """What will answer this container's requests, for logs."""
    if serves_itself(image, environment):
        return "the XGBoost algorithm's own inference"
    return environment.get("SAGEMAKER_PROGRAM", "inference.py")


def load_container(
    name: str,
    model_dir: Path,
    code_dir: Path | None,
    environment: Mapping[str, str],
    *,
    image: str | None = None,
    swap_environment: bool = False,
    check_requirements: bool = True,
) -> LoadedContainer:
    """Load the container's model as it would at start; raises `HandlerLoadError` with the reason."""
    env = dict(environment)
    with ENVIRON_LOCK, scoped_environ(env):
        handler: Handler
        if serves_itself(image, env):
            handler = load_xgboost_algorithm(model_dir)
        else:
            handler = load_handler(model_dir, code_dir, env.get("SAGEMAKER_PROGRAM"),
                                   default_accept=env.get(DEFAULT_ACCEPT_ENV), check_requirements=check_requirements)
    return LoadedContainer(name=name, handler=handler, environment=env, swap_environment=swap_environment)


@contextmanager
def scoped_environ(values: Mapping[str, str]) -> Iterator[None]:
    """Set variables for the handler's code, restoring the process environment afterwards."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old
