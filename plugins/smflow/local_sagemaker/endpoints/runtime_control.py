"""Starting and stopping the one local sagemaker-runtime process of a smflow home (runtime_proxy.py).

Its port and pid are recorded in `<home>/endpoints/runtime.json`; a recorded runtime that is alive and answers
/ping is reused, otherwise a new one is started (on its previous port when that is free), under a file lock so
two processes asking at once start one runtime.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from smflow.errors import SmflowError
from smflow.local_sagemaker.endpoints.server_process import ping, stop_process
from smflow.local_sagemaker.file_lock import exclusive_lock
from smflow.local_sagemaker.jobs.records import ProcessId, write_json_atomic

RUNTIME_MODULE = "smflow.local_sagemaker.endpoints.runtime_proxy"
START_SECONDS = 30.0


class RuntimeStartError(SmflowError, RuntimeError):
    """The local sagemaker-runtime did not start; the message names its log."""


def _recorded(root: Path) -> dict[str, object]:
    try:
        value = json.loads((root / "runtime.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _live_port(record: dict[str, object]) -> int | None:
    port, pid = record.get("port"), record.get("pid")
    if not isinstance(port, int) or not isinstance(pid, str):
        return None
    process = ProcessId.parse(pid)
    return port if process is not None and process.alive() and ping(port) else None


def ensure_runtime(root: Path, store_root: Path) -> str:
    root.mkdir(parents=True, exist_ok=True)
    port = _live_port(_recorded(root))
    if port is not None:
        return f"http://127.0.0.1:{port}"
    with exclusive_lock(root / ".runtime.lock"):
        record = _recorded(root)
        port = _live_port(record)
        if port is not None:
            return f"http://127.0.0.1:{port}"
        ready = root / "runtime.ready.json"
        ready.unlink(missing_ok=True)
        package_parent = str(Path(__file__).resolve().parents[3])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_parent, env.get("PYTHONPATH", "")) if p)
        previous = record.get("port")
        args = [sys.executable, "-m", RUNTIME_MODULE, str(root.parent), str(store_root), str(ready)]
        if isinstance(previous, int):
            args.append(str(previous))
        with (root / "runtime.log").open("ab") as log:
            process = subprocess.Popen(args, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                       start_new_session=True, close_fds=True)
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeStartError(f"the local sagemaker-runtime exited with code {process.returncode}; see "
                                        f"{root / 'runtime.log'}")
            try:
                started = json.loads(ready.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                time.sleep(0.05)
                continue
            write_json_atomic(root / "runtime.json", {"port": started["port"],
                                                      "pid": ProcessId.of(process.pid).serialise().strip()})
            return f"http://127.0.0.1:{started['port']}"
        stop_process(ProcessId.of(process.pid), grace=2.0)
        raise RuntimeStartError(f"the local sagemaker-runtime did not start within {START_SECONDS:.0f} s; see "
                                f"{root / 'runtime.log'}")


def stop_runtime(root: Path) -> None:
    pid = _recorded(root).get("pid")
    process = ProcessId.parse(pid) if isinstance(pid, str) else None
    stop_process(process, grace=5.0)
    (root / "runtime.json").unlink(missing_ok=True)
