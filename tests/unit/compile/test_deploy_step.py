"""The deploy step in the spec and compiled: a register step's version or a group's latest Approved, positioned
errors for anything else, and guardrails compiled to a DeploymentConfig botocore accepts for UpdateEndpoint."""

from __future__ import annotations

from pathlib import Path

import pytest

from smflow.compile.graph import compile_pipeline
from smflow.service_model import request_problems
from smflow.spec import load_pipeline_text
from smflow.spec.errors import SpecError

SPEC = """\
pipeline: dep
defaults: {{bucket: deploy-bucket, image: {{framework: sklearn, version: 1.2-1}}}}
models:
  m:
    source_dir: code
    steps:
      - {{name: train, type: training, entry_point: train.py}}
      - {{name: register, type: register, model: train, entry_point: null}}
      - {deploy}
"""


def compiled_deploy(tmp_path: Path, deploy: str) -> dict:
    (tmp_path / "code").mkdir(exist_ok=True)
    (tmp_path / "code" / "train.py").write_text("print('train')\n")
    doc = load_pipeline_text(SPEC.format(deploy=deploy), tmp_path / "pipeline.yaml")
    dags = compile_pipeline(doc).as_json()["dags"]
    (task,) = [t for dag in dags for t in dag["tasks"] if t["kind"] == "deploy"]
    task["edges"] = [list(edge) for dag in dags for edge in dag["edges"]]
    return task


def test_deploy_the_register_steps_version_with_guardrails(tmp_path: Path) -> None:
    task = compiled_deploy(tmp_path, "{name: deploy, type: deploy, model: register, endpoint_name: live, "
                                     "guardrails: {traffic: linear, step_percent: 25, wait_seconds: 120, "
                                     "termination_wait_seconds: 60, alarms: [errors]}}")
    assert task["operation"] == "CreateEndpoint" and task["request"]["EndpointName"] == "live"
    assert ["m.register", "m.deploy"] in task["edges"]  # waits for the version it deploys
    assert request_problems("CreateEndpoint", task["request"]) is None
    params = task["params"]
    assert params["model_package_arn"] == "{{ smflow.output('m.register', 'model_package_arn') }}"
    assert params["timeout_seconds"] == 1800
    config = params["deployment_config"]
    assert config["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"] == {
        "Type": "LINEAR", "WaitIntervalInSeconds": 120, "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 25}}
    assert config["AutoRollbackConfiguration"] == {"Alarms": [{"AlarmName": "errors"}]}
    assert request_problems("UpdateEndpoint", {"EndpointName": "live", "EndpointConfigName": "c",
                                               "DeploymentConfig": config}) is None


def test_deploy_a_groups_latest_approved(tmp_path: Path) -> None:
    task = compiled_deploy(tmp_path, "{name: deploy, type: deploy, group: other-group, timeout_minutes: 5}")
    assert task["params"]["group"] == "other-group" and "model_package_arn" not in task["params"]
    assert task["params"]["timeout_seconds"] == 300 and "deployment_config" not in task["params"]


@pytest.mark.parametrize(("deploy", "message"), [
    ("{name: deploy, type: deploy}", "exactly one of `model`"),
    ("{name: deploy, type: deploy, model: register, group: g}", "exactly one of `model`"),
    ("{name: deploy, type: deploy, model: train}", "train"),
    ("{name: deploy, type: deploy, model: register, guardrails: {traffic: canary}}", "step_percent"),
])
def test_bad_deploy_steps_are_positioned_errors(tmp_path: Path, deploy: str, message: str) -> None:
    with pytest.raises(SpecError) as raised:
        compiled_deploy(tmp_path, deploy)
    assert message in str(raised.value) and "pipeline.yaml:9:" in str(raised.value)
