"""Batch transform on the local store with a real scikit-learn model packed as SageMaker packs it."""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from smflow.local_sagemaker.containers import transform
from smflow.local_sagemaker.containers.dataprocessing import DataProcessingError, parse_jsonpath
from smflow.local_sagemaker.containers.transform import TransformJobError, run_transform_job
from smflow.local_sagemaker.store import LocalStore

FIXTURES = Path(__file__).parent / "fixtures_transform"
BUCKET = "s3://bucket"
MODEL_URI = f"{BUCKET}/models/churn/model.tar.gz"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"


@pytest.fixture(scope="module")
def classifier() -> LogisticRegression:
    rng = np.random.default_rng(7)
    features = rng.normal(size=(300, 3))
    labels = (features @ np.array([1.0, -2.0, 0.5]) > 0).astype(int)
    return LogisticRegression().fit(features, labels)


@pytest.fixture
def store(tmp_path: Path, classifier: LogisticRegression) -> LocalStore:
    """A store holding model.tar.gz = model.joblib + code/inference.py, packed from inside the model dir."""
    store = LocalStore(tmp_path / "store")
    model_dir = tmp_path / "packing"
    (model_dir / "code").mkdir(parents=True)
    joblib.dump(classifier, model_dir / "model.joblib")
    shutil.copy(FIXTURES / "sklearn_inference.py", model_dir / "code" / "inference.py")
    store.upload_tar(model_dir, MODEL_URI)
    return store


def create_model(name: str = "churn", **environment: str) -> dict[str, Any]:
    return {
        "ModelName": name,
        "ExecutionRoleArn": "arn:aws:iam::000000000000:role/SageMakerRole",
        "PrimaryContainer": {
            "Image": IMAGE,
            "ModelDataUrl": MODEL_URI,
            "Environment": {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
                            **environment},
        },
    }


def transform_request(input_uri: str, **overrides: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "TransformJobName": "churn-batch-1",
        "ModelName": "churn",
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": input_uri}},
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        "TransformOutput": {"S3OutputPath": f"{BUCKET}/batch/out", "Accept": "text/csv", "AssembleWith": "Line"},
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
    }
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(request.get(key), dict):
            request[key] = {**request[key], **value}
        else:
            request[key] = value
    return request


def write_csv(store: LocalStore, uri: str, rows: np.ndarray) -> None:
    buffer = io.StringIO()
    np.savetxt(buffer, rows, delimiter=",", fmt="%.6f")
    store.write_bytes(uri, buffer.getvalue().encode())


def features(rows: int, seed: int) -> np.ndarray:
    return np.round(np.random.default_rng(seed).normal(size=(rows, 3)), 6)


def expected_lines(model: LogisticRegression, rows: np.ndarray) -> list[str]:
    """What SKC answers: predictions on float32 input, one per line."""
    return [str(v) for v in model.predict(rows.astype(np.float32)).tolist()]


def run(request: dict[str, Any], store: LocalStore, tmp_path: Path, model: dict[str, Any] | None = None) -> str:
    log = io.StringIO()
    run_transform_job(request, model or create_model(), store, tmp_path / "job", log)
    return log.getvalue()


@pytest.mark.parametrize("strategy", ["SingleRecord", "MultiRecord"])
def test_prefix_of_three_csv_files_gives_one_out_file_each_with_one_prediction_per_line(
    strategy: str, store: LocalStore, tmp_path: Path, classifier: LogisticRegression
) -> None:
    inputs = {"a.csv": features(40, 1), "b.csv": features(25, 2), "nested/c.csv": features(31, 3)}
    for key, rows in inputs.items():
        write_csv(store, f"{BUCKET}/batch/in/{key}", rows)
    write_csv(store, f"{BUCKET}/batch/input-elsewhere.csv", features(2, 4))  # outside the prefix folder

    log = run(transform_request(f"{BUCKET}/batch/in/", BatchStrategy=strategy), store, tmp_path)

    outputs = sorted(store.list(f"{BUCKET}/batch/out/"))
    assert outputs == [f"{BUCKET}/batch/out/{key}.out" for key in ("a.csv", "b.csv", "nested/c.csv")]
    for key, rows in inputs.items():
        text = store.read_bytes(f"{BUCKET}/batch/out/{key}.out").decode()
        assert text.endswith("\n") and "\n\n" not in text
        assert text.splitlines() == expected_lines(classifier, rows)
    requests = 96 if strategy == "SingleRecord" else 3
    assert f"96 record(s), {requests} request(s)" in log
    assert "a.csv: 40 record(s)" in log
    assert (tmp_path / "job" / "model" / "model.joblib").is_file()


def test_multirecord_splits_payloads_at_max_payload_in_mb(
    store: LocalStore, tmp_path: Path, classifier: LogisticRegression
) -> None:
    rows = features(80_000, 5)  # about 2.6 MB of CSV
    write_csv(store, f"{BUCKET}/batch/big/part-0.csv", rows)

    log = run(transform_request(f"{BUCKET}/batch/big/", BatchStrategy="MultiRecord", MaxPayloadInMB=1),
              store, tmp_path)

    lines = store.read_bytes(f"{BUCKET}/batch/out/part-0.csv.out").decode().splitlines()
    assert lines == expected_lines(classifier, rows)
    assert "part-0.csv: 80000 record(s) in 3 request(s)" in log


def test_batch_environment_reaches_the_handler(store: LocalStore, tmp_path: Path) -> None:
    code = tmp_path / "env-model"
    (code / "code").mkdir(parents=True)
    shutil.copy(FIXTURES / "env_inference.py", code / "code" / "inference.py")
    store.upload_tar(code, f"{BUCKET}/models/env/model.tar.gz")
    model = create_model(MODEL_SETTING="from-model")
    model["PrimaryContainer"]["ModelDataUrl"] = f"{BUCKET}/models/env/model.tar.gz"
    store.write_bytes(f"{BUCKET}/batch/env/x.csv", b"1,2\n3,4\n5,6\n")

    run(transform_request(f"{BUCKET}/batch/env/x.csv", BatchStrategy="MultiRecord", MaxPayloadInMB=4,
                          MaxConcurrentTransforms=2, Environment={"JOB_SETTING": "from-job"}),
        store, tmp_path, model)
    multi = store.read_bytes(f"{BUCKET}/batch/out/x.csv.out").decode()
    run(transform_request(f"{BUCKET}/batch/env/x.csv", BatchStrategy="SingleRecord"), store, tmp_path, model)
    single = store.read_bytes(f"{BUCKET}/batch/out/x.csv.out").decode()

    assert multi == "true,4,MULTI_RECORD,2,from-model,from-job,3\n"
    assert single == "true,6,SINGLE_RECORD,1,from-model,-,1\n" * 3
    assert "SAGEMAKER_BATCH" not in os.environ  # restored after the job


def test_record_larger_than_max_payload_fails_with_a_clear_reason(store: LocalStore, tmp_path: Path) -> None:
    huge = ",".join(["1.0"] * 300_000)  # 1.2 MB on one line
    store.write_bytes(f"{BUCKET}/batch/huge/x.csv", f"1,2,3\n{huge}\n4,5,6\n".encode())

    for strategy in ("MultiRecord", "SingleRecord"):
        with pytest.raises(TransformJobError, match=r"x.csv: line 2 is 1.\d+ MB, larger than MaxPayloadInMB \(1 MB\)"):
            run(transform_request(f"{BUCKET}/batch/huge/", BatchStrategy=strategy, MaxPayloadInMB=1), store, tmp_path)


def test_split_type_none_sends_each_json_object_whole(
    store: LocalStore, tmp_path: Path, classifier: LogisticRegression
) -> None:
    first, second = features(12, 8), features(5, 9)
    store.write_bytes(f"{BUCKET}/batch/json/one.json", json.dumps(first.tolist()).encode())
    store.write_bytes(f"{BUCKET}/batch/json/two.json", json.dumps(second.tolist()).encode())

    log = run(transform_request(
        f"{BUCKET}/batch/json", TransformInput={"ContentType": "application/json", "SplitType": "None"},
        TransformOutput={"Accept": "application/json", "AssembleWith": "None"}), store, tmp_path)

    for name, rows in (("one.json", first), ("two.json", second)):
        body = store.read_bytes(f"{BUCKET}/batch/out/{name}.out")
        assert json.loads(body) == classifier.predict(rows.astype(np.float32)).tolist()
    assert "2 record(s), 2 request(s)" in log


def test_gzip_input_is_decompressed(store: LocalStore, tmp_path: Path, classifier: LogisticRegression) -> None:
    rows = features(20, 10)
    buffer = io.StringIO()
    np.savetxt(buffer, rows, delimiter=",", fmt="%.6f")
    store.write_bytes(f"{BUCKET}/batch/gz/rows.csv.gz", gzip.compress(buffer.getvalue().encode()))

    run(transform_request(f"{BUCKET}/batch/gz/", TransformInput={"CompressionType": "Gzip"}), store, tmp_path)

    lines = store.read_bytes(f"{BUCKET}/batch/out/rows.csv.gz.out").decode().splitlines()
    assert lines == expected_lines(classifier, rows)


def test_csv_join_and_filters_keep_the_id_and_the_prediction(
    store: LocalStore, tmp_path: Path, classifier: LogisticRegression
) -> None:
    rows = features(30, 11)
    ids = [f"cust-{i}" for i in range(30)]
    text = "".join(f"{cid}," + ",".join(f"{v:.6f}" for v in row) + "\n" for cid, row in zip(ids, rows, strict=True))
    store.write_bytes(f"{BUCKET}/batch/ids/customers.csv", text.encode())

    for strategy in ("MultiRecord", "SingleRecord"):
        run(transform_request(
            f"{BUCKET}/batch/ids/", BatchStrategy=strategy,
            DataProcessing={"InputFilter": "$[1:]", "JoinSource": "Input", "OutputFilter": "$[0,-1]"}),
            store, tmp_path)
        lines = store.read_bytes(f"{BUCKET}/batch/out/customers.csv.out").decode().splitlines()
        assert lines == [f"{cid},{pred}" for cid, pred in zip(ids, expected_lines(classifier, rows), strict=True)]


def test_json_join_adds_sagemaker_output(store: LocalStore, tmp_path: Path, classifier: LogisticRegression) -> None:
    rows = features(4, 12)
    records = [{"id": i, "features": row.tolist()} for i, row in enumerate(rows)]
    store.write_bytes(f"{BUCKET}/batch/jsonl/r.jsonl", "".join(json.dumps(r) + "\n" for r in records).encode())

    run(transform_request(
        f"{BUCKET}/batch/jsonl/", BatchStrategy="SingleRecord",
        TransformInput={"ContentType": "application/json"},
        TransformOutput={"Accept": "application/json"},
        DataProcessing={"InputFilter": "$.features", "JoinSource": "Input",
                        "OutputFilter": "$['id','SageMakerOutput']"}), store, tmp_path)

    lines = store.read_bytes(f"{BUCKET}/batch/out/r.jsonl.out").decode().splitlines()
    predictions = classifier.predict(rows.astype(np.float32)).tolist()
    assert [json.loads(line) for line in lines] == [
        {"id": i, "SageMakerOutput": [p]} for i, p in enumerate(predictions)]


def test_serial_pipeline_with_sourcedir_tarball(
    store: LocalStore, tmp_path: Path, classifier: LogisticRegression
) -> None:
    source = tmp_path / "sourcedir"
    source.mkdir()
    shutil.copy(FIXTURES / "doubler_inference.py", source / "preprocess.py")
    store.upload_tar(source, f"{BUCKET}/code/sourcedir.tar.gz")
    model = create_model()
    model["Containers"] = [
        {"Image": IMAGE, "Environment": {
            "SAGEMAKER_PROGRAM": "preprocess.py", "SAGEMAKER_SUBMIT_DIRECTORY": f"{BUCKET}/code/sourcedir.tar.gz",
            "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "text/csv"}},
        model.pop("PrimaryContainer"),
    ]
    rows = features(15, 13)
    write_csv(store, f"{BUCKET}/batch/pipe/x.csv", rows)

    run(transform_request(f"{BUCKET}/batch/pipe/"), store, tmp_path, model)

    lines = store.read_bytes(f"{BUCKET}/batch/out/x.csv.out").decode().splitlines()
    assert lines == expected_lines(classifier, rows * 2)


def test_model_error_names_the_file_and_records(store: LocalStore, tmp_path: Path) -> None:
    store.write_bytes(f"{BUCKET}/batch/bad/x.csv", b"1,2,3\n1,2\n")

    with pytest.raises(TransformJobError, match=r"x.csv: request 1 \(records 1-2\) failed in inference.py"):
        run(transform_request(f"{BUCKET}/batch/bad/"), store, tmp_path)
    with pytest.raises(TransformJobError, match=r"x.csv: request 2 \(record 2\) failed in inference.py: ValueError"):
        run(transform_request(f"{BUCKET}/batch/bad/", BatchStrategy="SingleRecord"), store, tmp_path)


@pytest.mark.parametrize(("overrides", "message"), [
    ({"TransformInput": {"ContentType": "application/xml"}}, "check TransformInput.ContentType"),
    ({"TransformInput": {"SplitType": "RecordIO"}}, "SplitType RecordIO is not supported"),
    ({"TransformOutput": {"S3OutputPath": "/tmp/out"}}, "TransformOutput.S3OutputPath"),
    ({"MaxPayloadInMB": 60, "MaxConcurrentTransforms": 2}, "exceeds SageMaker's limit of 100 MB"),
    ({"DataProcessing": {"InputFilter": "$[1:"}}, r"InputFilter '\$\[1:': '\[' is never closed"),
    ({"DataProcessing": {"JoinSource": "Input"}, "TransformOutput": {"AssembleWith": "None"}},
     "set AssembleWith to Line"),
])
def test_bad_requests_fail_naming_the_field(
    overrides: dict[str, Any], message: str, store: LocalStore, tmp_path: Path
) -> None:
    store.write_bytes(f"{BUCKET}/batch/ok/x.csv", b"1,2,3\n")
    with pytest.raises(TransformJobError, match=message):
        run(transform_request(f"{BUCKET}/batch/ok/", **overrides), store, tmp_path)


def test_missing_inputs_and_model_data_are_reported(store: LocalStore, tmp_path: Path) -> None:
    with pytest.raises(TransformJobError, match="no objects under TransformInput S3Uri"):
        run(transform_request(f"{BUCKET}/batch/nothing/"), store, tmp_path)
    store.write_bytes(f"{BUCKET}/batch/ok/x.csv", b"1,2,3\n")
    model = create_model()
    model["PrimaryContainer"]["ModelDataUrl"] = f"{BUCKET}/models/missing/model.tar.gz"
    with pytest.raises(TransformJobError, match="model data .*missing/model.tar.gz is not in the local store"):
        run(transform_request(f"{BUCKET}/batch/ok/"), store, tmp_path, model)


@pytest.mark.parametrize(("path", "record", "expected"), [
    ("$", ["a", "b"], ["a", "b"]),
    ("$[1:]", ["id", "1", "2"], ["1", "2"]),
    ("$[:-1]", ["1", "2", "label"], ["1", "2"]),
    ("$[0,-1]", ["id", "1", "2", "pred"], ["id", "pred"]),
    ("$[-2]", ["a", "b", "c"], "b"),
    ("$.features", {"id": 1, "features": [1, 2]}, [1, 2]),
    ("$.features[1:]", {"features": [1, 2, 3]}, [2, 3]),
    ("$['id','SageMakerOutput']", {"id": 1, "x": 2, "SageMakerOutput": 0}, {"id": 1, "SageMakerOutput": 0}),
    ('$["id"]', {"id": 7}, 7),
    ("$.*", {"a": 1, "b": 2}, [1, 2]),
    ("$[*]", [3, 4], [3, 4]),
])
def test_jsonpath_subset(path: str, record: Any, expected: Any) -> None:
    assert parse_jsonpath(path, "DataProcessing.InputFilter").apply(record) == expected


@pytest.mark.parametrize(("path", "record", "message"), [
    ("$.id", ["a", "b"], "CSV rows are positional, use \\$\\[i\\]"),
    ("$[5]", ["a", "b"], "index 5 is out of range for a record of 2 fields"),
    ("$.missing", {"id": 1}, "key 'missing' is not in the record \\(keys: id\\)"),
    ("$[a]", ["a"], "cannot read \\[a\\] at character 2"),
    ("features", ["a"], "must start with '\\$'"),
])
def test_jsonpath_errors_name_the_filter_and_problem(path: str, record: Any, message: str) -> None:
    with pytest.raises(DataProcessingError, match=message):
        parse_jsonpath(path, "DataProcessing.InputFilter").apply(record)


def test_multirecord_payloads_hold_whole_lines_within_the_limit_and_rebuild_the_input(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(transform, "MIB", 64)  # MaxPayloadInMB=1 now means 64 bytes
    settings = transform.parse_transform_request(transform_request(f"{BUCKET}/x/", MaxPayloadInMB=1))
    rng = np.random.default_rng(14)
    for _ in range(50):
        lines = [b"x" * int(n) for n in rng.integers(1, 64, size=int(rng.integers(1, 40)))]  # each ≤ 64 with \n
        data = b"\n".join(lines) + (b"\n" if rng.random() < 0.5 else b"")
        payloads = list(transform._payloads(data, "x.csv", settings))
        assert b"".join(p for p, _ in payloads) == data
        assert all(len(p) <= 64 and (p.endswith(b"\n") or p is payloads[-1][0]) for p, _ in payloads)
        assert sum(count for _, count in payloads) == len(lines)


# ---- absent fields: SageMaker's and the container's defaults ------------------------------------------------

def bare_request(input_uri: str, **fields: Any) -> dict[str, Any]:
    """What the SDK's Transformer sends when nothing optional is set: S3DataType and the required fields."""
    return {
        "TransformJobName": "churn-batch-2",
        "ModelName": "churn",
        "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": input_uri}},
                           **fields.pop("TransformInput", {})},
        "TransformOutput": {"S3OutputPath": f"{BUCKET}/batch/bare-out", **fields.pop("TransformOutput", {})},
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
        **fields,
    }


def test_csv_without_accept_split_or_assembly_is_answered_as_skc_does_json_per_object(
    store: LocalStore, tmp_path: Path, classifier: LogisticRegression
) -> None:
    first, second = features(30, 21), features(7, 22)
    write_csv(store, f"{BUCKET}/batch/bare/a.csv", first)
    write_csv(store, f"{BUCKET}/batch/bare/b.csv", second)

    log = run(bare_request(f"{BUCKET}/batch/bare/", TransformInput={"ContentType": "text/csv"}), store, tmp_path)

    for name, rows in (("a.csv", first), ("b.csv", second)):
        body = store.read_bytes(f"{BUCKET}/batch/bare-out/{name}.out")
        assert json.loads(body) == classifier.predict(rows.astype(np.float32)).tolist()  # one JSON array, no \n
        assert not body.endswith(b"\n")
    assert "2 record(s), 2 request(s)" in log  # SplitType None: each object is one request
    assert ("MultiRecord (default), SplitType None, MaxPayloadInMB 6 (default), MaxConcurrentTransforms 1 "
            "(default), ContentType text/csv, Accept absent (the container's default), AssembleWith None") in log


def test_no_content_type_is_read_as_json_and_the_default_accept_comes_from_the_container(
    store: LocalStore, tmp_path: Path, classifier: LogisticRegression
) -> None:
    rows = features(5, 23)
    store.write_bytes(f"{BUCKET}/batch/nojson/x.json", json.dumps(rows.tolist()).encode())
    model = create_model(SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT="text/csv")

    run(bare_request(f"{BUCKET}/batch/nojson/"), store, tmp_path, model)

    lines = store.read_bytes(f"{BUCKET}/batch/bare-out/x.json.out").decode().splitlines()
    assert lines == expected_lines(classifier, rows)


def test_execution_parameters_fill_what_the_request_leaves_out(store: LocalStore, tmp_path: Path) -> None:
    code = tmp_path / "params-model"
    (code / "code").mkdir(parents=True)
    shutil.copy(FIXTURES / "execution_parameters_inference.py", code / "code" / "inference.py")
    store.upload_tar(code, f"{BUCKET}/models/params/model.tar.gz")
    model = create_model()
    model["PrimaryContainer"]["ModelDataUrl"] = f"{BUCKET}/models/params/model.tar.gz"
    store.write_bytes(f"{BUCKET}/batch/params/x.csv", b"1,2\n3,4\n5,6\n")
    line = {"ContentType": "text/csv", "SplitType": "Line"}

    log = run(bare_request(f"{BUCKET}/batch/params/", TransformInput=line, MaxConcurrentTransforms=0),
              store, tmp_path, model)
    asked = store.read_bytes(f"{BUCKET}/batch/bare-out/x.csv.out").decode()
    run(bare_request(f"{BUCKET}/batch/params/", TransformInput=line, BatchStrategy="MultiRecord",
                     MaxPayloadInMB=6, TransformOutput={"AssembleWith": "Line"}), store, tmp_path, model)
    given = store.read_bytes(f"{BUCKET}/batch/bare-out/x.csv.out").decode()

    assert asked == "2,SINGLE_RECORD,4,1\n" * 3  # one record per request, as the container asked
    assert given == "6,MULTI_RECORD,4,3\n"  # the request's own values win; MaxConcurrentTransforms still asked
    assert 'execution-parameters from container 1: {"BatchStrategy": "SINGLE_RECORD"' in log
    assert "SingleRecord, SplitType Line, MaxPayloadInMB 2, MaxConcurrentTransforms 4," in log


@pytest.mark.parametrize(("answer", "message"), [
    ({"BatchStrategy": "EVERYTHING"}, r"/execution-parameters answer has BatchStrategy='EVERYTHING'; use "
                                      r"MULTI_RECORD or SINGLE_RECORD"),
    ({"MaxPayloadInMB": 500}, r"answer: MaxPayloadInMB=500 must be an integer from 0 to 100"),
    ({"MaxPayloadInMB": 60, "MaxConcurrentTransforms": 2}, r"2 × 60 exceeds SageMaker's limit of 100 MB"),
])
def test_an_execution_parameters_answer_outside_sagemakers_limits_fails_naming_it(
    answer: dict[str, Any], message: str
) -> None:
    settings = transform.parse_transform_request(bare_request(f"{BUCKET}/x/"))
    assert settings.absent == {"BatchStrategy", "MaxPayloadInMB", "MaxConcurrentTransforms"}
    with pytest.raises(TransformJobError, match=message):
        settings.with_execution_parameters(answer)


def test_request_values_are_kept_whatever_the_container_answers() -> None:
    settings = transform.parse_transform_request(bare_request(
        f"{BUCKET}/x/", BatchStrategy="MultiRecord", MaxPayloadInMB=0, MaxConcurrentTransforms=3))
    assert settings.absent == frozenset()
    assert settings.with_execution_parameters({"BatchStrategy": "SINGLE_RECORD", "MaxPayloadInMB": 1,
                                               "MaxConcurrentTransforms": 9}) is settings
    assert (settings.multi_record, settings.max_payload_mb, settings.payload_limit, settings.max_concurrent) == (
        True, 0, None, 3)
