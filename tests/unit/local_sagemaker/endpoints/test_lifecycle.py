"""Endpoint states as SageMaker has them, served by a real model server process on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import pytest
from botocore.exceptions import ClientError, ParamValidationError

from smflow.local_sagemaker.endpoints.records import server_process
from smflow.local_sagemaker.service import LocalSageMaker
from tests.unit.local_sagemaker.endpoints.conftest import add_config, add_model, invoke, wait_status


def test_create_update_and_delete(service: LocalSageMaker) -> None:
    add_config(service, "cfg-one", add_model(service, "model-one", 2.0))
    add_config(service, "cfg-two", add_model(service, "model-two", 10.0))
    service.call("CreateEndpoint", {"EndpointName": "ep", "EndpointConfigName": "cfg-one"})
    assert service.call("DescribeEndpoint", {"EndpointName": "ep"})["EndpointStatus"] in {"Creating", "InService"}
    described = wait_status(service, "ep")
    assert described["EndpointStatus"] == "InService", described
    assert described["EndpointConfigName"] == "cfg-one"
    assert invoke(service, "ep").decode().split() == ["2,4"]

    service.call("UpdateEndpoint", {"EndpointName": "ep", "EndpointConfigName": "cfg-two"})
    updating = service.call("DescribeEndpoint", {"EndpointName": "ep"})
    if updating["EndpointStatus"] == "Updating":  # the old config serves while the new one starts
        assert updating["PendingDeploymentSummary"]["EndpointConfigName"] == "cfg-two"
        assert invoke(service, "ep").decode().split() in (["2,4"], ["10,20"])
    described = wait_status(service, "ep")
    assert (described["EndpointStatus"], described["EndpointConfigName"]) == ("InService", "cfg-two")
    assert invoke(service, "ep").decode().split() == ["10,20"]
    assert service.endpoints.local_record("ep")["History"] == ["cfg-one", "cfg-two"]

    pid = server_process(service.endpoints.local_record("ep")["Serving"])
    service.call("DeleteEndpoint", {"EndpointName": "ep"})
    assert pid is not None and not pid.alive()
    with pytest.raises(ClientError, match="Could not find endpoint"):
        service.call("DescribeEndpoint", {"EndpointName": "ep"})


def test_failed_update_keeps_the_old_config_serving(service: LocalSageMaker) -> None:
    add_config(service, "good", add_model(service, "good-model", 3.0))
    add_config(service, "broken", add_model(service, "broken-model", 1.0, upload=False))
    service.call("CreateEndpoint", {"EndpointName": "ep", "EndpointConfigName": "good"})
    assert wait_status(service, "ep")["EndpointStatus"] == "InService"
    service.call("UpdateEndpoint", {"EndpointName": "ep", "EndpointConfigName": "broken"})
    described = wait_status(service, "ep")
    assert (described["EndpointStatus"], described["EndpointConfigName"]) == ("InService", "good")
    assert "is not in the local store" in described["FailureReason"]
    assert invoke(service, "ep").decode().split() == ["3,6"]


def test_a_new_endpoint_that_cannot_start_is_failed(service: LocalSageMaker) -> None:
    add_config(service, "broken", add_model(service, "broken-model", 1.0, upload=False))
    service.call("CreateEndpoint", {"EndpointName": "ep", "EndpointConfigName": "broken"})
    described = wait_status(service, "ep")
    assert described["EndpointStatus"] == "Failed" and "model.tar.gz" in described["FailureReason"]
    with pytest.raises(ClientError, match="not InService"):
        invoke(service, "ep")
    with pytest.raises(ClientError, match="only an InService endpoint can be updated"):
        service.call("UpdateEndpoint", {"EndpointName": "ep", "EndpointConfigName": "broken"})


def test_requests_are_checked_like_sagemaker(service: LocalSageMaker) -> None:
    with pytest.raises(ParamValidationError, match="ProductionVariants"):
        service.call("CreateEndpointConfig", {"EndpointConfigName": "c"})
    with pytest.raises(ClientError, match="Could not find model"):
        add_config(service, "c", "no-such-model")
    with pytest.raises(ClientError, match="Could not find endpoint configuration"):
        service.call("CreateEndpoint", {"EndpointName": "ep", "EndpointConfigName": "missing"})
    add_config(service, "c", add_model(service, "m", 1.0))
    with pytest.raises(ClientError, match="Cannot create already existing endpoint configuration"):
        add_config(service, "c", "m")
    service.call("CreateEndpoint", {"EndpointName": "ep", "EndpointConfigName": "c"})
    with pytest.raises(ClientError, match="Cannot create already existing endpoint"):
        service.call("CreateEndpoint", {"EndpointName": "ep", "EndpointConfigName": "c"})
    with pytest.raises(ParamValidationError):
        service.invoke_endpoint({"EndpointName": "ep"})  # no Body
    listed = service.call("ListEndpointConfigs", {})["EndpointConfigs"]
    assert [c["EndpointConfigName"] for c in listed] == ["c"]


def test_handler_errors_are_model_errors_and_the_server_keeps_serving(service: LocalSageMaker) -> None:
    add_config(service, "c", add_model(service, "m", 2.0))
    service.call("CreateEndpoint", {"EndpointName": "ep", "EndpointConfigName": "c"})
    assert wait_status(service, "ep")["EndpointStatus"] == "InService"
    with pytest.raises(ClientError) as raised:
        invoke(service, "ep", b"boom")
    error = raised.value.response["Error"]
    assert error["Code"] == "ModelError" and error["OriginalStatusCode"] >= 500
    assert invoke(service, "ep").decode().split() == ["2,4"]


def test_the_server_runs_in_the_model_images_environment(service: LocalSageMaker,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from smflow import settings
    from smflow.local_sagemaker.images.build import is_ready
    from smflow.local_sagemaker.images.plan import plan_for_image

    image = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
    plan = plan_for_image(image)
    assert plan is not None
    built = settings.environments_root() / plan.key
    if not is_ready(built):
        pytest.skip(f"the {plan.key} image environment is not built yet (the training tests build it)")
    monkeypatch.setenv("SMFLOW_IMAGE_ENVIRONMENTS", "on")
    uri = "s3://bucket/models/image/model.tar.gz"
    from tests.unit.local_sagemaker.endpoints.conftest import model_tarball

    service.store.write_bytes(uri, model_tarball(2.0))
    service.call("CreateModel", {"ModelName": "m", "ExecutionRoleArn": "arn:aws:iam::1:role/r", "PrimaryContainer": {
        "Image": image, "ModelDataUrl": uri, "Environment": {"SAGEMAKER_PROGRAM": "inference.py"}}})
    add_config(service, "c", "m")
    service.call("CreateEndpoint", {"EndpointName": "ep", "EndpointConfigName": "c"})
    assert wait_status(service, "ep", timeout=60)["EndpointStatus"] == "InService"
    serving = service.endpoints.local_record("ep")["Serving"]
    assert serving["interpreter"].startswith(str(built))  # the image's Python, not smflow's
    assert invoke(service, "ep").decode().split() == ["2,4"]


def test_a_multi_model_endpoint_routes_by_target_model(service: LocalSageMaker) -> None:
    from tests.unit.local_sagemaker.endpoints.conftest import model_tarball

    for name, scale in (("small", 2.0), ("large", 100.0)):
        service.store.write_bytes(f"s3://bucket/mme/{name}.tar.gz", model_tarball(scale))
    service.call("CreateModel", {"ModelName": "mme", "ExecutionRoleArn": "arn:aws:iam::1:role/r", "PrimaryContainer": {
        "Image": "local/model", "Mode": "MultiModel", "ModelDataUrl": "s3://bucket/mme/",
        "Environment": {"SAGEMAKER_PROGRAM": "inference.py"}}})
    add_config(service, "c", "mme")
    service.call("CreateEndpoint", {"EndpointName": "ep", "EndpointConfigName": "c"})
    assert wait_status(service, "ep")["EndpointStatus"] == "InService"

    def target(model: str) -> list[str]:
        answer = service.invoke_endpoint({"EndpointName": "ep", "Body": b"1,2\n", "ContentType": "text/csv",
                                          "TargetModel": model})
        return answer["Body"].decode().split()

    assert target("small.tar.gz") == ["2,4"] and target("large.tar.gz") == ["100,200"]
    with pytest.raises(ClientError) as raised:
        target("missing.tar.gz")
    assert raised.value.response["Error"]["OriginalStatusCode"] == 404


def test_a_serial_pipeline_model_chains_its_containers(service: LocalSageMaker) -> None:
    from tests.unit.local_sagemaker.endpoints.conftest import model_tarball

    containers = []
    for index, scale in enumerate((2.0, 10.0)):
        uri = f"s3://bucket/serial/{index}/model.tar.gz"
        service.store.write_bytes(uri, model_tarball(scale))
        containers.append({"Image": "local/model", "ModelDataUrl": uri, "ContainerHostname": f"stage-{index}",
                           "Environment": {"SAGEMAKER_PROGRAM": "inference.py"}})
    service.call("CreateModel", {"ModelName": "serial", "ExecutionRoleArn": "arn:aws:iam::1:role/r",
                                 "Containers": containers, "InferenceExecutionConfig": {"Mode": "Serial"}})
    add_config(service, "c", "serial")
    service.call("CreateEndpoint", {"EndpointName": "ep", "EndpointConfigName": "c"})
    assert wait_status(service, "ep")["EndpointStatus"] == "InService"
    assert invoke(service, "ep").decode().split() == ["20,40"]  # (1,2) x2 then x10


def test_deleting_a_creating_endpoint_leaves_no_process(service: LocalSageMaker) -> None:
    import time

    add_config(service, "c", add_model(service, "m", 2.0))
    service.call("CreateEndpoint", {"EndpointName": "ep", "EndpointConfigName": "c"})
    time.sleep(0.3)  # the deployer is starting or has started the server
    service.call("DeleteEndpoint", {"EndpointName": "ep"})
    time.sleep(1.0)

    def ours() -> list[str]:  # processes (deployer, server) whose command line names this test's home
        found = []
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if str(service.home) in text:
                found.append(text)
        return found

    assert ours() == []
    assert service.call("ListEndpoints", {})["Endpoints"] == []
    assert not (service.home / "endpoints" / "endpoints" / "ep").exists()


def test_a_stale_ready_file_never_signals_a_recycled_pid(tmp_path: Path) -> None:
    """DeleteEndpoint stops the server a generation's ready file names only while that pid still runs from it."""
    import os
    import subprocess
    import sys

    from smflow.local_sagemaker.endpoints.api import _serves_from

    generation = tmp_path / "generations" / "1"
    generation.mkdir(parents=True)
    assert not _serves_from(os.getpid(), generation)  # someone else's process under that pid
    # The child says when it runs, as a real server writes its ready file only once it listens: right after
    # exec the kernel may still show an empty /proc/<pid>/cmdline (the close-on-exec pipe Popen waits on is
    # closed before the new program's arguments are mapped).
    server = subprocess.Popen([sys.executable, "-c", "import time; print('up', flush=True); time.sleep(30)",
                               str(generation / "server.json")], stdout=subprocess.PIPE)
    try:
        assert server.stdout is not None and server.stdout.readline() == b"up\n"
        assert _serves_from(server.pid, generation)
    finally:
        server.kill()
        server.wait()
    assert not _serves_from(server.pid, generation)  # gone
