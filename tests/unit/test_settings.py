"""One settings table: environment → AIRFLOW__SMFLOW__* → airflow.cfg [smflow] → default."""

from __future__ import annotations

from pathlib import Path

import pytest

from smflow import settings
from tests.conftest import REPO


@pytest.fixture
def airflow_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    for setting in settings.SETTINGS.values():
        monkeypatch.delenv(setting.env, raising=False)
        monkeypatch.delenv(f"AIRFLOW__SMFLOW__{setting.name.upper()}", raising=False)
    return tmp_path


def test_order_of_sources(airflow_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert settings.get("executor") == "local" and settings.source("executor") == "default"
    (airflow_home / "airflow.cfg").write_text("[smflow]\nexecutor = sagemaker\n")
    assert settings.get("executor") == "sagemaker" and settings.source("executor") == "airflow.cfg [smflow]"
    monkeypatch.setenv("AIRFLOW__SMFLOW__EXECUTOR", "local")
    assert settings.get("executor") == "local"
    monkeypatch.setenv("SMFLOW_EXECUTOR", "sagemaker")
    assert settings.get("executor") == "sagemaker" and settings.source("executor") == "SMFLOW_EXECUTOR"


def test_a_broken_airflow_cfg_falls_back_to_defaults(airflow_home: Path) -> None:
    (airflow_home / "airflow.cfg").write_text("[smflow\nexecutor = = =\n")
    assert settings.get("executor") == "local"


def test_every_setting_is_in_the_readme_table() -> None:
    readme = (REPO / "README.md").read_text()
    for setting in settings.SETTINGS.values():
        assert f"| `{setting.env}` |" in readme, setting.env


def test_no_module_reads_smflow_variables_from_the_environment_itself() -> None:
    """Writing one (to hand a value to Airflow's task processes) is fine; reading goes through settings."""
    package = REPO / "plugins" / "smflow"
    for path in package.rglob("*.py"):
        if path.name == "settings.py":
            continue
        text = path.read_text()
        for setting in settings.SETTINGS.values():
            assert f'environ.get("{setting.env}"' not in text and f'getenv("{setting.env}"' not in text, \
                f"{path} reads {setting.env}; use smflow.settings.get({setting.name!r})"
