"""A built-in XGBoost training step compiles as the SDK's generic Estimator sends it: plain string
hyperparameters, no script or source upload; its models carry no inference script and serve with the
training image. Every request passes botocore's validation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smflow.compile.graph import compile_pipeline
from smflow.service_model import validate_request
from smflow.spec import load_pipeline
from tests.conftest import FIXTURES

FIXTURE = FIXTURES / "pipelines" / "xgboost_builtin" / "pipeline.yaml"


def tasks(file: Path) -> dict[str, dict]:
    compiled = compile_pipeline(load_pipeline(file))
    found = {}
    for dag in compiled.dags:
        for task in dag.tasks:
            found[task.task_id] = task.as_json()
    return found


def project(tmp_path: Path, extra_steps: str = "") -> Path:
    for folder in ("train", "validation", "test"):
        (tmp_path / "data" / folder).mkdir(parents=True)
        (tmp_path / "data" / folder / f"{folder}.csv").write_text("1,2,3\n")
    (tmp_path / "pipeline.yaml").write_text(FIXTURE.read_text() + extra_steps)
    return tmp_path / "pipeline.yaml"


def test_training_request_is_the_generic_estimators(tmp_path: Path) -> None:
    compiled = tasks(project(tmp_path))
    train = compiled["abalone.train"]
    request = train["request"]
    assert request["HyperParameters"] == {"objective": "reg:squarederror", "num_round": "40", "max_depth": "4",
                                          "eta": "0.2", "min_child_weight": "2",
                                          "tree_method": "exact", "base_score": "150"}
    assert request["AlgorithmSpecification"]["TrainingImage"].endswith("/sagemaker-xgboost:1.7-1")
    assert "ContainerEntrypoint" not in request["AlgorithmSpecification"]
    assert [m["Name"] for m in request["AlgorithmSpecification"]["MetricDefinitions"]] == \
        ["validation:rmse", "train:rmse"]
    assert {c["ChannelName"]: c["ContentType"] for c in request["InputDataConfig"]} == \
        {"train": "text/csv", "validation": "text/csv"}
    assert not any(u.get("tar") for u in train["uploads"])  # data only, no sourcedir.tar.gz
    validate_request(train["operation"], json.loads(json.dumps(request).replace("{{ smflow.job_name }}", "j-1")
                                                    .replace("{{ smflow.run_key }}", "r1")))


def test_models_serve_xgboost_model_with_the_training_image(tmp_path: Path) -> None:
    register = ("      - name: register\n        type: register\n        model: train\n"
                "        approval: Approved\n")
    compiled = tasks(project(tmp_path, register))
    container = compiled["abalone.model"]["request"]["PrimaryContainer"]
    assert "SAGEMAKER_PROGRAM" not in container["Environment"]
    assert "SAGEMAKER_SUBMIT_DIRECTORY" not in container["Environment"]
    assert container["Image"].endswith("/sagemaker-xgboost:1.7-1")
    assert compiled["abalone.model"]["uploads"] == []
    registered = compiled["abalone.register"]["request"]["InferenceSpecification"]["Containers"][0]
    assert "SAGEMAKER_PROGRAM" not in registered["Environment"]
    assert registered["Image"] == container["Image"]


def test_an_explicit_inference_script_is_kept(tmp_path: Path) -> None:
    (tmp_path / "serve.py").write_text("def model_fn(model_dir):\n    return None\n")
    model = tmp_path / "pipeline.yaml"
    project(tmp_path)
    model.write_text(model.read_text().replace("        model: train\n",
                                               "        model: train\n        entry_point: serve.py\n"))
    container = tasks(model)["abalone.model"]["request"]["PrimaryContainer"]
    assert container["Environment"]["SAGEMAKER_PROGRAM"] == "serve.py"


def test_every_request_passes_botocore_validation_before_and_after_rendering(tmp_path: Path) -> None:
    from tests.unit.compile.test_requests import rendered

    register = "      - name: register\n        type: register\n        model: train\n"
    compiled = tasks(project(tmp_path, register))
    for task in compiled.values():
        validate_request(task["operation"], task["request"])
        validate_request(task["operation"], rendered(task, "xgbbuiltin__train", "manual__2026-12-02T00:00:00+00:00"))


def test_models_of_another_builtin_algorithm_serve_it_without_a_script(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # Valid for the sagemaker executor only: the create_model of a linear-learner step, with no inference.py in
    # source_dir, serves with the algorithm's own image and no SAGEMAKER_PROGRAM (as estimator.create_model()).
    monkeypatch.setenv("SMFLOW_EXECUTOR", "sagemaker")
    file = project(tmp_path)
    file.write_text(file.read_text().replace("        type: training\n", "        type: training\n        image: "
                                             "{framework: linear-learner, version: '1'}\n").replace(
        "          objective: reg:squarederror\n", "          predictor_type: regressor\n"))
    container = tasks(file)["abalone.model"]["request"]["PrimaryContainer"]
    assert container["Image"].endswith("/linear-learner:1")
    assert "SAGEMAKER_PROGRAM" not in container["Environment"]
