"""The dags/ loaders inside a real Airflow DagBag: good pipelines load, a broken one is an import error of the
error-report loader (the dag-processor's view of the same is tested in tests/integration/real_airflow/)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import PIPELINES, REPO

SCRIPT = """
import json, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
tasks = {d: sorted(t.task_id for t in bag.dags[d].tasks) for d in bag.dags}
print(json.dumps({"dags": tasks, "errors": bag.import_errors}))
"""


def parse_dags_folder(pipelines: Path, home: Path) -> dict:
    """A fresh interpreter per parse, as Airflow's DAG processor uses a fresh process per file."""
    import json
    import os

    env = {**os.environ, "SMFLOW_PIPELINES_DIR": str(pipelines), "SMFLOW_HOME": str(home),
           "AIRFLOW_HOME": str(home / "airflow"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(REPO / "dags")], env=env, capture_output=True,
                         text=True, timeout=120, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_example_pipelines_load_without_import_errors(tmp_path: Path) -> None:
    result = parse_dags_folder(PIPELINES, tmp_path)
    assert result["errors"] == {}
    assert "diabetes__train" in result["dags"]
    assert "regressor.train" in result["dags"]["diabetes__train"]


def test_a_broken_yaml_is_an_import_error_and_hides_nothing(tmp_path: Path) -> None:
    pipelines = tmp_path / "pipelines"
    shutil.copytree(PIPELINES, pipelines)
    (pipelines / "broken").mkdir()
    (pipelines / "broken" / "pipeline.yaml").write_text(
        "pipeline: broken\nmodels:\n  m:\n    steps:\n      - {name: a, type: trainnig, entry_point: a.py}\n")
    result = parse_dags_folder(pipelines, tmp_path)
    assert "diabetes__train" in result["dags"]
    assert "broken__train" not in result["dags"]
    # The import error belongs to the error-report loader, which defines no DAG: Airflow's dag-processor
    # marks every DAG of a file with an import error stale, so it must not be the file of the good DAGs.
    (loader_file, message), = result["errors"].items()
    assert loader_file.endswith("smflow_pipeline_errors.py")
    assert "pipeline.yaml:5:25: models.m.steps[0].type: unknown step type" in message, message
    assert "1 smflow pipeline spec(s) could not be loaded" in message and "broken/pipeline.yaml" in message


def test_parsing_context_builds_only_the_requested_dag(tmp_path: Path) -> None:
    from smflow.dags.loader import build_dags

    pipelines = tmp_path / "pipelines"
    shutil.copytree(PIPELINES, pipelines)
    shutil.copytree(PIPELINES / "diabetes", pipelines / "other")
    text = (pipelines / "other" / "pipeline.yaml").read_text().replace("pipeline: diabetes", "pipeline: other")
    (pipelines / "other" / "pipeline.yaml").write_text(text)
    full = build_dags(pipelines)
    assert set(full.dags) == {f"{name}__{kind}" for name in ("diabetes", "other") for kind in ("train", "batch",
                                                                                             "monitor")}
    only = build_dags(pipelines, only_dag_id="other__train")
    assert set(only.dags) == {"other__train"}


def test_cache_is_keyed_by_content(tmp_path: Path, smflow_home: Path) -> None:
    from smflow.dags.loader import build_dags

    pipelines = tmp_path / "pipelines"
    shutil.copytree(PIPELINES, pipelines)
    first = build_dags(pipelines)
    assert first.dags["diabetes__batch"].schedule == "0 6 * * *"
    spec = pipelines / "diabetes" / "pipeline.yaml"
    spec.write_text(spec.read_text().replace('batch: "0 6 * * *"', 'batch: "@daily"'))
    second = build_dags(pipelines)
    assert second.dags["diabetes__batch"].schedule == "@daily"
    assert len(list((smflow_home / "cache" / "compiled").glob("*.json"))) == 2
