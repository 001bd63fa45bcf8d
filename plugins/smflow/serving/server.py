"""The model server process: `python -m smflow.serving.server --config CONFIG.json`.

It listens first (SageMaker wants connections accepted within 250 ms of start), writes `{"port", "pid"}` to
the configuration's `ready_file` atomically, then loads the model on a worker thread: `/ping` answers 503
while it loads and 200 once it has. A model that fails to load is reported on stderr and the process exits 1,
so a supervisor sees the reason. SIGTERM or SIGINT stop it gracefully: no new connections, idle keep-alive
connections close, in-flight requests finish (within `shutdown_grace_seconds`), then exit 0.

`serve(config)` does the same in the calling thread; `start_in_thread(config)` runs a server on a background
thread for tests and tools, and `BackgroundServer.stop()` shuts it down the same graceful way.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from smflow.atomic_files import write_text_atomic
from smflow.errors import SmflowError
from smflow.serving.app import ModelServerApp, log_to_stderr
from smflow.serving.config import ServerConfig, ServerConfigError, check_paths, load_config
from smflow.serving.dispatch import Dispatcher
from smflow.serving.http_protocol import ConnectionLimits, ConnectionTracker, HttpConnection

WORKERS_ENV = "SAGEMAKER_MODEL_SERVER_WORKERS"
TIMEOUT_ENV = "SAGEMAKER_MODEL_SERVER_TIMEOUT"
EXIT_LOAD_FAILED = 1


class ModelLoadError(SmflowError, RuntimeError):
    """The server listened but its model did not load; the message is the handler's reason."""


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    """uvloop when installed (a faster loop for many small requests), else asyncio's own."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
        return asyncio.new_event_loop
    return uvloop.new_event_loop


def _number(environment: dict[str, str], name: str, default: float) -> float:
    value = environment.get(name) or os.environ.get(name)
    if not value:
        return default
    try:
        number = float(value)
    except ValueError:
        raise ServerConfigError(f"{name}={value!r} must be a number") from None
    if number <= 0:
        raise ServerConfigError(f"{name}={value!r} must be positive")
    return number


def worker_count(config: ServerConfig) -> int:
    """`workers`, else SAGEMAKER_MODEL_SERVER_WORKERS, else SageMaker's default of one process per CPU.

    The scikit-learn and XGBoost framework containers (sagemaker-containers) default model_server_workers to
    the instance's CPU count, and the inference toolkit's model server starts one worker per CPU:
    https://github.com/aws/sagemaker-containers (`_env.py`, `ServingEnv.model_server_workers`). A multi-model
    server stays one process unless told otherwise, so its LRU's count and memory bounds are the endpoint's."""
    if config.workers is not None or config.reuse_port:
        return config.workers or 1
    default = 1 if config.mode == "MultiModel" else cpu_count()
    return int(_number(config.containers[0].environment, WORKERS_ENV, float(default)))


def cpu_count() -> int:
    """The CPUs this process may run on (its affinity, as a container's cgroup-limited view), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # no sched_getaffinity (macOS)
        return os.cpu_count() or 1


SUPERVISOR_POLL_SECONDS = 1.0
LOAD_POLL_SECONDS = 0.05


class StoppedWhileLoading(SmflowError):
    """A worker told to stop before its model had loaded (it never listened)."""


async def _exit_with_supervisor(supervisor: int, stop: asyncio.Event) -> None:
    """A worker whose supervisor is gone (killed without forwarding a signal) stops too, never serving on as
    an orphan nobody can reach to stop; its parent then becomes another process (`getppid` changes)."""
    while not stop.is_set():
        if os.getppid() != supervisor:
            print(f"model server: supervisor pid {supervisor} is gone; stopping", file=sys.stderr, flush=True)
            stop.set()
            return
        await asyncio.sleep(SUPERVISOR_POLL_SECONDS)


class ModelServer:
    """One listening socket, its connections, the app and its worker threads, on the running event loop."""

    def __init__(self, config: ServerConfig, log: Callable[[str], None] | None = None):
        self.config = config
        environment = config.containers[0].environment
        timeout = _number(environment, TIMEOUT_ENV, config.request_timeout_seconds)
        self.dispatcher = Dispatcher(workers=config.threads, timeout=timeout,
                                     inline_budget=config.inline_budget_seconds,
                                     inline_max_connections=config.inline_max_connections)
        self.scratch = Path(tempfile.mkdtemp(prefix="smflow-serve-"))
        self.app = ModelServerApp(config, self.dispatcher, self.scratch, log or log_to_stderr)
        self.tracker: ConnectionTracker | None = None
        self.port = 0
        self._server: asyncio.base_events.Server | None = None

    async def start(self, stop: asyncio.Event | None = None) -> int:
        """Listen, announce the port, start loading; returns the port.

        A worker of a multi-worker server (`reuse_port`) loads first and listens after: the kernel hands each new
        connection to any listening worker, and one still loading would answer it 503 while another is ready;
        its supervisor announces the server once every worker listens, hence serves."""
        loop = asyncio.get_running_loop()
        if self.config.reuse_port:
            # A daemon thread, polled: a stop (SIGTERM, or the supervisor gone) while a large model loads ends
            # the worker now, not once loading is done (an executor thread would hold the exit until then).
            threading.Thread(target=self.app.load, name="smflow-model-load", daemon=True).start()
            while not self.app.loaded.is_set():
                if stop is not None and stop.is_set():
                    raise StoppedWhileLoading
                await asyncio.sleep(LOAD_POLL_SECONDS)
            if self.app.load_error is not None:
                raise ModelLoadError(f"the model did not load: {self.app.load_error}")
        self.tracker = tracker = ConnectionTracker()
        self.dispatcher.connections = lambda: len(tracker.connections)
        limits = ConnectionLimits(self.config.max_payload_bytes, self.config.read_timeout_seconds,
                                  self.config.keep_alive_seconds)
        app = self.app
        self._server = await loop.create_server(lambda: HttpConnection(app.handle, limits, tracker),
                                                self.config.host, self.config.port, backlog=1024,
                                                reuse_port=self.config.reuse_port or None)
        self.port = self._server.sockets[0].getsockname()[1]
        if self.config.ready_file is not None:
            write_text_atomic(self.config.ready_file, json.dumps({"port": self.port, "pid": os.getpid()}))
        if not app.loaded.is_set():
            threading.Thread(target=app.load, name="smflow-model-load", daemon=True).start()
        return self.port

    async def wait_loaded(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.app.loaded.wait)
        if self.app.load_error is not None:
            raise ModelLoadError(f"the model did not load: {self.app.load_error}")

    async def shutdown(self) -> bool:
        """Stop accepting, let in-flight requests finish within the grace period; True if all did."""
        finished = True
        if self._server is not None:
            self._server.close()
        if self.tracker is not None:
            self.tracker.drain()
            finished = await self.tracker.wait_closed(self.config.shutdown_grace_seconds)
            if not finished:
                self.tracker.abort_all()
        self.dispatcher.shutdown()
        if self.app.cache is not None:
            self.app.cache.clear()
        shutil.rmtree(self.scratch, ignore_errors=True)
        return finished


async def _serve(config: ServerConfig, stop: asyncio.Event, on_listening: Callable[[ModelServer], None]) -> int:
    server = ModelServer(config)
    try:
        await server.start(stop)
    except OSError as e:
        server.dispatcher.shutdown()
        shutil.rmtree(server.scratch, ignore_errors=True)
        raise ServerConfigError(f"cannot listen on {config.host}:{config.port}: {e.strerror or e}") from None
    except (ModelLoadError, StoppedWhileLoading) as e:  # a worker, which loads before it listens
        stopped = isinstance(e, StoppedWhileLoading)
        print(f"model server: {'stopped while the model loaded' if stopped else e}", file=sys.stderr, flush=True)
        server.dispatcher.shutdown()
        shutil.rmtree(server.scratch, ignore_errors=True)
        return 0 if stopped else EXIT_LOAD_FAILED
    on_listening(server)
    waiting = asyncio.ensure_future(server.wait_loaded())
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait({waiting, stopping}, return_when=asyncio.FIRST_COMPLETED)
    code = 0
    if waiting.done() and waiting.exception() is not None:
        print(f"model server: {waiting.exception()}", file=sys.stderr, flush=True)
        code = EXIT_LOAD_FAILED
    else:
        if waiting.done():
            print(f"model server: ready, POST http://{config.host}:{server.port}/invocations", file=sys.stderr,
                  flush=True)
        await stopping
    waiting.cancel()
    await server.shutdown()
    return code


def serve(config: ServerConfig, on_listening: Callable[[ModelServer], None] | None = None) -> int:
    """Serve in this thread until SIGTERM/SIGINT (exit code 0), or until the model fails to load (1).

    With several workers (`workers`, else the container's SAGEMAKER_MODEL_SERVER_WORKERS) this process
    supervises that many server processes on the same port instead (`smflow.serving.workers`)."""
    check_paths(config)
    workers = worker_count(config)
    if workers > 1:
        from smflow.serving.workers import supervise

        return supervise(config, workers)

    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        watch = (asyncio.ensure_future(_exit_with_supervisor(config.supervisor_pid, stop))
                 if config.supervisor_pid is not None else None)

        def announce(server: ModelServer) -> None:
            print(f"model server: listening on http://{config.host}:{server.port} (pid {os.getpid()})",
                  file=sys.stderr, flush=True)
            if on_listening is not None:
                on_listening(server)

        try:
            return await _serve(config, stop, announce)
        finally:
            if watch is not None:
                watch.cancel()

    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        return runner.run(main())


class BackgroundServer:
    """A server on its own thread and event loop (tests, benchmarks); `stop()` shuts it down gracefully."""

    def __init__(self, config: ServerConfig):
        check_paths(config)
        self.config = config.model_copy(update={"freeze_heap": False})  # the host program's heap is not ours
        self.port = 0
        self.server: ModelServer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._listening = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="smflow-model-server", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.config.host}:{self.port}"

    def start(self, *, wait_loaded: bool = True, timeout: float = 60.0) -> BackgroundServer:
        self._thread.start()
        if not self._listening.wait(timeout):
            raise ModelLoadError(f"the model server did not start listening within {timeout:g} s")
        if self._error is not None:
            raise self._error
        if wait_loaded:
            assert self.server is not None
            if not self.server.app.loaded.wait(timeout):
                raise ModelLoadError(f"the model did not load within {timeout:g} s")
            if self.server.app.load_error is not None:
                self.stop()
                raise ModelLoadError(f"the model did not load: {self.server.app.load_error}")
        return self

    def _run(self) -> None:
        loop = _loop_factory()()
        self._loop = loop
        asyncio.set_event_loop(loop)

        async def main() -> None:
            self._stop = asyncio.Event()
            server = ModelServer(self.config)
            self.server = server
            try:
                self.port = await server.start()
            except BaseException as e:
                self._error = e
                self._listening.set()
                return
            self._listening.set()
            await self._stop.wait()
            await server.shutdown()

        try:
            loop.run_until_complete(main())
        finally:
            loop.close()

    def stop(self, timeout: float = 30.0) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(stop.set)
            except RuntimeError:
                pass  # already closed
        self._thread.join(timeout)

    def __enter__(self) -> BackgroundServer:
        return self.start() if not self._thread.is_alive() and self.port == 0 else self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()


def start_in_thread(config: ServerConfig, *, wait_loaded: bool = True) -> BackgroundServer:
    """Start a server on a background thread (port 0 → a free port) and return it once it answers."""
    return BackgroundServer(config).start(wait_loaded=wait_loaded)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m smflow.serving.server",
                                     description="serve one SageMaker model (or pipeline, or multi-model root)")
    parser.add_argument("--config", required=True, type=Path, help="the server configuration JSON file")
    args = parser.parse_args(argv)
    try:
        return serve(load_config(args.config))
    except ServerConfigError as e:
        print(f"model server: {e}", file=sys.stderr, flush=True)
        return 2


if __name__ == "__main__":
    sys.exit(main())
