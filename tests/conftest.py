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


@pytest.fixture
def smflow_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "smflow-home"
    home.mkdir()
    monkeypatch.setenv("SMFLOW_HOME", str(home))
    return home
