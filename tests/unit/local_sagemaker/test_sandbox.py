"""The job sandbox: a private /opt/ml per job, and a supervised container process (stop, deadline, metrics)."""

from __future__ import annotations

import io
import subprocess
import sys
import time
from pathlib import Path

import pytest

from smflow.local_sagemaker.jobs.sandbox import (
    CONTAINER_ROOT,
    Sandbox,
    SandboxError,
    choose_mode,
    compile_metrics,
    run_container,
)

PY = sys.executable


def _works(command: list[str]) -> bool:
    try:
        return subprocess.run(command, capture_output=True, timeout=10).returncode == 0
    except OSError:
        return False


def usable_modes(tmp_path: Path) -> list[str]:
    modes = ["paths"]
    probe = tmp_path / "probe"
    probe.mkdir(exist_ok=True)
    if _works(["bwrap", "--bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--bind", str(probe), "/opt/ml",
               "--", "true"]):
        modes.append("bwrap")
    if _works(["unshare", "--mount", "--propagation", "private", "true"]):
        modes.append("unshare")
    return modes


@pytest.fixture(params=["bwrap", "unshare", "paths"])
def sandbox(request: pytest.FixtureRequest, tmp_path: Path) -> Sandbox:
    if request.param not in usable_modes(tmp_path):
        pytest.skip(f"{request.param} is not usable on this machine")
    opt_ml = tmp_path / "opt_ml"
    opt_ml.mkdir()
    return Sandbox(request.param, opt_ml)


def run(sandbox: Sandbox, code: str, **kwargs: object) -> tuple[int, str, str | None, list[str]]:
    log = io.StringIO()
    result = run_container(sandbox, [PY, "-c", code], env={"PATH": "/usr/bin:/bin", "PYTHONUNBUFFERED": "1"},
                           cwd=CONTAINER_ROOT, log=log, **kwargs)  # type: ignore[arg-type]
    return result.exit_code, log.getvalue(), result.stopped, result.stderr_tail


def test_job_files_land_in_its_own_opt_ml(sandbox: Sandbox) -> None:
    code = ("import os; os.makedirs('/opt/ml/model', exist_ok=True); "
            "open('/opt/ml/model/weights.txt', 'w').write('42'); print(os.getcwd())")
    exit_code, log, _stopped, _tail = run(sandbox, code)
    assert exit_code == 0, log
    assert (sandbox.opt_ml / "model" / "weights.txt").read_text() == "42"
    assert log.strip() == sandbox.visible_path("/opt/ml")
    assert not Path("/opt/ml/model/weights.txt").exists()  # the host's /opt/ml is untouched


def test_two_sandboxes_are_private(tmp_path: Path) -> None:
    modes = [m for m in usable_modes(tmp_path) if m != "paths"]
    if not modes:
        pytest.skip("no namespace sandbox on this machine")
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    (first / "secret.txt").write_text("a's")
    exit_code, log, _, _ = run(Sandbox(modes[0], second), "import os; print(sorted(os.listdir('/opt/ml')))")
    assert exit_code == 0 and log.strip() == "[]"


def test_stderr_tail_and_exit_code(sandbox: Sandbox) -> None:
    code = "import sys\nfor i in range(30): print(f'line {i}', file=sys.stderr)\nsys.exit(4)"
    exit_code, log, stopped, tail = run(sandbox, code)
    assert exit_code == 4 and stopped is None
    assert tail[-1] == "line 29" and len(tail) == 20
    assert "line 0\n" in log  # the whole output is in the log


def test_metrics_keep_the_last_value() -> None:
    log = io.StringIO()
    metrics = compile_metrics([{"Name": "rmse", "Regex": r"rmse=([0-9.]+)"}, {"Name": "never", "Regex": "x=(\\d+)"}])
    code = ("import sys, time\nprint('rmse=0.9', flush=True)\ntime.sleep(0.2)\n"
            "print('rmse=0.25', file=sys.stderr, flush=True)\ntime.sleep(0.2)\nprint('rmse=nan?')")
    result = run_container(Sandbox("paths", Path("/tmp")), [PY, "-c", code], env={}, cwd="/tmp", log=log,
                           metrics=metrics)
    assert result.metrics["rmse"][0] == 0.25 and "never" not in result.metrics


def test_bad_metric_regex_names_the_definition() -> None:
    with pytest.raises(SandboxError, match=r"MetricDefinitions\[0\] \('acc'\).*does not compile"):
        compile_metrics([{"Name": "acc", "Regex": "acc=([0-9"}])


def test_stop_escalates_from_sigterm_to_sigkill(sandbox: Sandbox) -> None:
    code = ("import signal, time\nsignal.signal(signal.SIGTERM, lambda *a: print('ignoring SIGTERM', flush=True))\n"
            "print('up', flush=True)\ntime.sleep(60)")
    asked = time.monotonic() + 0.5
    started = time.monotonic()
    exit_code, log, stopped, _ = run(sandbox, code, stop_reason=lambda: "stop now" if time.monotonic() > asked
                                     else None, grace=0.5)
    assert stopped == "stop now" and exit_code in {-9, 128 + 9}
    assert "ignoring SIGTERM" in log
    assert time.monotonic() - started < 10


def test_deadline_stops_the_job(sandbox: Sandbox) -> None:
    exit_code, _log, stopped, _ = run(sandbox, "import time; time.sleep(60)", deadline=time.monotonic() + 0.3,
                                      deadline_reason="too slow", grace=2)
    assert stopped == "too slow" and exit_code in {-15, 128 + 15}  # bubblewrap reports 128 + signal


def test_paths_mode_rewrites_opt_ml_references(tmp_path: Path) -> None:
    box = Sandbox("paths", tmp_path)
    assert box.rewrite("/opt/ml/processing/input/code/run.py") == f"{tmp_path}/processing/input/code/run.py"
    assert box.rewrite("--model-dir=/opt/ml/model") == f"--model-dir={tmp_path}/model"
    assert box.rewrite("/opt/ml") == str(tmp_path)
    assert box.rewrite("/opt/mlflow/x") == "/opt/mlflow/x" and box.rewrite("/data/opt/ml/x") == "/data/opt/ml/x"
    assert "will not find its files" in box.notice()
    assert Sandbox("bwrap", tmp_path).rewrite("/opt/ml/model") == "/opt/ml/model"


def test_host_path_stays_inside_opt_ml(tmp_path: Path) -> None:
    box = Sandbox("bwrap", tmp_path)
    assert box.host_path("/opt/ml/input/data/train") == tmp_path / "input/data/train"
    with pytest.raises(SandboxError, match="is not under /opt/ml/"):
        box.host_path("/opt/ml/../etc/passwd")
    with pytest.raises(SandboxError):
        box.host_path("/tmp/elsewhere")


def test_wrapped_commands(tmp_path: Path) -> None:
    argv, cwd = Sandbox("bwrap", tmp_path, (Path("/store"),)).wrap(["python3", "train.py"], "/opt/ml/code")
    assert argv[:1] == ["bwrap"] and argv[-3:] == ["--", "python3", "train.py"]
    assert ["--ro-bind", "/store", "/store"] == argv[argv.index("--ro-bind"):argv.index("--ro-bind") + 3]
    assert ["--bind", str(tmp_path), "/opt/ml"] == argv[argv.index(str(tmp_path)) - 1:argv.index(str(tmp_path)) + 2]
    assert "--die-with-parent" in argv and cwd == "/"
    argv, cwd = Sandbox("paths", tmp_path).wrap(["python3", "/opt/ml/code/train.py"], "/opt/ml/code")
    assert argv == ["python3", f"{tmp_path}/code/train.py"] and cwd == f"{tmp_path}/code"


def test_sandbox_mode_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMFLOW_SANDBOX", "paths")
    assert choose_mode() == "paths"
    monkeypatch.setenv("SMFLOW_SANDBOX", "docker")
    with pytest.raises(SandboxError, match="SMFLOW_SANDBOX='docker' is not a sandbox mode"):
        choose_mode()
