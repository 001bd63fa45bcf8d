"""A job that fails the SageMaker way fails its Airflow task, with the FailureReason in the task log."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import FIXTURES
from tests.integration.conftest import run_cli


def test_failure_file_fails_the_task_with_its_reason(tmp_path: Path, airflow_db: str) -> None:
    result = run_cli(["run", str(FIXTURES / "pipelines" / "failing" / "pipeline.yaml")], tmp_path, airflow_db)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-3000:]
    assert "ValueError: training data has 0 rows; check the train channel" in output
    summary = result.stdout[result.stdout.index("failing__train"):]
    assert "m.train" in summary and "failed" in summary
    assert "m.register" in summary and "upstream_failed" in summary


def test_invalid_spec_is_reported_with_positions_and_runs_nothing(tmp_path: Path, airflow_db: str) -> None:
    broken = FIXTURES / "broken" / "bad_reference.yaml"
    result = run_cli(["run", str(broken)], tmp_path, airflow_db)
    assert result.returncode == 1
    assert f"{broken}:10:18: models.m.steps[1].inputs.train: step 'prep' has no output 'trian'" in result.stderr
    assert not (tmp_path / "jobs").exists()
