"""Inference for a model trained by the built-in XGBoost algorithm, as the SageMaker XGBoost container
serves it when the model has no inference script (aws/sagemaker-xgboost-container, `algorithm_mode/serve.py`
and `serve_utils.py`; the SageMaker developer guide, "Common data formats for inference"):

- the model is every file in the model directory (normally `xgboost-model`), each loaded as a pickled
  Booster or, failing that, in XGBoost's own format; several files predict as their mean;
- request Content-Type `text/csv` (the default; no header, features only, the delimiter sniffed from
  the first line, empty fields missing), `text/libsvm` / `text/x-libsvm`, `application/x-recordio-protobuf`
  (the SDK's RecordSerializer), or `application/json` in the documented shapes
  `{"instances": [{"features": [...]}, ...]}`, `{"features": [...]}` or a list of rows;
- Accept: none or `*/*` means `SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT`, else `text/csv`. `text/csv`
  answers the predictions comma-joined on one line, or one per line with a final newline in a batch
  transform (`SAGEMAKER_BATCH`); `application/json` answers `{"predictions": [{"score": p}, ...]}`;
- a CSV row may have the model's feature count or one fewer; anything else is the container's
  "Feature size … is not consistent" error.

With `SAGEMAKER_INFERENCE_OUTPUT` set, the answer is the container's selectable inference output
(xgboost_selectable_output.py).

Imports only numpy at module level and xgboost when a model loads, so it runs in an image environment.
"""

from __future__ import annotations

import csv
import json
import os
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from smflow.local_sagemaker.algorithms.images import is_xgboost_image
from smflow.local_sagemaker.algorithms.recordio_protobuf import RecordIOError, features_and_labels
from smflow.serving import xgboost_selectable_output as selectable
from smflow.serving.handler import HandlerLoadError, UnsupportedContentTypeError, media_type
from smflow.serving.payload import MalformedPayloadError

CSV = "text/csv"
JSON = "application/json"
LIBSVM_TYPES = ("text/libsvm", "text/x-libsvm")
RECORDIO = "application/x-recordio-protobuf"
REQUEST_TYPES = (CSV, *LIBSVM_TYPES, JSON, RECORDIO)
RESPONSE_TYPES = (CSV, JSON)
DEFAULT_ACCEPT_ENV = "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT"


class XGBoostAlgorithmHandler:
    """The XGBoost container's `/invocations` for one loaded model; same `invoke` contract as
    `serving.handler.InferenceHandler`, so the transform treats both alike."""

    def __init__(self, boosters: list[Any], model_path: Path, *, default_accept: str, batch: bool,
                 selected: list[str] | None = None):
        self.boosters = boosters
        self.module_path = model_path  # named in error messages, as an inference script's path would be
        self.default_accept = default_accept
        self.batch = batch
        self.selected = selected  # SAGEMAKER_INFERENCE_OUTPUT keys, or None for the bare predictions

    def resolve_accept(self, accept: str | None) -> str:
        kind = media_type(accept)
        if not kind or kind == "*/*":
            return self.default_accept
        allowed = selectable.ACCEPTS if self.selected else RESPONSE_TYPES
        if kind not in allowed:
            raise UnsupportedContentTypeError("Accept", accept, allowed)
        return kind

    def invoke(self, body: bytes, content_type: str, accept: str | None) -> tuple[bytes, str]:
        accept_type = self.resolve_accept(accept)
        try:
            features = decode(body, content_type)
        except UnsupportedContentTypeError:
            raise
        except ValueError as e:  # the container's own wording, answered as a bad request
            raise MalformedPayloadError(content_type or CSV, str(e)) from e
        predictions = self.predict(features, media_type(content_type) or CSV)
        if self.selected:
            objective, num_class = selectable.model_objective(self.boosters[0])
            chosen = selectable.select(list(predictions), self.selected, objective, num_class)
            return selectable.encode(chosen, self.selected, accept_type, batch=self.batch), accept_type
        return encode(predictions, accept_type, batch=self.batch), accept_type

    def predict(self, features: Any, kind: str) -> np.ndarray:
        import xgboost as xgb

        expected = self.boosters[0].num_features()
        given = int(features.shape[1])
        if kind in (CSV, JSON, RECORDIO) and given not in (expected, expected - 1):
            raise ValueError(f"Feature size of csv inference data {given} is not consistent with feature size of "
                             f"trained model {expected}")
        if kind in LIBSVM_TYPES and given > expected + 1:
            raise ValueError(f"Feature size of libsvm inference data {given} is larger than feature size of "
                             f"trained model {expected}.")
        if given < expected:  # a missing last feature, which XGBoost then treats as missing
            features = _widened(features, expected)
        dmatrix = xgb.DMatrix(features)
        results = [booster.predict(dmatrix, validate_features=False, **_best_rounds(booster))
                   for booster in self.boosters]
        return results[0] if len(results) == 1 else np.mean(results, axis=0)


def _widened(features: Any, columns: int) -> Any:
    if hasattr(features, "tocsr"):
        wide = features.tocsr().copy()
        wide.resize((features.shape[0], columns))
        return wide
    padding = np.full((features.shape[0], columns - features.shape[1]), np.nan)
    return np.hstack([features, padding])


def _best_rounds(booster: Any) -> dict[str, Any]:
    """An early-stopped model predicts with its best rounds, as the container's `best_ntree_limit` does."""
    best = booster.attr("best_iteration")
    return {"iteration_range": (0, int(best) + 1)} if best is not None else {}


def decode(body: bytes, content_type: str | None) -> Any:
    """A request body → a 2-D feature array (dense for CSV/JSON, sparse for libsvm)."""
    kind = media_type(content_type) or CSV
    if kind == RECORDIO:
        try:
            return features_and_labels(bytes(body))[0]
        except RecordIOError as e:
            raise ValueError(f"Loading recordio-protobuf data failed with Exception, please ensure data is in "
                             f"recordio-protobuf format: {e}") from None
    if kind not in REQUEST_TYPES:
        raise UnsupportedContentTypeError("Content-Type", content_type, REQUEST_TYPES)
    text = bytes(body).decode("utf-8").strip()
    if not text:
        raise ValueError("the request has no records (the container answers 204 No Content)")
    if kind == CSV:
        return csv_features(text)
    if kind == JSON:
        return json_features(text)
    return libsvm_features(text)


def csv_features(text: str) -> np.ndarray:
    """The container's CSV decoding: sniffed delimiter (a letter or digit means ','), '' → NaN, float rows."""
    try:
        sniffed = csv.Sniffer().sniff(text.split("\n", 1)[0][:512]).delimiter
    except csv.Error:
        sniffed = ","
    delimiter = "," if sniffed.isalnum() else sniffed
    rows = [["nan" if v == "" else v for v in line.rstrip("\r").split(delimiter)] for line in text.split("\n")]
    try:
        return np.array(rows).astype(np.float64)
    except ValueError as e:
        raise ValueError(f"Loading csv data failed with Exception, please ensure data is in csv format: {e}") \
            from None


def json_features(text: str) -> np.ndarray:
    """`{"instances": [{"features": [...]}]}`, `{"features": [...]}` or `[[...], ...]` (the SageMaker
    algorithms' common JSON request shapes) → rows."""
    try:
        value = json.loads(text)
        if isinstance(value, Mapping) and "instances" in value:
            rows = [row["features"] if isinstance(row, Mapping) else row for row in value["instances"]]
        elif isinstance(value, Mapping) and "features" in value:
            rows = [value["features"]]
        else:
            rows = value if value and isinstance(value[0], list) else [value]
        array = np.asarray(rows, dtype=np.float64)
    except (ValueError, KeyError, TypeError, IndexError) as e:
        raise ValueError('Loading json data failed: expected {"instances": [{"features": [...]}, ...]}, '
                         f'{{"features": [...]}} or a list of rows ({e})') from None
    return array.reshape(1, -1) if array.ndim == 1 else array


def libsvm_features(text: str) -> Any:
    """`<label> <index>:<value> ...` lines (the label is ignored) → a sparse matrix, as the container."""
    from scipy.sparse import csr_matrix

    rows, cols, values = [], [], []
    for row, line in enumerate(text.split("\n")):
        for item in line.split(" "):
            if ":" in item:
                index, _, value = item.partition(":")
                rows.append(row)
                cols.append(int(index))
                values.append(float(value))
    return csr_matrix((np.asarray(values), (np.asarray(rows), np.asarray(cols))))


def encode(predictions: np.ndarray, accept: str, *, batch: bool) -> bytes:
    """The container's response: CSV joined by ',' (by newlines, newline-terminated, in a batch job), or
    JSON `{"predictions": [{"score": …}]}`. Values are Python's str of each prediction (lists for
    multi-output objectives such as multi:softprob)."""
    values = np.asarray(predictions).tolist()
    if accept == JSON:
        return json.dumps({"predictions": [{"score": v} for v in values]}).encode("utf-8")
    if batch:
        return ("\n".join(map(str, values)) + "\n").encode("utf-8")
    return ",".join(map(str, values)).encode("utf-8")


def serves_itself(image: str | None, environment: Mapping[str, str]) -> bool:
    """A model of the built-in XGBoost algorithm: an XGBoost image and no SAGEMAKER_PROGRAM, which the
    SageMaker XGBoost container serves itself (for a batch transform as for an endpoint)."""
    return not environment.get("SAGEMAKER_PROGRAM") and is_xgboost_image(image)


def load_model_files(model_dir: Path) -> list[Any]:
    """Every regular file in the model directory as a Booster: pickle first, then XGBoost's own format."""
    import xgboost as xgb

    files = sorted(p for p in Path(model_dir).iterdir() if p.is_file()) if Path(model_dir).is_dir() else []
    if not files:
        raise HandlerLoadError(f"no model file in {model_dir}; the XGBoost algorithm's model.tar.gz holds "
                               "`xgboost-model`")
    boosters = []
    for path in files:
        try:
            with path.open("rb") as handle:
                booster = pickle.load(handle)
            if not isinstance(booster, xgb.Booster):
                raise TypeError(f"a pickled {type(booster).__name__}, not an xgboost Booster")
        except Exception as pickle_error:
            try:
                booster = xgb.Booster()
                booster.load_model(bytearray(path.read_bytes()))  # by content: the file has no extension
            except xgb.core.XGBoostError as native_error:
                raise HandlerLoadError(f"Model at {path} cannot be loaded:\n{pickle_error}\n{native_error}") \
                    from None
        booster.set_param("nthread", "1")
        boosters.append(booster)
    return boosters


def load_xgboost_algorithm(model_dir: Path, *, default_accept: str | None = None,
                           environ: Mapping[str, str] | None = None) -> XGBoostAlgorithmHandler:
    """Load the model as the container does at start, reading its environment once."""
    env = os.environ if environ is None else environ
    try:
        import xgboost  # noqa: F401
    except ImportError:
        raise HandlerLoadError("serving a built-in XGBoost model needs the xgboost package, which this "
                               "Python environment lacks; install it (pip install xgboost-cpu)") from None
    boosters = load_model_files(Path(model_dir))
    accept = media_type(default_accept or env.get(DEFAULT_ACCEPT_ENV)) or CSV
    model_file = next(p for p in sorted(Path(model_dir).iterdir()) if p.is_file())
    keys = selectable.selected_keys(env[selectable.ENV]) if env.get(selectable.ENV) else None
    return XGBoostAlgorithmHandler(boosters, model_file, default_accept=accept,
                                   batch=bool(env.get("SAGEMAKER_BATCH")), selected=keys)

