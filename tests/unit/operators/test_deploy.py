"""The deploy step on the local executor: only Approved versions deploy, each deployment is a new endpoint
config, the registry records which version serves the endpoint, and rollback returns to the previous one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException

from smflow import deployment
from smflow.executors import get_executor
from smflow.executors.local import LocalExecutor
from smflow.operators.endpoint import DeployModelOperator
from tests.unit.local_sagemaker.endpoints.conftest import model_tarball

GROUP = "demo-group"
ENDPOINT = "demo-endpoint"
ROLE = "arn:aws:iam::111122223333:role/service-role/Role"


@pytest.fixture
def executor(smflow_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalExecutor]:
    monkeypatch.setenv("SMFLOW_IMAGE_ENVIRONMENTS", "off")
    get_executor.cache_clear()  # the operator's executor must be this test's home
    local = LocalExecutor()
    local.call("CreateModelPackageGroup", {"ModelPackageGroupName": GROUP})
    for scale in (2.0, 5.0):
        uri = f"s3://bucket/models/{scale}/model.tar.gz"
        local.write_bytes(uri, model_tarball(scale))
        local.call("CreateModelPackage", {"ModelPackageGroupName": GROUP, "InferenceSpecification": {
            "Containers": [{"Image": "local/model", "ModelDataUrl": uri,
                            "Environment": {"SAGEMAKER_PROGRAM": "inference.py"}}],
            "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]}})
    yield local
    for endpoint in local.call("ListEndpoints", {})["Endpoints"]:
        local.call("DeleteEndpoint", {"EndpointName": endpoint["EndpointName"]})
    get_executor.cache_clear()


def arn(executor: LocalExecutor, version: int) -> str:
    return str(executor.call("DescribeModelPackage", {"ModelPackageName": f"{GROUP}/{version}"})["ModelPackageArn"])


def run_deploy(run_id: str, **source: Any) -> dict[str, Any]:
    operator = DeployModelOperator(
        task_id="m.deploy", operation="CreateEndpoint", executor="local", poll_seconds=0.05,
        request={"EndpointName": ENDPOINT, "EndpointConfigName": "unused", "Tags": []},
        params_={"role": ROLE, "model_prefix": "demo-m", "instance_type": "ml.m5.large", "instance_count": 1,
                 "timeout_seconds": 60, **source})
    return dict(operator.execute({"run_id": run_id}))  # type: ignore[arg-type]


def predictions(executor: LocalExecutor) -> list[str]:
    body = executor.invoke_endpoint({"EndpointName": ENDPOINT, "Body": b"1,2\n", "ContentType": "text/csv"})["Body"]
    return body.decode().split()


def serving_metadata(executor: LocalExecutor, version: int) -> str | None:
    described = executor.call("DescribeModelPackage", {"ModelPackageName": f"{GROUP}/{version}"})
    return (described.get("CustomerMetadataProperties") or {}).get(f"smflow:endpoint:{ENDPOINT}")


def test_a_version_that_is_not_approved_is_refused(executor: LocalExecutor) -> None:
    with pytest.raises(AirflowFailException, match=rf"{GROUP} version 1 is PendingManualApproval: only an "
                                                   rf"Approved version can be deployed.*smflow registry approve "
                                                   rf"{GROUP} 1"):
        run_deploy("run-1", model_package_arn=arn(executor, 1))
    with pytest.raises(AirflowFailException, match=f"{GROUP} has no Approved version"):
        run_deploy("run-1", group=GROUP)
    assert executor.call("ListEndpoints", {})["Endpoints"] == []


def test_deploy_then_rollback_restores_the_previous_version(executor: LocalExecutor) -> None:
    executor.registry.set_status(GROUP, 1, "Approved")
    first = run_deploy("run-1", model_package_arn=arn(executor, 1))
    assert first["status"] == "InService" and first["outputs"]["version"] == 1
    assert predictions(executor) == ["2,4"]
    assert run_deploy("run-1", model_package_arn=arn(executor, 1))["outputs"]["endpoint_config"] == \
        first["outputs"]["endpoint_config"]  # a retried task finds its own config

    executor.registry.set_status(GROUP, 2, "Approved")
    second = run_deploy("run-2", group=GROUP)  # the latest Approved
    assert second["outputs"]["version"] == 2
    assert second["outputs"]["endpoint_config"] != first["outputs"]["endpoint_config"]
    assert predictions(executor) == ["5,10"]
    assert serving_metadata(executor, 2) == second["outputs"]["endpoint_config"]
    assert serving_metadata(executor, 1) is None
    configs = {c["EndpointConfigName"] for c in executor.call("ListEndpointConfigs", {})["EndpointConfigs"]}
    assert configs == {first["outputs"]["endpoint_config"], second["outputs"]["endpoint_config"]}

    rolled = deployment.rollback(executor, ENDPOINT, timeout=60, poll=0.05)
    assert (rolled["endpoint_config"], rolled["version"]) == (first["outputs"]["endpoint_config"], 1)
    assert rolled["previous_endpoint_config"] == second["outputs"]["endpoint_config"]
    assert predictions(executor) == ["2,4"]
    assert serving_metadata(executor, 1) == first["outputs"]["endpoint_config"]
    assert serving_metadata(executor, 2) is None


def slow_version(executor: LocalExecutor, model_prefix: str) -> tuple[dict[str, Any], str]:
    """An Approved version whose model takes a second to load, and its SageMaker Model."""
    uri = "s3://bucket/models/slow/model.tar.gz"
    executor.write_bytes(uri, model_tarball(7.0, load_seconds=1.0))
    arn = executor.call("CreateModelPackage", {
        "ModelPackageGroupName": GROUP, "ModelApprovalStatus": "Approved", "InferenceSpecification": {
            "Containers": [{"Image": "local/model", "ModelDataUrl": uri,
                            "Environment": {"SAGEMAKER_PROGRAM": "inference.py"}}],
            "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]}})["ModelPackageArn"]
    package = deployment.approved_package(executor, package=arn)
    return package, deployment.package_model(executor, package, ROLE, model_prefix)


def test_a_deployment_that_outlasts_its_timeout_says_where_it_stands(executor: LocalExecutor) -> None:
    package, model = slow_version(executor, "demo-m")
    with pytest.raises(deployment.DeploymentError, match=rf"endpoint {ENDPOINT} is still Creating after 0 s.*"
                                                         rf"smflow endpoint describe {ENDPOINT}"):
        deployment.deploy(executor, endpoint=ENDPOINT, package=package, model_name=model,
                          config_name="slow-config", timeout=0.2, poll=0.05)
    settled = deployment.wait_in_service(executor, ENDPOINT, timeout=30, poll=0.05)  # it carries on by itself
    assert (settled["EndpointStatus"], settled["EndpointConfigName"]) == ("InService", "slow-config")
    assert predictions(executor) == ["7,14"]


def test_an_update_that_times_out_then_is_retried_still_rolls_back_to_what_it_replaced(
        executor: LocalExecutor) -> None:
    executor.registry.set_status(GROUP, 1, "Approved")
    first = run_deploy("run-1", model_package_arn=arn(executor, 1))["outputs"]["endpoint_config"]
    package, model = slow_version(executor, "demo-slow")
    with pytest.raises(deployment.DeploymentError, match="is still Updating"):
        deployment.deploy(executor, endpoint=ENDPOINT, package=package, model_name=model,
                          config_name="slow-config", timeout=0.2, poll=0.05)
    retried = deployment.deploy(executor, endpoint=ENDPOINT, package=package, model_name=model,
                                config_name="slow-config", timeout=60, poll=0.05)  # the task's retry
    assert retried["endpoint_config"] == "slow-config" and retried["previous_endpoint_config"] == first
    assert predictions(executor) == ["7,14"]
    assert serving_metadata(executor, 1) is None  # the registry moved to the slow version
    rolled = deployment.rollback(executor, ENDPOINT, timeout=60, poll=0.05)
    assert (rolled["endpoint_config"], rolled["version"]) == (first, 1)
    assert predictions(executor) == ["2,4"]
