"""Spec errors as data: every problem carries file, line, column and key path, and all are reported at once."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from smflow.errors import SmflowError

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


def one_line(text: str) -> str:
    """`text` with line breaks and other control characters escaped (`\\n`, `\\x00`), so a value quoted in a
    message can never split or garble the one line an issue prints as."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape", "backslashreplace").decode("ascii")
                   for ch in text)


@dataclass(frozen=True, order=True)
class SpecIssue:
    """One error in one file. `str()` gives the `file:line:col: key.path: message` line the CLI prints.

    File, key path and message are kept on one printable line, whatever characters the spec's values had.
    """

    file: str
    line: int
    col: int
    key_path: str
    message: str

    def __post_init__(self) -> None:
        for name in ("file", "key_path", "message"):
            object.__setattr__(self, name, one_line(str(getattr(self, name))))

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}: {self.key_path}: {self.message}"

    def _replace_path(self, path: Sequence[str | int]) -> SpecIssue:
        """Same position, another key path (a missing key is reported at its parent's line)."""
        return SpecIssue(self.file, self.line, self.col, format_key_path(path), self.message)


class SpecError(SmflowError, ValueError):
    """Raised once per load with every issue found, sorted by position."""

    def __init__(self, issues: Iterable[SpecIssue], error_paths: Sequence[Path_] = ()):
        self.issues = sorted(set(issues))
        self.error_paths = list(error_paths)  # document paths of schema errors, for a second, repaired pass
        super().__init__("\n".join(str(i) for i in self.issues))
