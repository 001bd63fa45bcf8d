"""The monitor's rules without Airflow running: the baseline read per object through the executor, the ledger
(each batch checked once per contents), the cool-down, and the clear failures on a version without a baseline or
data that does not fit the spec."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSkipException

from smflow.batch.discovery import Batch
from smflow.batch.drift_ledger import cooling_until, last_retrain, report_uri, unchecked
from smflow.drift.compare import DriftConfig
from smflow.drift.sketch import Baseline, sketch_batches
from smflow.executors.local import LocalExecutor
from smflow.operators.baseline import BaselineOperator
from smflow.operators.monitor import (
    DriftCheckOperator,
    MonitorResolveOperator,
    RetrainSignalOperator,
    package_baseline,
)
from smflow.operators.monitor_data import MonitorDataError, data_objects, monitored, read_tables
from smflow.operators.monitor_quality import QualityDataError, batch_quality, metric_of, owed

DATA = "s3://bkt/run/prep/output/train/"
OUT = "s3://bkt/monitoring/m/"


class FakeTaskInstance:
    def __init__(self, values: dict[str, Any]):
        self.values = values

    def xcom_pull(self, task_ids: str) -> Any:
        return self.values.get(task_ids)


def executor_with_training_data(tmp_path: Path) -> LocalExecutor:
    executor = LocalExecutor(tmp_path / "home", tmp_path / "store")
    executor.write_bytes(DATA + "part-1.csv", b"10,1.0,a\n20,2.0,b\n")
    executor.write_bytes(DATA + "part-2.csv", b"30,3.0,a\n")
    executor.write_bytes(DATA + "_SUCCESS", b"")
    return executor


def test_the_baseline_sketches_every_object_of_the_data_without_the_label(tmp_path: Path) -> None:
    executor = executor_with_training_data(tmp_path)
    assert data_objects(executor, DATA.rstrip("/")) == [DATA + "part-1.csv", DATA + "part-2.csv"]
    target = "s3://bkt/run/baseline.json"
    operator = BaselineOperator(task_id="m.baseline", operation=None, request={}, outputs={"baseline": target},
                                params_={"data": DATA, "columns": ["y", "x", "c"], "features": ["x", "c"],
                                         "exclude": [], "categorical": None}, executor="local")
    operator.get_executor = lambda: executor  # type: ignore[method-assign]
    result = operator.execute({"dag_run": None})  # type: ignore[arg-type]
    baseline = Baseline.from_json(executor.read_bytes(target), target)
    assert baseline.rows == 3 and baseline.names == ["x", "c"]
    assert result["outputs"]["trigger"] == "none" and result["outputs"]["objects"] == 2
    conf = type("Run", (), {"conf": {"retrain_report": OUT + "b/drift.json"}})()
    assert operator.execute({"dag_run": conf})["outputs"]["trigger"] == OUT + "b/drift.json"  # type: ignore[arg-type]


def test_data_that_does_not_fit_the_spec_is_a_clear_error(tmp_path: Path) -> None:
    executor = LocalExecutor(tmp_path / "home", tmp_path / "store")
    executor.write_bytes("s3://bkt/wide.csv", b"1,2,3\n")
    with pytest.raises(MonitorDataError, match=r"s3://bkt/wide.csv: not a header-less CSV of the 2 columns named in "
                                               r"the spec \(a, b\)"):
        list(read_tables(executor, ["s3://bkt/wide.csv"], ["a", "b"], None, []))
    executor.write_bytes("s3://bkt/x.csv", b"1,2\n")
    (table,) = read_tables(executor, ["s3://bkt/x.csv"], ["a", "b"], None, [])
    with pytest.raises(MonitorDataError, match="has no column c"):
        monitored(table, "s3://bkt/x.csv", ["a", "c"], [])
    assert monitored(table, "s3://bkt/x.csv", None, ["b"]).column_names == ["a"]
    with pytest.raises(MonitorDataError, match="no data under s3://bkt/empty/"):
        data_objects(LocalExecutor(tmp_path / "home", tmp_path / "store"), "s3://bkt/empty/")


def test_a_batch_is_checked_again_only_when_its_objects_change() -> None:
    day1 = Batch("day1.csv", (("s3://bkt/in/day1.csv", "e1"),))
    changed = Batch("day1.csv", (("s3://bkt/in/day1.csv", "e2"),))
    stored = {report_uri(OUT, "day1.csv"): json.dumps({"batch": {"digest": day1.digest}}).encode()}
    assert unchecked([day1], OUT, stored.get) == []
    assert unchecked([changed], OUT, stored.get) == [changed]
    with pytest.raises(ValueError, match="is not a drift report .* delete it to check the batch again"):
        unchecked([day1], OUT, lambda uri: b"{}")


def test_the_cool_down_holds_from_the_recorded_retraining() -> None:
    now = datetime(2026, 1, 1, 12, tzinfo=UTC)
    record = last_retrain(json.dumps({"emitted_at": "2026-01-01T10:00:00+00:00"}).encode(), "u")
    assert cooling_until(record, timedelta(hours=6), now) == datetime(2026, 1, 1, 16, tzinfo=UTC)
    assert cooling_until(record, timedelta(hours=1), now) is None
    assert last_retrain(b"not json", "u") is None and cooling_until(None, timedelta(hours=6), now) is None


def retrain_operator() -> RetrainSignalOperator:
    return RetrainSignalOperator(task_id="m.retrain", operation=None, request={}, executor="local", params_={
        "check_task": "m.check_drift", "cooldown_seconds": 3600, "cooldown_record": OUT + "_retrain.json",
        "outlets": ["smflow://p/retrain"], "train_dag": "p__train"})


class OutletEvents(dict):
    def __missing__(self, key: Any) -> Any:
        self[key] = type("Accessor", (), {"extra": None})()
        return self[key]


def test_the_retrain_asset_is_updated_once_per_cool_down(tmp_path: Path) -> None:
    executor = LocalExecutor(tmp_path / "home", tmp_path / "store")
    operator = retrain_operator()
    operator.get_executor = lambda: executor  # type: ignore[method-assign]
    clean = {"m.check_drift": {"checked": [{"batch_id": "a", "dataset_drift": False, "drifted": []}]}}
    with pytest.raises(AirflowSkipException, match="no dataset drift in 1 newly checked batch"):
        operator.execute({"ti": FakeTaskInstance(clean), "run_id": "r1"})  # type: ignore[arg-type]
    drift = {"m.check_drift": {"checked": [{"batch_id": "b", "dataset_drift": True, "drifted": ["x"],
                                            "report": OUT + "b/drift.json", "html": OUT + "b/drift.html"}]}}
    events = OutletEvents()
    result = operator.execute({"ti": FakeTaskInstance(drift), "run_id": "r2",  # type: ignore[arg-type]
                               "outlet_events": events})
    (accessor,) = events.values()
    assert accessor.extra["report"] == OUT + "b/drift.json" and accessor.extra["drifted"] == ["x"]
    assert result["status"] == "Triggered" and result["outputs"]["batches"] == ["b"]
    assert json.loads(executor.read_bytes(OUT + "_retrain.json"))["run_id"] == "r2"
    with pytest.raises(AirflowSkipException, match="within the cool-down of 1:00:00"):
        operator.execute({"ti": FakeTaskInstance(drift), "run_id": "r3",  # type: ignore[arg-type]
                          "outlet_events": OutletEvents()})


def test_a_version_without_a_baseline_fails_saying_how_to_get_one(tmp_path: Path) -> None:
    executor = LocalExecutor(tmp_path / "home", tmp_path / "store")
    executor.call("CreateModelPackageGroup", {"ModelPackageGroupName": "g"})
    executor.call("CreateModelPackage", {"ModelPackageGroupName": "g", "ModelApprovalStatus": "Approved"})
    assert package_baseline({"DriftCheckBaselines": {"ModelDataQuality": {"Statistics": {"S3Uri": "s3://b/x"}}}}) \
        == "s3://b/x"
    operator = MonitorResolveOperator(task_id="m.resolve_baseline", operation=None, request={}, executor="local",
                                      params_={"group": "g", "version": None})
    operator.get_executor = lambda: executor  # type: ignore[method-assign]
    with pytest.raises(AirflowFailException, match="registered without a drift baseline .* `monitor:` configured"):
        operator.execute({})  # type: ignore[arg-type]


def test_no_approved_version_fails_in_the_monitors_words(tmp_path: Path) -> None:
    executor = LocalExecutor(tmp_path / "home", tmp_path / "store")
    operator = MonitorResolveOperator(task_id="m.resolve_baseline", operation=None, request={}, executor="local",
                                      params_={"group": "g", "version": None})
    operator.get_executor = lambda: executor  # type: ignore[method-assign]
    with pytest.raises(AirflowFailException, match="no Approved .* whose baseline to check against; .*"
                                                   "pin `monitor.model.version`"):
        operator.execute({})  # type: ignore[arg-type]
    executor.call("CreateModelPackageGroup", {"ModelPackageGroupName": "g"})
    executor.call("CreateModelPackage", {"ModelPackageGroupName": "g", "ModelApprovalStatus": "PendingManualApproval"})
    with pytest.raises(AirflowFailException, match="no Approved .* whose baseline to check against; .*approve"):
        operator.execute({})  # type: ignore[arg-type]
    operator.params_ = {"group": "g", "version": 7}
    with pytest.raises(AirflowFailException, match="monitor.model.version 7 is not in model package group g"):
        operator.execute({})  # type: ignore[arg-type]


def test_prediction_drift_compares_the_batch_dags_predictions_when_there_are_some(tmp_path: Path) -> None:
    executor = LocalExecutor(tmp_path / "home", tmp_path / "store")
    executor.write_bytes("s3://bkt/p.out", "".join(f"{v}\n" for v in range(100)).encode())
    reference = sketch_batches(read_tables(executor, ["s3://bkt/p.out"], ["prediction"], None, []))
    executor.write_bytes("s3://bkt/pred-baseline.json", reference.to_json().encode())
    operator = DriftCheckOperator(task_id="m.check_drift", operation=None, request={}, executor="local",
                                  params_={"predictions_output": "s3://bkt/predictions/m/"})
    batch = Batch("day1.csv", (("s3://bkt/in/day1.csv", "e"),))
    model = {"model_version": 2, "predictions_baseline": "s3://bkt/pred-baseline.json"}
    waiting = operator.prediction_drift(executor, batch, model, DriftConfig())
    assert waiting == {"status": "no predictions of this batch by version 2 yet (s3://bkt/predictions/m/day1.csv/v2/)"}
    folder = "s3://bkt/predictions/m/day1.csv/v2/"
    executor.write_bytes(folder + "day1.csv.out", "".join(f"{v + 80}\n" for v in range(100)).encode())
    executor.write_bytes(folder + "_manifest.json", b"{}")
    found = operator.prediction_drift(executor, batch, model, DriftConfig())
    assert found["status"] == "compared" and found["drift"] is True and found["rows"] == 100
    assert operator.prediction_drift(executor, batch, {"model_version": 2, "predictions_baseline": ""},
                                     DriftConfig())["status"].startswith("not configured")


def test_quality_drift_waits_for_labels_and_predictions_then_is_recorded_once(tmp_path: Path) -> None:
    assert metric_of("rmse", ["1", "2"], ["1", "4"], "w") == pytest.approx(2 ** 0.5)
    assert metric_of("mae", ["1", "2"], ["1", "4"], "w") == 1.0
    assert metric_of("accuracy", ["1", "a"], ["1.0", "b"], "w") == 0.5
    with pytest.raises(QualityDataError, match="2 label.* but 1 prediction"):
        metric_of("rmse", ["1", "2"], ["1"], "w")
    executor = LocalExecutor(tmp_path / "home", tmp_path / "store")
    batch = Batch("day1.csv", (("s3://bkt/in/day1.csv", "e"),))
    quality = {"labels": "s3://bkt/labels/", "metric": "rmse", "tolerance": 1.0}
    model = {"model_version": 1}
    args = (quality, "s3://bkt/pred/", model, 2.0, OUT, {"dag_id": "p__monitor", "run_id": "r"})
    assert owed(executor, batch, OUT) and batch_quality(executor, batch, *args) is None  # nothing arrived yet
    executor.write_bytes("s3://bkt/labels/day1.csv", b"10\n20\n")
    executor.write_bytes("s3://bkt/pred/day1.csv/v1/day1.csv.out", b"14\n24\n")
    assert batch_quality(executor, batch, *args) is None  # predictions without their manifest: not done yet
    executor.write_bytes("s3://bkt/pred/day1.csv/v1/_manifest.json", b"{}")
    done = batch_quality(executor, batch, *args)
    assert done is not None and done["current"] == 4.0 and done["quality_drift"] is True  # 4 - 2 > 1
    assert owed(executor, batch, OUT)  # nothing is recorded until the caller writes the ledger
    executor.write_bytes(*done["ledger"])
    assert not owed(executor, batch, OUT)
    assert json.loads(executor.read_bytes(OUT + "day1.csv/quality.json"))["statistic"] == "quality_degradation"


def drift_check(tmp_path: Path, **params: Any) -> tuple[LocalExecutor, DriftCheckOperator, bytes]:
    """A baseline of two columns, a clearly shifted batch under s3://bkt/in/, and the check_drift operator on
    them (with `params` added); the baseline's own rows are returned for a clean batch."""
    executor = LocalExecutor(tmp_path / "home", tmp_path / "store")
    values = "".join(f"{v % 50},{v % 7}\n" for v in range(300)).encode()
    executor.write_bytes("s3://bkt/r.csv", values)
    reference = sketch_batches(read_tables(executor, ["s3://bkt/r.csv"], ["a", "b"], None, []))
    executor.write_bytes("s3://bkt/baseline.json", reference.to_json().encode())
    executor.write_bytes("s3://bkt/in/shifted.csv", "".join(f"{v % 50 + 60},{v % 7 + 9}\n"
                                                            for v in range(300)).encode())
    operator = DriftCheckOperator(task_id="m.check_drift", operation=None, request={}, executor="local", params_={
        "input": "s3://bkt/in/", "pattern": "*.csv", "marker": None, "output": OUT, "columns": ["a", "b"],
        "exclude": [], "drift": {"drift_share": 0.5, "features": {}}, "resolve_task": "m.resolve_baseline",
        **params})
    operator.get_executor = lambda: executor  # type: ignore[method-assign]
    return executor, operator, values


def test_a_bad_batch_fails_the_check_and_leaves_the_drifted_ones_unrecorded(tmp_path: Path) -> None:
    """So the drift is not lost: the next run (once the bad batch is fixed) checks it again and retrains."""
    executor, operator, values = drift_check(tmp_path, predictions_output=None, quality=None)
    executor.write_bytes("s3://bkt/in/clean.csv", values)
    executor.write_bytes("s3://bkt/in/bad.csv", b"1,2,3\n")
    resolved = {"m.resolve_baseline": {"outputs": {"baseline": "s3://bkt/baseline.json", "model_version": 1,
                                                   "model_package_arn": "arn:p/1", "predictions_baseline": ""}}}
    context = {"ti": FakeTaskInstance(resolved), "run_id": "r1"}
    with pytest.raises(AirflowException, match="1 of 3 batch.* bad.csv: .*The drifted batch.* shifted.csv are "
                                               "checked again by the next run"):
        operator.execute(context)  # type: ignore[arg-type]
    assert executor.exists(OUT + "clean.csv/drift.json") and not executor.exists(OUT + "shifted.csv/drift.json")
    executor.store.delete("s3://bkt/in/bad.csv")
    result = operator.execute(context)  # type: ignore[arg-type]
    assert [(c["batch_id"], c["dataset_drift"]) for c in result["checked"]] == [("shifted.csv", True)]
    assert executor.exists(OUT + "shifted.csv/drift.json")


def test_a_quality_failure_leaves_the_drifted_batches_unrecorded(tmp_path: Path) -> None:
    """The quality check runs before any drifted batch is recorded, so its failure cannot swallow a drift."""
    executor, operator, _ = drift_check(tmp_path, predictions_output="s3://bkt/pred/", quality={
        "labels": "s3://bkt/labels/", "metric": "rmse", "tolerance": 1.0, "report_metric": "rmse"})
    executor.write_bytes("s3://bkt/eval.json", b"not json")
    resolved = {"m.resolve_baseline": {"outputs": {"baseline": "s3://bkt/baseline.json", "model_version": 1,
                                                   "model_package_arn": "arn:p/1", "predictions_baseline": "",
                                                   "evaluation_report": "s3://bkt/eval.json"}}}
    with pytest.raises(AirflowFailException, match="evaluation report s3://bkt/eval.json of version 1 cannot be read"):
        operator.execute({"ti": FakeTaskInstance(resolved), "run_id": "r1"})  # type: ignore[arg-type]
    assert not executor.exists(OUT + "shifted.csv/drift.json")


def test_a_large_object_is_read_chunk_by_chunk_and_sketched_as_a_whole(tmp_path: Path) -> None:
    """A training set is never held whole: the store's file is read in chunks, and the merged sketch counts
    every row (the local executor hands over its own file, no copy)."""
    import numpy as np

    from smflow.drift.tables import DEFAULT_CHUNK_ROWS
    from smflow.local_sagemaker.store import ObjectNotFoundError

    executor = LocalExecutor(tmp_path / "home", tmp_path / "store")
    rows = 2 * DEFAULT_CHUNK_ROWS + 1000
    values = np.arange(rows, dtype=np.float64)
    executor.write_bytes("s3://bkt/big/train.csv", "".join(f"{v:.0f},{v % 3:.0f}\n" for v in values).encode())
    with executor.local_file("s3://bkt/big/train.csv") as path:
        assert path == executor.store.path_for("s3://bkt/big/train.csv")
    chunks = list(read_tables(executor, ["s3://bkt/big/train.csv"], ["x", "k"], ["x"], []))
    assert [c.num_rows for c in chunks] == [DEFAULT_CHUNK_ROWS, DEFAULT_CHUNK_ROWS, 1000]
    assert all(c.schema.names == ["x"] for c in chunks)
    sketch = sketch_batches(iter(chunks))
    (feature,) = sketch.features
    assert sketch.rows == rows and feature.numeric is not None
    assert feature.numeric.mean == pytest.approx(values.mean()) and feature.numeric.max == rows - 1
    with pytest.raises(ObjectNotFoundError):
        list(read_tables(executor, ["s3://bkt/big/missing.csv"], None, None, []))


def test_an_empty_or_broken_object_is_named_by_its_uri_not_the_stores_file(tmp_path: Path) -> None:
    executor = LocalExecutor(tmp_path / "home", tmp_path / "store")
    executor.write_bytes("s3://bkt/in/empty.csv", b"")
    executor.write_bytes("s3://bkt/in/ragged.csv", b"a,b\n1,2\n3\n")
    for uri, reason in (("s3://bkt/in/empty.csv", "the object is empty"),
                        ("s3://bkt/in/ragged.csv", "not a readable CSV")):
        with pytest.raises(MonitorDataError) as raised:
            list(read_tables(executor, [uri], None, None, []))
        assert str(raised.value).startswith(f"{uri}: {reason}") and str(tmp_path) not in str(raised.value)
