"""Pipeline parameters as the DAG's Airflow Params (what the Trigger form shows and a run's conf is checked
against), through the on-disk compile cache, in the DAG docs, and `smflow run --conf` checked against them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from airflow.sdk.exceptions import ParamValidationError

from smflow.dags.factory import RUN_PARAMS
from smflow.dags.loader import build_dags
from smflow.dags.runner import check_run_conf
from smflow.errors import UsageError
from smflow.spec.parameters import RUN_PARAM_NAMES
from tests.conftest import FIXTURES

FIXTURE = FIXTURES / "pipelines" / "parameters"


@pytest.fixture
def pipelines(tmp_path: Path, smflow_home: Path) -> Path:
    root = tmp_path / "pipelines"
    shutil.copytree(FIXTURE, root / "parameters")
    return root


def test_each_parameter_is_a_param_of_the_dag_before_the_run_options(pipelines: Path) -> None:
    dag = build_dags(pipelines).dags["parameters__train"]
    assert list(dag.params) == ["mse_threshold", "eval_instances", "digits", *RUN_PARAMS]
    threshold = dag.params.get_param("mse_threshold")
    assert threshold.value == 1.0 and threshold.description == "largest MSE the gate lets through"
    assert threshold.schema == {"type": "number", "minimum": 0.0}
    # narrowed by the field it sets: instance_count needs at least 1
    assert dag.params.get_param("eval_instances").schema == {"type": "integer", "minimum": 1, "maximum": 4}
    assert dag.params.get_param("digits").description is None
    assert dag.params.validate() == {"mse_threshold": 1.0, "eval_instances": 1, "digits": 4, "fresh_jobs": False,
                                     "fresh_tasks": []}


def test_a_run_value_is_checked_against_the_param_schema(pipelines: Path) -> None:
    dag = build_dags(pipelines).dags["parameters__train"]
    with pytest.raises(ParamValidationError, match="Invalid input for param eval_instances: 5 is greater than"):
        dag.params["eval_instances"] = 5
    with pytest.raises(ParamValidationError, match="'high' is not of type 'number'"):
        dag.params["mse_threshold"] = "high"


def test_each_dag_has_its_own_params_and_the_cache_keeps_them(pipelines: Path) -> None:
    first = build_dags(pipelines).dags["parameters__train"]
    second = build_dags(pipelines).dags["parameters__train"]  # from the compiled cache
    assert second.params.dump() == first.params.dump()
    assert second.params.get_param("eval_instances").schema == first.params.get_param("eval_instances").schema
    first.params["digits"] = 2
    assert second.params["digits"] == 4


def test_the_dag_docs_list_the_parameters(pipelines: Path) -> None:
    docs = build_dags(pipelines).dags["parameters__train"].doc_md or ""
    assert "| `mse_threshold` | number | `1.0` | ≥ 0.0 | largest MSE the gate lets through | " \
           "`models.m.steps[1].checks[0].le` |" in docs
    assert "| `eval_instances` | integer | `1` | ≥ 1 ≤ 4 | instances of the evaluation job | " \
           "`models.m.steps[0].instance_count` |" in docs


def test_the_spec_reserves_the_run_option_names() -> None:
    assert tuple(RUN_PARAMS) == RUN_PARAM_NAMES


def test_a_conf_value_of_the_wrong_type_is_a_usage_error_naming_the_parameter(pipelines: Path) -> None:
    from smflow.compile.graph import compile_pipeline
    from smflow.spec import load_pipeline

    file = pipelines / "parameters" / "pipeline.yaml"
    compiled = compile_pipeline(load_pipeline(file)).dag("train")
    check_run_conf(compiled, {"mse_threshold": 0.3, "eval_instances": 2, "note": "not a parameter"}, file)
    with pytest.raises(UsageError) as caught:
        check_run_conf(compiled, {"mse_threshold": "0.3", "eval_instances": 0}, file)
    assert str(caught.value) == (
        f"--conf does not fit the parameters of parameters__train ({file}): mse_threshold: '0.3' is not of type "
        "'number' (the pipeline parameter takes type \"number\", minimum 0.0; default 1.0); eval_instances: 0 is "
        "less than the minimum of 1 (the pipeline parameter takes type \"integer\", minimum 1, maximum 4; "
        "default 1)")
