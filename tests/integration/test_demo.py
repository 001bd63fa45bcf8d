"""The README's main command: the demo pipeline end to end through Airflow on the local executor."""

from __future__ import annotations

from pathlib import Path

from smflow.local_sagemaker.registry import ModelRegistry
from smflow.local_sagemaker.store import LocalStore
from tests.conftest import PIPELINES
from tests.integration.conftest import run_cli

DEMO = PIPELINES / "diabetes" / "pipeline.yaml"


def test_demo_runs_twice_and_registers_a_second_version(tmp_path: Path, airflow_db: str) -> None:
    home = tmp_path / "home"
    first = run_cli(["run", str(DEMO), "--dag", "train"], home, airflow_db)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-5000:]
    summary = first.stdout
    assert "diabetes__train" in summary and "SUCCESS" in summary
    for task in ("regressor.preprocess", "regressor.train", "regressor.predict", "regressor.evaluate",
                 "regressor.gate", "regressor.register"):
        assert task in summary
    assert "validation:rmse=" in summary
    assert "version 1" in summary

    registry = ModelRegistry(home / "registry.sqlite")
    (v1,) = registry.list_versions("diabetes-regressor")
    store = LocalStore(home / "store")
    model_uri = v1["model_data_url"]
    model_bytes = store.read_bytes(model_uri)

    second = run_cli(["run", str(DEMO), "--dag", "train"], home, airflow_db)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-5000:]
    assert "version 2" in second.stdout
    versions = registry.list_versions("diabetes-regressor")
    assert [v["version"] for v in versions] == [1, 2]
    assert versions[0] == v1  # the first version is untouched
    assert store.read_bytes(model_uri) == model_bytes  # the first run's artifact is untouched

    # Approve v1; the third run's model is no better by the configured margin, so the gate skips register.
    approve = run_cli(["registry", "approve", "diabetes-regressor", "1"], home, airflow_db)
    assert approve.returncode == 0, approve.stderr
    third = run_cli(["run", str(DEMO), "--dag", "train"], home, airflow_db)
    assert third.returncode == 0, third.stdout[-3000:] + third.stderr[-5000:]
    assert "regressor.register" in third.stdout and "skipped" in third.stdout
    assert len(registry.list_versions("diabetes-regressor")) == 2
