"""An endpoint deployed by a DAG's task keeps serving after that task — and the whole `smflow run` process —
has ended, as a SageMaker endpoint outlives the call that created it; `smflow endpoint` finds it afterwards."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from smflow.local_sagemaker.service import LocalSageMaker
from tests.conftest import FIXTURES
from tests.integration.conftest import run_cli


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    home = tmp_path / "home"
    yield home
    if (home / "endpoints").exists():
        local = LocalSageMaker(home=home)
        for endpoint in local.call("ListEndpoints", {})["Endpoints"]:
            local.call("DeleteEndpoint", {"EndpointName": endpoint["EndpointName"]})


def test_the_endpoint_serves_after_the_deploying_task_ended(home: Path, airflow_db: str) -> None:
    spec = FIXTURES / "pipelines" / "deploy" / "pipeline.yaml"
    # Jobs and the server in smflow's own environment: this test is about processes, not image environments
    result = run_cli(["run", str(spec)], home, airflow_db, SMFLOW_IMAGE_ENVIRONMENTS="off")
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert "m.deploy" in result.stdout

    local = LocalSageMaker(home=home)  # a new process's view: only the records on disk
    described = local.call("DescribeEndpoint", {"EndpointName": "deploy-m"})
    assert described["EndpointStatus"] == "InService"
    answer = local.invoke_endpoint({"EndpointName": "deploy-m", "Body": b"1,2\n", "ContentType": "text/csv"})
    assert answer["Body"].decode().split() == ["3,6"]

    listed = run_cli(["endpoint", "list", "--json"], home, airflow_db)
    assert listed.returncode == 0, listed.stderr
    (row,) = json.loads(listed.stdout)
    assert (row["endpoint_name"], row["status"], row["version"]) == ("deploy-m", "InService", 1)
    described_cli = run_cli(["endpoint", "describe", "deploy-m"], home, airflow_db)
    assert described_cli.returncode == 0 and "/endpoints/deploy-m/invocations" in described_cli.stdout
    refused = run_cli(["endpoint", "rollback", "deploy-m"], home, airflow_db)
    assert refused.returncode == 1 and "no earlier endpoint config" in refused.stderr
