"""The sagemaker-containers stand-in: the names, encodings and Response defaults inference scripts rely on."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterator
from types import ModuleType

import numpy as np
import pytest

from smflow.local_sagemaker.images.compat import COMPAT_PATH
from smflow.serving.response import response_body


@pytest.fixture
def framework(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    monkeypatch.syspath_prepend(str(COMPAT_PATH))
    yield importlib.import_module("sagemaker_containers.beta.framework")
    for name in [n for n in sys.modules if n.startswith("sagemaker_containers")]:
        del sys.modules[name]


def test_public_featurizer_imports_work(framework: ModuleType) -> None:
    assert {"content_types", "encoders", "env", "modules", "transformer", "worker"} <= set(dir(framework))
    assert framework.content_types.CSV == "text/csv" and framework.content_types.JSON == "application/json"


def test_encoders_round_trip(framework: ModuleType) -> None:
    encoders = framework.encoders
    array = np.array([[1.5, 2.0], [3.0, 4.25]])
    assert encoders.encode(array, "text/csv") == "1.5,2.0\n3.0,4.25\n"
    np.testing.assert_array_equal(encoders.decode("1.5,2.0\n3.0,4.25\n", "text/csv"), array)
    np.testing.assert_array_equal(encoders.decode(encoders.encode(array, "application/json"), "application/json"),
                                  array)
    np.testing.assert_array_equal(encoders.decode(encoders.encode(array, "application/x-npy"), "application/x-npy"),
                                  array)
    with pytest.raises(encoders.UnsupportedFormatError, match="image/png"):
        encoders.encode(array, "image/png")


def test_worker_response_defaults_to_json_and_is_read_by_the_handler(framework: ModuleType) -> None:
    response = framework.worker.Response('{"a": 1}')
    assert response.mimetype == "application/json" and response.status_code == 200
    csv_response = framework.worker.Response("1\n2\n", mimetype="text/csv")
    body, content_type = response_body(csv_response, "text/csv", "output_fn")
    assert body == b"1\n2\n" and content_type.startswith("text/csv")


def test_serving_env_reads_the_container_settings(framework: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAGEMAKER_PROGRAM", "inference.py")
    monkeypatch.delenv("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", raising=False)
    monkeypatch.delenv("SAGEMAKER_MODEL_SERVER_WORKERS", raising=False)
    env = framework.env.ServingEnv()
    assert env.module_name == "inference" and env.default_accept == "application/json"
    assert env.model_server_workers == os.cpu_count()  # sagemaker-containers: one per CPU by default
    monkeypatch.setenv("SAGEMAKER_MODEL_SERVER_WORKERS", "3")
    assert framework.env.ServingEnv().model_server_workers == 3


def test_transformer_runs_the_handler_chain(framework: ModuleType) -> None:
    chain = framework.transformer.Transformer(
        model_fn=lambda model_dir: 10, input_fn=lambda body, content_type: int(body),
        predict_fn=lambda data, model: data * model, output_fn=lambda prediction, accept: f"{prediction} {accept}")
    assert chain.transform("4", "text/csv", "text/plain") == "40 text/plain"
