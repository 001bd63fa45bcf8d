"""Building and reusing environments with uv: reuse, half-built and killed builds, concurrent jobs, failures.

The plans here install `packaging` only (in uv's cache from smflow's own lock), so each build takes about a
second; a loopback socket that accepts connections but never answers stands in for an index that hangs.
"""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from smflow.local_sagemaker.images.build import (
    MARKER,
    EnvironmentBuildError,
    EnvironmentBuildStopped,
    ReadyEnvironment,
    ensure_environment,
    environment_python,
    is_ready,
)
from smflow.local_sagemaker.images.plan import EnvironmentPlan, plan_for
from smflow.local_sagemaker.images.table import FrameworkImage, Pin
from smflow.local_sagemaker.images.uri import ImageRef
from tests.conftest import REPO

REF = ImageRef("683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:0.0-1-cpu-py3",
               "sagemaker-scikit-learn", "sklearn", "0.0-1")


def small_plan(*, packages: tuple[Pin, ...] = ()) -> EnvironmentPlan:
    image = FrameworkImage("sklearn", "0.0-1", "3.11", packages=packages, toolkits=(), source="https://example.org")
    return plan_for(image, REF, "3.11")


def ensure(plan: EnvironmentPlan, root: Path, said: list[str] | None = None) -> ReadyEnvironment:
    lines = said if said is not None else []
    return ensure_environment(plan, root, say=lines.append, output=io.StringIO(), should_stop=lambda: None)


@pytest.fixture
def hanging_index() -> Iterator[str]:
    """An index URL whose server accepts the connection and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    yield f"http://127.0.0.1:{server.getsockname()[1]}/simple"
    server.close()


def test_built_once_then_reused(tmp_path: Path) -> None:
    plan = small_plan()
    first = ensure(plan, tmp_path)
    assert first.built_now and is_ready(first.path) and first.path == tmp_path / plan.key
    assert "packaging" in first.versions and "pip" in first.versions  # seeded: images have pip
    marker = json.loads((first.path / MARKER).read_text())
    assert marker["requirements"] == ["packaging", "setuptools<81"] and marker["key"] == plan.key
    again = ensure(plan, tmp_path)
    assert not again.built_now and again.path == first.path and again.versions == first.versions
    done = subprocess.run([str(again.interpreter), "-W", "ignore", "-c",
                           "import sys, packaging, pkg_resources; print(sys.prefix)"],
                          capture_output=True, text=True, check=True)
    assert Path(done.stdout.strip()) == first.path  # the environment's own Python, after the rename
    assert list(tmp_path.glob(".*.building-*")) == []


def test_a_folder_without_its_marker_is_never_used(tmp_path: Path) -> None:
    """What a kill between creating files and finishing leaves (or any stray folder) is rebuilt, not used."""
    plan = small_plan()
    fake = tmp_path / plan.key
    (fake / "bin").mkdir(parents=True)
    (fake / "bin" / "python").symlink_to(sys.executable)
    (tmp_path / f".{plan.key}.building-leftover").mkdir()
    assert not is_ready(fake)
    ready = ensure(plan, tmp_path)
    assert ready.built_now and is_ready(fake) and (fake / "pyvenv.cfg").is_file()
    assert not (tmp_path / f".{plan.key}.building-leftover").exists()


def test_a_killed_build_leaves_nothing_usable_and_the_next_job_builds(tmp_path: Path, hanging_index: str) -> None:
    plan = small_plan()
    script = ("import sys\nfrom pathlib import Path\n"
              "from tests.unit.local_sagemaker.images.test_build import ensure, small_plan\n"
              "ensure(small_plan(), Path(sys.argv[1]))\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "plugins"), str(REPO)]),
           "UV_EXTRA_INDEX_URL": hanging_index}  # this builder's uv hangs in `pip install`
    builder = subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob(f".{plan.key}.building-*/pyvenv.cfg")):  # the venv exists, pip hangs
            assert builder.poll() is None and time.monotonic() < deadline, "the build did not start"
            time.sleep(0.05)
        time.sleep(0.3)
        builder.kill()  # SIGKILL: no cleanup code runs
        builder.wait(timeout=10)
    finally:
        if builder.poll() is None:
            os.killpg(builder.pid, signal.SIGKILL)
    leftovers = list(tmp_path.glob(f".{plan.key}.building-*"))
    assert leftovers and not (tmp_path / plan.key).exists()
    deadline = time.monotonic() + 10  # uv dies with its parent (PR_SET_PDEATHSIG)
    while _processes_mentioning(str(leftovers[0])) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _processes_mentioning(str(leftovers[0])) == []
    ready = ensure(plan, tmp_path)  # the next job: the kernel released the lock; leftovers are cleared
    assert ready.built_now and is_ready(ready.path)
    assert not any(path.exists() for path in leftovers)


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            found.append(int(entry.name))
    return found


def test_a_stop_during_the_build_ends_it_and_leaves_nothing(tmp_path: Path, hanging_index: str,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UV_EXTRA_INDEX_URL", hanging_index)
    plan = small_plan()
    stop_after = time.monotonic() + 1.5
    with pytest.raises(EnvironmentBuildStopped, match="stopped by a test"):
        ensure_environment(plan, tmp_path, say=lambda _line: None, output=io.StringIO(),
                           should_stop=lambda: "stopped by a test" if time.monotonic() > stop_after else None)
    assert not (tmp_path / plan.key).exists() and list(tmp_path.glob(".*.building-*")) == []


def test_two_jobs_needing_one_environment_build_it_once(tmp_path: Path) -> None:
    script = ("import json, sys\nfrom pathlib import Path\n"
              "from tests.unit.local_sagemaker.images.test_build import ensure, small_plan\n"
              "said = []\nready = ensure(small_plan(), Path(sys.argv[1]), said)\n"
              "print(json.dumps({'built': ready.built_now, 'path': str(ready.path), 'said': said}))\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "plugins"), str(REPO)])}
    jobs = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], env=env, stdout=subprocess.PIPE,
                             text=True) for _ in range(3)]
    results = [json.loads(job.communicate(timeout=120)[0]) for job in jobs]
    assert sorted(r["built"] for r in results) == [False, False, True]
    assert len({r["path"] for r in results}) == 1
    waiters = [r for r in results if not r["built"]]
    assert all(any("built by another job meanwhile" in line for line in r["said"]) for r in waiters)


def test_a_failed_build_names_the_packages_and_the_opt_out(tmp_path: Path) -> None:
    plan = small_plan(packages=(Pin("smflow-no-such-distribution-for-tests", "1.0"),))
    with pytest.raises(EnvironmentBuildError) as caught:
        ensure(plan, tmp_path)
    message = str(caught.value)
    assert "smflow-no-such-distribution-for-tests==1.0" in message
    assert "SMFLOW_IMAGE_ENVIRONMENTS=off" in message and "sagemaker-scikit-learn:0.0-1-cpu-py3" in message
    assert "Traceback" not in message
    assert not (tmp_path / plan.key).exists() and list(tmp_path.glob(".*.building-*")) == []


def test_the_interpreter_path_is_the_environments_bin_python(tmp_path: Path) -> None:
    ready = ensure(small_plan(), tmp_path)
    assert ready.interpreter == environment_python(ready.path) == ready.path / "bin" / "python"
    assert (ready.path / "bin" / "python3").exists()  # `python3` in an entrypoint resolves here too


def test_an_unwritable_environments_folder_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(EnvironmentBuildError, match="SMFLOW_ENVIRONMENTS_DIR"):
        ensure(small_plan(), blocker / "environments")
