"""One requirements.txt policy for training, batch transform and serving: install what is not satisfied."""

from __future__ import annotations

import base64
import hashlib
import io
import sys
import zipfile
from pathlib import Path

import numpy as np

from smflow.local_sagemaker.containers.transform import run_transform_job
from smflow.local_sagemaker.requirements import (
    ALREADY_SATISFIED,
    requirement_problems,
    satisfy_requirements,
    unsatisfied_requirements,
)
from smflow.local_sagemaker.store import LocalStore
from tests.unit.local_sagemaker.test_transform import BUCKET, MODEL_URI, create_model, transform_request


def test_lines_and_files_are_judged_by_one_rule(tmp_path: Path) -> None:
    lines = ["numpy>=1.0", "numpy<1.0  # too old", "surely-not-installed-smflow-pkg==1.2", "--index-url https://x"]
    assert unsatisfied_requirements(lines) == ["numpy<1.0", "surely-not-installed-smflow-pkg==1.2",
                                               "--index-url https://x"]
    (tmp_path / "requirements.txt").write_text("\n".join(lines) + "\n")
    problems = requirement_problems(tmp_path / "requirements.txt")
    assert [p.split(":")[1] for p in problems] == ["2", "3"]  # pip options say how to install, not what


def test_a_satisfied_file_installs_nothing(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("numpy\nscikit-learn>=1.0\n")
    said: list[str] = []
    assert satisfy_requirements(tmp_path, tmp_path / "deps", say=said.append, output=io.StringIO()) is None
    assert said == [ALREADY_SATISFIED] and not (tmp_path / "deps").exists()
    assert satisfy_requirements(tmp_path / "nothing-here", tmp_path / "deps", say=said.append,
                                output=io.StringIO()) is None


def _wheel(directory: Path, name: str, version: str, source: str) -> Path:
    """A minimal pure-Python wheel, so pip installs it offline."""
    dist = f"{name}-{version}.dist-info"
    files = {f"{name}/__init__.py": source,
             f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
             f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: smflow-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    record.append(f"{dist}/RECORD,,")
    wheel = directory / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
        archive.writestr(f"{dist}/RECORD", "\n".join(record) + "\n")
    return wheel


def test_a_transform_installs_an_unsatisfied_requirement_as_training_does(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path, "smflow_probe_factor", "1.0", "FACTOR = 3.0\n")
    store = LocalStore(tmp_path / "store")
    model_dir = tmp_path / "packing"
    (model_dir / "code").mkdir(parents=True)
    (model_dir / "code" / "inference.py").write_text(
        "import io\nimport numpy as np\nfrom smflow_probe_factor import FACTOR\n\n"
        "def model_fn(model_dir):\n    return FACTOR\n\n"
        "def transform_fn(model, body, content_type, accept):\n"
        "    rows = np.loadtxt(io.StringIO(body), delimiter=',', ndmin=2) * model\n"
        "    out = io.StringIO()\n    np.savetxt(out, rows, delimiter=',', fmt='%g')\n"
        "    return out.getvalue(), accept\n")
    (model_dir / "code" / "requirements.txt").write_text(f"{wheel}\n")
    store.upload_tar(model_dir, MODEL_URI)
    store.write_bytes(f"{BUCKET}/batch/in/a.csv", b"1,2\n")
    log = io.StringIO()
    try:
        run_transform_job(transform_request(f"{BUCKET}/batch/in/"), create_model(), store, tmp_path / "job", log)
    finally:
        sys.path[:] = [p for p in sys.path if not p.startswith(str(tmp_path))]
        sys.modules.pop("smflow_probe_factor", None)
    assert "installing requirements.txt into" in log.getvalue()
    assert np.allclose(np.loadtxt(io.BytesIO(store.read_bytes(f"{BUCKET}/batch/out/a.csv.out")), delimiter=","),
                       [3.0, 6.0])
