"""`smflow serve GROUP[:VERSION]`: the registered, approved version served in the foreground, refusals spelled out."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.linear_model import Ridge

from smflow.cli import main
from smflow.executors.local import LocalExecutor
from tests.unit.serving.conftest import FEATURES, csv_rows, fitted_ridge, invoke, write_model

GROUP = "ridge-model"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"


def register(executor: LocalExecutor, model_dir: Path, version: int, approve: bool) -> None:
    uri = f"s3://models/ridge/v{version}/model.tar.gz"
    executor.upload(model_dir, uri, tar=True)
    arn = executor.call("CreateModelPackage", {"ModelPackageGroupName": GROUP, "InferenceSpecification": {
        "Containers": [{"Image": IMAGE, "ModelDataUrl": uri, "Environment": {"SAGEMAKER_PROGRAM": "inference.py"}}],
        "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]}})["ModelPackageArn"]
    if approve:
        executor.call("UpdateModelPackage", {"ModelPackageArn": arn, "ModelApprovalStatus": "Approved"})


@pytest.fixture
def registry(smflow_home: Path, tmp_path: Path, ridge_dir: Path) -> dict[int, Ridge]:
    """v1 Approved (the session's Ridge), v2 Approved (another Ridge), v3 pending."""
    executor = LocalExecutor()
    executor.call("CreateModelPackageGroup", {"ModelPackageGroupName": GROUP})
    other = fitted_ridge(seed=4)
    register(executor, ridge_dir, 1, approve=True)
    register(executor, write_model(tmp_path / "v2", other), 2, approve=True)
    register(executor, write_model(tmp_path / "v3", fitted_ridge(seed=5)), 3, approve=False)
    return {2: other}


def serve_in_background(argument: str) -> tuple[subprocess.Popen[str], int]:
    process = subprocess.Popen([sys.executable, "-m", "smflow.cli", "serve", argument, "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    assert process.stderr is not None
    deadline = time.monotonic() + 60
    seen = []
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        seen.append(line)
        found = re.search(r"ready, POST http://127\.0\.0\.1:(\d+)/invocations", line)
        if found:
            return process, int(found.group(1))
        if not line and process.poll() is not None:
            break
    process.kill()
    raise AssertionError(f"smflow serve did not start: {''.join(seen)}")


def test_serve_answers_with_the_latest_approved_version_and_stops_on_ctrl_c(
    registry: dict[int, Ridge], ridge: Ridge
) -> None:
    row = np.round(np.random.default_rng(2).normal(size=(1, FEATURES)), 6)
    process, port = serve_in_background(GROUP)
    try:
        latest = invoke(port, csv_rows(row))
        assert latest.status == 200
        assert float(latest.body) == pytest.approx(float(registry[2].predict(row.astype(np.float32))[0]))
        assert float(latest.body) != pytest.approx(float(ridge.predict(row.astype(np.float32))[0]))
        os.kill(process.pid, signal.SIGINT)
        assert process.wait(15) == 0
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()


def test_a_named_version_must_exist_and_be_approved(registry: dict[int, Ridge],
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    outcomes: dict[str, Any] = {}
    for argument in (f"{GROUP}:3", f"{GROUP}:9", "no-such-group", "bad:name:3"):
        code = main(["serve", argument, "--port", "0"])
        outcomes[argument] = (code, capsys.readouterr().err)

    assert outcomes[f"{GROUP}:3"][0] == 1
    assert "version 3 is PendingManualApproval: only an Approved version" in outcomes[f"{GROUP}:3"][1]
    assert "smflow registry approve ridge-model 3" in outcomes[f"{GROUP}:3"][1]
    assert outcomes[f"{GROUP}:9"][0] == 1 and "ridge-model version 9 is not in the local registry" in \
        outcomes[f"{GROUP}:9"][1]
    assert outcomes["no-such-group"][0] == 1 and "no-such-group does not exist" in outcomes["no-such-group"][1]
    assert outcomes["bad:name:3"][0] == 2 and "is not GROUP or GROUP:VERSION" in outcomes["bad:name:3"][1]
    assert all("Traceback" not in err for _, err in outcomes.values())
