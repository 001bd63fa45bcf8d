"""The batch DAG in Airflow: its operators, the predictions Asset outlet, schedules, and the arrival sensor
first when it runs on data."""

from __future__ import annotations

from pathlib import Path

from smflow.dags.factory import build_dag
from smflow.operators.batch import FindBatchesOperator, PredictBatchesOperator, ResolveModelOperator
from smflow.operators.batch_sensor import BatchArrivalSensor
from tests.unit.compile.test_batch_dag import SOURCE, compiled


def test_cron_batch_dag_has_the_three_operators_and_the_predictions_outlet(tmp_path: Path) -> None:
    dag = build_dag(compiled(tmp_path).dag("batch"))
    assert dag.dag_id == "scoring__batch" and dag.max_active_runs == 1
    assert {t.task_id: type(t) for t in dag.tasks} == {
        "m.resolve_model": ResolveModelOperator, "m.find_batches": FindBatchesOperator,
        "m.predict": PredictBatchesOperator}
    assert [a.uri for a in dag.get_task("m.predict").outlets] == ["smflow://scoring/predictions"]
    assert dag.get_task("m.predict").upstream_task_ids == {"m.find_batches"}


def test_on_data_waits_for_a_batch_first_and_runs_continuously(tmp_path: Path) -> None:
    text = SOURCE.replace('"0 6 * * *"', "{on_data: true, poke_seconds: 5}")
    dag = build_dag(compiled(tmp_path, text).dag("batch"))
    assert type(dag.timetable).__name__ == "ContinuousTimetable" and dag.max_active_runs == 1
    sensor = dag.get_task("m.wait_for_data")
    assert isinstance(sensor, BatchArrivalSensor) and sensor.deferrable and sensor.poke_seconds == 5
    assert (sensor.input_prefix, sensor.marker, sensor.model_group) == (
        "s3://ml-bucket/incoming/", "_SUCCESS", "scoring-models")
    assert sensor.output_prefix == "s3://ml-bucket/scoring/predictions/m/"
    assert dag.get_task("m.resolve_model").upstream_task_ids == {"m.wait_for_data"}


def test_asset_schedule_waits_for_the_named_assets(tmp_path: Path) -> None:
    text = SOURCE.replace('"0 6 * * *"', "{assets: ['smflow://scoring/batch-input']}")
    dag = build_dag(compiled(tmp_path, text).dag("batch"))
    assert "smflow://scoring/batch-input" in str(dag.timetable.asset_condition)


def test_the_trigger_form_offers_the_batch_input(tmp_path: Path) -> None:
    dag = build_dag(compiled(tmp_path).dag("batch"))
    assert dag.params["input"] is None and dag.params.get_param("input").schema["type"] == ["null", "string"]
    assert "input" not in build_dag(compiled(tmp_path).dag("train")).params
