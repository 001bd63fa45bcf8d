"""No bucket, key or path makes the local store, or a job staging and uploading through it, leave its root.

And a temp file a killed writer left behind (`*.smflow-part`) is never an object and is cleaned up.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from smflow.atomic_files import is_stale, remove_stale, replacing
from smflow.local_sagemaker.jobs.sandbox import Sandbox, SandboxError
from smflow.local_sagemaker.store import (
    InvalidBucketNameError,
    InvalidObjectKeyError,
    InvalidUriError,
    LocalStore,
    OutsideStoreError,
    split_uri,
)
from smflow.s3_names import bucket_name_problem


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    (tmp_path / "store").mkdir()
    return LocalStore(tmp_path / "store")


def outside_files(tmp_path: Path, store: LocalStore) -> list[Path]:
    return sorted(p for p in tmp_path.rglob("*") if p.is_file() and not p.is_relative_to(store.root))


# ---- bucket names --------------------------------------------------------------------------------------

@pytest.mark.parametrize("bucket, reason", [
    ("..", "must be 3 to 63 characters long"),
    (".", "must be 3 to 63 characters long"),
    ("...", "must begin and end with a letter or digit"),
    ("a..b", "must not contain two adjacent dots"),
    ("ab", "must be 3 to 63 characters long"),
    ("a" * 64, "must be 3 to 63 characters long"),
    ("Bucket", "may only contain lowercase letters, digits, dots (.) and hyphens (-)"),
    ("my_bucket", "may only contain lowercase letters"),
    ("%2e%2e", "may only contain lowercase letters"),
    ("a\\b", "may only contain lowercase letters"),
    ("bu\x00cket", "may only contain lowercase letters"),
    ("-bucket", "must begin and end with a letter or digit"),
    ("192.168.5.4", "must not be formatted as an IP address"),
    ("xn--bucket", "reserved prefix 'xn--'"),
    ("bucket-s3alias", "reserved suffix '-s3alias'"),
])
def test_invalid_bucket_names_are_refused(store: LocalStore, bucket: str, reason: str) -> None:
    uri = f"s3://{bucket}/key"
    with pytest.raises(InvalidBucketNameError, match="InvalidBucketName") as info:
        store.write_bytes(uri, b"x")
    assert reason in str(info.value) and repr(uri) in str(info.value)
    assert list(store.root.iterdir()) == []


@pytest.mark.parametrize("bucket", ["abc", "my-bucket", "my.bucket.1", "smflow-demo", "a" * 63, "1.2.3"])
def test_valid_bucket_names(bucket: str) -> None:
    assert bucket_name_problem(bucket) is None


def test_bucket_dot_dot_cannot_reach_the_smflow_home(tmp_path: Path, store: LocalStore) -> None:
    (tmp_path / "registry.sqlite").write_bytes(b"secret")
    for uri in ("s3://../registry.sqlite", "s3://./store/x", "s3://..%2fregistry.sqlite/x"):
        with pytest.raises(InvalidUriError):
            store.read_bytes(uri)
        with pytest.raises(InvalidUriError):
            store.write_bytes(uri, b"overwritten")
        with pytest.raises(InvalidUriError):
            store.list(uri)
    assert (tmp_path / "registry.sqlite").read_bytes() == b"secret"


# ---- keys ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("key, reason", [
    ("../escape", "'.' and '..' are not allowed"),
    ("a/../../escape", "'.' and '..' are not allowed"),
    ("a/./b", "'.' and '..' are not allowed"),
    ("%2e%2e/escape", "percent-encoded '..'"),
    ("a/%2E%2e/b", "percent-encoded '..'"),
    (".%2e/x", "percent-encoded '..'"),
    ("a%2Fb", "percent-encoded separator"),
    ("..%2f..%2fetc", "percent-encoded separator"),
    ("a%5cb", "percent-encoded separator"),
    ("a%00b", "percent-encoded separator or NUL"),
    ("a\\..\\b", "backslash"),
    ("a\x00b", "control character U+0000"),
    ("a\nb", "control character U+000A"),
    ("k" * 1025, "longer than S3's 1024 bytes"),
    ("k" * 256 + "/x", "longer than 255 bytes"),
])
def test_keys_that_would_leave_their_folder_are_refused(tmp_path: Path, store: LocalStore, key: str,
                                                        reason: str) -> None:
    uri = f"s3://bucket/{key}"
    with pytest.raises(InvalidObjectKeyError) as info:
        store.write_bytes(uri, b"x")
    assert reason in str(info.value)
    assert repr(uri)[:60] in str(info.value)
    with pytest.raises(InvalidObjectKeyError):
        store.download(uri, tmp_path / "dest")
    assert outside_files(tmp_path, store) == []


def test_absolute_paths_are_not_uris_and_leading_slashes_stay_inside(tmp_path: Path, store: LocalStore) -> None:
    with pytest.raises(InvalidUriError, match="is not an s3:// URI"):
        store.read_bytes(str(tmp_path / "x"))
    with pytest.raises(InvalidUriError, match="is not an s3:// URI"):
        store.path_for("file:///etc/passwd")
    assert split_uri("s3://bucket//etc/passwd") == ("bucket", "etc/passwd")
    store.write_bytes("s3://bucket//etc/passwd", b"inside")
    assert (store.root / "bucket" / "etc" / "passwd").read_bytes() == b"inside"
    assert outside_files(tmp_path, store) == []


# ---- symbolic links ------------------------------------------------------------------------------------

def test_symlinks_in_the_store_never_lead_out(tmp_path: Path, store: LocalStore) -> None:
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "key.txt").write_text("do not read")
    (store.root / "bucket").mkdir()
    (store.root / "bucket" / "data").mkdir()
    (store.root / "bucket" / "data" / "ok.csv").write_text("a\n")
    (store.root / "bucket" / "data" / "leak.txt").symlink_to(secret / "key.txt")
    (store.root / "bucket" / "linked").symlink_to(secret)
    (store.root / "evil").symlink_to(secret)

    for uri in ("s3://bucket/data/leak.txt", "s3://bucket/linked/key.txt", "s3://evil/key.txt"):
        with pytest.raises(OutsideStoreError, match="outside the local store"):
            store.read_bytes(uri)
        with pytest.raises(OutsideStoreError):
            store.write_bytes(uri, b"overwritten")
    assert store.list("s3://bucket/") == ["s3://bucket/data/ok.csv"]
    copied = store.download("s3://bucket/data", tmp_path / "dest")
    assert [p.name for p in copied] == ["ok.csv"]
    with pytest.raises(OutsideStoreError):
        store.delete("s3://bucket/linked/key.txt")
    assert (secret / "key.txt").read_text() == "do not read"


def test_upload_dir_never_follows_links(tmp_path: Path, store: LocalStore) -> None:
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "key.txt").write_text("do not read")
    out = tmp_path / "out"
    out.mkdir()
    (out / "model.bin").write_bytes(b"m")
    (out / "leak.txt").symlink_to(secret / "key.txt")
    (out / "leakdir").symlink_to(secret)
    assert store.upload_dir(out, "s3://bucket/out/") == ["s3://bucket/out/model.bin"]
    linked = tmp_path / "linked-out"
    linked.symlink_to(secret)
    with pytest.raises(OutsideStoreError, match="is a symbolic link"):
        store.upload_dir(linked, "s3://bucket/out2/")
    assert store.list("s3://bucket/out2/") == []


def test_sandbox_paths_stay_inside_the_jobs_opt_ml(tmp_path: Path) -> None:
    opt_ml = tmp_path / "job" / "opt_ml"
    (opt_ml / "processing").mkdir(parents=True)
    sandbox = Sandbox("paths", opt_ml)
    assert sandbox.host_path("/opt/ml/processing/output/train") == opt_ml / "processing" / "output" / "train"
    for bad in ("/opt/ml/../../etc", "/etc/passwd", "/opt/mlx/data", "relative/path"):
        with pytest.raises(SandboxError, match="is not under /opt/ml/"):
            sandbox.host_path(bad)
    (opt_ml / "processing" / "output").symlink_to(tmp_path)  # what a job's script could do
    with pytest.raises(SandboxError, match="leads outside the job's /opt/ml"):
        sandbox.host_path("/opt/ml/processing/output/train")


# ---- half-written objects ------------------------------------------------------------------------------

KILLED_WRITER = """
import os, sys
from pathlib import Path
from smflow.atomic_files import replacing
with replacing(Path(sys.argv[1]), suffix=".smflow-part") as tmp:
    print(tmp, flush=True)
    os._exit(9)  # killed while packing: the temp file stays, 0 bytes
"""


def killed_write(target: Path) -> Path:
    done = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(target)], capture_output=True, text=True,
                          check=False)
    part = Path(done.stdout.strip())
    assert part.exists() and part.stat().st_size == 0 and part.name.endswith(".smflow-part")
    return part


def test_a_killed_writers_part_file_is_never_listed_and_is_removed_by_a_listing(store: LocalStore) -> None:
    store.write_bytes("s3://bucket/run/out/ok.csv", b"ok")
    part = killed_write(store.root / "bucket" / "run" / "out" / "model.tar.gz")
    assert is_stale(part, ".smflow-part")
    assert store.list("s3://bucket/run/") == ["s3://bucket/run/out/ok.csv"]
    assert not part.exists()


def test_the_next_write_of_the_same_object_removes_it(store: LocalStore) -> None:
    part = killed_write(store.root / "bucket" / "model.tar.gz")
    store.write_bytes("s3://bucket/model.tar.gz", b"new")
    assert not part.exists()
    assert store.read_bytes("s3://bucket/model.tar.gz") == b"new"
    assert sorted(p.name for p in (store.root / "bucket").iterdir()) == ["model.tar.gz"]


def test_a_live_writers_part_file_is_kept(store: LocalStore) -> None:
    target = store.root / "bucket" / "big.bin"
    with replacing(target, suffix=".smflow-part") as tmp:
        tmp.write_bytes(b"in progress")
        assert not is_stale(tmp, ".smflow-part")
        assert store.list("s3://bucket/") == [] and tmp.exists()
        assert remove_stale(target.parent, ".smflow-part") == [] and tmp.exists()
    assert store.read_bytes("s3://bucket/big.bin") == b"in progress"


def test_foreign_part_files_go_by_age(store: LocalStore) -> None:
    folder = store.root / "bucket"
    folder.mkdir()
    fresh = folder / ".x.csv.otherhost-1.abcdefgh.smflow-part"
    old = folder / ".y.csv.otherhost-1.abcdefgh.smflow-part"
    fresh.write_bytes(b"")
    old.write_bytes(b"")
    os.utime(old, (0, 0))
    assert remove_stale(folder, ".smflow-part") == [old]
    assert fresh.exists()


def test_job_start_removes_part_files_under_its_outputs(tmp_path: Path) -> None:
    from smflow.executors.local import LocalExecutor

    api = LocalExecutor(home=tmp_path / "home", store_root=tmp_path / "home" / "store")
    part = killed_write(api.store.root / "bucket" / "out" / "job-1" / "output" / "model.tar.gz")
    request = {
        "TrainingJobName": "job-1",
        "AlgorithmSpecification": {"TrainingImage": "img", "TrainingInputMode": "File"},
        "RoleArn": "arn:aws:iam::000000000000:role/r",
        "OutputDataConfig": {"S3OutputPath": "s3://bucket/out/"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 60},
        "InputDataConfig": [{"ChannelName": "train", "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": "s3://../train"}}}],
    }
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError, match=r"InputDataConfig\[0\].DataSource.S3DataSource.S3Uri: InvalidBucketName"):
        api.call("CreateTrainingJob", request)
    assert part.exists(), "a refused request changes nothing"
    request["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] = "s3://bucket/train/"
    api.call("CreateTrainingJob", request)
    assert not part.exists()
    deadline = time.monotonic() + 60
    while api.call("DescribeTrainingJob", {"TrainingJobName": "job-1"})["TrainingJobStatus"] == "InProgress":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    described = api.call("DescribeTrainingJob", {"TrainingJobName": "job-1"})
    assert described["TrainingJobStatus"] == "Failed" and "no S3 objects found" in described["FailureReason"]


# ---- a job's own staging and uploads ---------------------------------------------------------------------

def test_a_job_that_links_its_output_out_of_opt_ml_uploads_nothing(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from smflow.executors.local import LocalExecutor
    from tests.unit.local_sagemaker.test_processing import request, run_to_end, s3_output

    monkeypatch.setenv("SMFLOW_SANDBOX", "paths")  # the script sees the host path of its /opt/ml
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "key.txt").write_text("do not read")
    executor = LocalExecutor(home=tmp_path / "home")
    script = ("import os, sys; out = sys.argv[1]; os.rmdir(out); os.symlink(sys.argv[2], out)")
    req = request("link-out", ["python3", "-c", script, "/opt/ml/processing/output/result", str(secret)],
                  outputs=[s3_output("result", "s3://ml-bucket/out/result", "/opt/ml/processing/output/result")])
    described = run_to_end(executor, req)
    assert described["ProcessingJobStatus"] == "Failed"
    assert described["FailureReason"].startswith("ClientError: '/opt/ml/processing/output/result' leads outside "
                                                 "the job's /opt/ml (through a symbolic link)")
    assert executor.store.list("s3://ml-bucket/") == []


def test_a_manifest_cannot_stage_outside_the_channel(tmp_path: Path) -> None:
    from smflow.executors.local import LocalExecutor
    from tests.unit.local_sagemaker.test_processing import request, run_to_end, s3_input

    executor = LocalExecutor(home=tmp_path / "home")
    executor.write_bytes("s3://ml-bucket/data/a.csv", b"a\n")
    executor.write_bytes("s3://ml-bucket/manifest.json",
                         json.dumps([{"prefix": "s3://ml-bucket/data/"}, "a.csv", "../../../../escaped.csv"]).encode())
    req = request("manifest-out", ["python3", "-c", "pass"], inputs=[
        s3_input("m", "s3://ml-bucket/manifest.json", "/opt/ml/processing/input/m", S3DataType="ManifestFile")])
    described = run_to_end(executor, req)
    assert described["ProcessingJobStatus"] == "Failed"
    assert "manifest file s3://ml-bucket/manifest.json lists '../../../../escaped.csv': '.' and '..' are not " \
           "allowed in keys" in described["FailureReason"]
    assert not list(tmp_path.rglob("escaped.csv"))


def test_a_request_with_a_bad_bucket_is_refused_before_any_job(tmp_path: Path) -> None:
    from botocore.exceptions import ClientError

    from smflow.executors.local import LocalExecutor
    from tests.unit.local_sagemaker.test_processing import request, s3_output

    executor = LocalExecutor(home=tmp_path / "home")
    req = request("bad-bucket", ["python3", "-c", "pass"],
                  outputs=[s3_output("o", "s3://../out", "/opt/ml/processing/output/o")])
    with pytest.raises(ClientError, match=r"ProcessingOutputConfig.Outputs\[0\].S3Output.S3Uri: InvalidBucketName: "
                                          r"'s3://../out': bucket name '..' must be 3 to 63 characters long"):
        executor.call("CreateProcessingJob", req)
    assert executor.job_dir("CreateProcessingJob", "bad-bucket") is None


def test_an_object_name_of_255_bytes_can_still_be_written(store: LocalStore) -> None:
    uri = "s3://bucket/" + "k" * 255  # the temp file beside it must fit in a file name too
    store.write_bytes(uri, b"x")
    assert store.list("s3://bucket/") == [uri] and store.read_bytes(uri) == b"x"
