"""Selectable inference output (SAGEMAKER_INFERENCE_OUTPUT) of a built-in XGBoost model, per objective and
Accept, with the container's encodings."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import xgboost as xgb

from smflow.local_sagemaker.algorithms.recordio_protobuf import read_records
from smflow.serving.xgboost_algorithm import load_xgboost_algorithm
from smflow.serving.xgboost_selectable_output import select

ROWS = b"0.5,1.0\n-1.0,2.0"


def model(tmp_path: Path, params: dict) -> Path:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(90, 2))
    y = (x[:, 0] > 0).astype(float) + (x[:, 1] > 1) if "num_class" in params else (x[:, 0] > 0).astype(float)
    booster = xgb.train(params, xgb.DMatrix(x, label=y), num_boost_round=3)
    (tmp_path / "xgboost-model").write_bytes(bytes(booster.save_raw(raw_format="ubj")))
    return tmp_path


def test_binary_classification_keys_in_csv_json_and_jsonlines(tmp_path: Path) -> None:
    folder = model(tmp_path, {"objective": "binary:logistic"})
    env = {"SAGEMAKER_INFERENCE_OUTPUT": "predicted_label, Probability,probabilities,predicted_score"}
    handler = load_xgboost_algorithm(folder, environ=env)
    body, accept = handler.invoke(ROWS, "text/csv", None)
    assert accept == "text/csv"
    rows = list(csv.reader(body.decode().split("\n")))  # list values are quoted, as the container writes them
    assert len(rows) == 2
    label, probability, probabilities, score = rows[0]
    p = float(probability)
    assert label == str(int(p > 0.5)) and probabilities == str([1.0 - p, p]) and score == "nan"
    as_json = json.loads(handler.invoke(ROWS, "text/csv", "application/json")[0])
    assert [sorted(item) for item in as_json["predictions"]] == [
        ["predicted_label", "predicted_score", "probabilities", "probability"]] * 2
    assert math.isnan(as_json["predictions"][0]["predicted_score"])  # not a regression key: NaN
    lines = handler.invoke(ROWS, "text/csv", "application/jsonlines")[0].decode().splitlines()
    assert [json.loads(line)["probability"] for line in lines] == [p["probability"] for p in as_json["predictions"]]


def test_multiclass_probabilities_and_labels(tmp_path: Path) -> None:
    folder = model(tmp_path, {"objective": "multi:softprob", "num_class": 3})
    handler = load_xgboost_algorithm(folder, environ={"SAGEMAKER_INFERENCE_OUTPUT": "predicted_label,labels,"
                                                                                    "probabilities",
                                                      "SAGEMAKER_BATCH": "true"})
    body = handler.invoke(ROWS, "text/csv", "application/json")[0]
    first = json.loads(body)["predictions"][0]
    assert first["labels"] == [0, 1, 2]
    assert first["predicted_label"] == int(np.argmax(first["probabilities"]))
    assert sum(first["probabilities"]) == pytest.approx(1.0, abs=1e-5)
    assert handler.invoke(ROWS, "text/csv", None)[0].decode().endswith("\n")  # batch CSV ends its last line


def test_regression_score_and_recordio_protobuf_answers(tmp_path: Path) -> None:
    folder = model(tmp_path, {"objective": "reg:squarederror"})
    handler = load_xgboost_algorithm(folder, environ={"SAGEMAKER_INFERENCE_OUTPUT": "predicted_score"})
    csv_scores = [float(v) for v in handler.invoke(ROWS, "text/csv", None)[0].decode().split("\n")]
    body, accept = handler.invoke(ROWS, "text/csv", "application/x-recordio-protobuf")
    assert accept == "application/x-recordio-protobuf"
    records = read_records(body)
    assert [float(r.label["predicted_score"].values[0]) for r in records] == pytest.approx(csv_scores, rel=1e-6)


def test_unsupported_objectives_and_accepts() -> None:
    with pytest.raises(ValueError, match="Objective `rank:pairwise` unsupported for selectable inference"):
        select([np.float32(1.0)], ["predicted_score"], "rank:pairwise")
    assert select([np.float32(0.25)], ["predicted_label", "raw_scores"], "binary:logitraw") == \
        [{"predicted_label": 1, "raw_scores": [0.75, 0.25]}]
