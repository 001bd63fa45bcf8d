"""`smflow run --conf` sets pipeline parameters for one run: the gate's threshold decides differently and the
evaluation job is described with the run's instance count; a conf of the wrong type starts nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from smflow.executors.local import LocalExecutor
from tests.conftest import FIXTURES
from tests.integration.conftest import run_cli

PIPELINE = FIXTURES / "pipelines" / "parameters" / "pipeline.yaml"
# The fixture's scripts need only the standard library; smflow's own venv runs them without building one.
ENV = {"SMFLOW_IMAGE_ENVIRONMENTS": "off"}


def summary_line(stdout: str, task_id: str) -> str:
    return next(line for line in stdout.splitlines() if line.strip().startswith(task_id + " "))


def evaluation_jobs(home: Path) -> dict[str, dict[str, Any]]:
    executor = LocalExecutor(home=home)
    names = [s["ProcessingJobName"] for s in executor.call("ListProcessingJobs", {})["ProcessingJobSummaries"]]
    return {name: executor.call("DescribeProcessingJob", {"ProcessingJobName": name})
            for name in names if "-evaluate-" in name}


def test_a_runs_conf_changes_the_threshold_and_the_instance_count(tmp_path: Path, airflow_db: str) -> None:
    home = tmp_path / "home"
    default = run_cli(["run", str(PIPELINE)], home, airflow_db, **ENV)
    assert default.returncode == 0, default.stdout[-3000:] + default.stderr[-5000:]
    assert "gate passed" in summary_line(default.stdout, "m.gate")
    assert "success" in summary_line(default.stdout, "m.publish")
    (first,) = evaluation_jobs(home).values()
    assert first["ProcessingResources"]["ClusterConfig"]["InstanceCount"] == 1
    assert first["AppSpecification"]["ContainerArguments"] == ["--digits", "4"]

    strict = run_cli(["run", str(PIPELINE), "--conf", '{"mse_threshold": 0.1, "eval_instances": 2, "digits": 2}'],
                     home, airflow_db, **ENV)
    assert strict.returncode == 0, strict.stdout[-3000:] + strict.stderr[-5000:]
    gate = summary_line(strict.stdout, "m.gate")
    assert "skipped" in gate and "gate not passed: regression_metrics.mse.value = 0.19, required <= 0.1" in gate
    assert "skipped" in summary_line(strict.stdout, "m.publish")
    jobs = evaluation_jobs(home)
    assert len(jobs) == 2  # other values, another request: a new job, not the first one reused
    (second,) = [job for name, job in jobs.items() if name != first["ProcessingJobName"]]
    assert second["ProcessingResources"]["ClusterConfig"]["InstanceCount"] == 2
    assert second["AppSpecification"]["ContainerArguments"] == ["--digits", "2"]
    assert second["ProcessingJobStatus"] == "Completed"


def test_a_conf_of_the_wrong_type_is_refused_before_anything_runs(tmp_path: Path, airflow_db: str) -> None:
    home = tmp_path / "home"
    result = run_cli(["run", str(PIPELINE), "--conf", '{"eval_instances": "two"}'], home, airflow_db, **ENV)
    assert result.returncode == 2, result.stdout[-3000:] + result.stderr[-3000:]
    assert ("--conf does not fit the parameters of parameters__train "
            f"({PIPELINE}): eval_instances: 'two' is not of type 'integer'") in result.stderr
    assert "Traceback" not in result.stderr
    assert not (home / "jobs").exists()
