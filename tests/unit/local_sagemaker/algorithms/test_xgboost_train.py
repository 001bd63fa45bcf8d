"""The XGBoost algorithm's training program, run as the local training job runs it (SM_* paths, the
toolkit's config files): what it logs, the model it writes, the failure file on bad input."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import xgboost as xgb

from smflow.local_sagemaker.algorithms import xgboost_train

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"


def regression(rows: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 4))
    y = 2 * x[:, 0] - x[:, 1] ** 2 + rng.normal(scale=0.1, size=rows)
    return np.column_stack([y, x])


@pytest.fixture
def job(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An /opt/ml tree with train and validation CSV channels, and the SM_* variables pointing at it."""
    opt_ml = tmp_path / "opt_ml"
    for channel, seed in (("train", 1), ("validation", 2)):
        folder = opt_ml / "input" / "data" / channel
        folder.mkdir(parents=True)
        np.savetxt(folder / f"{channel}.csv", regression(200 if channel == "train" else 50, seed), delimiter=",")
        monkeypatch.setenv(f"SM_CHANNEL_{channel.upper()}", str(folder))
    (opt_ml / "input" / "config").mkdir(parents=True)
    monkeypatch.setenv("SM_INPUT_CONFIG_DIR", str(opt_ml / "input" / "config"))
    monkeypatch.setenv("SM_INPUT_DIR", str(opt_ml / "input"))
    monkeypatch.setenv("SM_MODEL_DIR", str(opt_ml / "model"))
    monkeypatch.setenv("SM_OUTPUT_DIR", str(opt_ml / "output"))
    monkeypatch.setenv(xgboost_train.IMAGE_ENV, IMAGE)
    configure(opt_ml, {"objective": "reg:squarederror", "num_round": "12", "max_depth": "3"})
    return opt_ml


def configure(opt_ml: Path, hyperparameters: dict[str, str], channels: dict | None = None) -> None:
    config = opt_ml / "input" / "config"
    (config / "hyperparameters.json").write_text(json.dumps(hyperparameters))
    channels = channels or {name: {"ContentType": "text/csv", "TrainingInputMode": "File",
                                   "S3DistributionType": "FullyReplicated", "RecordWrapperType": "None"}
                            for name in ("train", "validation")}
    (config / "inputdataconfig.json").write_text(json.dumps(channels))


def failure(opt_ml: Path) -> str:
    return (opt_ml / "output" / "failure").read_text()


def test_trains_like_xgboost_train_and_logs_rounds_in_the_containers_format(
        job: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert xgboost_train.main() == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[")]
    assert len(lines) == 12
    assert lines[0].startswith("[0]#011train-rmse:") and "#011validation-rmse:" in lines[0]
    booster = xgb.Booster()
    booster.load_model(bytearray((job / "model" / "xgboost-model").read_bytes()))
    train = np.loadtxt(job / "input" / "data" / "train" / "train.csv", delimiter=",")
    reference = xgb.train({"objective": "reg:squarederror", "max_depth": 3},
                          xgb.DMatrix(train[:, 1:], label=train[:, 0]), num_boost_round=12)
    test = xgb.DMatrix(regression(20, 9)[:, 1:])
    np.testing.assert_allclose(booster.predict(test), reference.predict(test), rtol=1e-6)
    last_validation = float(lines[-1].rsplit("validation-rmse:", 1)[1])
    valid = np.loadtxt(job / "input" / "data" / "validation" / "validation.csv", delimiter=",")
    rmse = float(np.sqrt(np.mean((reference.predict(xgb.DMatrix(valid[:, 1:])) - valid[:, 0]) ** 2)))
    assert last_validation == pytest.approx(rmse, abs=1e-5)


def test_images_before_1_3_pickle_the_booster(job: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(xgboost_train.IMAGE_ENV, IMAGE.replace("1.7-1", "1.2-2"))
    assert xgboost_train.main() == 0
    with (job / "model" / "xgboost-model").open("rb") as handle:
        assert isinstance(pickle.load(handle), xgb.Booster)


def test_container_metrics_and_early_stopping(job: Path, capsys: pytest.CaptureFixture[str]) -> None:
    configure(job, {"objective": "reg:squarederror", "num_round": "200", "eta": "0.5",
                    "early_stopping_rounds": "3", "eval_metric": "rmse,r2,mse"})
    assert xgboost_train.main() == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[")]
    assert len(lines) < 200  # stopped early on validation
    assert "#011validation-r2:" in lines[-1] and "#011validation-mse:" in lines[-1]
    rmse = float(lines[-1].split("validation-rmse:")[1].split("#011")[0])
    mse = float(lines[-1].split("validation-mse:")[1].split("#011")[0])
    assert mse == pytest.approx(rmse ** 2, rel=1e-3)


@pytest.mark.parametrize(("hyperparameters", "channels", "message"), [
    ({"objective": "reg:squarederror"}, None, "ClientError: Missing required hyperparameter: num_round"),
    ({"num_round": "5", "nrounds": "5"}, None, "ClientError: Extraneous hyperparameter found: nrounds"),
    ({"num_round": "5"}, {"validation": {"ContentType": "text/csv"}}, "ClientError: Missing required channel: train"),
    ({"num_round": "5"}, {"train": {"ContentType": "text/csv"}, "test": {}},
     "ClientError: Extraneous channel found: test"),
    ({"num_round": "5"}, {"train": {}}, "ClientError: First line"),  # no ContentType: read as libsvm
    ({"num_round": "5"}, {"train": {"ContentType": "application/json"}},
     "ClientError: application/json is not an accepted ContentType"),
])
def test_bad_input_writes_the_failure_file(job: Path, hyperparameters: dict[str, str], channels: dict | None,
                                           message: str) -> None:
    configure(job, hyperparameters, channels)
    assert xgboost_train.main() == 1
    assert failure(job).startswith(message)
    assert not (job / "model" / "xgboost-model").exists()


def test_labels_xgboost_rejects_are_the_users_error(job: Path) -> None:
    configure(job, {"num_round": "5", "objective": "count:poisson"})  # regression labels are negative too
    assert xgboost_train.main() == 1
    assert failure(job).startswith("ClientError: ")
    assert "label must be non-negative" in failure(job) and "Stack trace" not in failure(job)


def test_an_empty_validation_channel_fails(job: Path) -> None:
    for file in (job / "input" / "data" / "validation").iterdir():
        file.write_text("")
    assert xgboost_train.main() == 1
    assert failure(job).startswith("ClientError: No data in validation channel path")


def test_log_line_format() -> None:
    evals = {"train": {"rmse": [2.0, 1.234567]}, "validation": {"rmse": [3.0, 1.5], "mae": [1.0, 0.25]}}
    assert xgboost_train.log_line(1, evals) == \
        "[1]#011train-rmse:1.23457#011validation-rmse:1.50000#011validation-mae:0.25000"


def test_an_environment_without_xgboost_fails_saying_how_to_fix_it(job: Path, monkeypatch: pytest.MonkeyPatch
                                                                   ) -> None:
    monkeypatch.setitem(__import__("sys").modules, "xgboost", None)  # `import xgboost` raises ImportError
    assert xgboost_train.main() == 1
    assert failure(job).startswith("ClientError: the XGBoost algorithm needs the xgboost package")
    assert "-m pip install xgboost-cpu" in failure(job)


def test_checkpoints_every_round_and_resumes_from_the_newest(job: Path, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    checkpoints = tmp_path / "checkpoints"
    (job / "input" / "config" / "checkpointconfig.json").write_text(
        json.dumps({"LocalPath": str(checkpoints), "S3Uri": "s3://b/ckpt/"}))
    configure(job, {"objective": "reg:squarederror", "num_round": "7", "max_depth": "3"})
    assert xgboost_train.main() == 0
    assert sorted(p.name for p in checkpoints.iterdir()) == [f"xgboost-checkpoint.{i}" for i in range(2, 7)]
    capsys.readouterr()

    configure(job, {"objective": "reg:squarederror", "num_round": "12", "max_depth": "3"})  # a longer retry
    assert xgboost_train.main() == 0
    out = capsys.readouterr().out
    assert "INFO:root:Resuming from iteration 7" in out
    rounds = [line.split("]")[0] + "]" for line in out.splitlines() if line.startswith("[")]
    assert rounds == [f"[{i}]" for i in range(7, 12)]  # only the missing rounds, numbered on
    resumed = xgb.Booster()
    resumed.load_model(bytearray((job / "model" / "xgboost-model").read_bytes()))
    train = np.loadtxt(job / "input" / "data" / "train" / "train.csv", delimiter=",")
    straight = xgb.train({"objective": "reg:squarederror", "max_depth": 3},
                         xgb.DMatrix(train[:, 1:], label=train[:, 0]), num_boost_round=12)
    test = xgb.DMatrix(regression(20, 9)[:, 1:])
    np.testing.assert_allclose(resumed.predict(test), straight.predict(test), rtol=1e-5)


def test_a_tuning_objective_metric_joins_the_evaluation_metrics() -> None:
    params, custom = xgboost_train.xgboost_params(
        {"num_round": 5, "eval_metric": ["mae"], "_tuning_objective_metric": "validation:rmse"}, 3)
    assert params == {"eval_metric": ["mae", "rmse"]} and custom == []
    params, custom = xgboost_train.xgboost_params({"num_round": 5, "_tuning_objective_metric": "validation:r2"}, 3)
    assert params == {} and custom == ["r2"]
