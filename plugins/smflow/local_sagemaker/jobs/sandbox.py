"""Where a local job's container command runs: a private `/opt/ml` per job, and a supervised process.

SageMaker scripts hard-code `/opt/ml/...` paths, and two jobs must never see each other's files, so each
job gets the host directory `<jobdir>/opt_ml` mounted at `/opt/ml` in its own mount namespace. Three ways,
best first (`$SMFLOW_SANDBOX=bwrap|unshare|paths` forces one):

- `bwrap`: bubblewrap binds `/` to itself, adds a fresh `/dev` and `/proc`, and binds the job's `opt_ml`
  over `/opt/ml`; `--die-with-parent` ends the job if its runner dies. Extra host paths (the object store,
  for FastFile channels) can be bound read-only.
- `unshare`: `unshare --mount` plus `mount --bind` (needs root or user namespaces); read-only binds are
  not applied.
- `paths`: no namespace at all. `/opt/ml` inside command arguments and environment values is rewritten to
  the job's `opt_ml` directory, and SM_* variables point there, but a script that opens a hard-coded
  `/opt/ml/...` path will not find its files — the job log says so.

Bubblewrap creates an empty `/opt/ml` on the host as its mount point; nothing is ever written into it.

The container process gets its own process group; a stop sends SIGTERM to the group (all but bubblewrap's
own monitor process, which would otherwise die at once and kill the job), then SIGKILL after a grace period
(SageMaker waits 120 s; here `$SMFLOW_STOP_GRACE_SECONDS`, default 30). Its stdout and stderr are appended
line by line to the job log, and MetricDefinitions regexes are applied to every line.
"""

from __future__ import annotations

import collections
import ctypes
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import IO

from smflow import settings
from smflow.errors import SmflowError
from smflow.local_sagemaker.jobs.processes import proc_stat_fields
from smflow.local_sagemaker.timestamps import now_iso

CONTAINER_ROOT = "/opt/ml"
MODES = ("bwrap", "unshare", "paths")
STDERR_TAIL_LINES = 20
STDERR_INDEX = "log.stderr-offsets"  # beside the job log: byte offsets of the lines the script wrote to stderr
_PR_SET_PDEATHSIG = 1


class SandboxError(SmflowError, RuntimeError):
    pass


def grace_seconds() -> float:
    raw = settings.get("stop_grace_seconds")
    try:
        return max(0.0, float(raw))
    except ValueError as e:
        raise SandboxError(f"SMFLOW_STOP_GRACE_SECONDS={raw!r} is not a number of seconds") from e


def choose_mode() -> str:
    """`$SMFLOW_SANDBOX` if set, else the best mode that actually works on this machine."""
    forced = settings.get("sandbox")
    if forced:
        if forced not in MODES:
            raise SandboxError(f"SMFLOW_SANDBOX={forced!r} is not a sandbox mode; use one of {', '.join(MODES)}")
        return forced
    return _detected_mode()


@lru_cache(maxsize=1)
def _detected_mode() -> str:
    if not sys.platform.startswith("linux"):
        return "paths"
    if shutil.which("bwrap") and _probe_bwrap():
        return "bwrap"
    if shutil.which("unshare") and _probe(["unshare", "--mount", "--propagation", "private", "true"]):
        return "unshare"
    return "paths"


def _probe(command: list[str]) -> bool:
    try:
        return subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, timeout=10).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def _probe_bwrap() -> bool:
    """bwrap may be installed yet unusable (no user namespaces in this container): try the real mounts."""
    with tempfile.TemporaryDirectory(prefix="smflow-bwrap-probe-") as tmp:
        return _probe(["bwrap", *_bwrap_mounts(Path(tmp), ()), "--", "true"])


def _bwrap_mounts(opt_ml: Path, readonly: Sequence[Path]) -> list[str]:
    args = ["--bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    for path in readonly:
        args += ["--ro-bind", str(path), str(path)]
    return [*args, "--bind", str(opt_ml), CONTAINER_ROOT, "--die-with-parent"]


@dataclass(frozen=True)
class Sandbox:
    """How one job's container sees `/opt/ml`; `opt_ml` is the host directory standing in for it."""

    mode: str
    opt_ml: Path
    readonly: tuple[Path, ...] = ()

    @property
    def isolated(self) -> bool:
        return self.mode != "paths"

    def host_path(self, container_path: str) -> Path:
        """The host file behind a `/opt/ml/...` path (what the runner stages into and uploads from)."""
        relative = _relative_to_root(container_path)
        if relative is None:
            raise SandboxError(f"{container_path!r} is not under {CONTAINER_ROOT}/")
        host = self.opt_ml / relative if relative else self.opt_ml
        # The job's code can replace folders with symbolic links; a path that leads out of its /opt/ml is
        # refused, so staging and uploads never read or write another place on the host.
        if not host.resolve().is_relative_to(self.opt_ml.resolve()):
            raise SandboxError(f"{container_path!r} leads outside the job's {CONTAINER_ROOT} (through a symbolic "
                               "link); outputs are read from real folders only")
        return host

    def visible_path(self, container_path: str) -> str:
        """The path the job's own code should use for a `/opt/ml/...` path."""
        return container_path if self.isolated else str(self.host_path(container_path))

    def rewrite(self, value: str) -> str:
        """In `paths` mode, point `/opt/ml` references in arguments and env values at the job's directory."""
        if self.isolated:
            return value
        return re.sub(r"(?<![\w./-])/opt/ml(?=/|$|[\s:;,='\"])", str(self.opt_ml), value)

    def notice(self) -> str:
        if self.mode == "bwrap":
            return f"sandbox: bubblewrap, private /opt/ml = {self.opt_ml}"
        if self.mode == "unshare":
            return f"sandbox: unshare mount namespace, private /opt/ml = {self.opt_ml}"
        return (f"sandbox: none (no usable bwrap or unshare); /opt/ml paths in arguments, environment and SM_* "
                f"variables are mapped to {self.opt_ml}, but a script that opens a hard-coded /opt/ml/... path "
                "will not find its files — install bubblewrap to run such scripts unchanged")

    def wrap(self, command: Sequence[str], cwd: str) -> tuple[list[str], str]:
        """The host command line and host working directory that run `command` in `cwd` inside the sandbox."""
        if self.mode == "bwrap":
            return ["bwrap", *_bwrap_mounts(self.opt_ml, self.readonly), "--chdir", cwd, "--", *command], "/"
        if self.mode == "unshare":
            script = 'mkdir -p "$1" && mount --bind "$2" "$1" && cd "$3" && shift 3 && exec "$@"'
            return (["unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c", script,
                     "smflow-sandbox", CONTAINER_ROOT, str(self.opt_ml), cwd, *command], "/")
        return [self.rewrite(arg) for arg in command], self.rewrite(cwd)


def _relative_to_root(path: str) -> str | None:
    normalised = os.path.normpath(path)
    if normalised == CONTAINER_ROOT:
        return ""
    if normalised.startswith(CONTAINER_ROOT + "/"):
        return normalised[len(CONTAINER_ROOT) + 1:]
    return None


# ---- running the container process ---------------------------------------------------------------


@dataclass(frozen=True)
class MetricDefinition:
    name: str
    pattern: re.Pattern[str]


@dataclass
class ContainerResult:
    """How the container ended. `exit_code` is negative for a signal; `stopped` names why we stopped it."""

    exit_code: int
    stopped: str | None
    stderr_tail: list[str]
    metrics: dict[str, tuple[float, str]] = field(default_factory=dict)  # name → (last value, ISO time)

    def describe_exit(self) -> str:
        if self.exit_code < 0:
            try:
                return f"killed by signal {signal.Signals(-self.exit_code).name}"
            except ValueError:
                return f"killed by signal {-self.exit_code}"
        if 128 < self.exit_code < 128 + 65:  # a shell or bubblewrap reports a signal death as 128 + signal
            try:
                return f"exit code {self.exit_code} (128 + {signal.Signals(self.exit_code - 128).name})"
            except ValueError:
                pass
        return f"exit code {self.exit_code}"


def compile_metrics(definitions: Sequence[Mapping[str, str]]) -> list[MetricDefinition]:
    compiled = []
    for i, definition in enumerate(definitions):
        try:
            compiled.append(MetricDefinition(definition["Name"], re.compile(definition["Regex"])))
        except re.error as e:
            raise SandboxError(f"AlgorithmSpecification.MetricDefinitions[{i}] ({definition['Name']!r}): "
                               f"Regex {definition['Regex']!r} does not compile: {e}") from e
    return compiled


class _LogPump:
    """Copies the container's output into the job log and watches it for metrics; one per run."""

    def __init__(self, log: IO[str], metrics: Sequence[MetricDefinition]):
        self.log = log
        self.metrics = metrics
        self.lock = threading.Lock()
        # The log merges stdout and stderr as CloudWatch does; the byte offsets where stderr lines start go to
        # a sidecar index so readers can still tell them apart (Airflow logs them at WARNING).
        name = getattr(log, "name", None)
        self.stderr_index: IO[str] | None = None
        if isinstance(name, str) and os.path.isabs(name):
            try:
                self.stderr_index = open(Path(name).with_name(STDERR_INDEX), "a", encoding="ascii")  # noqa: SIM115
            except OSError:
                self.stderr_index = None  # only the log levels suffer
        self.values: dict[str, tuple[float, str]] = {}
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)

    def pump(self, stream: IO[bytes], is_stderr: bool) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", errors="replace")
            text = line.rstrip("\r\n")
            with self.lock:
                if is_stderr and self.stderr_index is not None:
                    self.log.flush()
                    self.stderr_index.write(f"{os.fstat(self.log.fileno()).st_size}\n")
                    self.stderr_index.flush()
                self.log.write(line if line.endswith("\n") else line + "\n")
                self.log.flush()
                if is_stderr:
                    self.stderr_tail.append(text)
            self._scan(text)
        stream.close()

    def _scan(self, text: str) -> None:
        for metric in self.metrics:
            match = metric.pattern.search(text)
            if match is None:
                continue
            raw = match.group(1) if match.re.groups else match.group(0)
            try:
                value = float(raw)
            except (TypeError, ValueError):
                continue
            with self.lock:
                self.values[metric.name] = (value, now_iso())


def _set_parent_death_signal() -> None:
    """Runs in the child before exec: die with the runner, so a killed runner never leaves a job behind."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def run_container(
    sandbox: Sandbox,
    command: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: str,
    log: IO[str],
    metrics: Sequence[MetricDefinition] = (),
    deadline: float | None = None,
    deadline_reason: str = "",
    stop_reason: Callable[[], str | None] = lambda: None,
    on_start: Callable[[int], None] = lambda _pid: None,
    grace: float | None = None,
) -> ContainerResult:
    """Run the command to its end, or stop it when `stop_reason()` says so or `deadline` (monotonic) passes."""
    argv, host_cwd = sandbox.wrap(command, cwd)
    pump = _LogPump(log, metrics)
    linux = sys.platform.startswith("linux")
    try:
        process = subprocess.Popen(
            argv, cwd=host_cwd, env=dict(env), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, start_new_session=True,
            preexec_fn=_set_parent_death_signal if linux and sandbox.mode != "bwrap" else None,
        )
    except OSError as e:
        raise SandboxError(f"could not start {argv[0]!r}: {e}") from e
    on_start(process.pid)
    assert process.stdout is not None and process.stderr is not None
    threads = [threading.Thread(target=pump.pump, args=(process.stdout, False), daemon=True),
               threading.Thread(target=pump.pump, args=(process.stderr, True), daemon=True)]
    for thread in threads:
        thread.start()
    stopped = _supervise(process, deadline, deadline_reason, stop_reason,
                         grace_seconds() if grace is None else grace, spare_leader=sandbox.mode == "bwrap")
    _kill_group(process.pid, signal.SIGKILL)  # leftovers of the container, as when a container exits
    for thread in threads:
        thread.join(timeout=5)
    return ContainerResult(process.returncode, stopped, list(pump.stderr_tail), dict(pump.values))


def _supervise(process: subprocess.Popen[bytes], deadline: float | None, deadline_reason: str,
               stop_reason: Callable[[], str | None], grace: float, *, spare_leader: bool) -> str | None:
    while True:
        try:
            process.wait(timeout=0.05)
            return None
        except subprocess.TimeoutExpired:
            pass
        reason = stop_reason()
        if reason is None and deadline is not None and time.monotonic() >= deadline:
            reason = deadline_reason or "deadline passed"
        if reason is not None:
            terminate_group(process, grace, spare_leader=spare_leader)
            return reason


def terminate_group(process: subprocess.Popen[bytes], grace: float, *, spare_leader: bool = False) -> None:
    """SIGTERM to the container's process group, SIGKILL after `grace` seconds, as SageMaker stops jobs.

    With `spare_leader` the SIGTERM skips the group leader: bubblewrap would die of it at once and take the
    job down with SIGKILL (--die-with-parent), robbing it of the grace period to save its model.
    """
    members = _group_members(process.pid) if spare_leader else []
    targets = [pid for pid in members if pid != process.pid]
    if targets:
        for pid in targets:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    else:
        _kill_group(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        _kill_group(process.pid, signal.SIGKILL)
        process.wait()


def _group_members(pgid: int) -> list[int]:
    """Pids in process group `pgid`, from /proc (empty where there is no procfs)."""
    members = []
    for entry in Path("/proc").iterdir() if Path("/proc/self/stat").exists() else []:
        if not entry.name.isdigit():
            continue
        fields = proc_stat_fields(entry.name)
        if fields is not None and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def _kill_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass
