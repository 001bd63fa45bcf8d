"""The local SageMaker is SageMaker on this machine: it imports neither Airflow nor the pipeline spec."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import REPO

PROBE = """
import importlib, json, pkgutil, sys
import smflow.local_sagemaker as package
names = [package.__name__]
for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
    importlib.import_module(info.name)
    names.append(info.name)
print(json.dumps({"imported": names, "loaded": sorted(sys.modules)}))
"""


def test_the_local_sagemaker_imports_neither_airflow_nor_the_spec() -> None:
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert {"smflow.local_sagemaker.service", "smflow.local_sagemaker.jobs.runner",
            "smflow.local_sagemaker.registry.store"} <= set(report["imported"])
    leaked = [m for m in report["loaded"] if m == "airflow" or m.startswith(("airflow.", "smflow.spec"))]
    assert not leaked, f"importing smflow.local_sagemaker loaded {leaked[:10]}"


def test_the_job_runner_starts_without_botocore_pandas_or_numpy() -> None:
    """Its start-up is part of every local job's overhead: only the kind being run imports more."""
    probe = ("import json, sys; import smflow.local_sagemaker.jobs.runner; "
             "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
             "{'botocore', 'boto3', 'pandas', 'numpy', 'airflow'})))")
    result = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []
