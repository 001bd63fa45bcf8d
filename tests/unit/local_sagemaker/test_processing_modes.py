"""Processing jobs as the SDK's processors send them: Continuous uploads while the script runs, inputs nested
under one another, and FrameworkProcessor's launcher installing requirements.txt without touching the shared
Python environment."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import io
import time
import zipfile
from pathlib import Path

from smflow.compile.requests import LAUNCHER
from smflow.executors.local import LocalExecutor
from smflow.local_sagemaker.containers.continuous_upload import ContinuousUploader
from smflow.local_sagemaker.store import LocalStore
from tests.unit.local_sagemaker.test_processing import OP, request, run_to_end, s3_input, s3_output


def test_continuous_output_is_uploaded_while_the_script_runs(executor: LocalExecutor, tmp_path: Path) -> None:
    go_on = tmp_path / "go-on"
    script = (
        "import os, pathlib, time\n"
        "out = pathlib.Path('/opt/ml/processing/logs')\n"
        "(out / 'epoch-1.txt').write_text('loss=0.5')\n"
        f"deadline = time.time() + 30\n"
        f"while not os.path.exists({str(go_on)!r}) and time.time() < deadline:\n"
        "    time.sleep(0.1)\n"
        "(out / 'epoch-2.txt').write_text('loss=0.25')\n"
    )
    output = s3_output("logs", "s3://ml-bucket/logs/", "/opt/ml/processing/logs")
    output["S3Output"]["S3UploadMode"] = "Continuous"
    req = request("continuous", ["python3", "-c", script], outputs=[output])
    executor.call(OP, req)
    deadline = time.monotonic() + 20
    while not executor.store.exists("s3://ml-bucket/logs/epoch-1.txt") and time.monotonic() < deadline:
        time.sleep(0.1)
    running = executor.call("DescribeProcessingJob", {"ProcessingJobName": "continuous"})["ProcessingJobStatus"]
    assert executor.store.exists("s3://ml-bucket/logs/epoch-1.txt"), "not uploaded while the job ran"
    assert running == "InProgress"
    go_on.touch()
    description = executor.wait_for_job(OP, "continuous", poll_seconds=0.05, timeout_seconds=60)
    assert description["ProcessingJobStatus"] == "Completed"
    assert executor.read_bytes("s3://ml-bucket/logs/epoch-2.txt") == b"loss=0.25"


def test_uploader_waits_until_a_file_holds_still(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    folder = tmp_path / "out"
    folder.mkdir()
    lines: list[str] = []
    uploader = ContinuousUploader(store, [(folder, "s3://out-bucket/out/")], lines.append)
    (folder / "a.txt").write_text("partial")
    uploader.scan()
    assert not store.exists("s3://out-bucket/out/a.txt")  # seen once: may still be written
    uploader.scan()
    assert store.read_bytes("s3://out-bucket/out/a.txt") == b"partial"
    uploader.scan()
    assert uploader.count == 1  # unchanged files are not uploaded again
    (folder / "a.txt").write_text("complete!")
    uploader.scan()
    uploader.scan()
    assert store.read_bytes("s3://out-bucket/out/a.txt") == b"complete!" and uploader.count == 2


def _wheel(name: str, version: str, module_source: str) -> bytes:
    """A minimal pure-Python wheel (PEP 427), so the test installs without any index or network."""
    dist = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": module_source.encode(),
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: smflow-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(
        f"{path},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},{len(data)}\n"
        for path, data in files.items()) + f"{dist}/RECORD,,\n"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
        archive.writestr(f"{dist}/RECORD", record)
    return buffer.getvalue()


def test_framework_launcher_installs_requirements_per_job(executor: LocalExecutor, tmp_path: Path) -> None:
    code = tmp_path / "code"
    (code / "wheels").mkdir(parents=True)
    (code / "wheels" / "smflowtinylib-1.0-py3-none-any.whl").write_bytes(
        _wheel("smflowtinylib", "1.0", "ANSWER = 42\n"))
    (code / "requirements.txt").write_text("--no-index\n--find-links wheels\nsmflowtinylib==1.0\n")
    (code / "prep.py").write_text(
        "import sys, smflowtinylib, featurelib\n"
        "open('/opt/ml/processing/out/answer.txt', 'w').write(f'{smflowtinylib.ANSWER} {featurelib.NAME} '\n"
        "                                                     f'{sys.argv[1:]}')\n")
    library = tmp_path / "libs" / "featurelib"
    library.mkdir(parents=True)
    (library / "__init__.py").write_text("NAME = 'features'\n")
    executor.upload(code, "s3://ml-bucket/job/code/sourcedir.tar.gz", tar=True, dependencies=[library])
    executor.upload(LAUNCHER, "s3://ml-bucket/job/entrypoint/runproc.sh")
    req = request("framework", ["/bin/bash", "/opt/ml/processing/input/entrypoint/runproc.sh", "python3", "prep.py"],
                  arguments=["--n", "3"],
                  inputs=[s3_input("code", "s3://ml-bucket/job/code/", "/opt/ml/processing/input/code"),
                          s3_input("entrypoint", "s3://ml-bucket/job/entrypoint/",
                                   "/opt/ml/processing/input/entrypoint")],
                  outputs=[s3_output("out", "s3://ml-bucket/job/out/", "/opt/ml/processing/out")])
    description = run_to_end(executor, req)
    log, _ = executor.read_log(OP, "framework", 0)
    assert description["ProcessingJobStatus"] == "Completed", description.get("FailureReason", "") + log
    assert executor.read_bytes("s3://ml-bucket/job/out/answer.txt") == b"42 features ['--n', '3']"
    assert "Successfully installed smflowtinylib-1.0" in log
    assert importlib.util.find_spec("smflowtinylib") is None  # the shared environment is untouched


def test_input_nested_above_the_code_folder(executor: LocalExecutor) -> None:
    """The SDK's examples stage data at /opt/ml/processing/input while the code sits in input/code."""
    executor.write_bytes("s3://ml-bucket/raw/census.csv", b"a,b\n1,2\n")
    executor.write_bytes("s3://ml-bucket/code2/run.py", b"import os\n"
                         b"os.makedirs('/opt/ml/processing/train', exist_ok=True)\n"
                         b"data = open('/opt/ml/processing/input/census.csv').read()\n"
                         b"open('/opt/ml/processing/train/copy.csv', 'w').write(data)\n")
    req = request("nested", ["python3", "/opt/ml/processing/input/code/run.py"],
                  inputs=[s3_input("code", "s3://ml-bucket/code2/", "/opt/ml/processing/input/code"),
                          s3_input("raw", "s3://ml-bucket/raw/", "/opt/ml/processing/input")],
                  outputs=[s3_output("train", "s3://ml-bucket/train/", "/opt/ml/processing/train")])
    assert run_to_end(executor, req)["ProcessingJobStatus"] == "Completed"
    assert executor.read_bytes("s3://ml-bucket/train/copy.csv") == b"a,b\n1,2\n"
