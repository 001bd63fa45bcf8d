"""Where smflow keeps its durable state; one place so every room agrees on the paths."""

from __future__ import annotations

import os
from pathlib import Path


def smflow_home() -> Path:
    """`$SMFLOW_HOME`, else `.smflow/` in the working directory (git-ignored)."""
    return Path(os.environ.get("SMFLOW_HOME") or Path.cwd() / ".smflow").resolve()


def store_root() -> Path:
    """Root of the on-disk object store that stands in for S3 (`$SMFLOW_STORE_ROOT` overrides)."""
    override = os.environ.get("SMFLOW_STORE_ROOT")
    return Path(override).resolve() if override else smflow_home() / "store"


def registry_path() -> Path:
    return smflow_home() / "registry.sqlite"


def jobs_root() -> Path:
    """Per-job working directories and durable job descriptions of the local executor."""
    return smflow_home() / "jobs"


DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT = "000000000000"


def region() -> str:
    return os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or DEFAULT_REGION
