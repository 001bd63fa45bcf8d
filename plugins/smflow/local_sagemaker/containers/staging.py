"""Fetching what a container needs into its directories, written once for every job kind: code and model
archives (`sourcedir.tar.gz`, `model.tar.gz`) and S3 manifest files.

Each job kind words its own FailureReason around these (training and processing say `ClientError: ...`, the
transform names the request field); the parsing and unpacking themselves live only here.
"""

from __future__ import annotations

import json
import tarfile
import zlib
from pathlib import Path

from smflow.errors import SmflowError
from smflow.s3_names import key_problem


class ManifestError(SmflowError, ValueError):
    """A manifest file SageMaker would refuse; `kind` is "json", "shape" or "key", `detail` says more."""

    def __init__(self, kind: str, detail: str):
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


MANIFEST_SHAPE = '[{"prefix": "s3://bucket/prefix/"}, "relative/key1", ...]'


def parse_manifest(data: bytes) -> tuple[str, list[str]]:
    """An S3 manifest file (a JSON list: `{"prefix": "s3://..."}` then keys relative to it) → (prefix ending
    in "/", keys). A key is also where its object lands in the channel, so it must stay inside it.

    https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_S3DataSource.html
    """
    try:
        manifest = json.loads(data)
    except ValueError as e:  # JSONDecodeError and UnicodeDecodeError
        raise ManifestError("json", str(e)) from e
    if (not isinstance(manifest, list) or not manifest or not isinstance(manifest[0], dict)
            or not isinstance(manifest[0].get("prefix"), str)
            or not all(isinstance(key, str) for key in manifest[1:])):
        raise ManifestError("shape", f"must be a JSON list {MANIFEST_SHAPE}")
    prefix = manifest[0]["prefix"]
    base = prefix if prefix.endswith("/") else prefix + "/"
    keys: list[str] = manifest[1:]
    for key in keys:
        problem = "an absolute path" if key.startswith("/") else key_problem(key)
        if problem:
            raise ManifestError("key", f"lists {key!r}: {problem}")
    return base, keys


class TarballError(SmflowError, ValueError):
    """An archive that cannot be unpacked (not a tar, truncated, bad gzip)."""


def extract_tarball(path: Path, dest: Path) -> None:
    """Unpack a .tar.gz (or plain .tar) into `dest` with tarfile's "data" filter: no member may land outside
    `dest`, be a device, or carry set-uid bits — a hostile archive cannot write elsewhere."""
    dest.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(path, "r:*") as archive:
            archive.extractall(dest, filter="data")
    except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
        raise TarballError(str(e)) from e
