"""Spec mutations for fuzzing `smflow validate`: the kinds of damage a hand-edited YAML file suffers.

Each mutation takes the text of a valid spec and a `random.Random` and returns a broken variant. The fuzz test
(test_fuzz_validate.py) draws the `Random` from hypothesis; a longer campaign can feed it plain seeds.
"""

from __future__ import annotations

import json
import random
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from smflow.spec.errors import SpecError

REPO = Path(__file__).resolve().parents[3]
DEMO = REPO / "include" / "pipelines" / "diabetes"
SEED = REPO / "tests" / "fixtures" / "seed"

# Characters that break parsers and file systems: C0/C1 controls, NUL, BOM, separators, quotes, YAML indicators.
NASTY = ["\x00", "\x01", "\x07", "\x08", "\x0b", "\x0c", "\x1b", "\x7f", "\x85", "\ufeff", "\u2028", "\ud800",
         "\n", "\r", "\t", "\\", "/", "..", "%2F", "%2e%2e", ":", "#", "&a", "*a", "!", "|", ">", "'", '"', "{", "}",
         "[", "]", ",", "?", "-", "@", "`", "~", "$", "${X}", "${", "é", "😀"]
TAGS = ["!!int", "!!bool", "!!float", "!!timestamp", "!!str", "!!null", "!!binary", "!!set", "!!omap", "!!map",
        "!!seq", "!!python/object:os.system", "!custom", "!<tag:yaml.org,2002:int>"]
SCALARS: list[Any] = [None, True, False, 0, -1, 1, 2**63, 1e308, float("nan"), float("inf"), "", " ", "x" * 5000,
                      "a\nb", "a\x00b", "ümlaut", "..", "/", "/etc/passwd", "../../..", "s3://", "s3://..",
                      "s3://a", "s3://bucket/" + "k" * 2000, "ml.m5.large", "2020-01-01", "0x1F", "1_000", "~",
                      [], {}, [1, 2], {"a": 1}, [[[[]]]], {"": None}]


def _walk(data: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(data, dict):
        for k, v in data.items():
            out.extend(_walk(v, (*path, k)))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out.extend(_walk(v, (*path, i)))
    return out


def _parent(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path[:-1]:
        data = data[part]
    return data


def _structural(text: str, rng: random.Random) -> str:
    """Parse, change one node (delete, rename, replace its value), dump again."""
    data = yaml.safe_load(text)
    paths = [p for p in _walk(data) if p]
    if not paths:
        return text
    path = rng.choice(paths)
    parent = _parent(data, path)
    key = path[-1]
    action = rng.choice(["delete", "rename", "replace", "replace", "duplicate"])
    if action == "delete":
        del parent[key]
    elif action == "rename" and isinstance(parent, dict):
        new = rng.choice([str(key) + "x", str(key).upper(), str(key)[:-1], "", "type", "name", "steps",
                          str(key) + rng.choice(NASTY)])
        parent[new] = parent.pop(key)
    elif action == "duplicate" and isinstance(parent, list):
        parent.append(parent[key])
    else:
        value = rng.choice(SCALARS)
        parent[key] = rng.choice(NASTY) * rng.randint(1, 300) if value == "" and rng.random() < 0.5 else value
    return yaml.dump(data, sort_keys=False, allow_unicode=rng.random() < 0.5, width=rng.choice([80, 10_000]))


_VALUE = re.compile(r"(:[ \t]+|-[ \t]+)(?=[^\s#])", re.M)


def _tag(text: str, rng: random.Random) -> str:
    """Put an explicit tag before a value (or a key) written in the text."""
    spots = [m.end() for m in _VALUE.finditer(text)]
    if rng.random() < 0.3:  # on a key instead
        spots = [m.start(1) for m in re.finditer(r"^[ \t]*(?:-[ \t]+)?([A-Za-z_])", text, re.M)] or spots
    if not spots:
        return text
    at = rng.choice(spots)
    return text[:at] + rng.choice(TAGS) + " " + text[at:]


def _chars(text: str, rng: random.Random) -> str:
    """Insert, delete or replace a few characters (control characters and YAML indicators favoured)."""
    chars = list(text)
    for _ in range(rng.randint(1, 4)):
        at = rng.randrange(len(chars) + 1)
        kind = rng.random()
        piece = rng.choice(NASTY) if rng.random() < 0.7 else chr(rng.randint(0, 0x10FFFF))
        if kind < 0.4:
            chars.insert(at, piece)
        elif kind < 0.7 and chars:
            del chars[min(at, len(chars) - 1)]
        elif chars:
            chars[min(at, len(chars) - 1)] = piece
    return "".join(chars)


def _huge(text: str, rng: random.Random) -> str:
    """Make one written value very long (file names, URIs, names)."""
    spots = [m.end() for m in _VALUE.finditer(text)]
    if not spots:
        return text
    at = rng.choice(spots)
    return text[:at] + rng.choice(["a", "x/", "../", "ab_", "1"]) * rng.choice([64, 256, 300, 5000]) + text[at:]


def _lines(text: str, rng: random.Random) -> str:
    """Drop, duplicate or re-indent a line."""
    lines = text.splitlines(keepends=True)
    if not lines:
        return text
    at = rng.randrange(len(lines))
    action = rng.random()
    if action < 0.4:
        del lines[at]
    elif action < 0.7:
        lines.insert(at, lines[at])
    else:
        lines[at] = " " * rng.randint(0, 6) + lines[at].lstrip(" ")
    return "".join(lines)


MUTATIONS: list[Callable[[str, random.Random], str]] = [_structural, _structural, _tag, _chars, _huge, _lines]


def mutate(text: str, rng: random.Random) -> str:
    """One to three mutations of `text`."""
    for _ in range(rng.randint(1, 3)):
        try:
            text = rng.choice(MUTATIONS)(text, rng)
        except Exception:  # noqa: BLE001 - PyYAML raises many kinds on tagged or damaged text
            text = _chars(text, rng)  # PyYAML cannot load it any more: keep damaging it character by character
    return text


def workspaces(tmp: Path) -> dict[str, tuple[Path, list[Path]]]:
    """Copies of the demo pipeline and the seed fixtures: name → (folder to run in, files to mutate)."""
    demo = tmp / "demo"
    shutil.copytree(DEMO, demo, ignore=shutil.ignore_patterns("__pycache__"))
    out = {"demo": (demo, [demo / "pipeline.yaml"])}
    for name in ("lgbm", "tf", "multi"):
        shutil.copytree(SEED / name, tmp / name, ignore=shutil.ignore_patterns("__pycache__"))
        out[name] = (tmp / name, sorted((tmp / name).rglob("conf/conf.yaml")))
    return out


def validate_files(folder: Path, files: list[Path], seed: bool) -> SpecError | None:
    """What `smflow validate` and `compile --json` do with these files (load, resolve, compile, serialise);
    None when they are valid."""
    from smflow.cli import _load
    from smflow.compile.graph import compile_pipeline

    try:
        compiled = compile_pipeline(_load(str(files[0]), files, seed))
    except SpecError as e:
        return e
    json.dumps(compiled.as_json())
    return None


def unpositioned(error: SpecError) -> list[str]:
    """Issues that do not name a file, a line ≥ 1 and a column ≥ 1 (and a message on one line)."""
    return [repr(i) for i in error.issues
            if not i.file or i.line < 1 or i.col < 1 or not i.message or "\n" in str(i) or "Traceback" in i.message]
