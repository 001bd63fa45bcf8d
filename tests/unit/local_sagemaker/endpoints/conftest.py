"""Endpoint tests share: a local SageMaker in a fresh home, a tiny model (its own inference.py), and a teardown
that deletes every endpoint left, so no server process outlives its test."""

from __future__ import annotations

import io
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from smflow.local_sagemaker.service import LocalSageMaker

INFERENCE = '''
import io
from pathlib import Path

import numpy as np


def model_fn(model_dir):
    if Path(model_dir, "load_seconds.txt").exists():  # a model slow to load
        import time
        time.sleep(float(Path(model_dir, "load_seconds.txt").read_text()))
    return float(Path(model_dir, "scale.txt").read_text())


def transform_fn(model, body, content_type, accept):
    if isinstance(body, bytes):
        body = body.decode()
    if body.strip() == "boom":
        raise RuntimeError("the handler failed on purpose")
    rows = np.loadtxt(io.StringIO(body), delimiter=",", ndmin=2) * model
    out = io.StringIO()
    np.savetxt(out, rows, delimiter=",", fmt="%g")
    return out.getvalue(), "text/csv"
'''


def model_tarball(scale: float, load_seconds: float | None = None) -> bytes:
    buffer = io.BytesIO()
    files = [("scale.txt", str(scale)), ("code/inference.py", INFERENCE)]
    if load_seconds is not None:
        files.append(("load_seconds.txt", str(load_seconds)))
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, text in files:
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def add_model(service: LocalSageMaker, name: str, scale: float, *, upload: bool = True) -> str:
    uri = f"s3://bucket/models/{name}/model.tar.gz"
    if upload:
        service.store.write_bytes(uri, model_tarball(scale))
    service.call("CreateModel", {"ModelName": name, "ExecutionRoleArn": "arn:aws:iam::1:role/r",
                                 "PrimaryContainer": {"Image": "local/model", "ModelDataUrl": uri,
                                                      "Environment": {"SAGEMAKER_PROGRAM": "inference.py"}}})
    return name


def add_config(service: LocalSageMaker, name: str, model: str) -> str:
    service.call("CreateEndpointConfig", {"EndpointConfigName": name, "ProductionVariants": [{
        "VariantName": "AllTraffic", "ModelName": model, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}]})
    return name


def wait_status(service: LocalSageMaker, name: str, timeout: float = 30.0) -> dict[str, Any]:
    """Describe until the endpoint leaves Creating/Updating."""
    deadline = time.monotonic() + timeout
    while True:
        described = service.call("DescribeEndpoint", {"EndpointName": name})
        if described["EndpointStatus"] not in {"Creating", "Updating"} or time.monotonic() > deadline:
            return described
        time.sleep(0.05)


def invoke(service: LocalSageMaker, name: str, body: bytes = b"1,2\n") -> bytes:
    result: bytes = service.invoke_endpoint({"EndpointName": name, "Body": body, "ContentType": "text/csv"})["Body"]
    return result


@pytest.fixture
def service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalSageMaker]:
    monkeypatch.setenv("SMFLOW_IMAGE_ENVIRONMENTS", "off")
    home = tmp_path / "home"
    monkeypatch.setenv("SMFLOW_HOME", str(home))
    local = LocalSageMaker(home=home)
    yield local
    for endpoint in local.call("ListEndpoints", {"MaxResults": 100})["Endpoints"]:
        local.call("DeleteEndpoint", {"EndpointName": endpoint["EndpointName"]})
