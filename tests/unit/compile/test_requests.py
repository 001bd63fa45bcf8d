"""Compiled requests: botocore-valid for every example, before and after rendering; deterministic names."""

from __future__ import annotations

import json
import re

import pytest

from smflow.cli import main
from smflow.compile.graph import compile_pipeline
from smflow.compile.naming import NAME_PATTERN, job_name, run_key
from smflow.compile.render import RunTemplateContext, render_value
from smflow.service_model import RequestValidationError, validate_request
from smflow.spec import load_pipeline
from tests.conftest import PIPELINES

EXAMPLES = sorted(PIPELINES.rglob("pipeline.yaml"))


def rendered(task: dict, dag_id: str, run_id: str) -> dict:
    outputs = {"model": "s3://b/k/model.tar.gz", "model_name": "m-1", "report": "s3://b/r/evaluation.json",
               "job_name": "j-1"}
    ctx = RunTemplateContext(dag_id, run_id, task["task_id"], 1,
                             lambda t, n: outputs.get(n, f"s3://b/{t}/{n}"))
    return render_value(task["request"], {"smflow": ctx, "run_id": run_id, "dag": {"dag_id": dag_id}})


def test_every_compiled_request_passes_botocore_validation(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compile", "--json", *map(str, EXAMPLES)]) == 0
    document = json.loads(capsys.readouterr().out)
    checked = 0
    for pipeline in document["pipelines"]:
        for dag in pipeline["dags"]:
            for task in dag["tasks"]:
                if task["operation"] is None:
                    assert task["kind"] in {"condition", "resolve_model", "find_batches", "baseline", "monitor_resolve",
                                            "drift_check", "retrain_signal"}  # no request of their own
                    continue
                validate_request(task["operation"], task["request"])
                final = rendered(task, dag["dag_id"], "manual__2026-11-23T12:00:00+00:00")
                validate_request(task["operation"], final)
                assert "{{" not in json.dumps(final)
                for pre in task["pre"]:
                    validate_request(pre["operation"], pre["request"])
                checked += 1
    assert checked >= 6


def test_rendered_job_names_satisfy_sagemaker_pattern() -> None:
    compiled = compile_pipeline(load_pipeline(EXAMPLES[0]))
    for task in compiled.dags[0].tasks:
        if task.operation in {"CreateProcessingJob", "CreateTrainingJob", "CreateTransformJob", "CreateModel"}:
            final = rendered(task.as_json(), compiled.dags[0].dag_id, "scheduled__2026-11-23T03:00:00+00:00")
            name = next(v for k, v in final.items() if k.endswith("JobName") or k == "ModelName")
            assert NAME_PATTERN.match(name) and len(name) <= 63, name


def test_botocore_catches_a_bad_request() -> None:
    with pytest.raises(RequestValidationError, match="TrainingJobName"):
        validate_request("CreateTrainingJob", {"RoleArn": "x"})


@pytest.mark.parametrize("dag_id,run_id,task_id", [
    ("p__train", "manual__2026-01-01T00:00:00+00:00", "m.step"),
    ("x" * 100 + "__train", "r" * 300, "t" * 250),
    ("weird__train", "run with spaces/and:colons", "9.starts_with_digit"),
])
def test_job_names_are_deterministic_and_valid(dag_id: str, run_id: str, task_id: str) -> None:
    first = job_name(dag_id, run_id, task_id)
    assert first == job_name(dag_id, run_id, task_id)
    assert NAME_PATTERN.match(first) and len(first) <= 63
    assert first != job_name(dag_id, run_id + "x", task_id)
    retry = job_name(dag_id, run_id, task_id, attempt=3)
    assert retry.endswith("-a3") and len(retry) <= 63 and NAME_PATTERN.match(retry)
    assert re.fullmatch(r"[A-Za-z0-9-]+", run_key(run_id))


def test_defaults_are_filled_in_and_shown() -> None:
    compiled = compile_pipeline(load_pipeline(EXAMPLES[0]))
    train = compiled.dags[0].task("regressor.train")
    assert train.request["ResourceConfig"]["InstanceType"] == "ml.m5.large"
    assert train.request["AlgorithmSpecification"]["TrainingImage"].endswith("sagemaker-scikit-learn:1.2-1-cpu-py3")
    assert json.loads(train.request["HyperParameters"]["sagemaker_program"]) == "train.py"
    assert train.request["HyperParameters"]["n_estimators"] == "150"  # JSON-encoded, as SDK estimators send
