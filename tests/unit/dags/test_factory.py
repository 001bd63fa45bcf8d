"""Compiled pipeline → Airflow DAG: per-pipeline `airflow:` settings, run params, docs, operator classes."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from smflow.dags.factory import OPERATORS
from smflow.dags.loader import PipelineSpecImportError, build_dags, report_pipeline_errors
from tests.conftest import PIPELINES

SETTINGS = """airflow:
  owner: ml-platform
  start_date: 2025-06-01
  catchup: true
  max_active_runs: 3
  retries: 2
  retry_delay: 90
  tags: [team-a]
"""


@pytest.fixture
def pipelines(tmp_path: Path, smflow_home: Path) -> Path:
    root = tmp_path / "pipelines"
    shutil.copytree(PIPELINES, root)
    return root


def test_defaults_are_sane_and_visible(pipelines: Path) -> None:
    dag = build_dags(pipelines).dags["diabetes__train"]
    assert dag.max_active_runs == 1 and dag.catchup is False
    assert dag.start_date == datetime(2024, 1, 1, tzinfo=UTC)
    task = dag.get_task("regressor.train")
    assert task.owner == "smflow" and task.retries == 0 and task.retry_delay == timedelta(minutes=5)


def test_airflow_settings_from_the_yaml(pipelines: Path) -> None:
    spec = pipelines / "diabetes" / "pipeline.yaml"
    spec.write_text(spec.read_text() + SETTINGS)
    dag = build_dags(pipelines).dags["diabetes__train"]
    assert dag.max_active_runs == 3 and dag.catchup is True
    assert dag.start_date == datetime(2025, 6, 1, tzinfo=UTC)
    assert "team-a" in dag.tags and "smflow" in dag.tags
    task = dag.get_task("regressor.train")
    assert task.owner == "ml-platform" and task.retries == 2 and task.retry_delay == timedelta(seconds=90)


def test_a_step_retries_override_the_pipeline_default(pipelines: Path) -> None:
    spec = pipelines / "diabetes" / "pipeline.yaml"
    text = spec.read_text().replace("        entry_point: train.py\n", "        entry_point: train.py\n"
                                    "        retries: 4\n")
    spec.write_text(text + SETTINGS)
    dag = build_dags(pipelines).dags["diabetes__train"]
    assert dag.get_task("regressor.train").retries == 4
    assert dag.get_task("regressor.model").retries == 2


def test_trigger_form_offers_fresh_jobs_and_docs_show_the_spec(pipelines: Path) -> None:
    dag = build_dags(pipelines).dags["diabetes__train"]
    assert dag.params["fresh_jobs"] is False and dag.params["fresh_tasks"] == []
    assert "pipeline: diabetes" in (dag.doc_md or "") and "Clear" in (dag.doc_md or "")
    assert "unpausing" in (dag.doc_md or "")


def test_one_operator_class_per_step_kind_named_without_sagemaker() -> None:
    from smflow.compile.kinds import STEP_KINDS

    classes = list(OPERATORS.values())
    assert len(set(classes)) == len(classes) == len(STEP_KINDS) == 16
    for cls in classes:
        assert not cls.__name__.startswith("SageMaker") and cls.__name__.endswith("Operator"), cls
        assert cls.__doc__, cls


def test_error_loader_raises_every_positioned_line_and_passes_when_fixed(pipelines: Path) -> None:
    report_pipeline_errors("dags/smflow_pipeline_errors.py", pipelines)  # all valid: no error
    broken = pipelines / "broken" / "pipeline.yaml"
    broken.parent.mkdir()
    broken.write_text("pipeline: broken\nmodels:\n  m:\n    steps:\n      - {name: a, type: trainnig}\n")
    with pytest.raises(PipelineSpecImportError) as raised:
        report_pipeline_errors("dags/smflow_pipeline_errors.py", pipelines)
    assert f"{broken}:5:" in str(raised.value) and "unknown step type" in str(raised.value)
    assert set(build_dags(pipelines).dags) == {"diabetes__train", "diabetes__batch", "diabetes__monitor"}
    broken.write_text("pipeline: broken\nmodels:\n  m:\n    steps:\n"
                      "      - {name: a, type: processing, entry_point: a.py}\n")
    (broken.parent / "a.py").write_text("print('hi')\n")
    report_pipeline_errors("dags/smflow_pipeline_errors.py", pipelines)
    assert set(build_dags(pipelines).dags) == {"diabetes__train", "diabetes__batch", "diabetes__monitor",
                                               "broken__train"}


def test_bad_airflow_settings_are_positioned_errors(pipelines: Path) -> None:
    spec = pipelines / "diabetes" / "pipeline.yaml"
    spec.write_text(spec.read_text() + "airflow:\n  max_active_runs: 0\n  start_date: yesterday\n")
    errors = build_dags(pipelines).errors[str(spec)]
    lines = len(spec.read_text().splitlines())
    assert any(e.startswith(f"{spec}:{lines - 1}:") and "airflow.max_active_runs" in e for e in errors), errors
    assert any(e.startswith(f"{spec}:{lines}:") and "airflow.start_date" in e for e in errors), errors


def test_every_step_kind_has_its_operator_and_a_seed_builder() -> None:
    from smflow.compile.kinds import STEP_KINDS
    from smflow.spec.seedconf import STEP_CLASSES

    assert set(OPERATORS) == set(STEP_KINDS)
    assert set(STEP_CLASSES.values()) <= set(STEP_KINDS)

