"""Starting detached job runners and noticing the ones that died: the supervisor of local jobs.

A job whose runner died without recording an ending is marked Failed ("local job runner died (pid N)") —
or Stopped, if it was stopping — the first time anyone looks at it, from any process.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from smflow.local_sagemaker.jobs.records import ACTIVE_STATUSES, RUNNER_START_GRACE_SECONDS, JobDir
from smflow.local_sagemaker.timestamps import as_datetime

RUNNER_MODULE = "smflow.local_sagemaker.jobs.runner"


class Supervisor:
    def __init__(self, store_root: Path):
        self.store_root = store_root
        self._children: dict[Path, subprocess.Popen[bytes]] = {}

    def spawn(self, job: JobDir) -> None:
        """Start the runner in its own session, so the Create call returns at once and the job outlives us."""
        package_parent = str(Path(__file__).resolve().parents[3])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_parent, env.get("PYTHONPATH", "")) if p)
        with job.log_file.open("ab") as log:
            try:
                process = subprocess.Popen(
                    [sys.executable, "-m", RUNNER_MODULE, str(job.path), str(self.store_root)],
                    cwd=job.path, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    start_new_session=True, close_fds=True)
            except OSError as e:
                job.finish("Failed", f"InternalServerError: could not start the local job runner: {e}")
                return
        job.write_pid(job.runner_pid_file, process.pid)
        self._children[job.path] = process

    def refresh(self, job: JobDir) -> dict[str, Any]:
        """The description, after recording an ending for an active job whose runner is gone."""
        description = job.description()
        if description[job.status_key] not in ACTIVE_STATUSES:
            return description
        self.reap()
        pid = job.read_pid(job.runner_pid_file)
        if pid is None:
            age = datetime.now(UTC) - as_datetime(description["CreationTime"])
            if age.total_seconds() < RUNNER_START_GRACE_SECONDS:
                return description
            reason = "local job runner never started (no runner.pid)"
        elif pid.alive():
            return description
        else:
            reason = f"local job runner died (pid {pid.pid})"
        self.kill_container(job)
        stopping = description[job.status_key] == "Stopping"
        status = "Stopped" if stopping else "Failed"
        extra: dict[str, Any] = {"SecondaryStatus": status} if job.kind == "training" else {}
        return job.finish(status, reason + (" while stopping" if stopping else ""), **extra)

    def reap(self) -> None:
        """Collect runners of ours that ended, so they do not linger as zombies (which look alive to `kill 0`)."""
        for path, child in list(self._children.items()):
            if child.poll() is not None:
                del self._children[path]

    def kill_container(self, job: JobDir) -> None:
        """A runner that died may leave its container running (no sandbox death signal): end its group."""
        pid = job.read_pid(job.container_pid_file)
        if pid is not None and pid.alive():
            try:
                os.killpg(pid.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def signal_stop(self, job: JobDir) -> None:
        """SIGTERM to the runner, which stops the container and records Stopped."""
        pid = job.read_pid(job.runner_pid_file)
        if pid is not None and pid.alive():
            try:
                os.kill(pid.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
