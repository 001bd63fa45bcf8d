"""One deployment of an endpoint config on this machine: its model data unpacked, its server's config written.

What SageMaker does before it starts a container for `docker run <image> serve`
(https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-inference-code.html): the variant's model
(CreateModel's PrimaryContainer, or Containers[] run as a serial pipeline,
https://docs.aws.amazon.com/sagemaker/latest/dg/inference-pipelines.html) has each ModelDataUrl tarball
extracted to that container's model directory, and SAGEMAKER_SUBMIT_DIRECTORY's code made available. A
multi-model container (`Mode: MultiModel`, https://docs.aws.amazon.com/sagemaker/latest/dg/multi-model-endpoints.html)
gets the ModelDataUrl prefix instead, from which it loads `TargetModel` archives on demand.

Each deployment gets its own generation directory, so a new config is prepared while the old one serves.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smflow.errors import SmflowError
from smflow.local_sagemaker.containers.model_data import ModelDataError, fetch_code, fetch_model_data, model_data_uri
from smflow.local_sagemaker.store import LocalStore
from smflow.sagemaker_api import model_images

DEFAULT_MAX_MODELS = 20  # models one multi-model server keeps loaded (LRU), unless the container says otherwise
DEFAULT_MAX_MEMORY_MB = 2048


class DeploymentError(SmflowError, ValueError):
    """The config cannot be served as given; the message becomes the endpoint's FailureReason."""


@dataclass(frozen=True)
class ServerPlan:
    config_file: Path
    ready_file: Path
    log_file: Path
    images: list[str]


def model_containers(model: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The containers one variant runs: PrimaryContainer, or Containers[] as a serial pipeline."""
    name = model.get("ModelName", "?")
    if model.get("PrimaryContainer"):
        return [dict(model["PrimaryContainer"])]
    containers = model.get("Containers") or []
    mode = (model.get("InferenceExecutionConfig") or {}).get("Mode", "Serial")
    if mode != "Serial":
        raise DeploymentError(f"model {name}: InferenceExecutionConfig Mode {mode} (invoking one named container) "
                              "is not emulated locally; use Mode Serial or deploy with the sagemaker executor")
    if not containers:
        raise DeploymentError(f"model {name} has neither PrimaryContainer nor Containers")
    return [dict(c) for c in containers]


def prepare_generation(directory: Path, model: Mapping[str, Any], store: LocalStore) -> ServerPlan:
    """Unpack the model's data under `directory` and write the model server's config there."""
    containers = model_containers(model)
    modes = {c.get("Mode", "SingleModel") for c in containers}
    multi = "MultiModel" in modes
    if multi and len(containers) > 1:
        raise DeploymentError(f"model {model.get('ModelName')}: a multi-model container cannot be part of a serial "
                              "pipeline (SageMaker allows Mode MultiModel on a single container only)")
    entries = []
    multi_model: dict[str, Any] | None = None
    for index, container in enumerate(containers):
        base = directory / "containers" / str(index)
        model_dir = base / "model"
        model_dir.mkdir(parents=True, exist_ok=True)
        environment = {str(k): str(v) for k, v in (container.get("Environment") or {}).items()}
        url = model_data_uri(container)
        if multi:
            if not url:
                raise DeploymentError("a MultiModel container needs ModelDataUrl: the S3 prefix its models are under")
            root = store.path_for(url if url.endswith("/") else url + "/")
            multi_model = {"model_root": str(root), "max_models": int(environment.get(
                "SMFLOW_MAX_MODELS", DEFAULT_MAX_MODELS)), "max_memory_mb": int(environment.get(
                    "SMFLOW_MAX_MEMORY_MB", DEFAULT_MAX_MEMORY_MB))}
        try:
            if not multi:
                fetch_model_data(container, store, model_dir, f"container {index + 1} ModelDataUrl")
            code_dir = fetch_code(environment.get("SAGEMAKER_SUBMIT_DIRECTORY"), store, model_dir, base / "code")
        except ModelDataError as e:
            raise DeploymentError(str(e)) from e
        entries.append({"name": container.get("ContainerHostname") or f"container-{index + 1}",
                        "image": container.get("Image"),
                        "model_dir": None if multi else str(model_dir.resolve()),
                        "code_dir": str(code_dir.resolve()) if code_dir is not None and code_dir.is_dir() else None,
                        "environment": environment})
    ready = (directory / "ready.json").resolve()
    config = {"host": "127.0.0.1", "port": 0, "mode": "MultiModel" if multi else "SingleModel",
              "containers": entries, "multi_model": multi_model, "ready_file": str(ready)}
    config_file = directory / "server.json"
    config_file.write_text(json.dumps(config, indent=1), encoding="utf-8")
    return ServerPlan(config_file, ready, directory / "server.log", model_images(dict(model)))
