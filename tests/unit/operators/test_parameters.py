"""Operators render a run's pipeline parameters before Airflow's templating: native values where a field is one
reference, part of the fingerprint (other values → other jobs), and the gate compares native thresholds."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk import DAG
from airflow.sdk.exceptions import AirflowSkipException

from smflow.compile.graph import CompiledDag
from smflow.compile.requests import CompiledTask
from smflow.dags.factory import build_dag
from smflow.executors.local import LocalExecutor
from smflow.operators.condition import ModelGateOperator
from smflow.operators.jobs import ProcessingJobOperator
from tests.unit.local_sagemaker.conftest import IMAGE, ROLE

RUN_ID = "manual__2026-01-01T00:00:00+00:00"


class TI:
    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_pull(self, task_ids: str) -> Any:
        return None

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


def processing(**params: Any) -> ProcessingJobOperator:
    """A fresh operator instance (one task try) rendered with the run's `params`."""
    request = {
        "ProcessingJobName": "{{ smflow.job_name }}",
        "RoleArn": ROLE,
        "AppSpecification": {"ImageUri": IMAGE, "ContainerEntrypoint": ["python3", "-c", "print(1)"],
                             "ContainerArguments": ["--digits", "{{ params.digits | string }}"]},
        "ProcessingResources": {"ClusterConfig": {"InstanceCount": "{{ params.count }}",
                                                  "InstanceType": "ml.m5.large", "VolumeSizeInGB": 30}},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    }
    op = ProcessingJobOperator(task_id="prep", operation="CreateProcessingJob", request=request)
    op.render_template_fields({"ti": TI(), "run_id": RUN_ID, "params": params})  # type: ignore[arg-type]
    return op


def test_a_field_that_is_one_reference_gets_the_native_value() -> None:
    op = processing(count=2, digits=3)
    assert op.request["ProcessingResources"]["ClusterConfig"]["InstanceCount"] == 2
    assert op.request["AppSpecification"]["ContainerArguments"] == ["--digits", "3"]


def test_other_values_make_another_job_and_the_same_values_the_same_job() -> None:
    first, same, other = processing(count=1, digits=3), processing(count=1, digits=3), processing(count=2, digits=3)
    assert first.request["ProcessingJobName"] == same.request["ProcessingJobName"]
    assert other.request["ProcessingJobName"] != first.request["ProcessingJobName"]
    assert processing(count=1, digits=4).request["ProcessingJobName"] != first.request["ProcessingJobName"]


def test_inside_a_dag_an_integer_passed_as_a_whole_float_renders_as_an_integer() -> None:
    task = CompiledTask("prep", "processing", "CreateProcessingJob", {
        "ProcessingJobName": "{{ smflow.job_name }}", "RoleArn": ROLE,
        "AppSpecification": {"ImageUri": IMAGE, "ContainerEntrypoint": ["python3", "-c", "print(1)"]},
        "ProcessingResources": {"ClusterConfig": {"InstanceCount": "{{ params.count }}",
                                                  "InstanceType": "ml.m5.large", "VolumeSizeInGB": 30}},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600}})
    compiled = CompiledDag("p__train", None, [task], [], params={
        "count": {"type": "integer", "default": 1, "description": "", "minimum": 1, "used_in": []}})
    dag: DAG = build_dag(compiled)
    op = dag.get_task("prep")
    run_params = copy.deepcopy(dag.params)
    run_params["count"] = 2.0  # a run's conf, checked against the Param's schema as Airflow checks it
    params = run_params.validate()
    op.render_template_fields({"ti": TI(), "run_id": RUN_ID, "params": params})  # type: ignore[arg-type]
    count = op.request["ProcessingResources"]["ClusterConfig"]["InstanceCount"]  # type: ignore[attr-defined]
    assert count == 2 and type(count) is int


@pytest.fixture
def executor(tmp_path: Path) -> LocalExecutor:
    executor = LocalExecutor(home=tmp_path / "home")
    report = {"regression_metrics": {"mse": {"value": 0.19}}}
    executor.write_bytes("s3://reports/report.json", json.dumps(report).encode())
    return executor


def gate(executor: LocalExecutor, threshold: Any) -> tuple[ModelGateOperator, TI]:
    op = ModelGateOperator(task_id="gate", operation=None, request={}, params_={
        "report": "s3://reports/report.json", "on_fail": "skip",
        "checks": [{"metric": "regression_metrics.mse.value", "le": "{{ params.threshold }}"}]})
    op.get_executor = lambda: executor  # type: ignore[method-assign]
    ti = TI()
    op.render_template_fields({"ti": ti, "run_id": RUN_ID, "params": {"threshold": threshold}})  # type: ignore
    return op, ti


def test_the_gate_compares_against_the_runs_native_threshold(executor: LocalExecutor) -> None:
    op, ti = gate(executor, 0.25)
    assert op.params_["checks"][0]["le"] == 0.25
    result = op.execute({"ti": ti})  # type: ignore[arg-type]
    assert result["status"] == "Passed" and ti.pushed["gate"]["passed"] is True

    op, ti = gate(executor, 0.1)
    with pytest.raises(AirflowSkipException, match=r"regression_metrics.mse.value = 0.19, required <= 0.1"):
        op.execute({"ti": ti})  # type: ignore[arg-type]
    assert ti.pushed["gate"]["passed"] is False
