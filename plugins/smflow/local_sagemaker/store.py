"""An on-disk object store standing in for S3: `s3://bucket/key` ↔ `<root>/bucket/key`.

Writes are atomic (temp file in the same directory, then `os.replace`), so a reader — or a crash —
never sees half an object. The same pipeline runs on AWS with only the storage root changed.
"""

from __future__ import annotations

import builtins
import hashlib
import os
import shutil
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from smflow.atomic_files import is_stale, remove_stale, replacing
from smflow.errors import SmflowError
from smflow.s3_names import bucket_name_problem, key_problem, split_s3_uri
from smflow.tarball import pack_tarball

SCHEME = "s3://"
_PART_SUFFIX = ".smflow-part"
_ETAG_CHUNK = 1 << 20
# path → (size, mtime_ns, md5): a sensor lists the input every poke, and re-hashing unchanged big files each
# time would cost more than the listing. Writes replace files (new mtime), so a changed object is re-hashed.
_ETAGS: dict[str, tuple[int, int, str]] = {}
_ETAGS_LOCK = threading.Lock()
_ETAGS_MAX = 100_000


class ObjectNotFoundError(SmflowError, FileNotFoundError):
    """No object (or no object under a prefix) at an `s3://` URI."""

    def __init__(self, uri: str, root: Path):
        super().__init__(
            f"{uri}: no such object in the local store (looked under {root}). "
            "Check the URI, or run the step that writes it first."
        )
        self.uri = uri


class InvalidUriError(SmflowError, ValueError):
    pass


class InvalidBucketNameError(InvalidUriError):
    """S3's `InvalidBucketName`: the name breaks S3's bucket naming rules."""


class InvalidObjectKeyError(InvalidUriError):
    """A key the local store refuses, because as a file path it would name something else than it says."""


class OutsideStoreError(InvalidUriError):
    """A URI whose file resolves outside the store root (a symbolic link in the store pointing elsewhere)."""


def split_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/a/b` → (`bucket`, `a/b`); rejects anything that is not an s3 URI, invalid bucket names and
    keys that cannot stay inside their bucket's folder (empty segments are dropped, as before)."""
    try:
        bucket, key = split_s3_uri(uri)
    except ValueError as e:
        raise InvalidUriError(str(e)) from None
    if not bucket:
        raise InvalidUriError(f"{uri!r} has no bucket name")
    problem = bucket_name_problem(bucket)
    if problem:
        raise InvalidBucketNameError(f"InvalidBucketName: {uri!r}: {problem}")
    problem = key_problem(key)
    if problem:
        raise InvalidObjectKeyError(f"{uri!r}: {problem}")
    return bucket, "/".join(p for p in key.split("/") if p)


class LocalStore:
    """S3 semantics on a directory: objects are files, prefixes are plain string prefixes.

    Every URI maps to a path inside `root/<bucket>/`; one that would resolve elsewhere (a symbolic link placed
    in the store) is refused, and listings never follow links, so no URI reads or writes outside the root.
    """

    def __init__(self, root: Path | str):
        self.root = Path(root).resolve()

    def path_for(self, uri: str) -> Path:
        bucket, key = split_uri(uri)
        bucket_dir = self.root / bucket
        path = bucket_dir / key if key else bucket_dir
        real = path.resolve()
        if not real.is_relative_to(bucket_dir):  # `root` is resolved, so only a link in the store gets here
            raise OutsideStoreError(f"{uri!r} resolves to {real}, outside the local store ({self.root}); remove "
                                    "the symbolic link in the store that points there")
        return path

    def exists(self, uri: str) -> bool:
        path = self.path_for(uri)
        return path.is_file() or (path.is_dir() and any(self._walk(path)))

    def etag(self, uri: str) -> str:
        """The object's ETag as S3 gives it for a single-part upload: the MD5 of its bytes, in hex (no quotes).
        Cached per file by (size, mtime_ns), so listing unchanged objects again does not read them."""
        path = self.path_for(uri)
        try:
            stat = path.stat()
        except FileNotFoundError:
            raise ObjectNotFoundError(uri, self.root) from None
        if not path.is_file():
            raise ObjectNotFoundError(uri, self.root)
        key = str(path)
        with _ETAGS_LOCK:
            cached = _ETAGS.get(key)
        if cached is not None and cached[:2] == (stat.st_size, stat.st_mtime_ns):
            return cached[2]
        md5 = hashlib.md5(usedforsecurity=False)
        with path.open("rb") as handle:
            while chunk := handle.read(_ETAG_CHUNK):
                md5.update(chunk)
        value = md5.hexdigest()
        with _ETAGS_LOCK:
            if len(_ETAGS) >= _ETAGS_MAX:
                _ETAGS.clear()
            _ETAGS[key] = (stat.st_size, stat.st_mtime_ns, value)
        return value

    def read_bytes(self, uri: str) -> bytes:
        return self.file_for(uri).read_bytes()

    def file_for(self, uri: str) -> Path:
        """The file holding the object at `uri`; ObjectNotFoundError when there is none."""
        path = self.path_for(uri)
        if not path.is_file():
            raise ObjectNotFoundError(uri, self.root)
        return path

    def write_bytes(self, uri: str, data: bytes) -> None:
        with replacing(self.path_for(uri), suffix=_PART_SUFFIX) as tmp:
            tmp.write_bytes(data)

    def upload_file(self, source: Path, uri: str) -> None:
        with replacing(self.path_for(uri), suffix=_PART_SUFFIX) as tmp:
            shutil.copyfile(source, tmp)

    def upload_dir(self, source: Path, prefix_uri: str) -> builtins.list[str]:
        """Upload every regular file under `source` (symlinks are not followed, as on SageMaker)."""
        written = []
        base = prefix_uri.rstrip("/")
        if source.is_symlink():
            raise OutsideStoreError(f"{source} is a symbolic link; outputs are uploaded from real folders only "
                                    f"(nothing was uploaded to {prefix_uri})")
        swept: set[Path] = set()
        for file in sorted(source.rglob("*")):
            if file.is_file() and not file.is_symlink():
                uri = f"{base}/{file.relative_to(source).as_posix()}"
                target = self.path_for(uri)
                if target.parent not in swept:  # one sweep per folder instead of one per file
                    remove_stale(target.parent, _PART_SUFFIX)
                    swept.add(target.parent)
                with replacing(target, suffix=_PART_SUFFIX, sweep=False) as tmp:
                    shutil.copyfile(file, tmp)
                written.append(uri)
        return written

    def upload_tar(self, source: Path, uri: str, dependencies: Sequence[Path] = ()) -> None:
        """Pack a directory's contents (from inside it, as SageMaker packs model.tar.gz) and store it; each of
        `dependencies` is added at the top level under its own name (sourcedir.tar.gz, as the SDK packs it)."""
        with replacing(self.path_for(uri), suffix=_PART_SUFFIX) as tmp:
            pack_tarball(source, tmp, dependencies)

    def list(self, prefix_uri: str) -> builtins.list[str]:
        """Every object URI that starts with `prefix_uri` (string prefix, as S3 ListObjectsV2)."""
        bucket, key = split_uri(prefix_uri)
        if prefix_uri.endswith("/") and key:
            key += "/"  # `s3://b/in/` lists the folder only, not `in.csv` beside it (S3 string-prefix semantics)
        bucket_dir = self.root / bucket
        if not bucket_dir.is_dir():
            return []
        # Walk only the deepest directory the prefix fully names, then filter by string prefix.
        head = key.rsplit("/", 1)[0] if "/" in key else ""
        start = bucket_dir / head if head else bucket_dir
        if not start.is_dir():
            return []
        uris = []
        for file in self._walk(start):
            rel = file.relative_to(bucket_dir).as_posix()
            if rel.startswith(key):
                uris.append(f"{SCHEME}{bucket}/{rel}")
        return sorted(uris)

    def download(self, uri: str, dest: Path) -> builtins.list[Path]:
        """Copy an object, or every object under a prefix, into directory `dest` (keys relative to the prefix).

        A prefix is treated as a folder: `s3://b/data` matches `data/x.csv` but not `database.csv`,
        mirroring how SageMaker stages an S3Prefix channel.
        """
        dest.mkdir(parents=True, exist_ok=True)
        path = self.path_for(uri)
        if path.is_file():
            target = dest / path.name
            shutil.copyfile(path, target)
            return [target]
        if not path.is_dir():
            raise ObjectNotFoundError(uri, self.root)
        copied = []
        for file in self._walk(path):
            target = dest / file.relative_to(path)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(file, target)
            copied.append(target)
        if not copied:
            raise ObjectNotFoundError(uri, self.root)
        return copied

    def delete(self, uri: str) -> None:
        path = self.path_for(uri)
        if path.is_file():
            path.unlink()
        elif path.is_dir():
            shutil.rmtree(path)

    def remove_stale_parts(self, prefix_uri: str | None = None) -> builtins.list[Path]:
        """Delete temp files that killed writers left in `prefix_uri`'s folder and below (the whole store if None;
        the parent folder when the prefix is not a folder)."""
        top = self.root if prefix_uri is None else self.path_for(prefix_uri)
        if not top.is_dir():
            top = top.parent
        removed: builtins.list[Path] = []
        if top.is_dir() and not top.is_symlink():
            for dirpath, _dirs, _files in os.walk(top):
                removed.extend(remove_stale(Path(dirpath), _PART_SUFFIX))
        return removed

    @staticmethod
    def _walk(top: Path) -> Iterator[Path]:
        """Objects under `top`: regular files, never symbolic links (S3 has none, and one could point out of
        the store); temp files of writes in progress are skipped, those of killed writers removed."""
        for dirpath, _dirs, files in os.walk(top):  # os.walk does not descend into linked folders
            for name in files:
                file = Path(dirpath) / name
                if name.endswith(_PART_SUFFIX):
                    if is_stale(file, _PART_SUFFIX):
                        file.unlink(missing_ok=True)
                elif not file.is_symlink():
                    yield file
