"""Where a pipeline parameter may stand in a spec: the `{{ params.NAME }}` syntax and the field markers.

A parameter is referenced with the Jinja Airflow itself uses for DAG params (Airflow docs, "Params":
`{{ params.my_param }}`), so the compiled request carries it unchanged and the operator renders it per run.
A `Slot` in a field's annotation says the field takes a reference and what the referenced value must be;
the whole-document checks (parameters.py) read it to check a parameter's type and default against every
field it is used in. Fields typed as numbers or a fixed set of words validate here: either a value of that
type, or exactly one reference (so a run's value arrives as a native number, as `InstanceCount` needs).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import Field, GetCoreSchemaHandler, TypeAdapter, ValidationError
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*"
# A value that is exactly one reference: rendered to the run's native value (an int stays an int).
EXACT_REFERENCE = re.compile(r"\{\{\s*params\.(" + IDENTIFIER + r")\s*\}\}")
# A reference as compiled requests carry it in text: exact (native), or `| string` (the value as text).
REFERENCE = re.compile(r"\{\{\s*params\.(" + IDENTIFIER + r")\s*(\|\s*string\s*)?\}\}")
# Any Jinja expression or statement block, to find every parameter a string mentions (also inside filters).
EXPRESSION = re.compile(r"\{[{%](.*?)[%}]\}", re.DOTALL)
NAME_IN_EXPRESSION = re.compile(r"\bparams\s*\.\s*(" + IDENTIFIER + r")")
SUBSCRIPT_IN_EXPRESSION = re.compile(r"\bparams\s*\[")

SlotKind = Literal["text", "string", "integer", "number", "choice"]


def referenced_names(text: str) -> tuple[list[str], bool]:
    """Parameter names a string mentions inside `{{ … }}`, and whether it uses `params[…]` (unsupported)."""
    names: list[str] = []
    subscript = False
    for block in EXPRESSION.findall(text):
        names.extend(NAME_IN_EXPRESSION.findall(block))
        subscript = subscript or bool(SUBSCRIPT_IN_EXPRESSION.search(block))
    return names, subscript


@dataclass(frozen=True)
class Slot:
    """A field that takes a parameter reference, and what a value there must be.

    `text`: any parameter, rendered into the string (hyperparameters, environment, arguments);
    `string`: a string parameter, also inside a longer string (instance_type);
    `integer` / `number` (with bounds) and `choice` (one of `choices`): a value of that type or exactly one
    reference, validated here at load time.
    """

    kind: SlotKind
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()

    @property
    def typed(self) -> bool:
        return self.kind in ("integer", "number", "choice")

    def describe(self) -> str:
        """What the field needs, for messages: `an integer ≥ 1 and ≤ 16384`, `one of Approved, …`."""
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        if self.kind in ("text", "string"):
            return "text" if self.kind == "text" else "a string"
        bounds = [f"≥ {_number(self.minimum)}" if self.minimum is not None else "",
                  f"≤ {_number(self.maximum)}" if self.maximum is not None else ""]
        return " ".join([("an integer" if self.kind == "integer" else "a number"),
                         " and ".join(b for b in bounds if b)]).strip()

    def value_type(self) -> Any:
        """The pydantic type of a literal value in this field (no reference)."""
        if self.kind == "integer":
            return Annotated[int, Field(ge=self.minimum, le=self.maximum)]
        if self.kind == "number":
            return Annotated[float, Field(ge=self.minimum, le=self.maximum, allow_inf_nan=False)]
        if self.kind == "choice":
            return Literal[self.choices]  # Literal[("a", "b")] is Literal["a", "b"]
        return str

    @cached_property
    def adapter(self) -> TypeAdapter[Any]:
        return TypeAdapter(self.value_type())

    def problem(self, value: Any) -> str | None:
        """Why `value` cannot stand in this field (pydantic's message), or None."""
        try:
            self.adapter.validate_python(value)
        except ValidationError as e:
            return str(e.errors(include_url=False)[0]["msg"])
        return None

    def validate(self, value: Any) -> Any:
        if isinstance(value, str) and "{{" in value:
            if EXACT_REFERENCE.fullmatch(value):
                return value
            raise PydanticCustomError(
                "parameter_reference",
                "this field takes {what} or exactly one parameter reference \"{{ params.NAME }}\", not text "
                "around one", {"what": self.describe()})
        try:
            return self.adapter.validate_python(value)
        except ValidationError as e:
            first = e.errors(include_url=False)[0]
            # The same error type and message as the plain field had, so messages read as before.
            raise PydanticCustomError(first["type"], str(first["msg"])) from None

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        if not self.typed:
            return handler(source)  # a marker only: the field's own type validates
        either = core_schema.union_schema([handler.generate_schema(self.value_type()),
                                           core_schema.str_schema(pattern=f"^{EXACT_REFERENCE.pattern}$")])
        return core_schema.no_info_plain_validator_function(self.validate, json_schema_input_schema=either)


def _number(value: float | None) -> str:
    return f"{value:g}" if value is not None else ""


TEXT = Slot("text")
