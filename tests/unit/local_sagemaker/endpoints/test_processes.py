"""An endpoint's server outlives the process that created it, is found again from its record, is restarted
when it dies, and answers boto3's own sagemaker-runtime client through the local runtime."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import textwrap
import time

import boto3
import pytest
from botocore.exceptions import ClientError

from smflow.local_sagemaker.endpoints.records import server_process
from smflow.local_sagemaker.service import LocalSageMaker
from tests.unit.local_sagemaker.endpoints.conftest import add_config, add_model, invoke, wait_status


def test_the_server_survives_its_creator_and_is_found_again(service: LocalSageMaker) -> None:
    add_config(service, "c", add_model(service, "m", 4.0))
    creator = textwrap.dedent(f"""
        from smflow.local_sagemaker.service import LocalSageMaker
        LocalSageMaker(home={str(service.home)!r}).call("CreateEndpoint", {{"EndpointName": "ep",
                                                                            "EndpointConfigName": "c"}})
    """)
    subprocess.run([sys.executable, "-c", creator], check=True, timeout=60)  # creates, then exits
    assert wait_status(LocalSageMaker(home=service.home), "ep")["EndpointStatus"] == "InService"
    assert invoke(LocalSageMaker(home=service.home), "ep").decode().split() == ["4,8"]

    pid = server_process(service.endpoints.local_record("ep")["Serving"])
    assert pid is not None
    os.killpg(pid.pid, signal.SIGKILL)  # the server dies (a crash, a machine restart)
    deadline = time.monotonic() + 5
    while pid.alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    described = service.call("DescribeEndpoint", {"EndpointName": "ep"})
    assert described["EndpointStatus"] == "InService"
    record = service.endpoints.local_record("ep")
    assert record["Restarts"] == 1 and server_process(record["Serving"]) != pid
    assert invoke(service, "ep").decode().split() == ["4,8"]


def test_boto3_sagemaker_runtime_client_reaches_the_local_endpoint(service: LocalSageMaker,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
                       "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(key, value)
    add_config(service, "c", add_model(service, "m", 3.0))
    service.call("CreateEndpoint", {"EndpointName": "ep", "EndpointConfigName": "c"})
    assert wait_status(service, "ep")["EndpointStatus"] == "InService"
    runtime = boto3.client("sagemaker-runtime", endpoint_url=service.endpoints.runtime_url())
    answer = runtime.invoke_endpoint(EndpointName="ep", Body=b"1,2\n", ContentType="text/csv", Accept="text/csv")
    assert answer["Body"].read().decode().split() == ["3,6"]
    assert answer["ContentType"].startswith("text/csv") and answer["InvokedProductionVariant"] == "AllTraffic"
    with pytest.raises(ClientError) as raised:
        runtime.invoke_endpoint(EndpointName="ep", Body=b"boom", ContentType="text/csv")
    assert raised.value.response["Error"]["Code"] == "ModelError"
    with pytest.raises(ClientError, match="Could not find endpoint"):
        runtime.invoke_endpoint(EndpointName="nope", Body=b"1", ContentType="text/csv")
    url = service.endpoints.runtime_url().removeprefix("http://")
    for length, status in (("abc", 400), ("-1", 400), (str(7 * 1024 * 1024), 413)):
        connection = http.client.HTTPConnection(url, timeout=10)
        connection.putrequest("POST", "/endpoints/ep/invocations")
        connection.putheader("Content-Length", length)
        connection.endheaders()
        answer = connection.getresponse()  # at once: the body is never read
        assert answer.status == status, (length, answer.status)
        connection.close()


def test_a_deployer_that_dies_fails_the_endpoint_and_stops_its_server(service: LocalSageMaker) -> None:
    from smflow.local_sagemaker.endpoints.deployer import deployer_process
    from tests.unit.local_sagemaker.endpoints.conftest import model_tarball

    uri = "s3://bucket/models/slow/model.tar.gz"
    service.store.write_bytes(uri, model_tarball(1.0, load_seconds=3.0))
    service.call("CreateModel", {"ModelName": "slow", "ExecutionRoleArn": "arn:aws:iam::1:role/r", "PrimaryContainer": {
        "Image": "local/model", "ModelDataUrl": uri, "Environment": {"SAGEMAKER_PROGRAM": "inference.py"}}})
    add_config(service, "c", "slow")
    service.call("CreateEndpoint", {"EndpointName": "ep", "EndpointConfigName": "c"})
    deadline = time.monotonic() + 10
    while not (service.endpoints.local_record("ep").get("Pending") or {}).get("pid"):  # its server is starting
        assert time.monotonic() < deadline
        time.sleep(0.02)
    pending = service.endpoints.local_record("ep")["Pending"]
    deployer, server = deployer_process(pending), server_process(pending)
    assert deployer is not None and server is not None
    os.kill(deployer.pid, signal.SIGKILL)
    while deployer.alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    described = service.call("DescribeEndpoint", {"EndpointName": "ep"})
    assert described["EndpointStatus"] == "Failed" and "deployer died" in described["FailureReason"]
    assert not server.alive()
