"""What the model-server tests share: a Ridge model in SageMaker's model.tar.gz layout, servers on free loopback
ports, and a plain HTTP client."""

from __future__ import annotations

import http.client
import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest
from sklearn.linear_model import Ridge

from smflow.serving.config import parse_config
from smflow.serving.server import BackgroundServer

FEATURES = 4
INFERENCE = """
import os, joblib
def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))
"""


def fitted_ridge(seed: int = 0) -> Ridge:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(200, FEATURES))
    return Ridge().fit(x, x @ rng.normal(size=FEATURES) + seed)


def write_model(folder: Path, model: Any = None, source: str = INFERENCE) -> Path:
    """`folder` as an extracted model.tar.gz: model.joblib (when given) and code/inference.py."""
    (folder / "code").mkdir(parents=True, exist_ok=True)
    if model is not None:
        joblib.dump(model, folder / "model.joblib")
    (folder / "code" / "inference.py").write_text(textwrap.dedent(source))
    return folder


@pytest.fixture(scope="session")
def ridge() -> Ridge:
    return fitted_ridge()


@pytest.fixture(scope="session")
def ridge_dir(tmp_path_factory: pytest.TempPathFactory, ridge: Ridge) -> Path:
    return write_model(tmp_path_factory.mktemp("ridge") / "model", ridge)


def server_config(**fields: Any) -> Any:
    return parse_config(fields)


@pytest.fixture
def start() -> Iterator[Any]:
    """start(config_fields...) → a running BackgroundServer, stopped after the test."""
    running: list[BackgroundServer] = []

    def launch(**fields: Any) -> BackgroundServer:
        fields.setdefault("read_timeout_seconds", 5.0)
        server = BackgroundServer(parse_config(fields)).start()
        running.append(server)
        return server

    yield launch
    for server in running:
        server.stop()


class Answer:
    def __init__(self, status: int, headers: dict[str, str], body: bytes):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"Answer({self.status}, {self.body[:200]!r})"


def request(port: int, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None,
            connection: http.client.HTTPConnection | None = None, timeout: float = 10.0) -> Answer:
    own = connection is None
    connection = connection or http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        if own:
            connection.close()


def invoke(port: int, body: bytes, content_type: str = "text/csv", accept: str | None = "text/csv",
           **headers: str) -> Answer:
    sent = {"Content-Type": content_type, **{k.replace("_", "-"): v for k, v in headers.items()}}
    if accept is not None:
        sent["Accept"] = accept
    return request(port, "POST", "/invocations", body, sent)


def csv_rows(rows: np.ndarray) -> bytes:
    return ("\n".join(",".join(f"{v:.6f}" for v in row) for row in rows) + "\n").encode()
