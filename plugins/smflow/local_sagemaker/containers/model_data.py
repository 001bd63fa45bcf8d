"""A model container's files, as SageMaker stages them before it starts the container (for a transform job or
an endpoint alike): the ModelDataUrl tarball extracted to the model directory, and the inference code from
SAGEMAKER_SUBMIT_DIRECTORY.

- ModelDataUrl is a model.tar.gz; `ModelDataSource.S3DataSource` with `CompressionType: None` is an
  uncompressed prefix copied as it is
  (https://docs.aws.amazon.com/sagemaker/latest/dg/large-model-inference-uncompressed.html).
- SAGEMAKER_SUBMIT_DIRECTORY is `/opt/ml/model/code` (the default, inside the model), another folder under
  `/opt/ml/model`, or an s3:// sourcedir.tar.gz or prefix, as the SageMaker Python SDK's `Model(source_dir=…)`
  uploads it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from smflow.errors import SmflowError
from smflow.local_sagemaker.containers.staging import TarballError, extract_tarball
from smflow.local_sagemaker.store import InvalidUriError, LocalStore, ObjectNotFoundError

MODEL_CODE_DIR = "/opt/ml/model"


class ModelDataError(SmflowError, ValueError):
    """The container's files cannot be staged; the message says which field and how to fix it."""


def model_data_uri(container: Mapping[str, Any]) -> str | None:
    source = (container.get("ModelDataSource") or {}).get("S3DataSource") or {}
    uri = container.get("ModelDataUrl") or source.get("S3Uri")
    return str(uri) if uri else None


def fetch_model_data(container: Mapping[str, Any], store: LocalStore, model_dir: Path, what: str) -> None:
    """ModelDataUrl (a model.tar.gz, or an uncompressed prefix via ModelDataSource) → the model directory."""
    model_dir.mkdir(parents=True, exist_ok=True)
    source = (container.get("ModelDataSource") or {}).get("S3DataSource") or {}
    uri = model_data_uri(container)
    if not uri:
        return  # a container may carry only code (e.g. a preprocessing stage)
    compressed = source.get("CompressionType", "Gzip") == "Gzip" if source else True
    try:
        if compressed:
            _extract(store, uri, model_dir, what)
        else:
            store.download(uri, model_dir)
    except ObjectNotFoundError as e:
        raise ModelDataError(f"model data {uri} is not in the local store: {e}") from e


def fetch_code(submit_dir: str | None, store: LocalStore, model_dir: Path, target: Path) -> Path:
    """SAGEMAKER_SUBMIT_DIRECTORY → a local directory: inside the model, or an s3 sourcedir tarball/prefix."""
    if not submit_dir or submit_dir.rstrip("/") == f"{MODEL_CODE_DIR}/code":
        return model_dir / "code"
    if submit_dir.startswith(MODEL_CODE_DIR + "/"):
        return model_dir / submit_dir[len(MODEL_CODE_DIR) + 1:]
    if not submit_dir.startswith("s3://"):
        raise ModelDataError(f"SAGEMAKER_SUBMIT_DIRECTORY={submit_dir!r} is not reachable from a SageMaker "
                             f"container; use an s3:// sourcedir.tar.gz or {MODEL_CODE_DIR}/code")
    try:
        if submit_dir.endswith((".tar.gz", ".tgz")):
            _extract(store, submit_dir, target, "SAGEMAKER_SUBMIT_DIRECTORY")
        else:
            store.download(submit_dir, target)
    except (ObjectNotFoundError, InvalidUriError) as e:
        raise ModelDataError(f"SAGEMAKER_SUBMIT_DIRECTORY {submit_dir}: {e}") from e
    return target


def _extract(store: LocalStore, uri: str, dest: Path, field: str) -> None:
    path = store.path_for(uri)
    if not path.is_file():
        raise ObjectNotFoundError(uri, store.root)
    try:
        extract_tarball(path, dest)
    except TarballError as e:
        raise ModelDataError(f"{field} {uri} is not a readable .tar.gz archive ({e}); pack it with "
                             "`tar -czf model.tar.gz -C <dir> .`") from e
