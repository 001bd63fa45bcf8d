"""Seed-framework confs compile, task ids are step names, and every request passes botocore validation."""

from __future__ import annotations

import pytest

from smflow.compile.graph import compile_pipeline
from smflow.service_model import validate_request
from smflow.spec.seedconf import load_seed_documents, seed_files
from tests.conftest import FIXTURES
from tests.unit.compile.test_requests import rendered

SEED = FIXTURES / "seed"
PROJECTS = {
    "lgbm": str(SEED / "lgbm/examples/*/conf/conf.yaml"),
    "tf": str(SEED / "tf/examples/*/conf/conf.yaml"),
    "multi": str(SEED / "multi/examples/multi-model-example/*/conf/conf.yaml"),
}


@pytest.fixture(autouse=True)
def seed_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"SMP_ACCOUNTID": "123456789012", "SMP_REGION": "us-east-1",
                        "SMP_S3BUCKETNAME": "seed-bucket",
                        "SMP_ROLE": "arn:aws:iam::123456789012:role/service-role/SeedRole"}.items():
        monkeypatch.setenv(name, value)


@pytest.mark.parametrize("project", sorted(PROJECTS))
def test_seed_project_compiles_to_valid_requests(project: str) -> None:
    doc = load_seed_documents(seed_files(PROJECTS[project]))
    compiled = compile_pipeline(doc)
    dag = compiled.dags[0]
    assert [t.task_id for t in dag.tasks] == list(doc.nodes)
    assert all("." not in t.task_id for t in dag.tasks)  # seed task ids are the bare step names
    assert sorted(dag.edges) == sorted(doc.edges)
    for task in dag.tasks:
        if task.operation:
            validate_request(task.operation, rendered(task.as_json(), dag.dag_id, "manual__2026-01-01"))


def test_transform_reads_the_chained_prefix() -> None:
    doc = load_seed_documents(seed_files(PROJECTS["tf"]))
    transform = next(t for t in compile_pipeline(doc).dags[0].tasks if t.kind == "transform")
    uri = transform.request["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"]
    assert uri.endswith("/test/x_test.csv") and "smflow.output(" in uri
