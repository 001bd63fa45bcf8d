"""Deploying an Approved model package version to a real-time endpoint, and rolling an endpoint back.

Executor-agnostic and Airflow-free: the deploy operator, `smflow endpoint rollback` and the demo call these
with either executor, and they speak only the SageMaker API, so a deployment does the same requests locally
and on AWS:

1. the version must be `Approved` (anything else is refused, naming its status and how to approve it);
2. a SageMaker Model made from the package (once per version, the name derived from the package ARN);
3. a **new** endpoint config per deployment, named from the endpoint, the version and the run — never an
   in-place edit — tagged with the package it serves;
4. CreateEndpoint, or UpdateEndpoint (with the step's DeploymentConfig: blue/green traffic shifting and
   auto-rollback alarms, https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails.html), then a
   wait until InService, bounded by a timeout whose error says what state the endpoint is in;
5. the endpoint is tagged with the config it replaced (`smflow:previous-endpoint-config`: what rollback
   returns to), and the registry records which version serves which endpoint: the package's
   CustomerMetadataProperties `smflow:endpoint:<name>` = the config, removed from the version it replaced.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from smflow.compile.naming import bounded_name, digest
from smflow.errors import UserError
from smflow.model_packages import newest_package
from smflow.sagemaker_api import is_not_found

if TYPE_CHECKING:
    from smflow.executors.base import Executor

PACKAGE_TAG = "smflow:model-package-arn"
VERSION_TAG = "smflow:model-package-version"
PREVIOUS_TAG = "smflow:previous-endpoint-config"
ENDPOINT_METADATA = "smflow:endpoint:"
DEFAULT_TIMEOUT_SECONDS = 1800.0


class DeploymentError(UserError):
    """A deployment that cannot go ahead or did not finish; the message says the endpoint's state and what to do."""


@dataclass(frozen=True)
class Variant:
    instance_type: str = "ml.m5.large"
    instance_count: int = 1
    variant_name: str = "AllTraffic"


def approve_hint(group: str, version: Any) -> str:
    return f"approve it with `smflow registry approve {group} {version}` (`smflow registry list --group {group}` " \
           "shows the versions and their status)"


def approved_package(executor: Executor, *, package: str | None = None, group: str | None = None) -> dict[str, Any]:
    """The DescribeModelPackage answer of the version to deploy: `package` (an ARN), which must be Approved, or
    the latest Approved version of `group`."""
    if package is None:
        if not group:
            raise DeploymentError("name the model package version to deploy: a package ARN or a group")
        try:
            newest = newest_package(executor, group, status="Approved")
        except ClientError as e:
            if is_not_found(e):
                raise DeploymentError(f"model package group {group} does not exist; run the train DAG so its "
                                      "register step creates a version") from e
            raise
        if newest is None:
            raise DeploymentError(f"model package group {group} has no Approved version, so there is nothing to "
                                  f"deploy; {approve_hint(group, 'VERSION')}")
        package = str(newest["ModelPackageArn"])
    described = executor.call("DescribeModelPackage", {"ModelPackageName": package})
    status = described.get("ModelApprovalStatus")
    if status != "Approved":
        group_name = described.get("ModelPackageGroupName", group or "GROUP")
        version = described.get("ModelPackageVersion", "VERSION")
        raise DeploymentError(f"model package {group_name} version {version} is {status}: only an Approved version "
                              f"can be deployed; {approve_hint(group_name, version)}")
    return described


def package_model(executor: Executor, package: Mapping[str, Any], role: str, prefix: str) -> str:
    """The SageMaker Model serving `package` (created once: the name is derived from the package ARN)."""
    arn, version = str(package["ModelPackageArn"]), int(package.get("ModelPackageVersion", 0))
    name = bounded_name(f"{prefix}-v{version}-{digest(arn, length=8)}")
    try:
        executor.call("DescribeModel", {"ModelName": name})
        return name
    except ClientError as e:
        if not is_not_found(e):
            raise
    containers = (package.get("InferenceSpecification") or {}).get("Containers") or []
    if not containers:
        raise DeploymentError(f"{arn} has no InferenceSpecification container to serve; register it with a model "
                              "artifact and image")
    keep = ("Image", "ModelDataUrl", "Environment", "ContainerHostname")
    shaped = [{k: c[k] for k in keep if k in c} for c in containers]
    request: dict[str, Any] = {"ModelName": name, "ExecutionRoleArn": role}
    if len(shaped) == 1:
        request["PrimaryContainer"] = shaped[0]
    else:  # a serial inference pipeline: every container, in order
        request["Containers"] = shaped
        request["InferenceExecutionConfig"] = {"Mode": "Serial"}
    executor.call("CreateModel", request)
    return name


def config_name_for(endpoint: str, version: int, run: str) -> str:
    """One endpoint config per deployment: endpoint, version and run in the name, so a retry finds its own."""
    suffix = f"v{version}-{digest(endpoint, str(version), run, length=8)}"
    return f"{endpoint[: 63 - len(suffix) - 1].rstrip('-')}-{suffix}"


def _describe_endpoint(executor: Executor, name: str) -> dict[str, Any] | None:
    try:
        return executor.call("DescribeEndpoint", {"EndpointName": name})
    except ClientError as e:
        if is_not_found(e):
            return None
        raise


def _tags(executor: Executor, arn: str) -> dict[str, str]:
    try:
        listed = executor.call("ListTags", {"ResourceArn": arn})
    except ClientError as e:
        if is_not_found(e):
            return {}
        raise
    return {t["Key"]: t.get("Value", "") for t in listed.get("Tags", [])}


def wait_in_service(executor: Executor, name: str, *, timeout: float, poll: float,
                    say: Callable[[str], None] = lambda _line: None) -> dict[str, Any]:
    """Poll DescribeEndpoint until it leaves Creating/Updating; a timeout raises saying where it stands."""
    deadline = time.monotonic() + timeout
    last = ""
    while True:
        described = executor.call("DescribeEndpoint", {"EndpointName": name})
        status = str(described["EndpointStatus"])
        if status != last:
            say(f"endpoint {name}: {status}")
            last = status
        if status in {"InService", "Failed", "OutOfService", "UpdateRollbackFailed"}:
            return described
        if time.monotonic() > deadline:
            raise DeploymentError(
                f"endpoint {name} is still {status} after {timeout:.0f} s; the deployment continues on the "
                f"{executor.name} side — check it with `smflow endpoint describe {name}`, and if it stays "
                f"{status}, roll back with `smflow endpoint rollback {name}` once it is InService")
        time.sleep(poll)


def deploy(executor: Executor, *, endpoint: str, package: Mapping[str, Any], model_name: str, config_name: str,
           variant: Variant = Variant(), deployment_config: Mapping[str, Any] | None = None,
           tags: list[dict[str, str]] | None = None, timeout: float = DEFAULT_TIMEOUT_SECONDS, poll: float = 1.0,
           say: Callable[[str], None] = lambda _line: None) -> dict[str, Any]:
    """Steps 3-5 of the module docstring; returns a JSON-safe summary of the endpoint now serving."""
    arn, version = str(package["ModelPackageArn"]), int(package.get("ModelPackageVersion", 0))
    own_tags = [*(tags or []), {"Key": PACKAGE_TAG, "Value": arn}, {"Key": VERSION_TAG, "Value": str(version)}]
    try:
        executor.call("DescribeEndpointConfig", {"EndpointConfigName": config_name})
    except ClientError as e:
        if not is_not_found(e):
            raise
        executor.call("CreateEndpointConfig", {"EndpointConfigName": config_name, "ProductionVariants": [{
            "VariantName": variant.variant_name, "ModelName": model_name,
            "InitialInstanceCount": variant.instance_count, "InstanceType": variant.instance_type,
            "InitialVariantWeight": 1.0}], "Tags": own_tags})
        say(f"created endpoint config {config_name} (model {model_name}, version {version})")
    current = _describe_endpoint(executor, endpoint)
    previous: str | None = None
    if current is None:
        executor.call("CreateEndpoint", {"EndpointName": endpoint, "EndpointConfigName": config_name,
                                         "Tags": own_tags})
        say(f"creating endpoint {endpoint} with {config_name}")
    else:
        if current["EndpointStatus"] in {"Creating", "Updating"}:
            current = wait_in_service(executor, endpoint, timeout=timeout, poll=poll, say=say)
        if current.get("EndpointConfigName") != config_name:
            previous = str(current.get("EndpointConfigName") or "") or None
            request: dict[str, Any] = {"EndpointName": endpoint, "EndpointConfigName": config_name}
            if deployment_config:
                request["DeploymentConfig"] = dict(deployment_config)
            _switch(executor, current, previous, request)
            say(f"updating endpoint {endpoint}: {previous} → {config_name}")
        else:  # a retried deployment whose update was already sent: its history tag says what it replaced
            previous = _tags(executor, str(current["EndpointArn"])).get(PREVIOUS_TAG)
    return _settle(executor, endpoint, config_name, previous, timeout=timeout, poll=poll, say=say)


def _switch(executor: Executor, current: Mapping[str, Any], previous: str | None, request: dict[str, Any]) -> None:
    """UpdateEndpoint, with the history tag (what rollback returns to) written first: a deployment that then
    times out, or a task retried after it, still rolls back to the config it replaced. A refused update puts
    the tag back as it was."""
    arn = str(current["EndpointArn"])
    if not previous:
        executor.call("UpdateEndpoint", request)
        return
    earlier = _tags(executor, arn).get(PREVIOUS_TAG)
    executor.call("AddTags", {"ResourceArn": arn, "Tags": [{"Key": PREVIOUS_TAG, "Value": previous}]})
    try:
        executor.call("UpdateEndpoint", request)
    except ClientError:
        if earlier:
            executor.call("AddTags", {"ResourceArn": arn, "Tags": [{"Key": PREVIOUS_TAG, "Value": earlier}]})
        else:
            executor.call("DeleteTags", {"ResourceArn": arn, "TagKeys": [PREVIOUS_TAG]})
        raise


def _settle(executor: Executor, endpoint: str, config_name: str, previous: str | None, *, timeout: float,
            poll: float, say: Callable[[str], None]) -> dict[str, Any]:
    """Wait, check the endpoint serves `config_name`, then record the registry's view of who serves it."""
    described = wait_in_service(executor, endpoint, timeout=timeout, poll=poll, say=say)
    status = described["EndpointStatus"]
    serving = described.get("EndpointConfigName")
    if status != "InService" or serving != config_name:
        reason = described.get("FailureReason") or "no FailureReason given"
        still = f"; it still serves {serving}" if status == "InService" and serving else ""
        raise DeploymentError(f"endpoint {endpoint} did not switch to {config_name}: it is {status}{still} "
                              f"({reason})")
    record_serving(executor, endpoint, config_name, previous)
    return summary(executor, endpoint)


def _config_package(executor: Executor, config_name: str | None) -> tuple[str | None, str | None]:
    """(package ARN, version) a config serves, from its tags; (None, None) when unknown or gone."""
    if not config_name:
        return None, None
    try:
        config = executor.call("DescribeEndpointConfig", {"EndpointConfigName": config_name})
    except ClientError as e:
        if is_not_found(e):
            return None, None
        raise
    tags = _tags(executor, str(config["EndpointConfigArn"]))
    return tags.get(PACKAGE_TAG), tags.get(VERSION_TAG)


def record_serving(executor: Executor, endpoint: str, config_name: str, previous: str | None) -> None:
    """The registry's record of which version serves `endpoint`: moved from the previous version to this one."""
    key = f"{ENDPOINT_METADATA}{endpoint}"[:128]
    old_package, _ = _config_package(executor, previous)
    new_package, _ = _config_package(executor, config_name)
    if old_package and old_package != new_package:
        executor.call("UpdateModelPackage", {"ModelPackageArn": old_package,
                                             "CustomerMetadataPropertiesToRemove": [key]})
    if new_package:
        executor.call("UpdateModelPackage", {"ModelPackageArn": new_package,
                                             "CustomerMetadataProperties": {key: config_name}})


def rollback(executor: Executor, endpoint: str, *, timeout: float = DEFAULT_TIMEOUT_SECONDS, poll: float = 1.0,
             say: Callable[[str], None] = lambda _line: None) -> dict[str, Any]:
    """UpdateEndpoint back to the config the last deployment replaced (the endpoint's history tag)."""
    current = _describe_endpoint(executor, endpoint)
    if current is None:
        raise DeploymentError(f"endpoint {endpoint} does not exist; `smflow endpoint list` shows the endpoints")
    if current["EndpointStatus"] != "InService":
        raise DeploymentError(f"endpoint {endpoint} is {current['EndpointStatus']}; it can be rolled back once it "
                              "is InService")
    previous = _tags(executor, str(current["EndpointArn"])).get(PREVIOUS_TAG)
    serving = str(current.get("EndpointConfigName"))
    if not previous or previous == serving:
        raise DeploymentError(f"endpoint {endpoint} has no earlier endpoint config to return to (it serves "
                              f"{serving}, its first deployment)")
    try:
        executor.call("DescribeEndpointConfig", {"EndpointConfigName": previous})
    except ClientError as e:
        if is_not_found(e):
            raise DeploymentError(f"the previous endpoint config {previous} of {endpoint} was deleted; deploy the "
                                  "version you want instead") from e
        raise
    _switch(executor, current, serving, {"EndpointName": endpoint, "EndpointConfigName": previous})
    say(f"rolling endpoint {endpoint} back: {serving} → {previous}")
    return _settle(executor, endpoint, previous, serving, timeout=timeout, poll=poll, say=say)


def summary(executor: Executor, endpoint: str) -> dict[str, Any]:
    """What `smflow endpoint describe/list` shows: status, config, the version it serves, what rollback returns to."""
    described = executor.call("DescribeEndpoint", {"EndpointName": endpoint})
    package, version = _config_package(executor, described.get("EndpointConfigName"))
    tags = _tags(executor, str(described["EndpointArn"]))
    result: dict[str, Any] = {
        "endpoint_name": described["EndpointName"], "status": described["EndpointStatus"],
        "endpoint_config": described.get("EndpointConfigName"), "model_package_arn": package,
        "version": int(version) if version and version.isdigit() else None,
        "previous_endpoint_config": tags.get(PREVIOUS_TAG),
        "creation_time": str(described.get("CreationTime", "")),
        "last_modified_time": str(described.get("LastModifiedTime", "")),
    }
    if described.get("FailureReason"):
        result["failure_reason"] = described["FailureReason"]
    return result
