"""Crash-safe file replacement: write beside the target, then rename, so readers see the old or the new file.

One mechanism for every durable write in smflow (store objects, job records, caches); the local store
passes its own suffix so listings can skip files still being written.

A temp file's name says who writes it (`.<target>.<host>-<pid>.<random><suffix>`), so one left behind by a
killed writer can be told from one still being written and removed (`remove_stale`) — by the next write of
the same target, or by anyone who comes across it (the local store does when it lists).
"""

from __future__ import annotations

import errno
import os
import socket
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# A temp file from another host (a shared volume) cannot be checked for a live writer; past this age it is
# taken as abandoned (no smflow write takes a day).
FOREIGN_STALE_SECONDS = 24 * 3600
_HOST = socket.gethostname().replace(".", "_").replace("-", "_") or "host"


def _owner_tag() -> str:
    return f"{_HOST[:40]}-{os.getpid()}"


def _target_prefix(name: str) -> str:
    """`.<target>.`, the target cut so the whole temp name stays within a file name's 255 bytes."""
    return f".{name.encode()[:120].decode(errors='ignore')}."


@contextmanager
def replacing(path: Path, *, suffix: str = ".tmp", sweep: bool = True) -> Iterator[Path]:
    """Yield a temp path in `path`'s directory; on success it replaces `path`, on any error it is removed.

    `sweep` first removes temp files of `path` that killed writers left (one directory listing; a caller
    writing many files into one directory sweeps once itself and passes False)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if sweep:
        remove_stale(path.parent, suffix, target=path.name)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f"{_target_prefix(path.name)}{_owner_tag()}.", suffix=suffix)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: Path, text: str) -> None:
    with replacing(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def is_stale(file: Path, suffix: str) -> bool:
    """Whether `file` is a temp file of `replacing` whose writer is gone (killed before it could clean up)."""
    name = file.name
    if not (name.startswith(".") and name.endswith(suffix)):
        return False
    parts = name[: -len(suffix)].rsplit(".", 2)
    owner = parts[-2] if len(parts) == 3 else ""
    host, _, pid = owner.rpartition("-")
    if host == _HOST[:40] and pid.isdigit():
        return int(pid) != os.getpid() and not _pid_alive(int(pid))
    try:  # another host's writer, or a temp file named before owners were recorded: judge by age
        return time.time() - file.stat().st_mtime > FOREIGN_STALE_SECONDS
    except FileNotFoundError:
        return False


def remove_stale(directory: Path, suffix: str, *, target: str | None = None) -> list[Path]:
    """Delete abandoned temp files in `directory` (only those of `target` when given); return what went."""
    removed: list[Path] = []
    prefix = _target_prefix(target) if target is not None else "."
    try:
        names = os.listdir(directory)
    except OSError as e:
        if e.errno in (errno.ENOENT, errno.ENOTDIR):
            return removed
        raise
    for name in names:
        if name.startswith(prefix) and name.endswith(suffix):
            file = directory / name
            if is_stale(file, suffix):
                file.unlink(missing_ok=True)
                removed.append(file)
    return removed
