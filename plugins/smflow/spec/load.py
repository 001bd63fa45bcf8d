"""YAML → plain data with a position for every key and value, and `${VAR:-default}` interpolation.

Positions are what make errors useful: pydantic reports a key path, and `SourceMap` turns it into a
line and column. Interpolation happens per scalar *after* parsing, so an environment value can never
break YAML syntax (dag-factory expands the raw text and can).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from smflow.errors import SmflowError
from smflow.spec.errors import Path_, SpecError, SpecIssue, format_key_path

_VAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}")


@dataclass
class SourceMap:
    """Where each key path sits: the value's position and, for mapping entries, the key's.

    Normally every path is in `file`. A document merged from several files (seed-framework confs) names the
    file of each path in `files`, so an issue points into the file the user has to edit.
    """

    file: str
    values: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    files: dict[Path_, str] = field(default_factory=dict)

    def locate(self, path: Path_, *, prefer_key: bool = False) -> tuple[str, int, int]:
        """File, line and column of the closest known position for `path`, walking up to a parent if absent."""
        probe = tuple(path)
        while True:
            if prefer_key and probe in self.keys:
                return (self.files.get(probe, self.file), *self.keys[probe])
            if probe in self.values:
                return (self.files.get(probe, self.file), *self.values[probe])
            if probe in self.keys:
                return (self.files.get(probe, self.file), *self.keys[probe])
            if not probe:
                return (self.files.get(probe, self.file), 1, 1)
            probe = probe[:-1]

    def position(self, path: Path_, *, prefer_key: bool = False) -> tuple[int, int]:
        """Closest known line and column for `path` (see `locate` for the file)."""
        _, line, col = self.locate(path, prefer_key=prefer_key)
        return line, col

    def issue(self, path: Path_, message: str, *, prefer_key: bool = False) -> SpecIssue:
        file, line, col = self.locate(path, prefer_key=prefer_key)
        return SpecIssue(file, line, col, format_key_path(path), message)


@dataclass
class LoadedYaml:
    data: Any
    source: SourceMap


def interpolate(text: str, env: Mapping[str, str], on_missing: list[str]) -> str:
    """`${VAR}`, `${VAR:-default}` (default when unset or empty), `${VAR-default}` (only when unset); `$$` → `$`."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, default = match.group(1), match.group(2), match.group(3)
        value = env.get(name)
        if op == ":-" and not value:
            return default or ""
        if op == "-" and value is None:
            return default or ""
        if value is None:
            on_missing.append(name)
            return match.group(0)
        return value

    return _VAR.sub(replace, text)


def _position(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def line_col(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of character `index` in `text` (lines split at \\n, as YAML marks count)."""
    index = max(0, min(index, len(text)))
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


# ASCII's names of the C0 control characters (ECMA-6 / ISO 646), indexed by code.
_C0_NAMES = ("NUL SOH STX ETX EOT ENQ ACK BEL BS HT LF VT FF CR SO SI DLE DC1 DC2 DC3 DC4 NAK SYN ETB CAN EM SUB "
             "ESC FS GS RS US").split()


def describe_char(char: str | int) -> str:
    """`U+007F (DEL)`-style name of a character, for messages about characters a reader cannot show."""
    import unicodedata

    code = char if isinstance(char, int) else ord(char)
    names = {**dict(enumerate(_C0_NAMES)), 0x7F: "DEL", 0x85: "NEL", 0xFEFF: "BOM"}
    name = names.get(code) or (unicodedata.name(chr(code), "") if code < 0xD800 or code > 0xDFFF else "surrogate")
    return f"U+{code:04X}" + (f" ({name})" if name else "")


def _tag_problem(node: yaml.Node, error: Exception) -> str:
    """Why PyYAML could not construct a scalar (an explicit tag that does not fit its value)."""
    tag = node.tag.removeprefix("tag:yaml.org,2002:")
    shown = f"!!{tag}" if node.tag.startswith("tag:yaml.org,2002:") else node.tag
    value = repr(node.value) if isinstance(node.value, str) else "this value"
    reason = str(error) if isinstance(error, ValueError | OverflowError) and str(error) else "it does not match the tag"
    return (f"the explicit tag {shown} cannot read {value[:80]} ({reason.splitlines()[0][:120]}); remove the tag "
            "(plain YAML values need none) or write a value of that type")


MAX_NODES = 200_000  # far beyond any real spec; stops "billion laughs" alias expansion in its tracks
MAX_DEPTH = 100


class DocumentTooLargeError(SmflowError):
    pass


class _Builder:
    """Turns a composed YAML node tree into Python data, recording positions and collecting issues."""

    def __init__(self, loader: yaml.SafeLoader, source: SourceMap, env: Mapping[str, str]):
        self.loader = loader
        self.source = source
        self.env = env
        self.issues: list[SpecIssue] = []
        self.nodes = 0

    def construct(self, node: yaml.Node, path: Path_) -> tuple[bool, Any]:
        """A scalar's Python value as PyYAML's safe constructor makes it; (False, None) after reporting a value
        its explicit tag (`!!int`, `!!timestamp`, …) cannot read."""
        try:
            return True, self.loader.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError:
            raise  # no constructor for the tag (Python tags, custom tags): reported by the caller
        except Exception as e:  # noqa: BLE001 - PyYAML's constructors raise ValueError, KeyError, AttributeError…
            line, col = _position(node)
            self.issues.append(SpecIssue(self.source.file, line, col, format_key_path(path), _tag_problem(node, e)))
            return False, None

    def build(self, node: yaml.Node, path: Path_) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES or len(path) > MAX_DEPTH:
            what = f"more than {MAX_NODES:,} values (aliases expanded)" if self.nodes > MAX_NODES else \
                f"nesting deeper than {MAX_DEPTH} levels"
            raise DocumentTooLargeError(f"the document has {what}; a pipeline spec is far smaller — check for "
                                        "runaway anchors/aliases")
        self.source.values.setdefault(path, _position(node))
        if isinstance(node, yaml.MappingNode):
            self.loader.flatten_mapping(node)  # resolves `<<:` merge keys as PyYAML's constructor does
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    self.issues.append(self.source.issue(path, "a mapping key must be a plain scalar (a name), not "
                                                               "a list or mapping"))
                    continue
                built, key = self.construct(key_node, path)
                if not built:
                    continue
                if not isinstance(key, str | int | float | bool) or key is None:
                    self.issues.append(self.source.issue(path, f"mapping key {key!r} must be a plain scalar"))
                    continue
                # Keys are names: `yes:` or `1e3:` mean the text written, not YAML 1.1's True or 1000.0.
                key = key if isinstance(key, str) else str(key_node.value)
                child = (*path, key)
                if key in out:
                    first = self.source.keys[child]
                    self.source.keys[child] = _position(key_node)
                    self.issues.append(self.source.issue(
                        child, f"duplicate key '{key}' (first defined at line {first[0]}); remove one of them",
                        prefer_key=True))
                self.source.keys.setdefault(child, _position(key_node))
                out[key] = self.build(value_node, child)
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        _, value = self.construct(node, path)
        if isinstance(value, str) and "$" in value:
            missing: list[str] = []
            value = interpolate(value, self.env, missing)
            for name in missing:
                self.issues.append(self.source.issue(
                    path, f"environment variable ${{{name}}} is not set; export it or give a default: "
                          f"${{{name}:-value}}"))
        return value


# libyaml (PyYAML's C parser) composes ~10× faster than the pure-Python one and keeps every node's line and
# column. It is used for documents it can take safely; any document it rejects is parsed again by the pure-Python
# loader, whose messages and positions the errors have always carried.
_CLoader: type[yaml.SafeLoader] | None = getattr(yaml, "CSafeLoader", None)
# Every nesting level needs one of `[{-:?`; libyaml composes nested nodes by C recursion (no Python recursion
# limit), so a document that *could* nest deeper than this goes to the pure-Python loader.
C_MAX_INDICATORS = 5000


def _c_node(text: str) -> tuple[yaml.SafeLoader, yaml.Node | None] | None:
    """The document composed by libyaml, or None when the pure-Python loader must do it (or report on it)."""
    if _CLoader is None or yaml.reader.Reader.NON_PRINTABLE.search(text):
        return None
    if sum(text.count(c) for c in "[{-:?") > C_MAX_INDICATORS:
        return None
    loader = _CLoader(text)
    try:
        return loader, loader.get_single_node()
    except (yaml.YAMLError, RecursionError, UnicodeError):
        loader.dispose()
        return None


def _python_node(text: str, file: str) -> tuple[yaml.SafeLoader, yaml.Node | None]:
    """The document composed by the pure-Python loader; every failure becomes a positioned `SpecError`."""
    try:
        loader = yaml.SafeLoader(text)
    except yaml.reader.ReaderError as e:
        # PyYAML checks every character before parsing; YAML 1.1 §5.1 allows only printable ones in a stream.
        line, col = line_col(text, e.position)
        raise SpecError([SpecIssue(file, line, col, "<yaml>",
                                   f"control character {describe_char(e.character)} is not allowed in YAML; delete "
                                   "it (inside a double-quoted string write it as an escape like \\x7f)")]) from None
    try:
        return loader, loader.get_single_node()
    except yaml.MarkedYAMLError as e:
        loader.dispose()
        mark = e.problem_mark or e.context_mark
        if e.context_mark is not None and mark is not None and mark.index >= len(text):
            mark = e.context_mark  # "unexpected end of stream": point where the open construct began
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = f"{e.context + '; ' if e.context else ''}{e.problem or 'invalid YAML'}"
        raise SpecError([SpecIssue(file, line, col, "<yaml>",
                                   f"YAML syntax error: {problem}; fix the indentation or quoting here")]) from None
    except yaml.YAMLError as e:
        loader.dispose()
        raise SpecError([SpecIssue(file, 1, 1, "<yaml>", f"YAML error: {e}")]) from None
    except RecursionError:
        loader.dispose()
        raise SpecError([SpecIssue(file, 1, 1, "<yaml>", f"nesting deeper than Python can parse; a pipeline "
                                                          f"spec needs at most {MAX_DEPTH} levels")]) from None


def load_yaml_text(text: str, file: str, env: Mapping[str, str] | None = None) -> LoadedYaml:
    """Parse one YAML document safely (no Python tags); raise `SpecError` with every issue found."""
    source = SourceMap(file)
    loader, node = _c_node(text) or _python_node(text, file)
    try:
        if node is None:
            raise SpecError([SpecIssue(file, 1, 1, "<root>", "the file is empty; a pipeline spec is a mapping")])
        builder = _Builder(loader, source, os.environ if env is None else env)
        try:
            data = builder.build(node, ())
        except DocumentTooLargeError as e:
            line, col = _position(node)
            raise SpecError([SpecIssue(file, line, col, "<yaml>", str(e))]) from None
        except yaml.constructor.ConstructorError as e:
            mark = e.problem_mark
            line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
            raise SpecError([SpecIssue(file, line, col, "<yaml>",
                                       f"{e.problem}; only plain YAML is allowed (no Python tags)")]) from None
        if builder.issues:
            raise SpecError(builder.issues)
        return LoadedYaml(data, source)
    finally:
        loader.dispose()


def read_spec_text(path: Path) -> str:
    """A spec file's text as UTF-8; any problem is one positioned `SpecError` (bad bytes at their place)."""
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise SpecError([SpecIssue(str(path), 1, 1, "<file>", "is a directory, not a YAML file")]) from None
    except FileNotFoundError:
        raise SpecError([SpecIssue(str(path), 1, 1, "<file>", "no such file; check the path")]) from None
    except OSError as e:
        raise SpecError([SpecIssue(str(path), 1, 1, "<file>",
                                   f"cannot read the file: {e.strerror or e}")]) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        good = data[: e.start].decode("utf-8", errors="replace")
        line, col = line_col(good, len(good))
        raise SpecError([SpecIssue(str(path), line, col, "<file>",
                                   f"byte 0x{data[e.start]:02x} is not valid UTF-8 ({e.reason}); save the file as "
                                   "UTF-8")]) from None


def load_yaml_file(path: Path, env: Mapping[str, str] | None = None) -> LoadedYaml:
    return load_yaml_text(read_spec_text(path), str(path), env)
