"""The deploy step's requests on AWS, against moto through the sagemaker executor: CreateEndpointConfig,
CreateEndpoint, UpdateEndpoint with the blue/green DeploymentConfig, the history tag, the registry metadata,
and rollback. Every request is also checked by botocore's parameter validation (boto3 would refuse what it
refuses). moto has no UpdateEndpoint (it also never leaves InService) and fails a removal-only
UpdateModelPackage, so those calls are answered here after validation, as the provider's own tests mock what
moto lacks, and the endpoint's DescribeEndpoint follows the update."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import pytest

from smflow import deployment
from smflow.compile.requests import deployment_config
from smflow.executors.sagemaker import SageMakerExecutor
from smflow.service_model import request_problems
from smflow.spec.model import DeployGuardrails

ROLE = "arn:aws:iam::123456789012:role/service-role/SmflowRole"
GROUP = "contract-group"  # each test adds its own suffix: the moto server (and its state) lives for the session
ENDPOINT = "contract-endpoint"


class RecordingExecutor(SageMakerExecutor):
    """The sagemaker executor, recording each request; UpdateEndpoint (missing in moto) is applied here."""

    def __init__(self, suffix: str) -> None:
        super().__init__(aws_conn_id="smflow_moto", region_name="us-east-1")
        self.group, self.endpoint = f"{GROUP}-{suffix}", f"{ENDPOINT}-{suffix}"
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.switched: dict[str, str] = {}

    def call(self, operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
        assert request_problems(operation, params) is None, (operation, request_problems(operation, params))
        self.requests.append((operation, dict(params)))
        if operation == "UpdateModelPackage" and "CustomerMetadataProperties" not in params:
            return {"ModelPackageArn": params["ModelPackageArn"]}  # moto 5.2 crashes on a removal-only update
        if operation == "UpdateEndpoint":
            self.switched[params["EndpointName"]] = params["EndpointConfigName"]
            return {"EndpointArn": super().call("DescribeEndpoint", {"EndpointName": params["EndpointName"]})[
                "EndpointArn"]}
        response = super().call(operation, params)
        if operation == "DescribeEndpoint" and params["EndpointName"] in self.switched:
            response["EndpointConfigName"] = self.switched[params["EndpointName"]]
        return response

    def sent(self, *operations: str) -> list[tuple[str, dict[str, Any]]]:
        return [(op, p) for op, p in self.requests if op in operations]


@pytest.fixture
def executor(aws_env: str) -> RecordingExecutor:
    recording = RecordingExecutor(uuid.uuid4().hex[:8])
    recording.call("CreateModelPackageGroup", {"ModelPackageGroupName": recording.group})
    for _ in range(2):
        recording.call("CreateModelPackage", {
            "ModelPackageGroupName": recording.group, "ModelApprovalStatus": "Approved",
            "CustomerMetadataProperties": {"smflow:run_id": "r"},  # as the register step sends (moto needs a dict)
            "InferenceSpecification": {
                "Containers": [{"Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:"
                                         "1.2-1-cpu-py3", "ModelDataUrl": "s3://bucket/model.tar.gz"}],
                "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]}})
    recording.requests.clear()
    return recording


def deploy_version(executor: RecordingExecutor, version: int, run: str,
                   guardrails: dict[str, Any] | None = None) -> dict[str, Any]:
    listed = executor.call("ListModelPackages", {"ModelPackageGroupName": executor.group})["ModelPackageSummaryList"]
    arn = next(p["ModelPackageArn"] for p in listed if p["ModelPackageVersion"] == version)
    package = deployment.approved_package(executor, package=arn)
    model = deployment.package_model(executor, package, ROLE, "contract")
    return deployment.deploy(executor, endpoint=executor.endpoint, package=package, model_name=model,
                             config_name=deployment.config_name_for(executor.endpoint, version, run),
                             deployment_config=guardrails, timeout=10, poll=0.01)


def test_deploy_update_and_rollback_requests(executor: RecordingExecutor) -> None:
    endpoint = executor.endpoint
    guardrails = deployment_config(DeployGuardrails(traffic="canary", step_percent=10, wait_seconds=60,
                                                    alarms=["contract-5xx"]))
    first = deploy_version(executor, 1, "run-1")
    (_, config), = executor.sent("CreateEndpointConfig")
    assert config["ProductionVariants"] == [{"VariantName": "AllTraffic", "ModelName": config["ProductionVariants"][0][
        "ModelName"], "InitialInstanceCount": 1, "InstanceType": "ml.m5.large", "InitialVariantWeight": 1.0}]
    assert {"Key": "smflow:model-package-version", "Value": "1"} in config["Tags"]
    (_, create), = executor.sent("CreateEndpoint")
    assert create["EndpointName"] == endpoint and create["EndpointConfigName"] == first["endpoint_config"]
    assert first["version"] == 1 and first["status"] == "InService"

    second = deploy_version(executor, 2, "run-2", guardrails)
    (_, update), = executor.sent("UpdateEndpoint")
    assert update == {"EndpointName": endpoint, "EndpointConfigName": second["endpoint_config"], "DeploymentConfig": {
        "BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": {
            "Type": "CANARY", "WaitIntervalInSeconds": 60, "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10}},
            "TerminationWaitInSeconds": 0},
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "contract-5xx"}]}}}
    assert len(executor.sent("CreateEndpointConfig")) == 2  # a new config, never an in-place edit
    assert second["version"] == 2 and second["previous_endpoint_config"] == first["endpoint_config"]
    metadata = [p for op, p in executor.sent("UpdateModelPackage")]
    assert metadata[-1]["CustomerMetadataProperties"] == {f"smflow:endpoint:{endpoint}": second["endpoint_config"]}
    assert metadata[-2]["CustomerMetadataPropertiesToRemove"] == [f"smflow:endpoint:{endpoint}"]

    executor.requests.clear()
    rolled = deployment.rollback(executor, endpoint, timeout=10, poll=0.01)
    (_, back), = executor.sent("UpdateEndpoint")
    assert back == {"EndpointName": endpoint, "EndpointConfigName": first["endpoint_config"]}
    assert (rolled["endpoint_config"], rolled["version"]) == (first["endpoint_config"], 1)
    assert rolled["previous_endpoint_config"] == second["endpoint_config"]


def test_a_pending_version_is_refused_before_any_endpoint_request(executor: RecordingExecutor) -> None:
    executor.call("CreateModelPackage", {
        "ModelPackageGroupName": executor.group, "ModelApprovalStatus": "PendingManualApproval",
        "InferenceSpecification": {
            "Containers": [{"Image": "img", "ModelDataUrl": "s3://bucket/model.tar.gz"}],
            "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]}})
    with pytest.raises(deployment.DeploymentError, match="version 3 is PendingManualApproval"):
        deploy_version(executor, 3, "run-3")
    assert executor.sent("CreateEndpointConfig", "CreateEndpoint", "UpdateEndpoint") == []


def test_invoke_endpoint_goes_through_boto3s_sagemaker_runtime_client(aws_env: str) -> None:
    executor = SageMakerExecutor(aws_conn_id="smflow_moto", region_name="us-east-1")
    answer = executor.invoke_endpoint({"EndpointName": "any-endpoint", "Body": b"1,2\n", "ContentType": "text/csv",
                                       "Accept": "text/csv"})
    assert isinstance(answer["Body"], bytes) and answer["ContentType"]  # read, as the local executor returns it
    assert "ResponseMetadata" not in answer
