"""The `smflow` object templates see, and plain-Jinja rendering for use outside Airflow (CLI, tests).

Inside Airflow the operator puts a `RunTemplateContext` into the task context and Airflow's own templating
renders the request; outside it, `render_value` does the same with jinja2, so both paths agree.

Pipeline parameters (`{{ params.NAME }}`) are rendered first, by `render_params`, on both paths: a string
that is exactly one reference becomes the run's native value (an integer stays an integer, so
`InstanceCount` is still one); a reference inside a longer string, or written `{{ params.NAME | string }}`,
becomes its text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jinja2

from smflow.compile import naming
from smflow.spec.parameter_slots import REFERENCE

# Stand-ins rendered where the name and the idempotency token go while the request's fingerprint is
# computed; `RunTemplateContext.finalise` swaps them for the real values (letters and hyphens only, so any
# Jinja filter a template applies keeps them intact).
NAME_PLACEHOLDER = "smflow-job-name-pending-fingerprint"
TOKEN_PLACEHOLDER = "smflow-client-token-pending-fingerprint"


@dataclass
class RunTemplateContext:
    """Per-task values for `{{ smflow.* }}`: this task's job name, the run's folder, upstream outputs.

    `fingerprint` is a digest of the request this try sends; it is part of the job name and the client
    token, so a changed request (a YAML edit, new upstream artifacts, changed code) gets a new job while a
    retry of the same request finds its earlier one. `None` renders placeholders (see `finalise`).
    """

    dag_id: str
    run_id: str
    task_id: str
    attempt: int = 1
    output_lookup: Callable[[str, str], str] | None = None
    fingerprint: str | None = ""

    @property
    def job_name(self) -> str:
        if self.fingerprint is None:
            return NAME_PLACEHOLDER
        return naming.job_name(self.dag_id, self.run_id, self.task_id, self.attempt, self.fingerprint)

    @property
    def run_key(self) -> str:
        return naming.run_key(self.run_id)

    @property
    def client_token(self) -> str:
        if self.fingerprint is None:
            return TOKEN_PLACEHOLDER
        return naming.client_token(self.dag_id, self.run_id, self.task_id, self.fingerprint)

    def finalise(self, value: Any) -> Any:
        """`value` rendered with placeholders → the same with this context's real name and token."""
        assert self.fingerprint is not None
        return replace_strings(value, {NAME_PLACEHOLDER: self.job_name, TOKEN_PLACEHOLDER: self.client_token})

    def output(self, task_id: str, name: str) -> str:
        if self.output_lookup is None:
            raise LookupError(f"no upstream outputs available while rendering {self.task_id}")
        return self.output_lookup(task_id, name)


def map_strings(value: Any, change: Callable[[str], str]) -> Any:
    """`change` applied to every string of a nested structure of dicts and lists (dict keys included)."""
    if isinstance(value, str):
        return change(value)
    if isinstance(value, dict):
        return {map_strings(k, change): map_strings(v, change) for k, v in value.items()}
    if isinstance(value, list):
        return [map_strings(v, change) for v in value]
    return value


def replace_strings(value: Any, mapping: dict[str, str]) -> Any:
    """Substitute substrings in every string of a nested structure (dict keys included)."""

    def replace(text: str) -> str:
        for old, new in mapping.items():
            text = text.replace(old, new)
        return text

    return map_strings(value, replace)


_ENV = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)

# `{{ smflow.job_name }}`-style placeholders: a dotted name and nothing else. Compiled requests are made of
# these, so rendering them needs no Jinja compile (which costs ~0.5 ms a string); anything else is Jinja's.
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*\}\}")
_JINJA_SYNTAX = ("{%", "{#", "%}", "#}", "{{", "}}")
_MISSING = object()


@lru_cache(maxsize=4096)
def _template(source: str) -> jinja2.Template:
    """Compiled templates by source text: the same string is compiled once per process."""
    return _ENV.from_string(source)


@lru_cache(maxsize=8192)
def _placeholder_parts(source: str) -> tuple[str | tuple[str, ...], ...] | None:
    """`source` split into literal text and dotted names when it holds only plain placeholders, else None."""
    if source.endswith("\n"):
        return None  # Jinja drops one trailing newline; leave that to Jinja
    parts: list[str | tuple[str, ...]] = []
    last = 0
    for match in _PLACEHOLDER.finditer(source):
        parts.append(source[last:match.start()])
        parts.append(tuple(match.group(1).split(".")))
        last = match.end()
    parts.append(source[last:])
    if any(isinstance(p, str) and any(mark in p for mark in _JINJA_SYNTAX) for p in parts):
        return None
    return tuple(parts)


def _lookup(variables: dict[str, Any], names: tuple[str, ...]) -> Any:
    """`a.b.c` as Jinja resolves it (attribute, then item), or `_MISSING` to let Jinja raise its error."""
    value = variables.get(names[0], _MISSING)
    for name in names[1:]:
        if value is _MISSING:
            return _MISSING
        try:
            value = getattr(value, name)
        except AttributeError:
            try:
                value = value[name]
            except (TypeError, LookupError):
                return _MISSING
    return value


def render_string(source: str, variables: dict[str, Any]) -> str:
    """One template string rendered with strict undefineds; plain placeholders skip Jinja's compiler."""
    parts = _placeholder_parts(source)
    if parts is not None:
        out = []
        for part in parts:
            if isinstance(part, str):
                out.append(part)
                continue
            value = _lookup(variables, part)
            if value is _MISSING or value is None or not isinstance(value, str | int | float):
                return _template(source).render(**variables)  # undefined, None, objects: Jinja decides
            out.append(str(value))
        return "".join(out)
    return _template(source).render(**variables)


def render_value(value: Any, variables: dict[str, Any]) -> Any:
    """Render every string in a nested structure (dict keys included) with strict undefineds; `params` in
    `variables` are rendered first, as the operator does (`render_params`)."""
    if "params" in variables:
        value = render_params(value, variables["params"])
    return map_strings(value, lambda text: render_string(text, variables) if "{{" in text else text)


def parameter_text(value: Any) -> str:
    """A parameter value inside a string: strings as they are, numbers as JSON writes them, booleans `true` /
    `false` — what the SageMaker SDK sends for a pipeline variable in a hyperparameter (`to_string()`,
    not JSON-quoted) and JSON's spelling, which scripts parse with `json.loads` or `== "true"`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def run_parameter_values(values: Mapping[str, Any], types: Mapping[str, str]) -> dict[str, Any]:
    """A run's parameter values in their declared types: JSON Schema lets `2.0` pass as an integer, but an
    API field such as InstanceCount must then get `2`."""
    out = dict(values)
    for name, kind in types.items():
        value = out.get(name)
        if kind == "integer" and isinstance(value, float) and value.is_integer():
            out[name] = int(value)
    return out


def render_params(value: Any, params: Mapping[str, Any]) -> Any:
    """`{{ params.NAME }}` references in every string value of a nested structure (dict keys are left alone)
    → the run's values: native where the string is exactly one reference, text otherwise. Any other Jinja
    is left for the template engine."""

    def lookup(name: str) -> Any:
        if name not in params:
            known = ", ".join(sorted(params)) or "none"
            raise LookupError(f"parameter '{name}' is not a param of this run (params: {known}); the compiled "
                              "pipeline is out of date, so re-parse the DAG")
        return params[name]

    def render(text: str) -> Any:
        whole = REFERENCE.fullmatch(text)
        if whole and not whole.group(2):
            return lookup(whole.group(1))
        return REFERENCE.sub(lambda match: parameter_text(lookup(match.group(1))), text)

    def walk(item: Any) -> Any:
        if isinstance(item, str):
            return render(item) if "params" in item else item
        if isinstance(item, dict):
            return {key: walk(inner) for key, inner in item.items()}
        if isinstance(item, list):
            return [walk(inner) for inner in item]
        return item

    return walk(value)
