"""Spec errors as data: every problem carries file, line, column and key path, and all are reported at once."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

Path_ = tuple[str | int, ...]


def format_key_path(path: Sequence[str | int]) -> str:
    """`('models', 'm', 'steps', 0, 'x')` → `models.m.steps[0].x` (what a user can search for in the file)."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "<root>"


@dataclass(frozen=True, order=True)
class SpecIssue:
    """One error in one file. `str()` gives the `file:line:col: key.path: message` line the CLI prints."""

    file: str
    line: int
    col: int
    key_path: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}: {self.key_path}: {self.message}"

    def _replace_path(self, path: Sequence[str | int]) -> SpecIssue:
        """Same position, another key path (a missing key is reported at its parent's line)."""
        return SpecIssue(self.file, self.line, self.col, format_key_path(path), self.message)


class SpecError(ValueError):
    """Raised once per load with every issue found, sorted by position."""

    def __init__(self, issues: Iterable[SpecIssue], error_paths: Sequence[Path_] = ()):
        self.issues = sorted(set(issues))
        self.error_paths = list(error_paths)  # document paths of schema errors, for a second, repaired pass
        super().__init__("\n".join(str(i) for i in self.issues))
