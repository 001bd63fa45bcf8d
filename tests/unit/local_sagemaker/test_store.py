"""The on-disk S3 stand-in: atomic writes (also under SIGKILL), S3 prefix listing, clear errors."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from smflow.local_sagemaker.store import InvalidUriError, LocalStore, ObjectNotFoundError, split_uri

WRITER = """
import sys
from smflow.local_sagemaker.store import LocalStore
store = LocalStore(sys.argv[1])
size = 8 * 1024 * 1024
print("writing", flush=True)
i = 0
while True:
    store.write_bytes("s3://bucket/big/object.bin", (b"A" if i % 2 == 0 else b"B") * size)
    i += 1
"""


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "store")


@pytest.mark.parametrize("delay", [0.05, 0.17, 0.31])
def test_a_killed_writer_leaves_the_old_object_or_the_new_one_never_half(store: LocalStore, delay: float) -> None:
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(store.root)], stdout=subprocess.PIPE)
    assert writer.stdout is not None
    writer.stdout.readline()
    time.sleep(delay)
    writer.send_signal(signal.SIGKILL)
    writer.wait()

    uri = "s3://bucket/big/object.bin"
    if store.exists(uri):
        data = store.read_bytes(uri)
        assert len(data) == 8 * 1024 * 1024 and data in {b"A" * len(data), b"B" * len(data)}
    assert store.list("s3://bucket/") in ([], [uri])  # an interrupted temp file is never listed
    leftovers = [p.name for p in (store.root / "bucket" / "big").iterdir() if p.name != "object.bin"]
    assert all(name.endswith(".smflow-part") for name in leftovers)


def test_a_failed_copy_leaves_nothing(store: LocalStore, tmp_path: Path) -> None:
    fifo = tmp_path / "not-a-file"
    os.mkfifo(fifo)
    with pytest.raises(OSError):
        store.upload_file(fifo, "s3://bucket/data/copy.csv")
    assert not store.exists("s3://bucket/data/copy.csv")
    assert list((store.root / "bucket" / "data").iterdir()) == []  # the temp file was removed


def test_prefix_listing_is_a_string_prefix(store: LocalStore) -> None:
    for key in ("data/train.csv", "data/train/part-0.csv", "data/test.csv", "database.csv", "other/x.csv"):
        store.write_bytes(f"s3://bucket/{key}", b"x")
    assert store.list("s3://bucket/data/tr") == ["s3://bucket/data/train.csv", "s3://bucket/data/train/part-0.csv"]
    assert store.list("s3://bucket/data") == ["s3://bucket/data/test.csv", "s3://bucket/data/train.csv",
                                              "s3://bucket/data/train/part-0.csv", "s3://bucket/database.csv"]
    assert store.list("s3://bucket/data/") == ["s3://bucket/data/test.csv", "s3://bucket/data/train.csv",
                                               "s3://bucket/data/train/part-0.csv"]
    assert store.list("s3://no-such-bucket/data") == []


def test_download_treats_a_prefix_as_a_folder(store: LocalStore, tmp_path: Path) -> None:
    store.write_bytes("s3://bucket/data/x.csv", b"1")
    store.write_bytes("s3://bucket/data/sub/y.csv", b"2")
    store.write_bytes("s3://bucket/database.csv", b"not me")
    copied = store.download("s3://bucket/data", tmp_path / "dest")
    assert sorted(p.relative_to(tmp_path / "dest").as_posix() for p in copied) == ["sub/y.csv", "x.csv"]


def test_missing_objects_name_the_uri(store: LocalStore, tmp_path: Path) -> None:
    with pytest.raises(ObjectNotFoundError, match="s3://bucket/missing/train.csv: no such object"):
        store.read_bytes("s3://bucket/missing/train.csv")
    with pytest.raises(ObjectNotFoundError, match="s3://bucket/missing/"):
        store.download("s3://bucket/missing/", tmp_path / "dest")


def test_uris_are_checked(store: LocalStore) -> None:
    assert split_uri("s3://bucket/a//b/") == ("bucket", "a/b")
    with pytest.raises(InvalidUriError, match="is not an s3:// URI"):
        store.path_for("/etc/passwd")
    with pytest.raises(InvalidUriError, match="'..' are not allowed"):
        store.write_bytes("s3://bucket/../../escape", b"x")


def test_upload_tar_packs_from_inside_the_directory(store: LocalStore, tmp_path: Path) -> None:
    model = tmp_path / "model"
    (model / "code").mkdir(parents=True)
    (model / "model.joblib").write_bytes(b"weights")
    (model / "code" / "inference.py").write_text("def model_fn(d): ...\n")
    store.upload_tar(model, "s3://bucket/out/model.tar.gz")
    with tarfile.open(fileobj=io.BytesIO(store.read_bytes("s3://bucket/out/model.tar.gz"))) as tar:
        assert sorted(m.name for m in tar.getmembers() if m.isfile()) == ["code/inference.py", "model.joblib"]


def test_etag_is_the_md5_s3_gives_and_follows_a_rewrite(tmp_path: Path) -> None:
    import hashlib
    import os

    from smflow.executors.local import LocalExecutor

    store = LocalStore(tmp_path)
    store.write_bytes("s3://bkt/in/a.csv", b"1,2\n")
    assert store.etag("s3://bkt/in/a.csv") == hashlib.md5(b"1,2\n").hexdigest()
    path = store.path_for("s3://bkt/in/a.csv")
    stat = path.stat()
    store.write_bytes("s3://bkt/in/a.csv", b"3,4\n")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))
    assert store.etag("s3://bkt/in/a.csv") == hashlib.md5(b"3,4\n").hexdigest()
    with pytest.raises(ObjectNotFoundError):
        store.etag("s3://bkt/in/missing.csv")
    executor = LocalExecutor(tmp_path / "home", tmp_path)
    assert executor.list_objects("s3://bkt/in/") == [("s3://bkt/in/a.csv", hashlib.md5(b"3,4\n").hexdigest())]
