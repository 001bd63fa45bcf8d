"""A digest of what one task try would send: the rendered request and the bytes of the files it uploads.

It decides whether an existing job may be reused. Same fingerprint → the same request → a retry after a
crash finds its earlier job; a different one (hyperparameters edited, upstream artifacts changed, a script
edited) → a new job name, hence a new job, never the old job's result passed off as the new one's.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

LENGTH = 16
_CHUNK = 1 << 20


def _hash_file(digest: Any, path: Path) -> None:
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)


def _hash_tree(digest: Any, root: Path) -> None:
    """Relative paths and contents in a stable order; a symlink counts by its target path, as it is packed."""
    if root.is_file():
        _hash_file(digest, root)
        return
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in dirs:
            path = Path(folder, name)
            if path.is_symlink():  # os.walk does not descend into it; re-pointing it must change the digest
                digest.update(b"\0L" + str(path.relative_to(root)).encode("utf-8", "surrogateescape") + b"\0"
                              + os.readlink(path).encode("utf-8", "surrogateescape"))
        for name in sorted(files):
            path = Path(folder, name)
            digest.update(b"\0F" + str(path.relative_to(root)).encode("utf-8", "surrogateescape") + b"\0")
            try:
                _hash_file(digest, path)
            except OSError as e:  # unreadable now: staging reports it with the path when the job starts
                digest.update(f"unreadable:{e.errno}".encode())


def request_fingerprint(request: Mapping[str, Any], *, outputs: Mapping[str, Any] | None = None,
                        pre: Iterable[Mapping[str, Any]] = (), upload_sources: Iterable[str] = ()) -> str:
    """Hex digest of the rendered request, its outputs and pre-calls, and the uploaded files' contents."""
    digest = hashlib.sha256()
    payload = {"request": request, "outputs": outputs or {}, "pre": list(pre)}
    digest.update(json.dumps(payload, sort_keys=True, default=str).encode())
    for source in upload_sources:
        digest.update(b"\0U" + source.encode("utf-8", "surrogateescape") + b"\0")
        path = Path(source)
        if path.exists():
            _hash_tree(digest, path)
        else:
            digest.update(b"missing")
    return digest.hexdigest()[:LENGTH]
