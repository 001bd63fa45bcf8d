"""Selectable inference output of the built-in XGBoost algorithm: `SAGEMAKER_INFERENCE_OUTPUT=predicted_label,
probabilities` makes the container answer those keys per record instead of the bare prediction
(aws/sagemaker-xgboost-container `serve_utils.py`; the SageMaker developer guide, "Inference output for
the XGBoost algorithm").

- the keys are `predicted_label`, `labels`, `probability`, `probabilities`, `raw_score`, `raw_scores`
  (classification) and `predicted_score` (regression); which apply depends on the model's objective, and a
  key that does not apply is answered as NaN;
- Accept `text/csv` (the default: one line per record, keys in the order asked, lists quoted),
  `application/json` (`{"predictions": [{key: value, …}, …]}`), `application/jsonlines` (one JSON object
  per line) or `application/x-recordio-protobuf` (one Record per prediction, each key a float32 tensor in
  its `label` map).
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

ENV = "SAGEMAKER_INFERENCE_OUTPUT"
ACCEPTS = ("application/json", "application/jsonlines", "application/x-recordio-protobuf", "text/csv")
LABEL, LABELS, PROBABILITY, PROBABILITIES = "predicted_label", "labels", "probability", "probabilities"
RAW_SCORE, RAW_SCORES, SCORE = "raw_score", "raw_scores", "predicted_score"
_CLASSIFY = [LABEL, LABELS, RAW_SCORE, RAW_SCORES]
VALID_KEYS: dict[str, list[str]] = {
    "reg:squarederror": [SCORE], "reg:logistic": [SCORE], "reg:gamma": [SCORE], "reg:tweedie": [SCORE],
    "binary:logistic": [LABEL, LABELS, PROBABILITY, PROBABILITIES, RAW_SCORE, RAW_SCORES],
    "binary:logitraw": _CLASSIFY, "binary:hinge": _CLASSIFY, "multi:softmax": _CLASSIFY,
    "multi:softprob": [LABEL, LABELS, PROBABILITY, PROBABILITIES, RAW_SCORE, RAW_SCORES],
}


def selected_keys(value: str) -> list[str]:
    """`SAGEMAKER_INFERENCE_OUTPUT` as the container reads it: lower case, spaces dropped, comma-separated."""
    return value.replace(" ", "").lower().split(",")


def model_objective(booster: Any) -> tuple[str, str]:
    """(objective name, num_class) from the Booster's saved configuration."""
    learner = json.loads(booster.save_config())["learner"]
    return learner["objective"]["name"], str(learner.get("learner_model_param", {}).get("num_class", ""))


def _value(key: str, objective: str, raw: Any, num_class: str) -> Any:
    row = np.asarray(raw)
    if key == SCORE:
        return row.item()
    if key == LABELS:
        if objective.startswith("binary:"):
            return [0, 1]
        return list(range(int(num_class))) if objective.startswith("multi:") and num_class not in ("", "0") \
            else math.nan
    if objective == "multi:softprob":
        return {LABEL: int(np.argmax(row)), PROBABILITY: float(row.max()), PROBABILITIES: row.tolist(),
                RAW_SCORE: float(row.max()), RAW_SCORES: row.tolist()}[key]
    score = row.item()
    if key == LABEL:
        if objective in ("binary:hinge", "multi:softmax"):
            return score
        return int(score > 0.5) if objective == "binary:logistic" else int(score > 0)
    if key == PROBABILITY:
        return score
    if key in (PROBABILITIES, RAW_SCORES):
        return [1.0 - score, score]
    return score  # RAW_SCORE


def select(predictions: Sequence[Any], keys: Sequence[str], objective: str, num_class: str = "") -> list[dict]:
    """One dict per record with the asked keys; keys the objective lacks are NaN (as the container)."""
    if objective not in VALID_KEYS:
        raise ValueError(f"Objective `{objective}` unsupported for selectable inference predictions.")
    valid = [k for k in keys if k in VALID_KEYS[objective]]
    return [{key: (_value(key, objective, raw, num_class) if key in valid else math.nan) for key in keys}
            for raw in predictions]


def encode(selected: list[dict], keys: Sequence[str], accept: str, *, batch: bool) -> bytes:
    if accept == "application/json":
        return json.dumps({"predictions": selected}).encode("utf-8")
    if accept == "application/jsonlines":
        return "\n".join(json.dumps(item) for item in selected).encode("utf-8")
    if accept == "application/x-recordio-protobuf":
        return b"".join(_recordio(_record(item)) for item in selected)
    if accept == "text/csv":
        lines = [",".join(f'"{item[k]}"' if isinstance(item[k], list) else str(item[k]) for k in keys)
                 for item in selected]
        return ("\n".join(lines) + ("\n" if batch else "")).encode("utf-8")
    raise ValueError(f"Cannot encode selected predictions into accept type '{accept}'.")


# ---- recordio-protobuf output (record.proto: Record.label map<string, Value{float32_tensor}>) ----------


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _record(item: Mapping[str, Any]) -> bytes:
    entries = b""
    for key, value in item.items():
        values = value if isinstance(value, list) else [value]
        tensor = _field(1, struct.pack(f"<{len(values)}f", *map(float, values)))
        entry = _field(1, key.encode("utf-8")) + _field(2, _field(2, tensor))  # Value.float32_tensor = 2
        entries += _field(2, entry)  # Record.label = 2
    return entries


def _recordio(payload: bytes) -> bytes:
    return struct.pack("<II", 0xCED7230A, len(payload)) + payload + b"\x00" * (-len(payload) % 4)
