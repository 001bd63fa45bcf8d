"""Every smflow knob, in one table: environment → `[smflow]` in airflow.cfg → default.

Lookup order for a setting `name`: the environment variable `SMFLOW_<NAME>`; Airflow's own convention
`AIRFLOW__SMFLOW__<NAME>`; the `[smflow]` section of `$AIRFLOW_HOME/airflow.cfg` (read with configparser,
so the local SageMaker and the job runners never import Airflow); then the default. The README's settings
table is generated from `SETTINGS` (`smflow settings` prints it with the values in force).
"""

from __future__ import annotations

import configparser
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    description: str

    @property
    def env(self) -> str:
        return f"SMFLOW_{self.name.upper()}"


SETTINGS: dict[str, Setting] = {s.name: s for s in (
    Setting("home", "", "durable state: object store, job records, registry, Airflow SQLite DB, caches "
                        "(default `.smflow/` in the working directory)"),
    Setting("store_root", "", "root of the local object store standing in for S3 (default `<home>/store`)"),
    Setting("executor", "local", "where jobs run: `local` (the embedded SageMaker) or `sagemaker` (AWS)"),
    Setting("pipelines_dir", "", "folder of pipeline specs the dags/ loaders read "
                                 "(default `include/pipelines` beside the dags folder)"),
    Setting("aws_conn_id", "aws_default", "Airflow connection the sagemaker executor uses"),
    Setting("sandbox", "", "local job isolation: `bwrap`, `unshare` or `paths` (default: the best that works)"),
    Setting("stop_grace_seconds", "30", "seconds a stopped local job gets between SIGTERM and SIGKILL "
                                        "(SageMaker gives 120)"),
    Setting("image_environments", "on", "`on`: a local job runs in a Python environment matching its image's "
                                        "framework version (built with uv, cached); `off`: in smflow's own"),
    Setting("environments_dir", "", "cache of the image environments local jobs run in, shared by every "
                                    "smflow home that names it (default `<home>/environments`)"),
)}


@lru_cache(maxsize=4)
def _airflow_cfg(path: str, mtime: float) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError, OSError):
        return {}  # a broken airflow.cfg is Airflow's own error to report; smflow falls back to defaults
    return dict(parser.items("smflow")) if parser.has_section("smflow") else {}


def _cfg_value(name: str) -> str | None:
    airflow_home = os.environ.get("AIRFLOW_HOME") or str(Path.home() / "airflow")
    path = Path(airflow_home) / "airflow.cfg"
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return None
    return _airflow_cfg(str(path), mtime).get(name)


def get(name: str) -> str:
    """The value in force for one setting (see the module docstring for the order)."""
    setting = SETTINGS[name]
    for value in (os.environ.get(setting.env), os.environ.get(f"AIRFLOW__SMFLOW__{name.upper()}"),
                  _cfg_value(name)):
        if value:
            return value
    return setting.default


def source(name: str) -> str:
    """Where the value in force comes from, for `smflow settings`."""
    setting = SETTINGS[name]
    if os.environ.get(setting.env):
        return setting.env
    if os.environ.get(f"AIRFLOW__SMFLOW__{name.upper()}"):
        return f"AIRFLOW__SMFLOW__{name.upper()}"
    if _cfg_value(name):
        return "airflow.cfg [smflow]"
    return "default"


def smflow_home() -> Path:
    """`$SMFLOW_HOME`, else `.smflow/` in the working directory (git-ignored)."""
    return Path(get("home") or Path.cwd() / ".smflow").resolve()


def checked_home(*, create: bool) -> Path:
    """The smflow home, refusing one that cannot be a directory; created when `create` and missing."""
    from smflow.errors import UserError

    home = smflow_home()
    where = "SMFLOW_HOME" if get("home") else "the smflow home (.smflow/ here; set SMFLOW_HOME)"
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
    override = get("store_root")
    return Path(override).resolve() if override else smflow_home() / "store"


def environments_root(home: Path | None = None) -> Path:
    """Where image environments are built and kept: `$SMFLOW_ENVIRONMENTS_DIR`, else `<home>/environments`
    (`home` is the local SageMaker's home when the caller knows it, e.g. a job runner; else the smflow home)."""
    override = get("environments_dir")
    return Path(override).resolve() if override else (home or smflow_home()) / "environments"


def registry_path() -> Path:
    return smflow_home() / "registry.sqlite"


def jobs_root() -> Path:
    """Per-job working directories and durable job descriptions of the local executor."""
    return smflow_home() / "jobs"


DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT = "000000000000"


def region() -> str:
    return os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or DEFAULT_REGION
