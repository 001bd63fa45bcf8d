"""The SageMaker XGBoost algorithm's `train`, run by the local training job in place of the image's own.

`python -m smflow.local_sagemaker.algorithms.xgboost_train` inside the job's sandbox does what the
open-source container (aws/sagemaker-xgboost-container, `algorithm_mode/train.py`) does for a training job
with an XGBoost image and no `sagemaker_program`:

1. validates `/opt/ml/input/config/hyperparameters.json` by the container's rules (xgboost_hyperparameters)
   and the channels of `inputdataconfig.json` (`train` required, `validation` optional, nothing else);
2. reads `train` / `validation` from `/opt/ml/input/data/<channel>` in the train channel's ContentType;
3. runs `xgboost.train` for `num_round` rounds (with `early_stopping_rounds` on the last watched set),
   logging each round's evaluation as the container does: `[3]#011train-rmse:0.41350#011validation-rmse:…`
   (`#011` is the tab as CloudWatch shows it, and what the SDK's XGBoost MetricDefinitions match);
4. with CheckpointConfig, saves `xgboost-checkpoint.<round>` to its LocalPath after every round and
   resumes from the newest one it finds (xgboost_checkpoints);
5. writes `/opt/ml/model/xgboost-model`: XGBoost's own format for image versions 1.3-1 and later, a pickled
   Booster before (the SageMaker docs, "Use XGBoost model files");
6. on bad input writes `/opt/ml/output/failure` (`ClientError: …`, or `AlgorithmError: …` for a failure
   inside XGBoost) and exits 1, so the job's FailureReason says what is wrong.

Paths come from the SM_* variables the training toolkit sets (the sandbox may map /opt/ml elsewhere).
Only numpy, scipy and xgboost are needed: it runs in the image's Python environment.
"""

from __future__ import annotations

import json
import os
import pickle
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from smflow.errors import SmflowError
from smflow.local_sagemaker.algorithms import xgboost_checkpoints as checkpoints
from smflow.local_sagemaker.algorithms import xgboost_data as data
from smflow.local_sagemaker.algorithms import xgboost_hyperparameters as hpv
from smflow.local_sagemaker.algorithms.images import repository_of, saves_native_format

MODEL_NAME = "xgboost-model"
CHANNELS = ("train", "validation")
IMAGE_ENV = "SMFLOW_TRAINING_IMAGE"  # set by the local training job: the image whose version decides the format
# Keys the container consumes itself; everything else is an XGBoost parameter.
# XGBoost errors the container reports as the user's (its CUSTOMER_ERRORS): bad labels or mismatched data.
CUSTOMER_ERRORS = ("label must be", "base_score must be in", "feature_names mismatch", "preds.size() == info.labels",
                   "dataset only contains pos or neg samples", "reg_lambda should be greater", "label_correct")
_NOT_PARAMS = ("num_round", "early_stopping_rounds", "csv_weights", "_tuning_objective_metric",
               "save_model_on_termination")


class ClientError(SmflowError):
    """Something in the job's input (hyperparameters, channels, data) the user must fix."""


class AlgorithmError(SmflowError):
    """XGBoost itself failed on input that passed validation."""


def _info(message: str) -> None:
    """A log line as the container's root logger writes it (`INFO:root:Train matrix has 19536 rows`)."""
    print(f"INFO:root:{message}", flush=True)


def _path(env: str, default: str) -> Path:
    return Path(os.environ.get(env) or default)


def read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except ValueError as e:
        raise ClientError(f"{path.name} is not valid JSON: {e}") from None
    return value if isinstance(value, dict) else {}


def check_channels(config: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The container's channel rules: `train` is required, `validation` optional, other names are errors."""
    extra = sorted(set(config) - set(CHANNELS))
    if extra:
        raise ClientError(f"Extraneous channel found: {extra[0]}; the XGBoost algorithm reads the channels "
                          "'train' and 'validation' only")
    if "train" not in config:
        raise ClientError("Missing required channel: train")
    for name, channel in config.items():
        if channel.get("TrainingInputMode", "File") == "Pipe":
            raise ClientError(f"channel {name}: Pipe mode is not emulated by the local executor; use File")
    return {name: dict(config[name]) for name in CHANNELS if name in config}


def xgboost_params(validated: Mapping[str, Any], xgboost_major: int) -> tuple[dict[str, Any], list[str]]:
    """(the parameters `xgboost.train` takes, the container-computed metrics to add as a custom metric)."""
    params: dict[str, Any] = {}
    custom: list[str] = []
    metrics = evaluation_metrics(validated)
    if metrics:
        custom = [m for m in metrics if m in hpv.CONTAINER_METRICS]
        native = [m for m in metrics if m not in hpv.CONTAINER_METRICS]
        if native:
            params["eval_metric"] = native
    for key, value in validated.items():
        if key in _NOT_PARAMS or key == "eval_metric":
            continue
        if key == "updater":
            params[key] = ",".join(value)
        elif key in ("monotone_constraints", "interaction_constraints"):
            params[key] = str(tuple(value) if key == "monotone_constraints" else value).replace(" ", "")
        elif key == "silent":
            continue  # removed from XGBoost 1.0 on; `verbosity` replaces it
        else:
            params[key] = value
    if params.get("objective") == "reg:linear" and xgboost_major >= 2:
        params["objective"] = "reg:squarederror"  # the same loss under the name XGBoost 2 kept
    return params, custom


def evaluation_metrics(validated: Mapping[str, Any]) -> list[str] | None:
    """`eval_metric`, joined (sorted, as the container merges them) by the metric of a tuning job's
    `_tuning_objective_metric` (`validation:rmse` → `rmse`), so the tuned metric is always logged."""
    asked = validated.get("eval_metric")
    tuning = validated.get("_tuning_objective_metric")
    tuned = tuning.partition(":")[2].split(",") if tuning else None
    if asked is None or tuned is None:
        return list(asked or tuned or []) or None
    return sorted(set(asked) | set(tuned))


def container_metric(names: list[str]) -> Callable[[Any, Any], list[tuple[str, float]]]:
    """The container's own metrics (XGBoost has no eval_metric for them), as an XGBoost custom metric."""
    import numpy as np

    def evaluate(predt: Any, dmatrix: Any) -> list[tuple[str, float]]:
        y = dmatrix.get_label()
        p = np.asarray(predt)
        labels = (np.argmax(p, axis=1) if p.ndim == 2 else (p > 0.5).astype(float))
        results = []
        for name in names:
            if name == "mse":
                results.append((name, float(np.mean((p - y) ** 2))))
            elif name == "r2":
                total = float(np.sum((y - y.mean()) ** 2))
                results.append((name, 1.0 - float(np.sum((y - p) ** 2)) / total if total else 0.0))
            elif name == "accuracy":
                results.append((name, float(np.mean(labels == y))))
            else:
                tp = float(np.sum((labels == 1) & (y == 1)))
                precision = tp / max(float(np.sum(labels == 1)), 1.0)
                recall = tp / max(float(np.sum(y == 1)), 1.0)
                if name in ("f1", "f1_binary"):
                    value = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
                elif name == "precision":
                    value = precision
                elif name == "recall":
                    value = recall
                else:
                    raise ClientError(f"eval_metric {name} is not emulated by the local executor; use a binary "
                                      "metric (f1, precision, recall), accuracy, mse, r2 or an XGBoost metric")
                results.append((name, value))
        return results

    return evaluate


def log_line(iteration: int, evaluations: Mapping[str, Mapping[str, list[float]]]) -> str:
    """One round as the container logs it: `[i]#011<set>-<metric>:<value>…` with five decimals."""
    parts = [f"[{iteration}]"]
    for data_name, metrics in evaluations.items():
        for metric, history in metrics.items():
            parts.append(f"{data_name}-{metric}:{history[-1]:.5f}")
    return "#011".join(parts)


def _printer(xgb: Any, start: int) -> Any:
    class PrintEvaluation(xgb.callback.TrainingCallback):  # type: ignore[misc,name-defined]
        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            if evals_log:
                print(log_line(start + epoch, evals_log), flush=True)  # rounds count on after a resume
            return False

    return PrintEvaluation()


def load_channels(validated: Mapping[str, Any], config: Mapping[str, Mapping[str, Any]],
                  channel_dir: Callable[[str], Path]) -> tuple[data.Matrix, data.Matrix | None]:
    """The train (and validation) data in the train channel's ContentType; empty channels are errors."""
    try:
        kind = data.content_type(config["train"].get("ContentType"))
        weights = bool(validated.get("csv_weights", 0))
        train_data = data.read_channel(channel_dir("train"), kind, weights=weights)
        validation_data = (data.read_channel(channel_dir("validation"), kind, weights=weights)
                           if "validation" in config else None)
    except data.DataError as e:
        raise ClientError(str(e)) from None
    if train_data is None:
        raise ClientError(f"No data in training channel path {channel_dir('train')}")
    if "validation" in config and validation_data is None:
        raise ClientError(f"No data in validation channel path {channel_dir('validation')}")
    return train_data, validation_data


def import_xgboost() -> Any:
    try:
        import xgboost as xgb
    except ImportError:
        raise ClientError(
            f"the XGBoost algorithm needs the xgboost package, which this job's Python environment "
            f"({sys.executable}) lacks; install it there ({sys.executable} -m pip install xgboost-cpu) or run "
            "jobs in the image's environment") from None
    return xgb


def train(hyperparameters: Mapping[str, Any], channels: Mapping[str, Mapping[str, Any]], model_dir: Path,
          channel_dir: Callable[[str], Path], image: str | None, checkpoint_dir: Path | None = None) -> Path:
    """Validate, load, train and save; returns the model file. Raises ClientError / AlgorithmError."""
    try:
        validated = hpv.validate(hyperparameters)
    except hpv.HyperparameterProblem as e:
        raise ClientError(e.message) from None
    train_data, validation_data = load_channels(validated, check_channels(channels), channel_dir)
    xgb = import_xgboost()
    major, minor = (int(part) for part in xgb.__version__.split(".")[:2])
    params, custom = xgboost_params(validated, major)
    dtrain = xgb.DMatrix(train_data.features, label=train_data.labels, weight=train_data.weights)
    watchlist = [(dtrain, "train")]
    _info(f"Train matrix has {train_data.rows} rows")
    if validation_data is not None:
        watchlist.append((xgb.DMatrix(validation_data.features, label=validation_data.labels,
                                      weight=validation_data.weights), "validation"))
        _info(f"Validation matrix has {validation_data.rows} rows")
    extra: dict[str, Any] = {}
    if custom:
        extra["custom_metric" if (major, minor) >= (1, 6) else "feval"] = container_metric(custom)
    resumed, start = checkpoints.load_latest(xgb, checkpoint_dir)
    callbacks = [_printer(xgb, start)]
    if resumed is not None:
        _info(f"Checkpoint loaded from {checkpoint_dir}/{checkpoints.NAME}.{start - 1}")
        _info(f"Resuming from iteration {start}")
    if checkpoint_dir is not None:
        callbacks.append(checkpoints.saver(xgb, checkpoint_dir, start, lambda b: native_model_bytes(b, major)))
    try:
        booster = xgb.train(params, dtrain, num_boost_round=max(validated["num_round"] - start, 0), evals=watchlist,
                            early_stopping_rounds=validated.get("early_stopping_rounds"), verbose_eval=False,
                            callbacks=callbacks, xgb_model=resumed, **extra)
    except ClientError:
        raise
    except xgb.core.XGBoostError as e:
        detail = str(e).split("\nStack trace:", 1)[0].strip()
        if any(marker in detail for marker in CUSTOMER_ERRORS):
            raise ClientError(detail) from None
        raise AlgorithmError(f"XGB train call failed with exception:\n {detail}") from None
    return save_model(booster, model_dir, image, major)


def save_model(booster: Any, model_dir: Path, image: str | None, xgboost_major: int) -> Path:
    """`/opt/ml/model/xgboost-model`, in the format the image's version writes."""
    model_dir.mkdir(parents=True, exist_ok=True)
    target = model_dir / MODEL_NAME
    version = repository_of(image)[1] if image else None
    if saves_native_format(version):
        target.write_bytes(native_model_bytes(booster, xgboost_major))
    else:
        with target.open("wb") as handle:
            pickle.dump(booster, handle)
    _info(f"Stored trained model at {target}")
    return target


def native_model_bytes(booster: Any, xgboost_major: int) -> bytes:
    """What `save_model("xgboost-model")` writes (no extension): XGBoost 1.x's binary format, UBJSON from
    XGBoost 2 on; taken from `save_raw` so XGBoost does not warn about the missing extension."""
    try:
        return bytes(booster.save_raw(raw_format="ubj" if xgboost_major >= 2 else "deprecated"))
    except TypeError:  # XGBoost before 1.6 has one raw format, its binary one
        return bytes(booster.save_raw())


def _write_failure(message: str) -> None:
    failure = _path("SM_OUTPUT_DIR", "/opt/ml/output") / "failure"
    failure.parent.mkdir(parents=True, exist_ok=True)
    failure.write_text(message)
    print(message, file=sys.stderr, flush=True)


def checkpoint_dir(config_dir: Path) -> Path | None:
    """CheckpointConfig's LocalPath, from the checkpointconfig.json SageMaker writes when the job has one."""
    local = read_json(config_dir / "checkpointconfig.json").get("LocalPath")
    return Path(local) if local else None


def main() -> int:
    config_dir = _path("SM_INPUT_CONFIG_DIR", "/opt/ml/input/config")
    data_dir = _path("SM_INPUT_DIR", "/opt/ml/input") / "data"
    try:
        train(read_json(config_dir / "hyperparameters.json"), read_json(config_dir / "inputdataconfig.json"),
              _path("SM_MODEL_DIR", "/opt/ml/model"),
              lambda name: Path(os.environ.get(f"SM_CHANNEL_{name.upper()}") or data_dir / name),
              os.environ.get(IMAGE_ENV), checkpoint_dir(config_dir))
    except ClientError as e:
        _write_failure(f"ClientError: {e}")
        return 1
    except AlgorithmError as e:
        _write_failure(f"AlgorithmError: {e}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
