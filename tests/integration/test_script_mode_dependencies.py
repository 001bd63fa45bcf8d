"""Script-mode training scripts written as the public SageMaker scikit-learn examples write them — argparse over
SM_* variables, or the training toolkit's `environment.Environment()` — importing a helper library shipped with
`dependencies`, run unchanged through the real `smflow run` on the local executor."""

from __future__ import annotations

import csv
import io
import random
import shutil
import tarfile
from pathlib import Path
from typing import Any

from smflow.executors.local import LocalExecutor
from tests.conftest import FIXTURES
from tests.integration.conftest import run_cli

EXAMPLE = FIXTURES / "public_examples" / "script_mode_dependencies"
COLUMNS = ["MedInc", "HouseAge", "AveRooms", "AveBedrms", "Population", "AveOccup", "Latitude", "Longitude"]


def housing_csv(path: Path, rows: int, seed: int) -> None:
    """California-housing-like rows whose target depends mostly on income and rooms per person."""
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([*COLUMNS, "target"])
        for _ in range(rows):
            income, rooms, occupancy = rng.uniform(1, 10), rng.uniform(3, 8), rng.uniform(1.5, 4)
            row = [income, rng.randint(1, 52), rooms, rooms * rng.uniform(0.15, 0.25), rng.randint(200, 3000),
                   occupancy, rng.uniform(32, 42), rng.uniform(-124, -114)]
            writer.writerow([*(round(v, 4) for v in row), round(0.5 * income + 0.4 * rooms / occupancy
                                                                + rng.gauss(0, 0.1), 4)])


def describe_all(executor: LocalExecutor) -> dict[str, dict[str, Any]]:
    """Every training job's description, by its entry point."""
    summaries = executor.call("ListTrainingJobs", {"MaxResults": 100})["TrainingJobSummaries"]
    descriptions = [executor.call("DescribeTrainingJob", {"TrainingJobName": s["TrainingJobName"]})
                    for s in summaries]
    return {d["HyperParameters"]["sagemaker_program"].strip('"'): d for d in descriptions}


def test_script_mode_training_imports_its_dependency_library(tmp_path: Path, airflow_db: str) -> None:
    project = tmp_path / "housing"
    shutil.copytree(EXAMPLE, project)
    housing_csv(project / "data" / "train" / "train.csv", 400, seed=1)
    housing_csv(project / "data" / "test" / "test.csv", 100, seed=2)
    home = tmp_path / "home"
    done = run_cli(["run", str(project / "pipeline.yaml"), "--dag", "train"], home, airflow_db)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    assert "housing__train" in done.stdout and "SUCCESS" in done.stdout

    executor = LocalExecutor(home=home)
    jobs = describe_all(executor)
    assert sorted(jobs) == ["train.py", "train_toolkit.py", "train_xgboost.py"]
    for program, job in jobs.items():
        assert job["TrainingJobStatus"] == "Completed", (program, job.get("FailureReason"))
        r2 = {m["MetricName"]: m["Value"] for m in job["FinalMetricDataList"]}["test:r2"]
        assert 0.5 < r2 <= 1.0, (program, r2)
        source = executor.read_bytes(job["HyperParameters"]["sagemaker_submit_directory"].strip('"'))
        with tarfile.open(fileobj=io.BytesIO(source)) as tar:
            members = {m.name for m in tar.getmembers() if m.isfile()}
        # the SDK's layout: source_dir's files and the dependency folder side by side at the top level
        assert {"train.py", "train_toolkit.py", "train_xgboost.py", "my_custom_library/__init__.py",
                "my_custom_library/features.py"} <= members

    argparse_job = jobs["train.py"]
    name = argparse_job["TrainingJobName"]
    # output_path moves the artifacts, and the checkpoints default to the run's prefix
    assert argparse_job["ModelArtifacts"]["S3ModelArtifacts"] == \
        f"s3://smflow/housing/models/{name}/output/model.tar.gz"
    with tarfile.open(fileobj=io.BytesIO(executor.read_bytes(argparse_job["ModelArtifacts"]["S3ModelArtifacts"]))) \
            as tar:
        assert [m.name for m in tar.getmembers()] == ["model.joblib"]
    assert argparse_job["CheckpointConfig"]["LocalPath"] == "/opt/ml/checkpoints"
    assert argparse_job["CheckpointConfig"]["S3Uri"].startswith("s3://smflow/housing/runs/")
    log = executor.read_log("CreateTrainingJob", name, 0)[0]
    assert "model persisted at /opt/ml/model/model.joblib" in log

    toolkit_log = executor.read_log("CreateTrainingJob", jobs["train_toolkit.py"]["TrainingJobName"], 0)[0]
    assert "on algo-1, channels ['test', 'train']" in toolkit_log

    # script-mode XGBoost runs in the xgboost 1.7-1 image's environment, with the same dependency library
    xgboost_log = executor.read_log("CreateTrainingJob", jobs["train_xgboost.py"]["TrainingJobName"], 0)[0]
    assert "xgboost 1.7." in xgboost_log
