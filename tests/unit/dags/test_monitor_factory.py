"""The monitor DAG in Airflow: its operators, the retrain Asset outlet, the drift-arrival sensor first when it runs
on data; and the train DAG on its cron or the retrain Asset (AssetOrTimeSchedule)."""

from __future__ import annotations

import json
from pathlib import Path

from smflow.batch.discovery import Batch
from smflow.batch.drift_ledger import report_uri
from smflow.dags.factory import build_dag
from smflow.executors.local import LocalExecutor
from smflow.operators.drift_sensor import DriftArrivalSensor
from smflow.operators.monitor import DriftCheckOperator, MonitorResolveOperator, RetrainSignalOperator
from tests.unit.compile.test_monitor_dag import SOURCE, compiled


def test_on_data_monitor_waits_for_an_unchecked_batch_then_resolves_checks_signals(tmp_path: Path) -> None:
    dag = build_dag(compiled(tmp_path).dag("monitor"))
    assert type(dag.timetable).__name__ == "ContinuousTimetable" and dag.max_active_runs == 1
    assert {t.task_id: type(t) for t in dag.tasks} == {
        "m.wait_for_data": DriftArrivalSensor, "m.resolve_baseline": MonitorResolveOperator,
        "m.check_drift": DriftCheckOperator, "m.retrain": RetrainSignalOperator}
    assert [a.uri for a in dag.get_task("m.retrain").outlets] == ["smflow://scoring/retrain"]
    sensor = dag.get_task("m.wait_for_data")
    assert isinstance(sensor, DriftArrivalSensor) and sensor.output_prefix == "s3://ml-bucket/scoring/monitoring/m/"
    assert dag.get_task("m.resolve_baseline").upstream_task_ids == {"m.wait_for_data"}

    executor = LocalExecutor(tmp_path / "home", tmp_path / "store")
    checked, new = Batch("a.csv", (("s3://ml-bucket/incoming/a.csv", "1"),)), Batch(
        "b.csv", (("s3://ml-bucket/incoming/b.csv", "2"),))
    executor.write_bytes(report_uri(sensor.output_prefix, "a.csv"),
                         json.dumps({"batch": {"digest": checked.digest}}).encode())
    assert sensor.waiting(executor, [checked, new]) == [new]


def test_the_train_dag_runs_on_its_cron_or_the_retrain_asset(tmp_path: Path) -> None:
    dag = build_dag(compiled(tmp_path).dag("train"))
    timetable = dag.timetable
    assert type(timetable).__name__ == "AssetOrTimeSchedule"
    assert "smflow://scoring/retrain" in str(timetable.asset_condition) and "0 3 * * 1" in str(timetable)
    manual = build_dag(compiled(tmp_path, SOURCE.replace('train: "0 3 * * 1", ', "")).dag("train"))
    assert "smflow://scoring/retrain" in str(manual.timetable.asset_condition)
