"""Local paths named in a spec, checked before the file system sees them.

A spec value becomes a path (source_dir, entry_point, a local input). Some strings no file system accepts:
a NUL byte (`ValueError: embedded null byte` from every os call), a name longer than NAME_MAX or a path longer
than PATH_MAX (`OSError: File name too long`). Those are reported as what they are, and every probe of a path
catches the remaining OS errors (permissions, loops), so a spec can only ever produce a positioned message.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

# Linux limits (<linux/limits.h>: NAME_MAX 255 bytes per name, PATH_MAX 4096 bytes per path).
NAME_MAX = 255
PATH_MAX = 4096

Kind = Literal["file", "dir", "other", "missing"]


def path_problem(value: str) -> str | None:
    """Why `value` can never name a local file, or None."""
    if "\x00" in value:
        return "contains a NUL byte, which no file name can hold; remove it"
    try:
        encoded = os.fsencode(value)
    except UnicodeError:
        return "contains characters that cannot be a file name here (invalid Unicode); retype it"
    longest = max((len(part) for part in encoded.split(b"/")), default=0)
    if longest > NAME_MAX:
        return (f"has a file or folder name of {longest} bytes; file systems allow at most {NAME_MAX} per name — "
                "shorten it")
    if len(encoded) > PATH_MAX:
        return f"is {len(encoded)} bytes long; paths can be at most {PATH_MAX} bytes — shorten it"
    return None


def probe(path: Path) -> tuple[Kind, str | None]:
    """What is at `path` (file, dir, other, missing) and, when the OS would not tell, why not."""
    problem = path_problem(str(path))
    if problem:
        return "missing", problem
    try:
        if path.is_dir():
            return "dir", None
        if path.is_file():
            return "file", None
        return ("other", None) if path.exists() else ("missing", None)
    except OSError as e:  # pathlib only hides "not found"-like errors: permissions and loops come through
        return "missing", f"cannot be read: {e.strerror or e}"


def resolved(base: Path, value: str) -> Path:
    """`base / value` with symlinks and `..` resolved (`value` must have passed `path_problem`)."""
    try:
        return (base / value).resolve()
    except (OSError, RuntimeError):  # a symlink loop (RuntimeError before Python 3.13)
        return Path(os.path.abspath(base / value))
