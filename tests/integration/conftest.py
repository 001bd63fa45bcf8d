"""Integration fixtures: one Airflow SQLite metadata DB for the whole session (migrating costs ~4 s)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO


@pytest.fixture(scope="session")
def airflow_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("airflow-db")
    return f"sqlite:///{folder / 'airflow.db'}"


def run_cli(args: list[str], home: Path, db: str, timeout: float = 600,
            **extra_env: str) -> subprocess.CompletedProcess:
    """The real `smflow` command line, as a user runs it, in a fresh interpreter."""
    env = {**os.environ, "SMFLOW_HOME": str(home), "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": db, **extra_env}
    env.pop("AIRFLOW_HOME", None)
    return subprocess.run([sys.executable, "-m", "smflow.cli", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout)
