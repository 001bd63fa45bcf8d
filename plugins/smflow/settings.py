"""Where smflow keeps its durable state; one place so every room agrees on the paths."""

from __future__ import annotations

import os
from pathlib import Path


def smflow_home() -> Path:
    """`$SMFLOW_HOME`, else `.smflow/` in the working directory (git-ignored)."""
    return Path(os.environ.get("SMFLOW_HOME") or Path.cwd() / ".smflow").resolve()


def checked_home(*, create: bool) -> Path:
    """The smflow home, refusing one that cannot be a directory; created when `create` and missing."""
    from smflow.errors import UserError

    home = smflow_home()
    where = "SMFLOW_HOME" if os.environ.get("SMFLOW_HOME") else "the smflow home (.smflow/ here; set SMFLOW_HOME)"
    if home.exists() and not home.is_dir():
        raise UserError(f"{where} is {home}, which is a file, not a directory; point SMFLOW_HOME at a directory "
                        "(it is created when missing) or move the file away")
    if create:
        try:
            home.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            raise UserError(f"{where} is {home}, but a file is in the way of creating it; move it, or point "
                            "SMFLOW_HOME elsewhere") from None
        except NotADirectoryError:
            raise UserError(f"{where} is {home}, but one of its parent folders is a file; point SMFLOW_HOME at "
                            "a directory") from None
        except PermissionError:
            raise UserError(f"cannot create {where} at {home}: permission denied; point SMFLOW_HOME at a folder "
                            "you can write") from None
    return home


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
