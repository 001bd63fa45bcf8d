"""A built-in XGBoost model served as the SageMaker XGBoost container serves it: request types, the default
and explicit Accept, batch vs real-time CSV, early-stopped models, model formats and the errors."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import xgboost as xgb

from smflow.serving.handler import HandlerLoadError, UnsupportedContentTypeError
from smflow.serving.xgboost_algorithm import csv_features, decode, encode, load_xgboost_algorithm

ROWS = np.array([[0.5, 1.0, -1.0], [2.0, 0.0, 0.5], [-1.0, -2.0, 1.5]])


def booster(objective: str = "reg:squarederror", rounds: int = 5) -> xgb.Booster:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 3))
    y = x[:, 0] - x[:, 1] if objective.startswith("reg") else (x[:, 0] > 0).astype(float)
    return xgb.train({"objective": objective, "max_depth": 2}, xgb.DMatrix(x, label=y), num_boost_round=rounds)


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    (tmp_path / "xgboost-model").write_bytes(bytes(booster().save_raw(raw_format="ubj")))
    return tmp_path


def expected(model: Path) -> list[float]:
    reference = xgb.Booster()
    reference.load_model(bytearray((model / "xgboost-model").read_bytes()))
    return reference.predict(xgb.DMatrix(ROWS)).tolist()


def csv_body(rows: np.ndarray = ROWS) -> bytes:
    return "\n".join(",".join(str(v) for v in row) for row in rows).encode()


def test_csv_in_csv_out_real_time_is_one_comma_joined_line(model_dir: Path) -> None:
    handler = load_xgboost_algorithm(model_dir, environ={})
    body, content_type = handler.invoke(csv_body(), "text/csv", None)
    assert content_type == "text/csv"
    assert body.decode() == ",".join(map(str, expected(model_dir)))


def test_batch_csv_is_one_prediction_per_line(model_dir: Path) -> None:
    handler = load_xgboost_algorithm(model_dir, environ={"SAGEMAKER_BATCH": "true"})
    body, _ = handler.invoke(csv_body(), "text/csv", "*/*")
    assert body.decode() == "\n".join(map(str, expected(model_dir))) + "\n"


def test_json_accept_and_the_default_accept_setting(model_dir: Path) -> None:
    handler = load_xgboost_algorithm(model_dir, environ={})
    body, content_type = handler.invoke(csv_body(), "text/csv", "application/json")
    assert content_type == "application/json"
    assert json.loads(body) == {"predictions": [{"score": v} for v in expected(model_dir)]}
    default_json = load_xgboost_algorithm(model_dir, environ={"SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT":
                                                                "application/json"})
    assert default_json.invoke(csv_body(), "text/csv", None)[1] == "application/json"


def test_libsvm_and_json_requests_predict_the_same(model_dir: Path) -> None:
    handler = load_xgboost_algorithm(model_dir, environ={})
    libsvm = "\n".join("0 " + " ".join(f"{i}:{v}" for i, v in enumerate(row) if v != 0) for row in ROWS)
    from_libsvm = handler.invoke(libsvm.encode(), "text/libsvm", None)[0]
    instances = json.dumps({"instances": [{"features": row.tolist()} for row in ROWS]}).encode()
    from_json = handler.invoke(instances, "application/json", None)[0]
    values = [float(v) for v in from_json.decode().split(",")]
    np.testing.assert_allclose(values, expected(model_dir), rtol=1e-6)
    libsvm_values = [float(v) for v in from_libsvm.decode().split(",")]
    # libsvm leaves zeros out: they are missing values to XGBoost, as in the container's sparse matrix
    from scipy.sparse import csr_matrix

    reference = xgb.Booster()
    reference.load_model(bytearray((model_dir / "xgboost-model").read_bytes()))
    np.testing.assert_allclose(libsvm_values, reference.predict(xgb.DMatrix(csr_matrix(ROWS))), rtol=1e-6)


def test_recordio_protobuf_requests_as_the_sdks_record_serializer_writes_them(model_dir: Path) -> None:
    from tests.unit.local_sagemaker.algorithms.test_recordio_protobuf import dense

    handler = load_xgboost_algorithm(model_dir, environ={})
    body = dense(ROWS.astype(np.float32))
    values = [float(v) for v in handler.invoke(body, "application/x-recordio-protobuf", None)[0].decode().split(",")]
    reference = xgb.Booster()
    reference.load_model(bytearray((model_dir / "xgboost-model").read_bytes()))
    np.testing.assert_allclose(values, reference.predict(xgb.DMatrix(ROWS.astype(np.float32))), rtol=1e-6)


def test_pickled_boosters_load_too_and_several_files_average(tmp_path: Path) -> None:
    first, second = booster(rounds=3), booster(rounds=8)
    (tmp_path / "a-model").write_bytes(pickle.dumps(first))
    (tmp_path / "b-model").write_bytes(bytes(second.save_raw(raw_format="json")))
    handler = load_xgboost_algorithm(tmp_path, environ={})
    values = [float(v) for v in handler.invoke(csv_body(), "text/csv", None)[0].decode().split(",")]
    mean = (first.predict(xgb.DMatrix(ROWS)) + second.predict(xgb.DMatrix(ROWS))) / 2
    np.testing.assert_allclose(values, mean, rtol=1e-6)


def test_an_early_stopped_model_predicts_with_its_best_rounds(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(200, 3)), rng.normal(size=200)  # noise: validation error rises soon
    train, valid = xgb.DMatrix(x[:150], label=y[:150]), xgb.DMatrix(x[150:], label=y[150:])
    model = xgb.train({"eta": 0.8}, train, 100, evals=[(valid, "validation")], early_stopping_rounds=2,
                      verbose_eval=False)
    (tmp_path / "xgboost-model").write_bytes(bytes(model.save_raw(raw_format="ubj")))
    handler = load_xgboost_algorithm(tmp_path, environ={})
    values = [float(v) for v in handler.invoke(csv_body(), "text/csv", None)[0].decode().split(",")]
    best = model.predict(xgb.DMatrix(ROWS), iteration_range=(0, model.best_iteration + 1))
    np.testing.assert_allclose(values, best, rtol=1e-6)


def test_multi_output_predictions_are_listed_per_record() -> None:
    probabilities = np.array([[0.1, 0.9], [0.7, 0.3]], dtype=np.float32)
    assert encode(probabilities, "text/csv", batch=True).decode().splitlines() == [
        str(row) for row in probabilities.tolist()]


def test_the_feature_count_must_match(model_dir: Path) -> None:
    handler = load_xgboost_algorithm(model_dir, environ={})
    with pytest.raises(ValueError, match="Feature size of csv inference data 5 is not consistent with feature "
                                         "size of trained model 3"):
        handler.invoke(b"1,2,3,4,5", "text/csv", None)
    two = handler.invoke(b"1,2", "text/csv", None)[0]  # one feature fewer is accepted, as in the container
    assert len(two.decode().split(",")) == 1


def test_unsupported_types_are_415_errors(model_dir: Path) -> None:
    handler = load_xgboost_algorithm(model_dir, environ={})
    with pytest.raises(UnsupportedContentTypeError, match="Content-Type 'application/x-npy'"):
        handler.invoke(b"x", "application/x-npy", None)
    with pytest.raises(ValueError, match="please ensure data is in recordio-protobuf format"):
        handler.invoke(b"1,2,3", "application/x-recordio-protobuf", None)
    with pytest.raises(UnsupportedContentTypeError, match="Accept 'application/x-npy'"):
        handler.invoke(csv_body(), "text/csv", "application/x-npy")


def test_csv_decoding_as_the_container() -> None:
    np.testing.assert_array_equal(csv_features("1,,3\n4,5,6"), [[1, np.nan, 3], [4, 5, 6]])
    np.testing.assert_array_equal(csv_features("1\t2\n3\t4"), [[1, 2], [3, 4]])
    with pytest.raises(ValueError, match="please ensure data is in csv format"):
        csv_features("a,b")
    with pytest.raises(ValueError, match="no records"):
        decode(b"  \n", "text/csv")


def test_load_errors(tmp_path: Path, model_dir: Path) -> None:
    with pytest.raises(HandlerLoadError, match="no model file"):
        load_xgboost_algorithm(tmp_path / "nothing", environ={})
    (tmp_path / "xgboost-model").write_bytes(b"not a model")
    with pytest.raises(HandlerLoadError, match="cannot be loaded"):
        load_xgboost_algorithm(tmp_path, environ={})
