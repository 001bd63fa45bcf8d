"""Pipeline parameters through compile and render: requests carry the placeholders, a run's values render to
native types where a field is exactly one reference and to text elsewhere, and compile-time validation
renders the defaults."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from smflow.compile.graph import CompiledPipeline, compile_pipeline
from smflow.compile.render import parameter_text, render_params, render_value, run_parameter_values
from smflow.service_model import request_problems
from smflow.spec import SpecError, load_pipeline
from tests.conftest import FIXTURES

FIXTURE = FIXTURES / "pipelines" / "parameters"

TRAINING = """      - name: train
        type: training
        entry_point: evaluate.py
        instance_type: "{{ params.size }}"
        max_runtime_seconds: "{{ params.runtime }}"
        hyperparameters: {learning_rate: "{{ params.rate }}", tag: "run-{{ params.digits }}", depth: 3,
                          flag: "{{ params.flag }}", objective: "reg:squarederror"}
        environment: {DEBUG: "{{ params.flag }}"}
"""
PARAMETERS = """  rate: 0.1
  flag: true
  size: ml.m5.xlarge
  runtime: {type: integer, default: 3600}
"""


@pytest.fixture
def compiled(tmp_path: Path) -> CompiledPipeline:
    shutil.copytree(FIXTURE, tmp_path / "p")
    file = tmp_path / "p" / "pipeline.yaml"
    text = file.read_text().replace("  digits: 4\n", "  digits: 4\n" + PARAMETERS)
    file.write_text(text.replace("    steps:\n", "    steps:\n" + TRAINING, 1))
    return compile_pipeline(load_pipeline(file))


def test_requests_carry_the_placeholders(compiled: CompiledPipeline) -> None:
    dag = compiled.dag("train")
    evaluate = dag.task("m.evaluate").request
    assert evaluate["ProcessingResources"]["ClusterConfig"]["InstanceCount"] == "{{ params.eval_instances }}"
    # a string field that is one reference renders as text, not a native number
    assert evaluate["AppSpecification"]["ContainerArguments"] == ["--digits", "{{ params.digits | string }}"]
    train = dag.task("m.train").request
    assert train["ResourceConfig"]["InstanceType"] == "{{ params.size }}"
    assert train["StoppingCondition"] == {"MaxRuntimeInSeconds": "{{ params.runtime }}"}
    hps = train["HyperParameters"]
    # as the SDK sends a pipeline variable: its text, not JSON-quoted; plain values stay JSON-encoded
    assert hps["learning_rate"] == "{{ params.rate | string }}" and hps["tag"] == "run-{{ params.digits }}"
    assert hps["depth"] == "3" and hps["objective"] == '"reg:squarederror"'
    assert train["Environment"] == {"DEBUG": "{{ params.flag | string }}"}
    assert dag.task("m.gate").params["checks"] == [{"metric": "regression_metrics.mse.value",
                                                    "le": "{{ params.mse_threshold }}"}]
    # the framework image was resolved for the default instance type
    assert train["AlgorithmSpecification"]["TrainingImage"].endswith("-cpu-py3")


def test_a_run_renders_native_values_and_the_request_stays_valid(compiled: CompiledPipeline) -> None:
    dag = compiled.dag("train")
    values = {"mse_threshold": 0.25, "eval_instances": 3, "digits": 2, "rate": 0.05, "flag": False,
              "size": "ml.c5.2xlarge", "runtime": 7200}
    evaluate = render_params(dag.task("m.evaluate").request, values)
    assert evaluate["ProcessingResources"]["ClusterConfig"]["InstanceCount"] == 3
    assert evaluate["AppSpecification"]["ContainerArguments"] == ["--digits", "2"]
    train = render_params(dag.task("m.train").request, values)
    assert train["ResourceConfig"]["InstanceType"] == "ml.c5.2xlarge"
    assert train["StoppingCondition"]["MaxRuntimeInSeconds"] == 7200
    assert train["HyperParameters"]["learning_rate"] == "0.05" and train["HyperParameters"]["tag"] == "run-2"
    assert train["HyperParameters"]["flag"] == "false" and train["Environment"] == {"DEBUG": "false"}
    assert render_params(dag.task("m.gate").params, values)["checks"][0]["le"] == 0.25
    variables = {"smflow": _Names(), "run_id": "r", "dag": {"dag_id": "d"}, "params": values}
    for task_id in ("m.evaluate", "m.train"):
        task = dag.task(task_id)
        assert request_problems(task.operation or "", render_value(task.request, variables)) is None


class _Names:
    """The `smflow` template object's names, for rendering a request outside a run."""

    job_name = "job-1"
    run_key = "run-1"
    client_token = "token"

    def output(self, task_id: str, name: str) -> str:
        return f"s3://b/{task_id}/{name}/"


def test_the_compiled_form_carries_the_parameters_through_json(compiled: CompiledPipeline) -> None:
    again = CompiledPipeline.from_json(json.loads(json.dumps(compiled.as_json())))
    params = again.dag("train").params
    assert list(params) == ["mse_threshold", "eval_instances", "digits", "rate", "flag", "size", "runtime"]
    assert params["runtime"] == {"type": "integer", "default": 3600, "description": "", "minimum": 1,
                                 "maximum": 2419200, "used_in": ["models.m.steps[0].max_runtime_seconds"]}
    assert again.as_json() == compiled.as_json()


def test_compile_validates_the_requests_with_the_defaults(tmp_path: Path) -> None:
    """A default botocore would reject is caught at validate time, where the parameter is declared."""
    shutil.copytree(FIXTURE, tmp_path / "p")
    file = tmp_path / "p" / "pipeline.yaml"
    text = file.read_text().replace("  digits: 4\n", "  digits: 4\n  size: m5.large\n")
    file.write_text(text.replace('instance_count: "{{ params.eval_instances }}"',
                                 'instance_count: "{{ params.eval_instances }}"\n'
                                 '        instance_type: "{{ params.size }}"'))
    with pytest.raises(SpecError) as caught:
        compile_pipeline(load_pipeline(file))
    assert any("instance_type" in str(issue) and "m5.large" in str(issue) for issue in caught.value.issues), \
        caught.value


@pytest.mark.parametrize(("template", "values", "expected"), [
    ("{{ params.n }}", {"n": 2}, 2),
    ("{{params.n}}", {"n": 2.5}, 2.5),
    ("{{ params.b }}", {"b": True}, True),
    ("{{ params.s }}", {"s": "Approved"}, "Approved"),
    ("{{ params.n | string }}", {"n": 2}, "2"),
    ("{{ params.b | string }}", {"b": False}, "false"),
    ("n={{ params.n }}, b={{ params.b }}", {"n": 1e-05, "b": True}, "n=1e-05, b=true"),
    ("{{ smflow.job_name }}-{{ params.n }}", {"n": 3}, "{{ smflow.job_name }}-3"),  # other Jinja stays
    ("{{ params.n | int }}", {"n": 3}, "{{ params.n | int }}"),  # filters are the template engine's
])
def test_render_params(template: str, values: dict[str, Any], expected: Any) -> None:
    rendered = render_params({"k": [template]}, values)["k"][0]
    assert rendered == expected and type(rendered) is type(expected)


def test_keys_are_not_rendered_and_an_unknown_name_says_what_the_run_has() -> None:
    assert render_params({"{{ params.n }}": "{{ params.n }}"}, {"n": 1}) == {"{{ params.n }}": 1}
    with pytest.raises(LookupError, match=r"parameter 'x' is not a param of this run \(params: fresh_jobs, n\)"):
        render_params("{{ params.x }}", {"n": 1, "fresh_jobs": False})


def test_render_value_renders_params_then_the_rest() -> None:
    value = render_value({"count": "{{ params.n }}", "name": "{{ run_id }}-{{ params.n }}"},
                         {"run_id": "r1", "params": {"n": 4}})
    assert value == {"count": 4, "name": "r1-4"}


def test_integer_parameters_passed_as_whole_floats_become_integers() -> None:
    values = run_parameter_values({"n": 2.0, "x": 2.0, "m": 2.5}, {"n": "integer", "x": "number", "m": "integer"})
    assert values == {"n": 2, "x": 2.0, "m": 2.5} and type(values["n"]) is int and type(values["x"]) is float


def test_parameter_text() -> None:
    assert [parameter_text(v) for v in ("a b", 3, 0.5, True, False)] == ["a b", "3", "0.5", "true", "false"]
