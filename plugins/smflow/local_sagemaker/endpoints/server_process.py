"""Starting, health-checking and stopping one endpoint's model server process on 127.0.0.1.

The server is smflow's model server (`python -m smflow.serving.server --config server.json`), run by the
interpreter of the model's image environment, like a transform job's container. It starts in its own session
(`start_new_session`), so it outlives the process that started it — an Airflow task, the CLI — as an endpoint
outlives the call that created it on SageMaker. It writes `{"port", "pid"}` to its ready file once it listens.

SageMaker's container contract (https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-inference-code.html):
`GET /ping` answers 200 within 2 s; health checks must pass within 4 minutes of start; on scale-down the
container gets SIGTERM, then SIGKILL after 30 s.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from smflow import settings
from smflow.errors import SmflowError
from smflow.local_sagemaker.jobs.records import ProcessId

SERVER_MODULE = "smflow.serving.server"
HEALTHY_WITHIN_SECONDS = 240.0  # SageMaker: health checks must pass within 4 minutes of start
PING_TIMEOUT_SECONDS = 2.0
STOP_GRACE_SECONDS = 30.0  # SageMaker: SIGTERM, then SIGKILL after 30 s

_children: list[subprocess.Popen[bytes]] = []  # servers this process started, reaped so none lingers as a zombie


class ServerStartError(SmflowError, RuntimeError):
    """The model server exited or never passed /ping; the message (with its log's tail) is the FailureReason."""


@dataclass(frozen=True)
class RunningServer:
    pid: ProcessId
    port: int


def reap() -> None:
    for child in list(_children):
        if child.poll() is not None:
            _children.remove(child)


@dataclass(frozen=True)
class ServerPython:
    """The interpreter a server runs with, and the extra import path giving it the server's own packages."""

    interpreter: str
    path: tuple[str, ...] = ()


# The model server's own third-party packages (its HTTP parser, its config parsing), which an image
# environment does not carry; uvloop is optional (a faster event loop), pyarrow optional (a faster CSV reader).
SERVER_PACKAGES = ("pydantic", "pydantic_core", "annotated_types", "typing_extensions", "typing_inspection",
                   "httptools", "uvloop")


def choose_interpreter(images: list[str], home: Path, say: Callable[[str], None], log_path: Path,
                       overlay: Path) -> ServerPython:
    """The Python the server runs in: the first image's environment (built on first use), as a transform job's
    container does, so the model loads with the library versions it was trained with; smflow's own when image
    environments are off or the image is not one smflow knows. The server's own packages that the image lacks are
    linked into `overlay` (same Python version only) and put on its path, after the image's own packages."""
    from smflow.local_sagemaker.images.build import ensure_environment
    from smflow.local_sagemaker.images.job import environments_enabled
    from smflow.local_sagemaker.images.plan import plan_for_image, unknown_image_notice

    own = ServerPython(sys.executable)
    if not environments_enabled():
        say(f"SMFLOW_IMAGE_ENVIRONMENTS=off: the server runs in smflow's own Python environment ({sys.executable})")
        return own
    if not images:
        say(f"the model names no image; the server runs in smflow's own Python environment ({sys.executable})")
        return own
    plan = plan_for_image(images[0])
    if plan is None:
        say(unknown_image_notice(images[0]))
        return own
    if len(set(images)) > 1:
        say(f"the model's {len(images)} containers run in one server here, in the environment of the first "
            f"({plan.ref.short}); on SageMaker each runs in its own image")
    with log_path.open("a", encoding="utf-8") as output:
        ready = ensure_environment(plan, settings.environments_root(home), say=say, output=output,
                                   should_stop=lambda: None)
    interpreter = str(ready.interpreter)
    say(f"image {plan.ref.short}: environment {plan.key} ({'built' if ready.built_now else 'reused'})")
    chosen = ServerPython(interpreter, _overlay(interpreter, overlay))
    if not _runs_server(chosen):
        say(f"the model server's own packages do not import in {plan.key}; the server runs in smflow's own "
            f"Python environment ({sys.executable}) instead, where the model's pickled objects may not load")
        return own
    return chosen


def _missing_packages(interpreter: str) -> list[str]:
    probe = ("import importlib.util, json, sys; print(json.dumps([n for n in sys.argv[1:] "
             "if importlib.util.find_spec(n) is None]))")
    done = subprocess.run([interpreter, "-I", "-c", probe, *SERVER_PACKAGES], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        return []
    missing: list[str] = json.loads(done.stdout)
    return missing


def _same_python(interpreter: str) -> bool:
    done = subprocess.run([interpreter, "-I", "-c", "import sys; print(sys.implementation.cache_tag)"],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    return done.returncode == 0 and done.stdout.strip() == sys.implementation.cache_tag


def _overlay(interpreter: str, overlay: Path) -> tuple[str, ...]:
    """Link smflow's copies of the server packages the image environment lacks into `overlay` (compiled ones
    only load on the same Python, hence the check); the directory goes on the server's path."""
    import importlib.util

    missing = _missing_packages(interpreter)
    if not missing or not _same_python(interpreter):
        return ()
    overlay.mkdir(parents=True, exist_ok=True)
    for name in missing:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            continue  # optional here too (uvloop)
        source = Path(spec.origin)
        source = source.parent if source.name == "__init__.py" else source
        target = overlay / source.name
        if not target.exists():
            target.symlink_to(source, target_is_directory=source.is_dir())
    return (str(overlay),)


def _server_env(python: ServerPython) -> dict[str, str]:
    """The server's environment: smflow's package root, then the overlay; the image's own site-packages stay
    ahead of the overlay because the overlay only holds packages the image lacks."""
    package_parent = str(Path(__file__).resolve().parents[3])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_parent, *python.path, env.get("PYTHONPATH", "")) if p)
    return env


def _runs_server(python: ServerPython) -> bool:
    """Can the interpreter import the model server (its HTTP stack and config parsing) with that path?"""
    done = subprocess.run([python.interpreter, "-c", f"import {SERVER_MODULE}"], env=_server_env(python),
                          stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
    return done.returncode == 0


def start_server(python: ServerPython, config_file: Path, ready_file: Path,
                 log_file: Path) -> subprocess.Popen[bytes]:
    """Launch the server detached (its own session, its own process group), its output to `log_file`."""
    ready_file.unlink(missing_ok=True)
    reap()
    with log_file.open("ab") as log:
        process = subprocess.Popen(
            [python.interpreter, "-m", SERVER_MODULE, "--config", str(config_file)], cwd=config_file.parent,
            env=_server_env(python), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, close_fds=True)
    _children.append(process)
    return process


def wait_ready(process: subprocess.Popen[bytes], ready_file: Path, log_file: Path,
               timeout: float = HEALTHY_WITHIN_SECONDS) -> RunningServer:
    """Wait for the ready file and a healthy /ping; ServerStartError (with the log's tail) if it never comes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerStartError(f"the model server exited with code {process.returncode} before it was "
                                   f"ready: {log_tail(log_file)}")
        port = _ready_port(ready_file)
        if port is not None and ping(port):
            return RunningServer(ProcessId.of(process.pid), port)
        time.sleep(0.05)
    stop_process(ProcessId.of(process.pid), grace=2.0)
    raise ServerStartError(f"the model server did not pass /ping within {timeout:.0f} s (SageMaker's limit for "
                           f"health checks): {log_tail(log_file)}")


def _ready_port(ready_file: Path) -> int | None:
    try:
        value = json.loads(ready_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    port = value.get("port") if isinstance(value, dict) else None
    return port if isinstance(port, int) and port > 0 else None


def ping(port: int, timeout: float = PING_TIMEOUT_SECONDS) -> bool:
    """SageMaker's health check: GET /ping answers 200."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", "/ping")
        response = connection.getresponse()
        response.read()
        return response.status == 200
    except OSError:
        return False
    finally:
        connection.close()


def stop_process(pid: ProcessId | None, grace: float = STOP_GRACE_SECONDS) -> None:
    """SIGTERM to the server's process group, SIGKILL after `grace` seconds if it is still there."""
    if pid is None or not pid.alive():
        return
    try:
        os.killpg(pid.pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        reap()
        if not pid.alive():
            return
        time.sleep(0.05)
    try:
        os.killpg(pid.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    reap()


def log_tail(log_file: Path, limit: int = 600) -> str:
    try:
        text = log_file.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return "(no server log)"
    return ("..." + text[-limit:]) if len(text) > limit else (text or "(the server log is empty)")
