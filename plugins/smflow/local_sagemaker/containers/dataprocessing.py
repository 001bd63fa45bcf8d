"""Batch transform `DataProcessing`: filter inputs, join them to predictions, filter outputs.

SageMaker applies these per record, for CSV and JSON only, with a JSONPath subset (contracts reference §3):
`$`, `.name`, `*`, `['a','b']`, `[i,j]` (negative indexes allowed) and `[start:end]`. A CSV row is an array,
so CSV filters are positional. A CSV join appends the output columns to the input row; a JSON join adds a
`SageMakerOutput` key, wrapping non-object records as `{"SageMakerInput", "SageMakerOutput"}`.

Paths apply segment by segment to the current value (no JSONPath node-set fan-out): that covers every
form the SageMaker documentation shows and keeps the semantics easy to state.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from smflow.errors import SmflowError

CSV_FORMAT = "csv"
JSON_FORMAT = "json"
_FORMATS = {"text/csv": CSV_FORMAT, "application/json": JSON_FORMAT, "application/jsonlines": JSON_FORMAT}
JSONPATH_HELP = "supported: $, $.name, $.*, $['a','b'], $[i], $[i,j] (negative allowed), $[start:end]"


class DataProcessingError(SmflowError, ValueError):
    """A filter that cannot be parsed, or a record it cannot be applied to."""


def record_format(content_type: str | None, field: str) -> str:
    """`csv` or `json` for a content type; DataProcessing supports nothing else."""
    kind = (content_type or "").split(";", 1)[0].strip().lower()
    if kind not in _FORMATS:
        raise DataProcessingError(
            f"{field}={content_type!r}: DataProcessing (filters and joins) works on CSV and JSON only; "
            f"set {field} to text/csv or application/json (or application/jsonlines)"
        )
    return _FORMATS[kind]


# ---- JSONPath subset ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Key:
    name: str


@dataclass(frozen=True)
class _Keys:
    names: tuple[str, ...]


@dataclass(frozen=True)
class _Index:
    index: int


@dataclass(frozen=True)
class _Indexes:
    indexes: tuple[int, ...]


@dataclass(frozen=True)
class _Slice:
    start: int | None
    end: int | None


@dataclass(frozen=True)
class _Wildcard:
    pass


_Segment = _Key | _Keys | _Index | _Indexes | _Slice | _Wildcard
_NAME = re.compile(r"[A-Za-z_][\w\-]*")
_INT = r"\s*-?\d+\s*"
_QUOTED = re.compile(r"""\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")\s*""")


@dataclass(frozen=True)
class JsonPath:
    """A parsed filter; `apply` raises `DataProcessingError` naming the filter when a record does not fit."""

    text: str
    field: str
    segments: tuple[_Segment, ...]

    @property
    def is_identity(self) -> bool:
        return not self.segments

    def apply(self, value: Any) -> Any:
        for segment in self.segments:
            value = self._step(segment, value)
        return value

    def _step(self, segment: _Segment, value: Any) -> Any:
        if isinstance(segment, _Wildcard):
            if isinstance(value, Mapping):
                return list(value.values())
            return list(self._sequence(value, "*"))
        if isinstance(segment, _Key | _Keys):
            names = (segment.name,) if isinstance(segment, _Key) else segment.names
            if not isinstance(value, Mapping):
                raise self._error(
                    f"selects key {names[0]!r} but the record is {_kind(value)}"
                    + ("; CSV rows are positional, use $[i]" if isinstance(value, list) else "")
                )
            missing = [n for n in names if n not in value]
            if missing:
                raise self._error(f"key {missing[0]!r} is not in the record (keys: {', '.join(map(str, value))})")
            return value[names[0]] if isinstance(segment, _Key) else {n: value[n] for n in names}
        items = self._sequence(value, "an index")
        if isinstance(segment, _Slice):
            return list(items[segment.start:segment.end])
        indexes = (segment.index,) if isinstance(segment, _Index) else segment.indexes
        for i in indexes:
            if not -len(items) <= i < len(items):
                raise self._error(f"index {i} is out of range for a record of {len(items)} fields")
        return items[indexes[0]] if isinstance(segment, _Index) else [items[i] for i in indexes]

    def _sequence(self, value: Any, what: str) -> Sequence[Any]:
        if isinstance(value, list | tuple):
            return value
        raise self._error(f"uses {what} but the record is {_kind(value)}")

    def _error(self, message: str) -> DataProcessingError:
        return DataProcessingError(f"{self.field} {self.text!r} {message}")


def _kind(value: Any) -> str:
    if isinstance(value, Mapping):
        return "a JSON object"
    if isinstance(value, list | tuple):
        return "an array"
    return f"a scalar ({json.dumps(value)[:40]})"


def parse_jsonpath(text: str | None, field: str) -> JsonPath:
    """Parse one of the subset's paths; errors name the field, the position and the supported forms."""
    source = "$" if text is None else text.strip()
    if not source.startswith("$"):
        raise DataProcessingError(f"{field} {text!r} must start with '$' ({JSONPATH_HELP})")
    segments: list[_Segment] = []
    pos = 1
    while pos < len(source):
        segment, pos = _parse_segment(source, pos, field)
        segments.append(segment)
    return JsonPath(text=source, field=field, segments=tuple(segments))


def _parse_segment(source: str, pos: int, field: str) -> tuple[_Segment, int]:
    def fail(why: str) -> DataProcessingError:
        return DataProcessingError(f"{field} {source!r}: {why} at character {pos + 1} ({JSONPATH_HELP})")

    if source[pos] == ".":
        if source.startswith(".*", pos):
            return _Wildcard(), pos + 2
        match = _NAME.match(source, pos + 1)
        if match is None:
            raise fail("expected a key name after '.'")
        return _Key(match.group()), match.end()
    if source[pos] != "[":
        raise fail(f"unexpected {source[pos]!r}")
    end = source.find("]", pos)
    if end < 0:
        raise fail("'[' is never closed")
    inner = source[pos + 1:end]
    after = end + 1
    if inner.strip() == "*":
        return _Wildcard(), after
    if re.fullmatch(rf"(?:{_INT})?:(?:{_INT})?", inner):
        start_text, end_text = inner.split(":")
        return _Slice(int(start_text) if start_text.strip() else None,
                      int(end_text) if end_text.strip() else None), after
    if re.fullmatch(rf"{_INT}(?:,{_INT})*", inner):
        indexes = tuple(int(part) for part in inner.split(","))
        return (_Index(indexes[0]) if len(indexes) == 1 else _Indexes(indexes)), after
    names = _quoted_names(inner)
    if names is None:
        raise fail(f"cannot read [{inner}]")
    return (_Key(names[0]) if len(names) == 1 else _Keys(names)), after


def _quoted_names(inner: str) -> tuple[str, ...] | None:
    names: list[str] = []
    pos = 0
    while True:
        match = _QUOTED.match(inner, pos)
        if match is None:
            return None
        names.append(match.group(1) if match.group(1) is not None else match.group(2))
        pos = match.end()
        if pos == len(inner):
            return tuple(names)
        if inner[pos] != ",":
            return None
        pos += 1


# ---- records ------------------------------------------------------------------------------------


def parse_record(record: bytes | str, fmt: str) -> Any:
    text = record.decode("utf-8") if isinstance(record, bytes) else record
    text = text.rstrip("\r\n")
    if fmt == CSV_FORMAT:
        return next(csv.reader([text]), [])
    return json.loads(text)


def serialize_record(value: Any, fmt: str) -> str:
    if fmt == JSON_FORMAT:
        return json.dumps(value)
    if isinstance(value, Mapping):
        raise DataProcessingError("a JSON object cannot be written as a CSV row; filter it to an array first")
    row = value if isinstance(value, list | tuple) else [value]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(row)
    return buffer.getvalue()


def join_record(source: Any, output: Any, fmt: str) -> Any:
    """JoinSource=Input: append CSV columns, or add `SageMakerOutput` to a JSON record."""
    if fmt == CSV_FORMAT:
        head = list(source) if isinstance(source, list | tuple) else [source]
        return head + (list(output) if isinstance(output, list | tuple) else [output])
    if isinstance(source, Mapping):
        return {**source, "SageMakerOutput": output}
    return {"SageMakerInput": source, "SageMakerOutput": output}


def split_response(body: bytes, fmt: str, count: int, multi_record: bool) -> list[Any]:
    """One parsed output per input record of the request, or a clear error when the counts disagree.

    A single-record response is one output whatever its shape. A multi-record JSON response may be an
    array with one element per record, or JSON Lines; CSV responses must have one line per record.
    """
    text = body.decode("utf-8")
    lines = [line for line in text.splitlines() if line.strip()]
    if fmt == CSV_FORMAT:
        if len(lines) != count:
            raise DataProcessingError(
                f"the model returned {len(lines)} CSV line(s) for {count} record(s); joins and output filters "
                "need exactly one output line per input record"
            )
        return [parse_record(line, CSV_FORMAT) for line in lines]
    if not multi_record:
        return [json.loads(text)]
    try:
        whole = json.loads(text)
    except json.JSONDecodeError:
        whole = None
    if isinstance(whole, list) and len(whole) == count:
        return whole
    if len(lines) == count:
        try:
            return [json.loads(line) for line in lines]
        except json.JSONDecodeError:
            pass
    raise DataProcessingError(
        f"the model's JSON response does not hold one output per record ({count} record(s) sent); return an "
        "array with one element per record or JSON Lines, or use BatchStrategy SingleRecord"
    )


@dataclass(frozen=True)
class DataProcessing:
    """A request's `DataProcessing` block, parsed once per job."""

    input_filter: JsonPath
    output_filter: JsonPath
    join_input: bool

    @classmethod
    def from_request(cls, block: Mapping[str, Any] | None) -> DataProcessing:
        block = block or {}
        join = block.get("JoinSource", "None")
        if join not in ("None", "Input"):
            raise DataProcessingError(f"DataProcessing.JoinSource={join!r}: must be 'None' or 'Input'")
        return cls(
            input_filter=parse_jsonpath(block.get("InputFilter"), "DataProcessing.InputFilter"),
            output_filter=parse_jsonpath(block.get("OutputFilter"), "DataProcessing.OutputFilter"),
            join_input=join == "Input",
        )

    @property
    def is_identity(self) -> bool:
        return self.input_filter.is_identity and self.output_filter.is_identity and not self.join_input

    @property
    def per_record_output(self) -> bool:
        """Responses must be split back into records (to join or to filter them)."""
        return self.join_input or not self.output_filter.is_identity
