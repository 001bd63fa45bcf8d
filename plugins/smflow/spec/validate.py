"""pydantic's errors → `file:line:col: key.path: message` lines that say how to fix the problem."""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from smflow.spec.errors import Path_, SpecError, SpecIssue, format_key_path
from smflow.spec.load import LoadedYaml

M = typing.TypeVar("M", bound=BaseModel)


def _unwrap(tp: Any) -> Any:
    while get_origin(tp) is typing.Annotated:
        tp = get_args(tp)[0]
    return tp


def _union_members(tp: Any) -> tuple[Any, ...]:
    origin = get_origin(tp)
    if origin is Union or origin is types.UnionType:
        return tuple(_unwrap(a) for a in get_args(tp))
    return ()


def _descend(tp: Any, part: str | int) -> Any:
    """One step down the type tree along a pydantic error location element."""
    tp = _unwrap(tp)
    members = _union_members(tp)
    if members:
        for member in members:
            if isinstance(member, type) and member.__name__ == part:
                return member
            if isinstance(member, type) and issubclass(member, BaseModel) and "type" in member.model_fields:
                literal = _unwrap(member.model_fields["type"].annotation)
                if get_origin(literal) is Literal and part in get_args(literal):
                    return member
        models = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
        if len(models) == 1:
            return _descend(models[0], part)
        return None
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        field = tp.model_fields.get(str(part))
        return field.annotation if field else None
    origin = get_origin(tp)
    if origin is list:
        return get_args(tp)[0]
    if origin is dict:
        return get_args(tp)[1]
    return None


def _model_at(root: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    tp: Any = root
    for part in loc:
        tp = _descend(tp, part)
        if tp is None:
            return None
    tp = _unwrap(tp)
    members = [m for m in _union_members(tp) if isinstance(m, type) and issubclass(m, BaseModel)]
    if len(members) == 1:
        tp = members[0]
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def data_path(data: Any, loc: tuple[Any, ...], keep_last: bool = True) -> Path_:
    """Drop the union-tag elements pydantic inserts, keeping only keys/indexes that exist in the document.

    `keep_last`: the final element names a missing or unknown key (kept so the message names it)."""
    out: list[str | int] = []
    node = data
    for position, part in enumerate(loc):
        if not isinstance(node, dict | list):
            break  # a scalar: what follows are union-member names pydantic tried, not document keys
        if keep_last and position == len(loc) - 1 and isinstance(node, dict) and part not in node:
            out.append(part)  # a missing or unknown key: keep it so the message names it
        elif isinstance(node, dict) and part in node:
            out.append(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            out.append(part)
            node = node[part]
        else:
            continue  # a union tag or model name, not a document key
    return tuple(out)


def _message(root: type[BaseModel], error: Any) -> tuple[str, bool]:
    """Message for one pydantic error, and whether it is about a key (point at the key, not the value)."""
    kind, loc, given = error["type"], tuple(error["loc"]), error.get("input")
    if kind == "extra_forbidden":
        key = str(loc[-1])
        model = _model_at(root, loc[:-1])
        allowed = sorted(model.model_fields) if model else []
        guess = difflib.get_close_matches(key, allowed, n=1)
        hint = f"did you mean '{guess[0]}'? " if guess else ""
        return f"unknown key '{key}'; {hint}allowed keys: {', '.join(allowed)}", True
    if kind == "missing":
        return f"required key '{loc[-1]}' is missing; add it here", False
    if kind == "union_tag_invalid":
        ctx = error.get("ctx", {})
        return (f"unknown step type '{ctx.get('tag')}'; use one of {ctx.get('expected_tags')}", False)
    if kind == "union_tag_not_found":
        return "this step has no `type`; add `type:` (processing, training, transform, create_model, " \
               "evaluation, condition, register, deploy)", False
    if kind == "string_pattern_mismatch":
        pattern = error.get("ctx", {}).get("pattern", "")
        if "^/opt/ml/processing/" in pattern:
            return f"{short(given)} must be a folder under /opt/ml/processing/", False
        return (f"{short(given)} is not a valid name: start with a letter, then letters, digits, '_' or '-'", False)
    text = error["msg"]
    if text.startswith("Value error, "):
        text = text[len("Value error, "):]
    if given is not None and not isinstance(given, dict | list):
        text = f"{text} (got {short(given)})"
    return text, False


def validate_model(loaded: LoadedYaml, model: type[M]) -> M:
    """Validate the loaded document against `model`, raising `SpecError` with every positioned issue."""
    if not isinstance(loaded.data, dict):
        raise SpecError([loaded.source.issue((), f"the document must be a mapping of keys, not a "
                                                 f"{type(loaded.data).__name__}")])
    try:
        return model.model_validate(loaded.data)
    except ValidationError as exc:
        issues: list[SpecIssue] = []
        scalar_choices: dict[Path_, list[str]] = {}
        error_paths: list[Path_] = []
        for error in exc.errors(include_url=False):
            loc = tuple(error["loc"])
            path = data_path(loaded.data, loc, keep_last=error["type"] in {"missing", "extra_forbidden"})
            error_paths.append(path)
            msg = error["msg"]
            if msg.startswith("Input should be a valid ") and error["type"] != "missing":
                # A union of scalar types fails once per member; say it once, listing what would do.
                scalar_choices.setdefault(path, []).append(msg.removeprefix("Input should be a valid "))
                continue
            message, about_key = _message(model, error)
            if error["type"] == "union_tag_invalid" and isinstance(_at(loaded.data, path), dict):
                path = (*path, "type")
            if error["type"] == "missing":
                issues.append(loaded.source.issue(path[:-1], message, prefer_key=True)._replace_path(path))
            else:
                issues.append(loaded.source.issue(path, message, prefer_key=about_key))
        deeper = {issue.key_path for issue in issues}
        for path, kinds in scalar_choices.items():
            prefix = format_key_path(path)
            if any(k.startswith(prefix + ".") or k.startswith(prefix + "[") for k in deeper):
                continue  # the mapping form was meant and its own errors say what is wrong
            given = _at(loaded.data, path)
            unique = list(dict.fromkeys(kinds))
            text = (f"Input should be a valid {unique[0]} (got {short(given)})" if len(unique) == 1 else
                    f"expected a {' or '.join(unique)}, got {type(given).__name__} {short(given)}")
            issues.append(loaded.source.issue(path, text))
        raise SpecError(issues, error_paths) from None


def short(value: Any, limit: int = 80) -> str:
    """repr for messages, cut so one error stays one readable line."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _at(data: Any, path: Path_) -> Any:
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data
