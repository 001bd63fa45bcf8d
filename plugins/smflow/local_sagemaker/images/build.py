"""Build an image environment with uv once, keep it, and hand out its interpreter to every job that needs it.

Layout under the environments folder (`$SMFLOW_ENVIRONMENTS_DIR`, default `<home>/environments`):
`<key>/` a finished environment (a relocatable virtual environment with `smflow-environment.json`, written
last, in it), `.<key>.lock` the lock its builders take, `.<key>.building-*` a build in progress.

Why it is safe to kill a build at any moment and to start many jobs at once:
- a build happens in a fresh `.<key>.building-*` folder and becomes `<key>` by one `rename`, after its
  marker file is written; a folder without the marker is never used;
- builders of one key take an exclusive `flock` on `.<key>.lock` (released by the kernel when a builder
  dies), look again once they hold it, so the second job reuses what the first built, and clear leftovers
  of killed builds before building;
- uv runs with SIGKILL as its parent-death signal, so a killed runner leaves no uv behind writing files.

The virtual environment is created with `uv venv --relocatable --seed`: relocatable so the rename keeps
its scripts working; seeded with pip because the images have pip and scripts and launchers call
`python3 -m pip install`.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from packaging.utils import canonicalize_name

from smflow.errors import SmflowError
from smflow.local_sagemaker.images.plan import EnvironmentPlan

MARKER = "smflow-environment.json"
POLL_SECONDS = 0.1
_PR_SET_PDEATHSIG = 1
StopCheck = Callable[[], str | None]


class EnvironmentBuildError(SmflowError, RuntimeError):
    """uv could not build an image environment; the message names the packages and the opt-out."""


class EnvironmentBuildStopped(SmflowError, RuntimeError):
    """The job was stopped while its environment was being built (or waited for)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ReadyEnvironment:
    path: Path
    versions: dict[str, str]  # distribution name (lower case, `-` separated) → installed version
    built_now: bool
    seconds: float  # time spent building or waiting here

    @property
    def interpreter(self) -> Path:
        return environment_python(self.path)


def environment_python(path: Path) -> Path:
    return path / "bin" / "python"


def is_ready(path: Path) -> bool:
    """A finished environment: its marker is there (written last) and its interpreter still resolves."""
    return (path / MARKER).is_file() and environment_python(path).exists()


def read_versions(path: Path) -> dict[str, str]:
    try:
        data = json.loads((path / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    versions = data.get("versions") if isinstance(data, dict) else None
    return {str(k): str(v) for k, v in versions.items()} if isinstance(versions, dict) else {}


def find_uv() -> str:
    """uv beside smflow's interpreter (it is one of smflow's dependencies), else on PATH."""
    beside = Path(sys.executable).parent / "uv"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("uv")
    if found:
        return found
    try:
        from uv import find_uv_bin  # type: ignore[import-not-found]

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        raise EnvironmentBuildError("uv is not installed, and image environments are built with it; install uv "
                                    "(pip install uv) or set SMFLOW_IMAGE_ENVIRONMENTS=off to run jobs in "
                                    "smflow's own environment") from None


def ensure_environment(plan: EnvironmentPlan, root: Path, *, say: Callable[[str], None], output: IO[str],
                       should_stop: StopCheck) -> ReadyEnvironment:
    """The ready environment for `plan`, built now if no job built it before."""
    started = time.monotonic()
    final = root / plan.key
    if is_ready(final):
        return ReadyEnvironment(final, read_versions(final), False, time.monotonic() - started)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise EnvironmentBuildError(f"cannot create the environments folder {root}: {e.strerror or e}; point "
                                    "SMFLOW_ENVIRONMENTS_DIR at a writable folder") from e
    with _build_lock(root / f".{plan.key}.lock", plan.key, say, should_stop):
        if is_ready(final):  # another job built it while we waited
            say(f"environment {plan.key} was built by another job meanwhile; reusing it")
            return ReadyEnvironment(final, read_versions(final), False, time.monotonic() - started)
        _clear_leftovers(root, plan.key)
        try:
            building = Path(tempfile.mkdtemp(prefix=f".{plan.key}.building-", dir=root))
            building.chmod(0o755)  # mkdtemp makes it private; the finished environment is for every job
        except OSError as e:
            raise _failure(plan, f"cannot create a folder in {root}: {e.strerror or e}") from e
        try:
            versions = _build(plan, building, say, output, should_stop)
            seconds = time.monotonic() - started
            (building / MARKER).write_text(json.dumps({
                "key": plan.key, "image": plan.ref.uri, "framework": plan.image.framework,
                "version": plan.image.version, "python": plan.python, "requirements": list(plan.requirements),
                "versions": versions, "build_seconds": round(seconds, 2)}, indent=1, sort_keys=True))
            os.rename(building, final)
            _sync_directory(root)
        except OSError as e:  # e.g. a full disk while writing the marker: nothing half-built is left
            shutil.rmtree(building, ignore_errors=True)
            raise _failure(plan, f"{e.strerror or e} ({e.filename or building})") from e
        except BaseException:
            shutil.rmtree(building, ignore_errors=True)
            raise
    return ReadyEnvironment(final, versions, True, seconds)


# ---- the lock and leftovers -------------------------------------------------------------------------


@contextmanager
def _build_lock(path: Path, key: str, say: Callable[[str], None], should_stop: StopCheck) -> Iterator[None]:
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise EnvironmentBuildError(f"cannot open the build lock {path}: {e.strerror or e}; point "
                                    "SMFLOW_ENVIRONMENTS_DIR at a writable folder") from e
    try:
        waiting = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as e:
                if e.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
            reason = should_stop()
            if reason is not None:
                raise EnvironmentBuildStopped(reason)
            if not waiting:
                say(f"waiting for another job that is building environment {key}")
                waiting = True
            time.sleep(POLL_SECONDS)
        yield
    finally:
        os.close(fd)  # closing releases the flock


def _clear_leftovers(root: Path, key: str) -> None:
    """Under the lock no build of `key` is running: what a killed one left (a half-built folder, or a final
    folder without its marker) is removed so it can never be used."""
    for leftover in root.glob(f".{key}.building-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    final = root / key
    if final.exists() and not is_ready(final):
        shutil.rmtree(final, ignore_errors=True)


def _sync_directory(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ---- uv -------------------------------------------------------------------------------------------


def _build(plan: EnvironmentPlan, target: Path, say: Callable[[str], None], output: IO[str],
           should_stop: StopCheck) -> dict[str, str]:
    uv = find_uv()
    say(f"building environment {plan.key} with uv: {' '.join(plan.requirements)}")
    common = ["--no-config", "--no-progress", "--no-python-downloads"]
    _run([uv, "venv", *common, "--quiet", "--relocatable", "--seed", "--python", sys.executable, str(target)],
         plan, output, should_stop)
    # Bytecode compiled once here: with PYTHONDONTWRITEBYTECODE (common in containers and CI) every job would
    # otherwise recompile scikit-learn, scipy and pandas from source on import, seconds per job.
    install = [uv, "pip", "install", *common, "--compile-bytecode", "--python", str(environment_python(target))]
    if plan.image.extra_index_url:
        install += ["--extra-index-url", plan.image.extra_index_url]
    for name in plan.wheels_only:
        install += ["--only-binary", name]
    _run([*install, *plan.requirements], plan, output, should_stop)
    listing = _run([uv, "pip", "list", *common, "--format", "json", "--python", str(environment_python(target))],
                   plan, output, should_stop, echo=False)
    try:
        return {canonicalize_name(item["name"]): str(item["version"]) for item in json.loads(listing)}
    except (ValueError, KeyError, TypeError) as e:
        raise EnvironmentBuildError(f"uv pip list gave no package listing for {target} ({e})") from e


def _child_setup() -> None:
    """In the uv process: die with the runner, so a killed job leaves no build running."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def _run(command: Sequence[str], plan: EnvironmentPlan, output: IO[str], should_stop: StopCheck, *,
         echo: bool = True) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    env["UV_PYTHON_DOWNLOADS"] = "never"
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as captured:
        try:
            process = subprocess.Popen(list(command), stdin=subprocess.DEVNULL, stdout=captured,
                                       stderr=subprocess.STDOUT if echo else subprocess.DEVNULL, env=env,
                                       preexec_fn=_child_setup if sys.platform.startswith("linux") else None)
        except OSError as e:
            raise _failure(plan, f"cannot run {command[0]}: {e.strerror or e}") from e
        while process.poll() is None:
            reason = should_stop()
            if reason is not None:
                process.terminate()
                try:
                    process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
                raise EnvironmentBuildStopped(reason)
            time.sleep(POLL_SECONDS)
        captured.seek(0)
        text = captured.read()
    if echo and text:
        output.write(text if text.endswith("\n") else text + "\n")
        output.flush()
    if process.returncode != 0:
        tail = [line for line in text.strip().splitlines() if line.strip()][-6:]
        raise _failure(plan, f"`uv {' '.join(command[1:3])}` exited with code {process.returncode}"
                       + (": " + " | ".join(tail) if tail else ""))
    return text


def _failure(plan: EnvironmentPlan, detail: str) -> EnvironmentBuildError:
    return EnvironmentBuildError(
        f"could not build the Python environment for image {plan.ref.short} ({plan.image.framework} "
        f"{plan.image.version}): {detail}. Packages: {', '.join(plan.requirements)}. Check the network "
        "connection to the package index (uv downloads what its cache lacks), or set "
        "SMFLOW_IMAGE_ENVIRONMENTS=off to run jobs in smflow's own environment")
