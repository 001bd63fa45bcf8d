"""Whole-document checks of pipeline parameters: every reference names a declared parameter, stands in a
field that takes one, and the parameter's type and default fit every field it is used in.

The result is each parameter's JSON schema as the DAGs' Airflow `Param`s get it: the declared type, default,
description, enum and bounds, narrowed by the fields it is used in (a parameter used as `instance_count` gets
`minimum: 1`), so the values a run passes are checked by Airflow's Trigger form / conf validation before any
job starts. `used_in` lists the key paths of those fields (shown by `compile --json`).
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, get_args, get_origin

from pydantic import BaseModel

from smflow.spec.errors import Path_, SpecIssue, format_key_path
from smflow.spec.load import SourceMap
from smflow.spec.model import Parameter, PipelineSpec
from smflow.spec.parameter_slots import EXACT_REFERENCE, IDENTIFIER, Slot, referenced_names

# The run params every smflow DAG already has (dags/factory.py RUN_PARAMS); a pipeline parameter must not
# shadow them.
RUN_PARAM_NAMES = ("fresh_jobs", "fresh_tasks")
PARAMETER_FIELDS = (
    "instance_type, instance_count, volume_size_gb, max_runtime_seconds (in defaults or a step), environment "
    "and hyperparameter values, processing/evaluation `arguments` items, condition check thresholds "
    "(lt, le, gt, ge, eq, ne), beat_approved.margin and a register step's approval"
)
_NAME = re.compile(IDENTIFIER)
# Which parameter types can fill which kind of field.
_FITS: dict[str, tuple[str, ...]] = {
    "text": ("string", "integer", "number", "boolean"), "string": ("string",), "integer": ("integer",),
    "number": ("integer", "number"), "choice": ("string",),
}


@dataclass(frozen=True)
class ParameterUse:
    name: str
    path: Path_
    slot: Slot
    exact: bool  # the whole value is the reference (so the field gets the parameter's native value)


def _slot(annotation: Any) -> Slot | None:
    """The Slot marker of a field's type (through Annotated and `| None`), or None."""
    while True:
        if get_origin(annotation) is Annotated:
            for meta in annotation.__metadata__:
                if isinstance(meta, Slot):
                    return meta
            annotation = get_args(annotation)[0]
            continue
        if get_origin(annotation) in (typing.Union, types.UnionType):
            members = [a for a in get_args(annotation) if a is not type(None)]
            if len(members) == 1:
                annotation = members[0]
                continue
        return None


def _element(annotation: Any) -> Any:
    """The value type of a `dict[...]` or `list[...]` field type (through Annotated and `| None`)."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [a for a in get_args(annotation) if a is not type(None)]
            if len(members) != 1:
                return None
            annotation = members[0]
        elif origin is dict:
            return get_args(annotation)[1]
        elif origin is list:
            return get_args(annotation)[0]
        else:
            return None


@dataclass(frozen=True)
class _Shape:
    """What a field's type says about parameters: its own Slot, and the shape of a dict's values / a list's
    items. Computed once per model class (typing introspection costs more than the walk itself)."""

    slot: Slot | None
    element: _Shape | None


def _shape(annotation: Any) -> _Shape:
    element = _element(annotation)
    return _Shape(_slot(annotation), _shape(element) if element is not None else None)


@cache
def _fields(model: type[BaseModel]) -> tuple[tuple[str, _Shape], ...]:
    fields = []
    for name, info in model.model_fields.items():
        if model is PipelineSpec and name == "parameters":
            continue
        field_type = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
        fields.append((name, _shape(field_type)))
    return tuple(fields)


def _strings(value: Any, shape: _Shape | None, path: Path_) -> Iterator[tuple[Path_, str, Slot | None]]:
    """Every string of the spec that contains a Jinja expression, with its document path and field Slot."""
    if isinstance(value, BaseModel):
        for name, field_shape in _fields(type(value)):
            yield from _strings(getattr(value, name), field_shape, (*path, name))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, shape.element if shape else None, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, shape.element if shape else None, (*path, index))
    elif isinstance(value, str) and ("{{" in value or "{%" in value):
        yield path, value, shape.slot if shape else None


@cache
def _jinja() -> Any:
    """Jinja as the compiled requests are rendered (compile/render.py): strict undefineds, no autoescape."""
    import jinja2

    return jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)


def _template_problem(text: str, defaults: dict[str, Any]) -> str | None:
    """Why `text` fails to render as Jinja with `params` at their defaults (a syntax error, an unknown filter,
    a name other than `params`, an attribute a value lacks), or None. Checked here, at the string's position,
    because the compiled request is rendered later and a failure there would name no line."""
    import jinja2

    try:
        _jinja().from_string(text).render(params=defaults)
    except jinja2.TemplateError as e:
        return str(e.message or e).rstrip(".")
    except Exception as e:  # e.g. calling a number: Jinja lets the Python error through
        return f"{type(e).__name__}: {e}"
    return None


class _ParameterCheck:
    def __init__(self, spec: PipelineSpec, source: SourceMap):
        self.spec = spec
        self.source = source
        self.issues: list[SpecIssue] = []
        self.uses: dict[str, list[ParameterUse]] = {name: [] for name in spec.parameters}

    def error(self, path: Path_, message: str, *, key: bool = False) -> None:
        self.issues.append(self.source.issue(path, message, prefer_key=key))

    def where(self, name: str, key: str) -> Path_:
        """`parameters.NAME.KEY` when the long form wrote it, else the parameter itself (the short form)."""
        path: Path_ = ("parameters", name, key)
        return path if path in self.source.values else ("parameters", name)

    def check_names(self) -> None:
        for name in self.spec.parameters:
            if not _NAME.fullmatch(name):
                self.error(("parameters", name), f"parameter name '{name}' cannot be written as "
                                                 f"`{{{{ params.{name} }}}}`; use letters, digits and '_', not "
                                                 "starting with a digit", key=True)
            elif name in RUN_PARAM_NAMES:
                self.error(("parameters", name), f"'{name}' is a run option every smflow DAG already has "
                                                 f"({', '.join(RUN_PARAM_NAMES)}); name the parameter otherwise",
                           key=True)

    def collect_uses(self) -> None:
        declared = ", ".join(self.spec.parameters)
        for path, text, slot in _strings(self.spec, None, ()):
            names, subscript = referenced_names(text)
            if subscript:
                self.error(path, "write a parameter as `{{ params.NAME }}`; `params[...]` is not supported here")
            if not names:
                if not subscript:
                    # Compiled requests must render (and pass botocore) at validate time, so the only template
                    # a spec may hold is a parameter; Airflow's other context (`{{ ds }}`) is not known there.
                    self.error(path, "the only template a spec can hold is a pipeline parameter "
                                     "`{{ params.NAME }}` (declared under `parameters:`); write the value itself")
                continue
            if slot is None:
                self.error(path, f"this field cannot take a pipeline parameter; parameters can set "
                                 f"{PARAMETER_FIELDS}")
                continue
            for name in dict.fromkeys(names):
                if name not in self.spec.parameters:
                    self.error(path, f"unknown parameter '{name}'; " + (
                        f"declared parameters: {declared}" if declared else
                        f"declare it at the top level, e.g. `parameters: {{{name}: <default>}}`"))
                    continue
                exact = EXACT_REFERENCE.fullmatch(text) is not None
                self.uses[name].append(ParameterUse(name, path, slot, exact))
            if all(name in self.spec.parameters for name in names):
                problem = _template_problem(text, {n: p.default for n, p in self.spec.parameters.items()})
                if problem:
                    self.error(path, f"this template does not render with the parameters' defaults: {problem}; "
                                     "write a parameter as `{{ params.NAME }}` (text: `{{ params.NAME | string }}`)")

    def check_use(self, parameter: Parameter, use: ParameterUse) -> None:
        slot, field = use.slot, format_key_path(use.path)
        if use.exact or slot.kind != "string":
            if parameter.type not in _FITS[slot.kind]:
                wanted = " or ".join(_FITS[slot.kind])
                article = "an" if parameter.type == "integer" else "a"
                self.error(use.path, f"parameter '{use.name}' is {article} {parameter.type}, but this field needs "
                                     f"{slot.describe()}; use a{'n' if wanted[0] in 'aeiou' else ''} {wanted} "
                                     "parameter")
                return
        if not slot.typed:
            return
        line = self.source.position(use.path)[0]
        problem = slot.problem(parameter.default)
        if problem:
            self.error(self.where(use.name, "default"),
                       f"default {parameter.default!r} of parameter '{use.name}' does not fit {field} (line "
                       f"{line}), which needs {slot.describe()}: {problem}; change the default")
        for value in parameter.enum or []:
            problem = slot.problem(value)
            if problem:
                self.error(self.where(use.name, "enum"),
                           f"enum value {value!r} of parameter '{use.name}' does not fit {field} (line {line}), "
                           f"which needs {slot.describe()}; remove it")

    def schema(self, name: str, parameter: Parameter) -> dict[str, Any]:
        """The Airflow Param schema: the declaration narrowed by the fields the parameter is used in."""
        minimum, maximum, enum = parameter.minimum, parameter.maximum, parameter.enum
        for use in self.uses[name]:
            slot = use.slot
            if slot.minimum is not None and use.exact:
                minimum = slot.minimum if minimum is None else max(minimum, slot.minimum)
            if slot.maximum is not None and use.exact:
                maximum = slot.maximum if maximum is None else min(maximum, slot.maximum)
            if slot.kind == "choice" and enum is None:
                enum = list(slot.choices)
        schema: dict[str, Any] = {"type": parameter.type, "default": parameter.default,
                                  "description": parameter.description}
        if enum is not None:
            schema["enum"] = list(enum)
        for key, bound in (("minimum", minimum), ("maximum", maximum)):
            if bound is not None:
                schema[key] = int(bound) if parameter.type == "integer" and float(bound).is_integer() else bound
        schema["used_in"] = [format_key_path(use.path) for use in self.uses[name]]
        return schema


def check_parameters(spec: PipelineSpec, source: SourceMap) -> tuple[list[SpecIssue], dict[str, dict[str, Any]]]:
    """Positioned problems of the pipeline's parameters and their uses, and each parameter's Param schema."""
    check = _ParameterCheck(spec, source)
    check.check_names()
    check.collect_uses()
    for name, parameter in spec.parameters.items():
        for use in check.uses[name]:
            check.check_use(parameter, use)
    return check.issues, {name: check.schema(name, parameter) for name, parameter in spec.parameters.items()}
