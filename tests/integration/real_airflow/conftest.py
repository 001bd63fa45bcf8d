"""One real Airflow deployment for this package's tests, and the pipelines folder it parses.

The deployment starts once (about 30 s: DB migration, four components, first parse) and is torn down at the
end of the session even when a test fails; a failing test prints the tail of every component's log.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, PIPELINES
from tests.integration.real_airflow.deployment import AirflowApi, AirflowDeployment, wait_until

DEMO = PIPELINES / "diabetes"
SLEEPY = FIXTURES / "pipelines" / "sleepy"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowDeployment]:
    root = tmp_path_factory.mktemp("real-airflow")
    airflow = AirflowDeployment(root)
    started = time.monotonic()
    try:
        airflow.prepare([DEMO, SLEEPY])
        airflow.start()
        airflow.wait_healthy()
        print(f"\nreal Airflow deployment listening on {sorted({(a, p) for _, a, p in airflow.listeners()})}")
        assert not airflow.non_loopback_listeners(), airflow.non_loopback_listeners()
        yield airflow
    except BaseException:
        print(airflow.diagnostics(120))
        raise
    finally:
        stopping = time.monotonic()
        notes, leaks = airflow.stop()
        airflow.timings["teardown"] = time.monotonic() - stopping
        airflow.timings["session"] = time.monotonic() - started
        print(f"\nreal Airflow deployment at {root}: " + ", ".join(f"{k} {v:.1f}s" for k, v in airflow.timings.items()))
        for note in notes:
            print(f"teardown: {note}")
    assert not leaks, f"the real Airflow deployment left things behind: {leaks}"


@pytest.fixture(scope="session")
def api(deployment: AirflowDeployment) -> Iterator[AirflowApi]:
    client = AirflowApi(deployment)
    started = time.monotonic()
    client.wait_for_dag("diabetes__train", timeout=120)
    client.wait_for_dag("sleepy__train", timeout=60)
    deployment.timings["first parse"] = time.monotonic() - started
    yield client
    client.close()


@pytest.fixture(autouse=True)
def _after_each_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """Component logs when a test failed; and nothing of ours may listen beyond 127.0.0.1 at any test's end."""
    yield
    if "deployment" not in request.fixturenames:
        return
    airflow: AirflowDeployment = request.getfixturevalue("deployment")
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print(airflow.diagnostics())
    exposed = airflow.non_loopback_listeners()
    assert not exposed, f"listening beyond 127.0.0.1 (pid, address, port): {exposed}"


class Pipelines:
    """The pipelines folder the dag-processor reads: add, edit and remove specs as a user would."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.added: list[Path] = []

    def copy(self, source: Path, name: str, *, replace: dict[str, str] | None = None) -> Path:
        """A copy of a pipeline under a new folder (and pipeline name), with text replacements in its YAML."""
        target = self.folder / name
        shutil.copytree(source, target)
        self.added.append(target)
        spec = target / "pipeline.yaml"
        text = spec.read_text()
        for old, new in (replace or {}).items():
            assert old in text, f"{old!r} not in {spec}"
            text = text.replace(old, new)
        write_spec(spec, text)
        return spec

    def edit(self, spec: Path, old: str, new: str) -> None:
        text = spec.read_text()
        assert old in text, f"{old!r} not in {spec}"
        write_spec(spec, text.replace(old, new))

    def remove_added(self) -> None:
        for folder in self.added:
            shutil.rmtree(folder, ignore_errors=True)
        self.added.clear()


def write_spec(spec: Path, text: str) -> None:
    """Replace a spec in one step, as an editor saving the file would (never half-written to the parser)."""
    partial = spec.with_name(f".{spec.name}.partial")
    partial.write_text(text)
    partial.replace(spec)


@pytest.fixture
def pipelines(deployment: AirflowDeployment, api: AirflowApi) -> Iterator[Pipelines]:
    folder = Pipelines(deployment.pipelines_dir)
    yield folder
    folder.remove_added()


def wait_for_parse_after(api: AirflowApi, dag_id: str, since: str, timeout: float = 60) -> dict:
    """The DAG as listed once the dag-processor has parsed its file after `since` (an ISO timestamp)."""
    return wait_until(lambda: (d := api.dags().get(dag_id)) and d["last_parsed_time"] > since and d,
                      timeout=timeout, what=f"a parse of {dag_id} after {since}")
