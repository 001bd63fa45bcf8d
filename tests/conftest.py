"""Shared fixtures: every test gets its own smflow home so state never leaks between tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PIPELINES = REPO / "include" / "pipelines"
FIXTURES = REPO / "tests" / "fixtures"

# The image-URI cache lives in the smflow home; one shared cache keeps the SDK import to once per session.
os.environ.setdefault("SMFLOW_HOME", str(REPO / ".smflow" / "test-home"))
# Image environments (built with uv on first use) are shared by every test's temporary smflow home, so a
# session builds each one once; .smflow/ is git-ignored.
os.environ.setdefault("SMFLOW_ENVIRONMENTS_DIR", str(REPO / ".smflow" / "environments"))


@pytest.fixture
def smflow_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "smflow-home"
    home.mkdir()
    monkeypatch.setenv("SMFLOW_HOME", str(home))
    return home


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/integration is `integration`, under tests/contract is `contract`, so
    `pytest -m "not integration and not contract"` runs the fast unit suite.

    Under pytest-xdist (`make test` runs two workers, `--dist loadgroup`) the real-Airflow tests share one
    worker, so their session-scoped deployment starts once."""
    for item in items:
        parts = Path(str(item.fspath)).relative_to(REPO).parts
        if len(parts) > 1 and parts[1] in ("integration", "contract"):
            item.add_marker(getattr(pytest.mark, parts[1]))
        if parts[1:3] == ("integration", "real_airflow"):
            item.add_marker(pytest.mark.xdist_group("real_airflow"))
