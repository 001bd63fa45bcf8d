"""Job operators on the local SageMaker: which job a try uses (reuse, attach, fresh, new request) and on_kill."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from smflow.executors.local import LocalExecutor
from smflow.operators.jobs import JobOperator, ProcessingJobOperator
from tests.unit.local_sagemaker.conftest import IMAGE, ROLE

OP = "CreateProcessingJob"


class FakeTI:
    """What `render_template_fields` needs of a task instance: upstream XComs (none here)."""

    def xcom_pull(self, task_ids: str) -> Any:
        return None


def processing_request(seconds: float) -> dict[str, Any]:
    return {
        "ProcessingJobName": "{{ smflow.job_name }}",
        "RoleArn": ROLE,
        "AppSpecification": {"ImageUri": IMAGE,
                             "ContainerEntrypoint": ["python3", "-c", f"import time; time.sleep({seconds})"]},
        "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large",
                                                  "VolumeSizeInGB": 30}},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    }


def make_operator(executor: LocalExecutor, seconds: float = 0.0) -> ProcessingJobOperator:
    op = ProcessingJobOperator(task_id="prep", operation=OP, request=processing_request(seconds),
                               outputs={"out": "s3://b/{{ smflow.job_name }}/out/"}, poll_seconds=0.05)
    op.get_executor = lambda: executor  # type: ignore[method-assign]
    return op


def context(**params: Any) -> dict[str, Any]:
    return {"ti": FakeTI(), "run_id": "manual__2026-01-01T00:00:00+00:00", "params": params}


def run_try(executor: LocalExecutor, seconds: float = 0.0, **params: Any) -> tuple[JobOperator, dict[str, Any]]:
    """One task try as Airflow runs it: a fresh operator instance, render, then execute."""
    op = make_operator(executor, seconds)
    ctx = context(**params)
    op.render_template_fields(ctx)  # type: ignore[arg-type]
    return op, op.execute(ctx)  # type: ignore[arg-type]


@pytest.fixture
def executor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LocalExecutor:
    monkeypatch.setenv("SMFLOW_STOP_GRACE_SECONDS", "2")
    return LocalExecutor(home=tmp_path / "home")


def test_rendering_puts_the_fingerprinted_name_everywhere_and_calls_nothing(executor: LocalExecutor) -> None:
    op = make_operator(executor)
    op.get_executor = None  # type: ignore[assignment,method-assign]  # rendering must not reach SageMaker
    op.render_template_fields(context())  # type: ignore[arg-type]
    name = op.request["ProcessingJobName"]
    assert name.startswith("adhoc-airflow-prep-") and "pending" not in name
    assert op.outputs["out"] == f"s3://b/{name}/out/"


def test_a_second_try_with_the_same_request_reuses_the_completed_job(executor: LocalExecutor,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    _, first = run_try(executor)
    assert first["status"] == "Completed" and first["reused"] is False and first["executor"] == "local"
    capsys.readouterr()
    _, second = run_try(executor)
    assert second["job_name"] == first["job_name"] and second["reused"] is True
    lines = capsys.readouterr().out.splitlines()  # Airflow's task logger writes structured lines to stdout
    reuse_lines = [line for line in lines if "reusing" in line]
    assert len(reuse_lines) == 1 and first["job_name"] in reuse_lines[0] and "completed at" in reuse_lines[0]
    assert not [line for line in lines if f"[{first['job_name']}] [smflow]" in line], \
        "the old job's log must not be replayed as new"


def test_a_changed_request_starts_a_new_job(executor: LocalExecutor) -> None:
    _, first = run_try(executor, 0.0)
    _, changed = run_try(executor, 0.01)
    assert changed["job_name"] != first["job_name"] and changed["reused"] is False
    assert changed["outputs"]["out"] == f"s3://b/{changed['job_name']}/out/"


@pytest.mark.parametrize("params", [{"fresh_jobs": True}, {"fresh_tasks": ["prep"]}])
def test_fresh_params_force_a_new_job_under_the_next_attempt_name(executor: LocalExecutor,
                                                                  params: dict[str, Any]) -> None:
    _, first = run_try(executor)
    op, fresh = run_try(executor, **params)
    assert fresh["job_name"] == f"{first['job_name']}-a2" and fresh["reused"] is False
    assert fresh["outputs"]["out"] == f"s3://b/{first['job_name']}-a2/out/"
    assert op.request["ProcessingJobName"] == fresh["job_name"]
    _, other_task = run_try(executor, fresh_tasks=["someone.else"])
    assert other_task["reused"] is True and other_task["job_name"] == first["job_name"]


def test_a_retry_attaches_to_the_running_job_instead_of_starting_another(executor: LocalExecutor) -> None:
    op = make_operator(executor, 2.0)
    op.render_template_fields(context())  # type: ignore[arg-type]
    name = op.request["ProcessingJobName"]
    executor.start_job(OP, op.request)  # an earlier try started it, then its worker died
    _, result = run_try(executor, 2.0)
    assert result["job_name"] == name and result["status"] == "Completed" and result["reused"] is False
    listed = executor.call("ListProcessingJobs", {})["ProcessingJobSummaries"]
    assert [j["ProcessingJobName"] for j in listed] == [name]


def test_a_failed_job_is_retried_under_a_new_attempt_name(executor: LocalExecutor) -> None:
    op = make_operator(executor)
    op.request["AppSpecification"]["ContainerEntrypoint"] = ["python3", "-c", "raise SystemExit(3)"]
    op.render_template_fields(context())  # type: ignore[arg-type]
    with pytest.raises(Exception, match="Failed"):
        op.execute(context())  # type: ignore[arg-type]
    again = make_operator(executor)
    again.request["AppSpecification"]["ContainerEntrypoint"] = ["python3", "-c", "raise SystemExit(3)"]
    again.render_template_fields(context())  # type: ignore[arg-type]
    with pytest.raises(Exception, match="-a2 Failed"):
        again.execute(context())  # type: ignore[arg-type]


def test_on_kill_stops_the_running_job(executor: LocalExecutor) -> None:
    op = make_operator(executor, 60.0)
    op.render_template_fields(context())  # type: ignore[arg-type]
    name = op.request["ProcessingJobName"]
    errors: list[BaseException] = []

    def run() -> None:
        try:
            op.execute(context())  # type: ignore[arg-type]
        except BaseException as e:  # noqa: BLE001 - the test inspects it
            errors.append(e)

    worker = threading.Thread(target=run)
    worker.start()
    deadline = time.monotonic() + 30
    while (executor.describe_job(OP, name) or {}).get("ProcessingJobStatus") != "InProgress":
        assert time.monotonic() < deadline, "job never started"
        time.sleep(0.05)
    started = time.monotonic()
    op.on_kill()  # what Airflow's SIGTERM handler calls on Mark failed
    worker.join(timeout=30)
    assert not worker.is_alive()
    assert time.monotonic() - started < 20
    assert executor.describe_job(OP, name)["ProcessingJobStatus"] == "Stopped"  # type: ignore[index]
    assert errors and "Stopped" in str(errors[0])


def test_on_kill_before_any_job_does_nothing(executor: LocalExecutor) -> None:
    make_operator(executor).on_kill()


def test_job_stderr_is_logged_at_warning_and_stdout_at_info(executor: LocalExecutor,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    op = make_operator(executor)
    op.request["AppSpecification"]["ContainerEntrypoint"] = [
        "python3", "-c", "import sys; print('to stdout', flush=True); print('Traceback: to stderr', file=sys.stderr)"]
    op.render_template_fields(context())  # type: ignore[arg-type]
    name = op.request["ProcessingJobName"]
    op.execute(context())  # type: ignore[arg-type]
    lines, _ = executor.read_log_lines(OP, name, 0)
    assert ("to stdout", False) in lines and ("Traceback: to stderr", True) in lines
    assert not [line for line, stderr in lines if stderr and line != "Traceback: to stderr"]
    out = capsys.readouterr().out.splitlines()
    (err_line,) = [line for line in out if "] Traceback: to stderr" in line]
    (std_line,) = [line for line in out if "] to stdout" in line]
    assert "warning" in err_line and "info" in std_line


def test_fresh_tasks_match_full_task_ids_only(executor: LocalExecutor) -> None:
    op = make_operator(executor)
    op.task_id = "regressor.train"
    assert op.fresh_requested(context(fresh_tasks=["regressor.train"]))  # type: ignore[arg-type]
    assert not op.fresh_requested(context(fresh_tasks=["train"]))  # type: ignore[arg-type]


def test_a_kill_inside_the_wait_still_stops_the_job(executor: LocalExecutor) -> None:
    """execution_timeout raises inside execute, then Airflow calls on_kill: the job must still be known."""
    op = make_operator(executor, 60.0)
    op.render_template_fields(context())  # type: ignore[arg-type]
    name = op.request["ProcessingJobName"]

    def interrupted_wait(*args: Any, **kwargs: Any) -> Any:
        raise TimeoutError("execution_timeout")  # what AirflowTaskTimeout does mid-wait

    executor.wait_for_job = interrupted_wait  # type: ignore[method-assign]
    with pytest.raises(TimeoutError):
        op.execute(context())  # type: ignore[arg-type]
    op.on_kill()
    deadline = time.monotonic() + 30
    while executor.describe_job(OP, name)["ProcessingJobStatus"] != "Stopped":  # type: ignore[index]
        assert time.monotonic() < deadline
        time.sleep(0.1)
