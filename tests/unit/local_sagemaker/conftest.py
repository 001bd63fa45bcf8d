"""What the local-executor tests share: an executor in a fresh home, the fixture scripts, realistic ARNs."""

from __future__ import annotations

from pathlib import Path

import pytest

from smflow.executors.local import LocalExecutor
from smflow.local_sagemaker.jobs.sandbox import choose_mode

SCRIPTS = Path(__file__).parent / "scripts"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
ROLE = "arn:aws:iam::111122223333:role/service-role/AmazonSageMaker-ExecutionRole"
needs_namespace = pytest.mark.skipif(choose_mode() == "paths",
                                     reason="needs bwrap or unshare for a private /opt/ml")


@pytest.fixture
def executor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LocalExecutor:
    monkeypatch.setenv("SMFLOW_STOP_GRACE_SECONDS", "2")
    return LocalExecutor(home=tmp_path / "home")
