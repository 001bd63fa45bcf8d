"""A real Airflow 3 deployment on 127.0.0.1, started and stopped by the tests, and a REST client for it.

`AirflowDeployment` runs the four components a user runs — `airflow api-server`, `scheduler`, `dag-processor`
and `triggerer` — as subprocesses of their own process groups, against a temporary AIRFLOW_HOME (SQLite
metadata DB, LocalExecutor), a temporary SMFLOW_HOME and a temporary pipelines folder (SMFLOW_PIPELINES_DIR).
Every process it starts, and every process those start (task supervisors, local job runners, containers),
carries a marker in its environment, so teardown can find and end exactly those and nothing else.

`AirflowApi` talks to the public REST API (/api/v2) the way the UI does: it logs in with the simple auth
manager's login endpoint (POST /auth/token, user + password) and sends the JWT as a Bearer token.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from tests.conftest import REPO

T = TypeVar("T")
MARKER_ENV = "SMFLOW_REAL_AIRFLOW_DEPLOYMENT"
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
TERMINAL_TI_STATES = frozenset({"success", "failed", "skipped", "upstream_failed", "removed"})
TERMINAL_RUN_STATES = frozenset({"success", "failed"})


class Timeout(AssertionError):
    pass


def wait_until(predicate: Callable[[], T | None], *, timeout: float, what: str, interval: float = 0.5) -> T:
    """Poll `predicate` until it returns something truthy (returned), or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except (httpx.HTTPError, OSError, ValueError, KeyError) as e:  # a component still starting up
            last_error = e
        if time.monotonic() >= deadline:
            suffix = f" (last error: {type(last_error).__name__}: {last_error})" if last_error else ""
            raise Timeout(f"timed out after {timeout:.0f}s waiting for {what}{suffix}")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def listening(port: int) -> bool:
    """Is anything listening on `port` (TCP, IPv4 or IPv6)? Connections left in TIME_WAIT do not count."""
    return any(p == port for _, p in _tcp_listeners().values())


def _tcp_listeners() -> dict[int, tuple[str, int]]:
    """socket inode → (address, port) of every listening TCP socket on this machine."""
    found = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if fields[3] != "0A":  # TCP_LISTEN
                continue
            address, port = fields[1].rsplit(":", 1)
            if len(address) == 8:
                text = socket.inet_ntop(socket.AF_INET, bytes.fromhex(address)[::-1])
            else:
                raw = bytes.fromhex(address)
                text = socket.inet_ntop(socket.AF_INET6, b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4)))
            found[int(fields[9])] = (text, int(port, 16))
    return found


def listeners_of(pids: Iterable[int]) -> list[tuple[int, str, int]]:
    """(pid, address, port) of every TCP socket these processes listen on."""
    sockets = _tcp_listeners()
    found = []
    for pid in pids:
        try:
            links = [os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()]
        except OSError:
            continue
        for link in links:
            if link.startswith("socket:[") and int(link[8:-1]) in sockets:
                found.append((pid, *sockets[int(link[8:-1])]))
    return found


def _processes() -> dict[int, tuple[str, int, int, bytes]]:
    """pid → (state, parent pid, session id, environment block) of every process we may see."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        table[int(entry.name)] = (fields[0], int(fields[1]), int(fields[3]), environ)
    return table


def marked_pids(marker: str, sessions: Iterable[int] = ()) -> list[int]:
    """Every live process of ours: its environment carries our marker, it is in one of our components'
    sessions, or it descends from such a process. (Processes that set their title — the api-server's
    workers, say — overwrite the memory /proc/<pid>/environ shows, hence the session and parent links.)"""
    needle = f"{MARKER_ENV}={marker}".encode()
    table = {pid: row for pid, row in _processes().items() if row[0] != "Z" and pid != os.getpid()}
    sessions = set(sessions)
    ours = {pid for pid, (_, _, sid, environ) in table.items() if sid in sessions or needle in environ.split(b"\0")}
    grew = True
    while grew:
        more = {pid for pid, (_, ppid, _, _) in table.items() if ppid in ours} - ours
        ours |= more
        grew = bool(more)
    return sorted(ours)


@dataclass
class AirflowDeployment:
    root: Path
    port: int = field(default_factory=free_port)
    marker: str = field(default_factory=lambda: uuid.uuid4().hex)
    password: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    username = "admin"

    @property
    def airflow_home(self) -> Path:
        return self.root / "airflow"

    @property
    def smflow_home(self) -> Path:
        return self.root / "smflow-home"

    @property
    def dags_folder(self) -> Path:
        return self.root / "dags"

    @property
    def pipelines_dir(self) -> Path:
        return self.root / "pipelines"

    @property
    def logs_dir(self) -> Path:
        return self.root / "component-logs"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        """The environment every component runs with: our settings only, nothing inherited from AIRFLOW_*."""
        base = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW") and not k.startswith("SMFLOW_")}
        settings = {
            MARKER_ENV: self.marker,
            "AIRFLOW_HOME": str(self.airflow_home),
            "SMFLOW_HOME": str(self.smflow_home),
            "SMFLOW_PIPELINES_DIR": str(self.pipelines_dir),
            "PYTHONUNBUFFERED": "1",
            # metadata DB and executor: SQLite with the LocalExecutor works under a real scheduler in 3.3
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{self.airflow_home / 'airflow.db'}",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",  # as shipped: the user unpauses
            "AIRFLOW__CORE__FERNET_KEY": "",
            # the api-server, on loopback only; workers reach its execution API at the same address
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API__BASE_URL": self.base_url,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base_url}/execution/",
            # one secret for every component, or the workers' tokens are refused
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(64),
            "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(64),
            # simple auth manager with a known user and password, as a user logs into the UI
            "AIRFLOW__CORE__AUTH_MANAGER":
                "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{self.username}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.airflow_home / "passwords.json"),
            # fast parsing: new files within ~2 s, every file re-parsed every ~3 s, new DAG versions at once
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "2",
            "AIRFLOW__DAG_PROCESSOR__BUNDLE_REFRESH_CHECK_INTERVAL": "1",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "3",
            "AIRFLOW__DAG_PROCESSOR__PRINT_STATS_INTERVAL": "0",
            "AIRFLOW__CORE__MIN_SERIALIZED_DAG_UPDATE_INTERVAL": "1",
            # fast scheduling and fast notice of a task marked failed (worker heartbeat → 409 → SIGTERM)
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
            "AIRFLOW__SCHEDULER__JOB_HEARTBEAT_SEC": "2",
            "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
            "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "1",
            "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "2",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.airflow_home / "logs"),
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        }
        if os.environ.get("SMFLOW_ENVIRONMENTS_DIR"):
            # image environments: the test session's shared cache (tests/conftest.py), so a job's sklearn
            # environment is built once per machine, not once per deployment (builds are atomic and locked)
            settings["SMFLOW_ENVIRONMENTS_DIR"] = os.environ["SMFLOW_ENVIRONMENTS_DIR"]
        return {**base, **settings}

    # ---- life cycle ---------------------------------------------------------------------------------

    def prepare(self, pipelines: Iterable[Path]) -> None:
        for folder in (self.airflow_home, self.smflow_home, self.dags_folder, self.pipelines_dir, self.logs_dir):
            folder.mkdir(parents=True, exist_ok=True)
        for loader in sorted((REPO / "dags").glob("*.py")):
            shutil.copy2(loader, self.dags_folder / loader.name)
        for pipeline in pipelines:
            shutil.copytree(pipeline, self.pipelines_dir / pipeline.name)
        (self.airflow_home / "passwords.json").write_text(json.dumps({self.username: self.password}))
        started = time.monotonic()
        migrate = subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=self.env(), cwd=self.root,
                                 capture_output=True, text=True, timeout=180)
        self.timings["db migrate"] = time.monotonic() - started
        if migrate.returncode != 0:
            raise RuntimeError(f"airflow db migrate failed:\n{migrate.stdout[-3000:]}\n{migrate.stderr[-3000:]}")

    def start(self) -> None:
        commands = {
            "api-server": ["api-server", "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"],
            "scheduler": ["scheduler", "--skip-serve-logs"],  # the api-server reads task logs from local files
            "dag-processor": ["dag-processor"],
            "triggerer": ["triggerer", "--skip-serve-logs"],
        }
        env = self.env()
        for name, args in commands.items():
            with (self.logs_dir / f"{name}.log").open("ab") as log:
                self.processes[name] = subprocess.Popen(
                    [sys.executable, "-m", "airflow", *args], env=env, cwd=self.root, stdin=subprocess.DEVNULL,
                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_die_with_parent)

    def wait_healthy(self, timeout: float = 120) -> dict[str, Any]:
        started = time.monotonic()

        def healthy() -> dict[str, Any] | None:
            self.check_alive()
            response = httpx.get(f"{self.base_url}/api/v2/monitor/health", timeout=5)
            body: dict[str, Any] = response.json()
            parts = ("metadatabase", "scheduler", "triggerer", "dag_processor")
            return body if all((body.get(p) or {}).get("status") == "healthy" for p in parts) else None

        body = wait_until(healthy, timeout=timeout, what="every Airflow component to report healthy")
        self.timings["healthy"] = time.monotonic() - started
        return body

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"airflow {name} exited with {process.returncode}:\n{self.log_tail(name)}")

    def stop(self, grace: float = 20) -> tuple[list[str], list[str]]:
        """SIGTERM every component's process group, SIGKILL what is left after `grace`; then end any stray
        process of ours (a job runner in its own session, say).

        Returns (notes, leaks): what had to be forced, and what is still there afterwards (should be nothing).
        """
        problems: list[str] = []
        leaks: list[str] = []
        self.stop_local_jobs(problems)
        for process in self.processes.values():
            _signal_group(process.pid, signal.SIGTERM)
        signalled = time.monotonic()
        deadline = signalled + grace
        for name, process in self.processes.items():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
                self.timings[f"{name} exit"] = time.monotonic() - signalled
            except subprocess.TimeoutExpired:
                problems.append(f"airflow {name} ignored SIGTERM for {grace:.0f}s; killed")
                _signal_group(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
            _signal_group(process.pid, signal.SIGKILL)  # what the leader left behind in its group
        for attempt in range(50):
            strays = self.our_pids()
            if not strays:
                break
            if attempt == 0:
                problems.append(f"stray processes after the components stopped: {self.describe_pids(strays)}")
            for pid in strays:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.1)
        else:
            leaks.append(f"processes that survived SIGKILL: {self.describe_pids(self.our_pids())}")
        if listening(self.port):
            leaks.append(f"something still listens on 127.0.0.1:{self.port} after teardown")
        return problems, leaks

    @staticmethod
    def describe_pids(pids: list[int]) -> str:
        described = []
        for pid in pids:
            try:
                command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                command = "?"
            described.append(f"{pid} ({command.strip()[:120]})")
        return ", ".join(described)

    def stop_local_jobs(self, problems: list[str]) -> None:
        """End any local SageMaker job still running (they live in sessions of their own)."""
        for description in self.smflow_home.glob("jobs/*/*/description.json"):
            try:
                data = json.loads(description.read_text())
            except (OSError, ValueError):
                continue
            status = next((v for k, v in data.items() if k.endswith("JobStatus")), None)
            if status in ("InProgress", "Stopping"):
                problems.append(f"local job {description.parent.name} was still {status} at teardown")
                for pid_file in ("container.pid", "runner.pid"):
                    with contextlib.suppress(OSError, ValueError, IndexError):
                        pid = int((description.parent / pid_file).read_text().split()[0])
                        if pid in self.our_pids():
                            _signal_group(pid, signal.SIGKILL)

    def listeners(self) -> list[tuple[int, str, int]]:
        """(pid, address, port) of every socket our processes listen on."""
        return listeners_of(self.our_pids())

    def non_loopback_listeners(self) -> list[tuple[int, str, int]]:
        return [(pid, address, port) for pid, address, port in self.listeners()
                if address not in ("127.0.0.1", "::1")]

    def our_pids(self) -> list[int]:
        return marked_pids(self.marker, sessions=[p.pid for p in self.processes.values()])

    # ---- diagnostics --------------------------------------------------------------------------------

    def log_tail(self, name: str, lines: int = 60) -> str:
        path = self.logs_dir / f"{name}.log"
        try:
            text = path.read_text(errors="replace").splitlines()
        except OSError:
            return f"(no log at {path})"
        return "\n".join(text[-lines:])

    def diagnostics(self, lines: int = 60) -> str:
        parts = [f"==== airflow {name} ({self.logs_dir / (name + '.log')}), last {lines} lines ====\n"
                 f"{self.log_tail(name, lines)}" for name in COMPONENTS]
        return "\n\n".join(parts)


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the test process dies, even by SIGKILL (Linux prctl)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


# ---- the REST client ------------------------------------------------------------------------------------


class AirflowApi:
    """The calls the UI makes, through the public REST API, authenticated as the UI's login form is."""

    def __init__(self, deployment: AirflowDeployment):
        self.deployment = deployment
        self.http = httpx.Client(base_url=deployment.base_url, timeout=30)
        self.token = self.login()
        self.http.headers["Authorization"] = f"Bearer {self.token}"

    def close(self) -> None:
        self.http.close()

    def login(self) -> str:
        response = self.http.post("/auth/token", json={"username": self.deployment.username,
                                                       "password": self.deployment.password})
        assert response.status_code == 201, response.text
        token: str = response.json()["access_token"]
        return token

    def _json(self, response: httpx.Response, *expected: int) -> Any:
        if response.status_code not in (expected or (200,)):
            raise ApiError(response)
        return response.json() if response.content else None

    def get(self, path: str, **params: Any) -> Any:
        return self._json(self.http.get(path, params=params))

    # DAGs and parsing
    def dags(self, **params: Any) -> dict[str, dict[str, Any]]:
        body = self.get("/api/v2/dags", limit=100, **params)
        return {d["dag_id"]: d for d in body["dags"]}

    def dag(self, dag_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.get(f"/api/v2/dags/{q(dag_id)}")
        return result

    def dag_details(self, dag_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.get(f"/api/v2/dags/{q(dag_id)}/details")
        return result

    def tasks(self, dag_id: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.get(f"/api/v2/dags/{q(dag_id)}/tasks")["tasks"]
        return result

    def dag_versions(self, dag_id: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.get(f"/api/v2/dags/{q(dag_id)}/dagVersions",
                                               order_by="-version_number")["dag_versions"]
        return result

    def import_errors(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.get("/api/v2/importErrors", limit=100)["import_errors"]
        return result

    def unpause(self, dag_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._json(self.http.patch(f"/api/v2/dags/{q(dag_id)}", json={"is_paused": False},
                                                            params={"update_mask": "is_paused"}))
        return result

    # runs
    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None, logical_date: datetime | None = None,
                note: str | None = None) -> dict[str, Any]:
        """What the Trigger form posts: a logical date (now, as the form defaults) and a conf."""
        body: dict[str, Any] = {"logical_date": (logical_date or datetime.now(UTC)).isoformat(),
                                "conf": conf or {}}
        if note:
            body["note"] = note
        result: dict[str, Any] = self._json(self.http.post(f"/api/v2/dags/{q(dag_id)}/dagRuns", json=body), 200)
        return result

    def run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.get(f"/api/v2/dags/{q(dag_id)}/dagRuns/{q(run_id)}")
        return result

    def task_instances(self, dag_id: str, run_id: str) -> dict[str, dict[str, Any]]:
        body = self.get(f"/api/v2/dags/{q(dag_id)}/dagRuns/{q(run_id)}/taskInstances", limit=100)
        return {ti["task_id"]: ti for ti in body["task_instances"]}

    def task_instance(self, dag_id: str, run_id: str, task_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.get(f"/api/v2/dags/{q(dag_id)}/dagRuns/{q(run_id)}/taskInstances/{q(task_id)}")
        return result

    def ti_states(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        return {task_id: ti["state"] for task_id, ti in self.task_instances(dag_id, run_id).items()}

    def clear(self, dag_id: str, run_id: str, task_ids: list[str], *, include_downstream: bool = True,
              run_on_latest_version: bool | None = True) -> list[dict[str, Any]]:
        """The Clear dialog of a task instance, confirmed (not a dry run; succeeded tasks too)."""
        body = {"dry_run": False, "dag_run_id": run_id, "task_ids": task_ids, "only_failed": False,
                "include_upstream": False, "include_downstream": include_downstream, "include_future": False,
                "include_past": False, "run_on_latest_version": run_on_latest_version}
        result = self._json(self.http.post(f"/api/v2/dags/{q(dag_id)}/clearTaskInstances", json=body))
        cleared: list[dict[str, Any]] = result["task_instances"]
        return cleared

    def set_state(self, dag_id: str, run_id: str, task_id: str, state: str) -> Any:
        """Mark success / Mark failed on one task instance."""
        return self._json(self.http.patch(
            f"/api/v2/dags/{q(dag_id)}/dagRuns/{q(run_id)}/taskInstances/{q(task_id)}", json={"new_state": state}))

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        body = self.get(f"/api/v2/dags/{q(dag_id)}/dagRuns/{q(run_id)}/taskInstances/{q(task_id)}"
                        f"/xcomEntries/{q(key)}", deserialize=True)
        value = body["value"]
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                return json.loads(value)
        return value

    def log(self, dag_id: str, run_id: str, task_id: str, try_number: int) -> str:
        """A try's task log as text, one line per record (`event` plus any extra fields)."""
        response = self.http.get(
            f"/api/v2/dags/{q(dag_id)}/dagRuns/{q(run_id)}/taskInstances/{q(task_id)}/logs/{try_number}",
            params={"full_content": "true"}, headers={"Accept": "application/json"})
        content = self._json(response).get("content", [])
        if isinstance(content, str):
            return content
        lines = []
        for record in content:
            if isinstance(record, dict):
                lines.append(" ".join(str(record.get(k, "")) for k in ("timestamp", "level", "event")
                                      if record.get(k) is not None))
            else:
                lines.append(str(record))
        return "\n".join(lines)

    # waits
    def wait_for_dag(self, dag_id: str, timeout: float = 90) -> dict[str, Any]:
        return wait_until(lambda: self.dags().get(dag_id), timeout=timeout, what=f"DAG {dag_id} to be listed")

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 180) -> dict[str, Any]:
        def ended() -> dict[str, Any] | None:
            self.deployment.check_alive()
            run = self.run(dag_id, run_id)
            return run if run["state"] in TERMINAL_RUN_STATES else None

        return wait_until(ended, timeout=timeout, what=f"run {run_id} of {dag_id} to end", interval=1)

    def wait_for_ti(self, dag_id: str, run_id: str, task_id: str, states: Iterable[str],
                    timeout: float = 120) -> dict[str, Any]:
        wanted = set(states)

        def reached() -> dict[str, Any] | None:
            self.deployment.check_alive()
            ti = self.task_instance(dag_id, run_id, task_id)
            return ti if ti["state"] in wanted else None

        return wait_until(reached, timeout=timeout, what=f"{task_id} in {run_id} to be {'/'.join(sorted(wanted))}")


class ApiError(AssertionError):
    def __init__(self, response: httpx.Response):
        super().__init__(f"{response.request.method} {response.request.url} → {response.status_code}: "
                         f"{response.text[:2000]}")
        self.response = response
        self.status_code = response.status_code


def q(part: str) -> str:
    return quote(part, safe="")
