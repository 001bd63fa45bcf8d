"""What one model server serves, as the JSON file its process is started with.

Whoever launches a server (the local SageMaker's endpoints, `smflow serve`, a test) writes this file; the
server itself knows nothing of endpoints, YAML or Airflow. The shape follows SageMaker's CreateModel:
one container serves alone, two to fifteen form a serial inference pipeline (each container's response is
the next one's request), and `MultiModel` serves many models from one directory, chosen per request by the
`X-Amzn-SageMaker-Target-Model` header.
https://docs.aws.amazon.com/sagemaker/latest/dg/inference-pipelines.html
https://docs.aws.amazon.com/sagemaker/latest/dg/multi-model-endpoints.html
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from smflow.errors import SmflowError

# InvokeEndpoint's request body limit (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_runtime_InvokeEndpoint.html)
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
MAX_CONTAINERS = 15  # a serial inference pipeline holds 2-15 containers


class ServerConfigError(SmflowError, ValueError):
    """The server's configuration file is missing, not JSON, or describes something that cannot be served."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _absolute(value: Path | None, field: str) -> Path | None:
    if value is not None and not value.is_absolute():
        raise ValueError(f"{field} must be an absolute path, got {str(value)!r}")
    return value


class ContainerConfig(_Strict):
    """One container of the model: its extracted model.tar.gz, its code and the environment it sees."""

    name: str = Field(min_length=1)
    model_dir: Path | None = None  # required unless the server is a multi-model one
    code_dir: Path | None = None  # SAGEMAKER_SUBMIT_DIRECTORY made local; default <model_dir>/code
    image: str | None = None  # the container's Image: an XGBoost image without SAGEMAKER_PROGRAM serves itself
    environment: dict[str, str] = Field(default_factory=dict)

    @field_validator("model_dir")
    @classmethod
    def _model_dir_absolute(cls, value: Path | None) -> Path | None:
        return _absolute(value, "model_dir")

    @field_validator("code_dir")
    @classmethod
    def _code_dir_absolute(cls, value: Path | None) -> Path | None:
        return _absolute(value, "code_dir")


class MultiModelConfig(_Strict):
    """Where the target models live and how many may stay loaded (an LRU bounded by count and by memory)."""

    model_root: Path  # one extracted sub-directory, or one <name>.tar.gz, per target model
    max_models: int = Field(default=20, ge=1)
    max_memory_mb: int = Field(default=2048, ge=1)

    @field_validator("model_root")
    @classmethod
    def _root_absolute(cls, value: Path) -> Path:
        checked = _absolute(value, "model_root")
        assert checked is not None
        return checked


class ServerConfig(_Strict):
    """Everything one server process needs; `port: 0` picks a free port."""

    host: str = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=65535)
    mode: Literal["SingleModel", "MultiModel"] = "SingleModel"
    containers: list[ContainerConfig] = Field(min_length=1, max_length=MAX_CONTAINERS)
    multi_model: MultiModelConfig | None = None
    ready_file: Path | None = None  # once listening: {"port": N, "pid": P}, written atomically
    max_payload_bytes: int = Field(default=MAX_PAYLOAD_BYTES, ge=1)
    read_timeout_seconds: float = Field(default=60.0, gt=0)  # a request's headers and body must arrive in this
    keep_alive_seconds: float = Field(default=75.0, gt=0)  # an idle keep-alive connection is closed after this
    request_timeout_seconds: float = Field(default=60.0, gt=0)  # SageMaker's 60 s to answer an invocation
    shutdown_grace_seconds: float = Field(default=25.0, ge=0)  # in-flight requests may finish (SIGKILL at 30 s)
    # A model whose calls average under this runs on the event loop; 0 puts every call on the worker threads.
    inline_budget_seconds: float = Field(default=0.002, ge=0)
    # ... and only while at most this many clients are connected (0: however many); see dispatch.py
    inline_max_connections: int = Field(default=0, ge=0)
    threads: int = Field(default=4, ge=1)  # worker threads for slow models and multi-model loads
    # Server processes sharing the port (SO_REUSEPORT), each with its own copy of the model; None reads the first
    # container's SAGEMAKER_MODEL_SERVER_WORKERS, else one per CPU as SageMaker's containers do (one for a
    # multi-model server, whose LRU bound is the endpoint's); see server.worker_count.
    workers: int | None = Field(default=None, ge=1, le=64)
    reuse_port: bool = False  # set for the worker processes of a multi-worker server
    supervisor_pid: int | None = None  # a worker's supervisor: the worker stops once that process is gone
    # gc.freeze() once the model is loaded (a server process owns its heap); off for a server inside another
    # program (start_in_thread), whose own objects must stay collectable.
    freeze_heap: bool = True

    @field_validator("ready_file")
    @classmethod
    def _ready_absolute(cls, value: Path | None) -> Path | None:
        return _absolute(value, "ready_file")

    @model_validator(mode="after")
    def _consistent(self) -> ServerConfig:
        names = [c.name for c in self.containers]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"container names must be unique; repeated: {', '.join(duplicates)}")
        if self.mode == "MultiModel":
            if self.multi_model is None:
                raise ValueError('mode "MultiModel" needs "multi_model": {"model_root": "/abs/dir", ...}')
            if len(self.containers) != 1:
                raise ValueError(f"a multi-model server runs exactly one container, got {len(self.containers)}; "
                                 "SageMaker does not combine MultiModel with a serial inference pipeline")
        else:
            if self.multi_model is not None:
                raise ValueError('"multi_model" is set but mode is "SingleModel"; set "mode": "MultiModel"')
            missing = [c.name for c in self.containers if c.model_dir is None]
            if missing:
                raise ValueError(f"container(s) {', '.join(missing)} have no model_dir: give the directory "
                                 "the container's model.tar.gz was extracted to")
        return self

    @property
    def is_pipeline(self) -> bool:
        return len(self.containers) > 1


def load_config(path: Path) -> ServerConfig:
    """Read and validate a server configuration file; every problem is one `ServerConfigError` naming the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ServerConfigError(f"{path}: cannot read the server configuration ({e.strerror or e})") from None
    try:
        data = json.loads(text)
    except ValueError as e:
        raise ServerConfigError(f"{path}: not valid JSON ({e})") from None
    return parse_config(data, where=str(path))


def parse_config(data: object, *, where: str = "server configuration") -> ServerConfig:
    try:
        return ServerConfig.model_validate(data)
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}"
                             for err in e.errors())
        raise ServerConfigError(f"{where}: {problems}") from None


def check_paths(config: ServerConfig) -> None:
    """The directories named must exist before the server loads anything (a clear error, not a traceback)."""
    for container in config.containers:
        for field, value in (("model_dir", container.model_dir), ("code_dir", container.code_dir)):
            if value is not None and not value.is_dir():
                raise ServerConfigError(f"container {container.name}: {field} {value} is not a directory")
    if config.multi_model is not None and not config.multi_model.model_root.is_dir():
        raise ServerConfigError(f"multi_model.model_root {config.multi_model.model_root} is not a directory")
