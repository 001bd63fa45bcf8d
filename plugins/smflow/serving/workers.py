"""Several model server processes on one port, as SageMaker's containers run `SAGEMAKER_MODEL_SERVER_WORKERS`.

A Python process runs one model call at a time (the GIL), so a CPU-bound model is served by one core per
process; the scikit-learn container starts one gunicorn worker per vCPU by default for that reason
(https://github.com/aws/sagemaker-scikit-learn-container, `SAGEMAKER_MODEL_SERVER_WORKERS`). Here the
supervisor reserves the port with a bound, not listening, SO_REUSEPORT socket, and starts each worker as
`python -m smflow.serving.server` with the same port and `reuse_port`: the kernel spreads new connections
over the workers' listening sockets. Each worker loads its own copy of the model, and listens only once it
has (a loading worker would otherwise take connections only to answer 503 while another is ready). Each
watches its parent: a supervisor killed outright (no signal to forward) leaves no orphan serving on the port.

The supervisor is the process a launcher sees: it writes the ready file (its own pid) once every worker
listens, forwards SIGTERM/SIGINT to the workers (each drains its requests in flight) and exits 0 when they
have; a worker that fails to load or dies stops the others, and the supervisor exits with its code.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType

from smflow.atomic_files import write_text_atomic
from smflow.serving.config import ServerConfig, ServerConfigError

POLL_SECONDS = 0.05


def reserve_port(host: str, port: int) -> socket.socket:
    """A bound, not listening, SO_REUSEPORT socket: holds the port for the workers, takes no connections."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    reserved = socket.socket(family, socket.SOCK_STREAM)
    reserved.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        reserved.bind((host, port))
    except OSError as e:
        reserved.close()
        raise ServerConfigError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    return reserved


def supervise(config: ServerConfig, workers: int) -> int:
    """Run `workers` server processes on one port until a signal (exit 0) or a worker's failure (its code)."""
    reserved = reserve_port(config.host, config.port)
    port = reserved.getsockname()[1]
    folder = Path(tempfile.mkdtemp(prefix="smflow-workers-"))
    stopping: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.append(signum)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    children: list[subprocess.Popen[bytes]] = []
    try:
        for index in range(workers):
            worker = config.model_copy(update={"port": port, "reuse_port": True, "workers": 1,
                                               "supervisor_pid": os.getpid(),
                                               "ready_file": folder / f"worker-{index}.ready.json"})
            path = folder / f"worker-{index}.json"
            path.write_text(worker.model_dump_json(), encoding="utf-8")
            children.append(subprocess.Popen([sys.executable, "-m", "smflow.serving.server", "--config", str(path)],
                                             stdin=subprocess.DEVNULL))
        code = _wait_listening(children, folder, stopping)
        if code is None:
            if config.ready_file is not None:
                write_text_atomic(config.ready_file, json.dumps({"port": port, "pid": os.getpid()}))
            print(f"model server: {workers} workers listening on http://{config.host}:{port} (pid {os.getpid()})",
                  file=sys.stderr, flush=True)
            code = _wait_stopped(children, stopping)
        return _stop_all(children, config.shutdown_grace_seconds + 5, code)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        reserved.close()
        shutil.rmtree(folder, ignore_errors=True)


def _wait_listening(children: list[subprocess.Popen[bytes]], folder: Path, stopping: list[int]) -> int | None:
    """None once every worker wrote its ready file; else the exit code to leave with."""
    while not stopping:
        for child in children:
            if child.poll() is not None:
                return child.returncode or 1
        if all((folder / f"worker-{i}.ready.json").exists() for i in range(len(children))):
            return None
        time.sleep(POLL_SECONDS)
    return 0


def _wait_stopped(children: list[subprocess.Popen[bytes]], stopping: list[int]) -> int:
    while not stopping:
        for child in children:
            if child.poll() is not None:  # a worker failed to load, or died: the server is not whole
                print(f"model server: worker pid {child.pid} exited with {child.returncode}; stopping the others",
                      file=sys.stderr, flush=True)
                return child.returncode or 1
        time.sleep(POLL_SECONDS)
    return 0


def _stop_all(children: list[subprocess.Popen[bytes]], grace: float, code: int) -> int:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for child in children:
        try:
            child.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    if code == 0 and any(child.returncode not in (0, -signal.SIGTERM) for child in children):
        return 1
    return code
