"""Training steps without an entry_point: the built-in XGBoost algorithm is checked by its container's rules at
validate time, each problem a positioned `file:line:col: key.path:` error; other algorithms need the sagemaker
executor, and framework images need a script."""

from __future__ import annotations

from pathlib import Path

import pytest

from smflow.spec import load_pipeline
from smflow.spec.errors import SpecError

HEAD = """\
pipeline: algo
defaults:
  image: {framework: xgboost, version: 1.7-1}
models:
  m:
    steps:
"""
TRAIN = """\
      - name: train
        type: training
        hyperparameters:
          objective: reg:squarederror
          num_round: 10
        inputs:
          train: {source: ./data/, content_type: text/csv}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.csv").write_text("1,2,3\n")
    (tmp_path / "serve.py").write_text("def model_fn(model_dir):\n    return None\n")
    return tmp_path


def issues(project: Path, text: str) -> list[tuple[str, str, int, int]]:
    file = project / "pipeline.yaml"
    file.write_text(text)
    try:
        load_pipeline(file)
    except SpecError as e:
        assert all(i.file == str(file) for i in e.issues)
        return [(i.key_path, i.message, i.line, i.col) for i in e.issues]
    return []


def test_the_sdk_examples_builtin_xgboost_step_is_valid(project: Path) -> None:
    assert issues(project, HEAD + TRAIN) == []


def test_num_round_is_required_and_reported_at_the_hyperparameters(project: Path) -> None:
    found = issues(project, HEAD + TRAIN.replace("          num_round: 10\n", ""))
    assert [(k, m) for k, m, _, _ in found] == [
        ("models.m.steps[0].hyperparameters", "Missing required hyperparameter: num_round (SageMaker XGBoost "
                                              "algorithm hyperparameters); add `num_round:` (the number of "
                                              "boosting rounds)")]
    assert found[0][2:] == (9, 9)


def test_each_bad_hyperparameter_is_reported_at_its_key(project: Path) -> None:
    text = HEAD + TRAIN.replace("          num_round: 10\n", "          num_round: 10\n          eta: 3\n"
                                                             "          n_estimators: 100\n")
    found = issues(project, text)
    assert [(k, line, col) for k, _, line, col in found] == [
        ("models.m.steps[0].hyperparameters.eta", 12, 16),
        ("models.m.steps[0].hyperparameters.n_estimators", 13, 11)]
    assert found[0][1].startswith("Hyperparameter eta: 3.0 is not in [0, 1]")
    assert found[1][1].startswith("Extraneous hyperparameter found: n_estimators")


def test_the_algorithm_reads_train_and_validation_only(project: Path) -> None:
    text = HEAD + TRAIN + "          test: ./data/\n"
    assert [(k, m) for k, m, _, _ in issues(project, text)] == [
        ("models.m.steps[0].inputs.test", "channel 'test': the XGBoost algorithm reads the channels `train` and "
                                          "`validation` only")]
    no_train = HEAD + TRAIN.replace("          train: {source: ./data/, content_type: text/csv}\n",
                                    "          validation: ./data/\n")
    assert [k for k, *_ in issues(project, no_train)] == ["models.m.steps[0].inputs"]


def test_a_framework_image_without_entry_point_asks_for_one(project: Path) -> None:
    text = HEAD.replace("framework: xgboost, version: 1.7-1", "framework: sklearn, version: 1.2-1") + TRAIN
    (key, message, line, _), = issues(project, text)
    assert key == "models.m.steps[0].entry_point" and line == 7
    assert message.startswith("required key 'entry_point' is missing: this training step's image (sklearn 1.2-1) "
                              "is not a built-in algorithm; add `entry_point:")


def test_other_builtin_algorithms_need_the_sagemaker_executor(project: Path, monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    text = HEAD + TRAIN.replace("        hyperparameters:\n", "        image: {framework: linear-learner, version: '1'}"
                                                              "\n        hyperparameters:\n")
    (key, message, _, _), = issues(project, text)
    assert key == "models.m.steps[0].image"
    assert message.startswith("the built-in linear-learner algorithm runs only on SageMaker: the local executor")
    assert "SMFLOW_EXECUTOR=sagemaker" in message
    monkeypatch.setenv("SMFLOW_EXECUTOR", "sagemaker")
    assert issues(project, text) == []


def test_an_image_uri_is_recognised_by_its_repository(project: Path) -> None:
    uri = "382416733822.dkr.ecr.us-east-1.amazonaws.com/kmeans:1"
    text = HEAD.replace("{framework: xgboost, version: 1.7-1}", "{uri: " + uri + "}") + TRAIN
    assert [k for k, *_ in issues(project, text)] == ["defaults.image"]
    xgb_uri = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.5-1"
    assert issues(project, HEAD.replace("{framework: xgboost, version: 1.7-1}", "{uri: " + xgb_uri + "}")
                  + TRAIN) == []


def test_models_of_the_algorithm_need_no_inference_script(project: Path) -> None:
    model = "      - name: model\n        type: create_model\n        model: train\n"
    register = "      - name: register\n        type: register\n        model: train\n"
    assert issues(project, HEAD + TRAIN + model + register) == []  # no inference.py in source_dir, and none needed
    explicit = model + "        entry_point: missing.py\n"
    assert [k for k, *_ in issues(project, HEAD + TRAIN + explicit)] == ["models.m.steps[1].entry_point"]


def test_validate_warns_when_csv_would_be_read_as_libsvm(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from smflow.cli import main

    file = project / "pipeline.yaml"
    file.write_text(HEAD + TRAIN.replace("{source: ./data/, content_type: text/csv}", "./data/"))
    assert main(["validate", str(file)]) == 0
    err = capsys.readouterr().err
    assert f"{file}:13:18: models.m.steps[0].inputs.train: warning: channel 'train' holds CSV files but has no " \
           "content_type, so the XGBoost algorithm reads it as libsvm" in err
    file.write_text(HEAD + TRAIN)
    assert main(["validate", str(file)]) == 0
    assert "holds CSV files" not in capsys.readouterr().err


def test_distribution_needs_an_entry_point(project: Path) -> None:
    (key, message, line, _), = issues(project, HEAD + TRAIN + "        distribution: {mpi: {enabled: true}}\n")
    assert (key, line) == ("models.m.steps[0].distribution", 14)
    assert message.startswith("`distribution` configures a framework container's launcher for an entry_point "
                              "script; the built-in xgboost algorithm has none")


@pytest.mark.parametrize("given,reason", [
    ("image/png", "image/png is not an accepted ContentType: csv, libsvm"),
    ("'text/csv; label_size=2'", "text/csv; label_size=2 is not an accepted csv ContentType"),
])
def test_a_channel_type_the_container_rejects_is_reported_at_it(project: Path, given: str, reason: str) -> None:
    (key, message, line, _), = issues(project, HEAD + TRAIN.replace("content_type: text/csv", f"content_type: {given}"))
    assert (key, line) == ("models.m.steps[0].inputs.train.content_type", 13)
    assert message.startswith(reason) and message.endswith("(the SageMaker XGBoost algorithm)")
    assert issues(project, HEAD + TRAIN.replace("content_type: text/csv", "content_type: 'text/csv; label_size=1'")) \
        == []
