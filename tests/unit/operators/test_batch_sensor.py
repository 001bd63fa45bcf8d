"""BatchArrivalSensor's check in the worker: which batches it lets through, what it defers with, timeouts."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowException, AirflowSensorTimeout, AirflowSkipException, TaskDeferred

from smflow.batch.discovery import find_batches
from smflow.batch.ledger import build_manifest, manifest_uri
from smflow.executors.local import LocalExecutor
from smflow.operators.batch_sensor import BatchArrivalSensor
from smflow.operators.triggers.batch_arrival import CLASSPATH, BatchArrivalTrigger

PREFIX = "s3://data/incoming/"
OUTPUT = "s3://data/predictions/"
GROUP = "churn"


@pytest.fixture
def executor(tmp_path: Path) -> LocalExecutor:
    return LocalExecutor(home=tmp_path / "home")


def sensor(executor: LocalExecutor, **kwargs: Any) -> BatchArrivalSensor:
    op = BatchArrivalSensor(task_id="wait_for_data", input_prefix=PREFIX, poke_seconds=1, **kwargs)
    op.get_executor = lambda: executor  # type: ignore[method-assign]
    return op


def put(executor: LocalExecutor, key: str, text: str = "1,2\n") -> None:
    executor.write_bytes(f"{PREFIX}{key}", text.encode())


def register(executor: LocalExecutor, status: str = "Approved") -> int:
    try:
        executor.call("CreateModelPackageGroup", {"ModelPackageGroupName": GROUP})
    except Exception:  # noqa: BLE001 - exists already
        pass
    arn = executor.call("CreateModelPackage", {
        "ModelPackageGroupName": GROUP, "ModelApprovalStatus": status,
        "InferenceSpecification": {"Containers": [{"Image": "img", "ModelDataUrl": "s3://b/model.tar.gz"}],
                                   "SupportedContentTypes": ["text/csv"],
                                   "SupportedResponseMIMETypes": ["text/csv"]}})["ModelPackageArn"]
    return int(executor.call("DescribeModelPackage", {"ModelPackageName": arn})["ModelPackageVersion"])


def predicted(executor: LocalExecutor, batch_id: str, version: int) -> None:
    """The manifest the batch DAG writes once `version` has predicted the batch."""
    batch = next(b for b in find_batches(executor.list_objects(PREFIX), PREFIX, "*.csv", None)
                 if b.batch_id == batch_id)
    manifest = build_manifest(batch, model_package_arn=f"arn:{GROUP}/{version}", version=version, model_name="m",
                              job_name="j", output=OUTPUT, records={"input": 1, "output": 1}, reused_job=False)
    executor.write_bytes(manifest_uri(OUTPUT, batch_id, version), json.dumps(manifest).encode())


def deferred(op: BatchArrivalSensor, call: Any) -> TaskDeferred:
    with pytest.raises(TaskDeferred) as raised:
        call()
    assert raised.value.method_name == "execute_complete"
    return raised.value


def test_present_batches_without_a_ledger_succeed_with_their_ids(executor: LocalExecutor) -> None:
    put(executor, "b.csv")
    put(executor, "a.csv")
    put(executor, "readme.txt")
    assert sensor(executor).execute({}) == ["a.csv", "b.csv"]  # type: ignore[arg-type]


def test_nothing_there_defers_with_the_local_store_and_every_present_digest(executor: LocalExecutor) -> None:
    put(executor, "a.csv")
    op = sensor(executor, output_prefix=OUTPUT, model_group=GROUP)
    register(executor)
    predicted(executor, "a.csv", 1)
    defer = deferred(op, lambda: op.execute({}))  # type: ignore[arg-type]
    trigger = defer.trigger
    assert isinstance(trigger, BatchArrivalTrigger)
    classpath, kwargs = trigger.serialize()
    assert classpath == CLASSPATH
    assert kwargs["seen"] == [b.digest for b in find_batches(executor.list_objects(PREFIX), PREFIX, "*.csv", None)]
    assert kwargs["store_root"] == str(executor.store.root) and kwargs["executor"] == "local"
    assert kwargs["poke_seconds"] == 1.0 and kwargs["recheck_seconds"] == 600.0
    assert defer.timeout is not None and 0 < defer.timeout.total_seconds() <= op.timeout
    assert defer.kwargs is not None and defer.kwargs["deadline"] > time.time()


def test_only_batches_the_latest_approved_version_has_not_predicted_pass(executor: LocalExecutor) -> None:
    put(executor, "a.csv")
    put(executor, "b.csv")
    register(executor)
    predicted(executor, "a.csv", 1)
    op = sensor(executor, output_prefix=OUTPUT, model_group=GROUP)
    assert op.execute({}) == ["b.csv"]  # type: ignore[arg-type]
    # A newer approved version has predicted nothing yet: both are owed again
    register(executor)
    assert op.execute({}) == ["a.csv", "b.csv"]  # type: ignore[arg-type]
    # A batch whose object was rewritten (new ETag) is owed again by the version that predicted the old one
    op = sensor(executor, output_prefix=OUTPUT, model_group=GROUP, model_version=1)
    put(executor, "a.csv", "9,9\n")
    assert op.execute({}) == ["a.csv", "b.csv"]  # type: ignore[arg-type]


def test_no_approved_version_waits_and_says_how_to_approve(executor: LocalExecutor,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    put(executor, "a.csv")
    op = sensor(executor, output_prefix=OUTPUT, model_group=GROUP)
    deferred(op, lambda: op.execute({}))  # type: ignore[arg-type]  # no such group yet
    register(executor, status="PendingManualApproval")
    deferred(op, lambda: op.execute({}))  # type: ignore[arg-type]
    assert f"smflow registry approve {GROUP} VERSION" in capsys.readouterr().out


def test_back_from_the_trigger_it_checks_again(executor: LocalExecutor) -> None:
    op = sensor(executor)
    deadline = time.time() + 60
    deferred(op, lambda: op.execute_complete({}, {"status": "recheck"}, deadline=deadline))  # type: ignore[arg-type]
    put(executor, "a.csv")
    event = {"status": "arrived", "batches": ["a.csv"], "digests": ["x"]}
    assert op.execute_complete({}, event, deadline=deadline) == ["a.csv"]  # type: ignore[arg-type]


def test_a_trigger_error_fails_the_task_with_its_message(executor: LocalExecutor) -> None:
    op = sensor(executor)
    with pytest.raises(AirflowException, match="wait_for_data: listing s3://data/incoming/ failed: boom"):
        op.execute_complete({}, {"status": "error", "message": "listing s3://data/incoming/ failed: boom"})  # type: ignore[arg-type]


def test_the_timeout_spans_every_deferral_and_soft_fail_skips(executor: LocalExecutor) -> None:
    past = time.time() - 1
    with pytest.raises(AirflowSensorTimeout, match="no new batch under s3://data/incoming/ within the sensor's"):
        sensor(executor, timeout=5).execute_complete({}, {"status": "recheck"}, deadline=past)  # type: ignore[arg-type]
    with pytest.raises(AirflowSkipException):
        sensor(executor, timeout=5, soft_fail=True).execute_complete(
            {}, {"status": "recheck"}, deadline=past)  # type: ignore[arg-type]
    # the deferral's own timeout is what is left of the sensor's
    defer = deferred(op := sensor(executor, timeout=30),
                     lambda: op.execute_complete({}, {"status": "recheck"}, deadline=time.time() + 10))  # type: ignore[arg-type]
    assert defer.timeout is not None and defer.timeout.total_seconds() <= 10


def test_poke_mode_works_without_the_triggerer(executor: LocalExecutor) -> None:
    put(executor, "a.csv")
    assert sensor(executor, deferrable=False, timeout=5).execute({}) == ["a.csv"]  # type: ignore[arg-type]


def test_output_without_a_model_group_is_refused() -> None:
    with pytest.raises(ValueError, match="output_prefix without model_group"):
        BatchArrivalSensor(task_id="wait", input_prefix=PREFIX, output_prefix=OUTPUT)
