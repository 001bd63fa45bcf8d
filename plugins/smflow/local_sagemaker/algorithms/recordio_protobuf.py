"""`application/x-recordio-protobuf`, the built-in algorithms' binary data format, read without protobuf.

The format (SageMaker developer guide, "Common data formats for training"; the SageMaker Python SDK's
`amazon/record.proto` and `amazon/common.py`): a stream of RecordIO frames — the magic number 0xced7230a, a
little-endian uint32 length, the payload, zero padding to 4 bytes — each payload one protobuf `Record`
whose `features` (field 1) and `label` (field 2) map names to a `Value` holding a `Float32Tensor` (2),
`Float64Tensor` (3) or `Int32Tensor` (7) of `values` (1), optional sparse `keys` (2) and `shape` (3).
Vectors are under the name `values`, as the SDK's `write_numpy_to_dense_tensor` /
`write_spmatrix_to_sparse_tensor` write them.

Only the protobuf wire format is decoded here (varints, fixed-width and length-delimited fields), so neither
`protobuf` nor the SDK is needed in a job's environment.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np

from smflow.errors import SmflowError

MAGIC = 0xCED7230A
_LENGTH_MASK = (1 << 29) - 1  # the top 3 bits flag multi-part records
_DTYPES = {2: "<f4", 3: "<f8", 7: "<i4"}  # Value oneof field → element type of its tensor's `values`


class RecordIOError(SmflowError, ValueError):
    """The bytes are not RecordIO-wrapped protobuf Records."""


@dataclass
class Tensor:
    values: np.ndarray
    keys: list[int] = field(default_factory=list)
    shape: list[int] = field(default_factory=list)

    def dense(self, width: int | None = None) -> np.ndarray:
        """The tensor as a flat float vector (sparse keys placed into `width` or `shape[0]` columns)."""
        if not self.keys:
            return self.values.astype(np.float64)
        size = width or (self.shape[0] if self.shape else max(self.keys) + 1)
        row = np.zeros(size)
        row[np.asarray(self.keys, dtype=np.int64)] = self.values
        return row


@dataclass
class Record:
    features: dict[str, Tensor] = field(default_factory=dict)
    label: dict[str, Tensor] = field(default_factory=dict)


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise RecordIOError("truncated protobuf varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(data: bytes) -> list[tuple[int, int, bytes | int]]:
    """(field number, wire type, payload) of one protobuf message."""
    out: list[tuple[int, int, bytes | int]] = []
    pos = 0
    while pos < len(data):
        tag, pos = _varint(data, pos)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = _varint(data, pos)
            out.append((number, wire, value))
        elif wire == 1:
            out.append((number, wire, data[pos:pos + 8]))
            pos += 8
        elif wire == 2:
            length, pos = _varint(data, pos)
            out.append((number, wire, data[pos:pos + length]))
            pos += length
        elif wire == 5:
            out.append((number, wire, data[pos:pos + 4]))
            pos += 4
        else:
            raise RecordIOError(f"unsupported protobuf wire type {wire}")
        if pos > len(data):
            raise RecordIOError("truncated protobuf field")
    return out


def _packed_varints(payload: bytes) -> list[int]:
    values, pos = [], 0
    while pos < len(payload):
        value, pos = _varint(payload, pos)
        values.append(value)
    return values


def _tensor(payload: bytes, dtype: str) -> Tensor:
    values: list[bytes] = []
    keys: list[int] = []
    shape: list[int] = []
    for number, wire, value in _fields(payload):
        if number == 1:
            if dtype == "<i4" and wire == 0:  # an unpacked int32
                values.append(struct.pack("<i", int(value) - (1 << 64) if int(value) >= 1 << 63 else int(value)))
            elif dtype == "<i4" and wire == 2:
                values.extend(struct.pack("<i", v - (1 << 64) if v >= 1 << 63 else v)
                              for v in _packed_varints(bytes(value)))  # type: ignore[arg-type]
            else:
                values.append(bytes(value))  # type: ignore[arg-type]
        elif number in (2, 3):
            target = keys if number == 2 else shape
            target.extend(_packed_varints(bytes(value)) if wire == 2 else [int(value)])  # type: ignore[arg-type]
    return Tensor(np.frombuffer(b"".join(values), dtype=dtype), keys, shape)


def _map(payload: bytes) -> tuple[str, Tensor | None]:
    name, tensor = "", None
    for number, _, value in _fields(payload):
        if number == 1:
            name = bytes(value).decode("utf-8")  # type: ignore[arg-type]
        elif number == 2:
            for kind, _, inner in _fields(bytes(value)):  # type: ignore[arg-type]
                if kind in _DTYPES:
                    tensor = _tensor(bytes(inner), _DTYPES[kind])  # type: ignore[arg-type]
    return name, tensor


def parse_record(payload: bytes) -> Record:
    record = Record()
    for number, _, value in _fields(payload):
        if number in (1, 2):
            name, tensor = _map(bytes(value))  # type: ignore[arg-type]
            if tensor is not None:
                (record.features if number == 1 else record.label)[name] = tensor
    return record


def read_records(data: bytes) -> list[Record]:
    """Every Record in a RecordIO stream."""
    records, pos = [], 0
    while pos < len(data):
        if len(data) - pos < 8:
            raise RecordIOError("truncated RecordIO header")
        magic, length = struct.unpack_from("<II", data, pos)
        if magic != MAGIC:
            raise RecordIOError(f"bad RecordIO magic number {magic:#x} at byte {pos} (expected {MAGIC:#x}); is this "
                                "application/x-recordio-protobuf data?")
        length &= _LENGTH_MASK
        start = pos + 8
        if start + length > len(data):
            raise RecordIOError("truncated RecordIO record")
        records.append(parse_record(data[start:start + length]))
        pos = start + ((length + 3) & ~3)
    return records


def features_and_labels(data: bytes) -> tuple[np.ndarray, np.ndarray | None]:
    """The `values` feature vectors as rows (sparse ones densified to the widest shape) and the `values`
    labels, if every record has one."""
    records = read_records(data)
    if not records:
        raise RecordIOError("no records")
    try:
        tensors = [r.features["values"] for r in records]
    except KeyError:
        raise RecordIOError("a record has no `values` feature (the SDK writes vectors under that name)") from None
    width = max(t.shape[0] if t.keys and t.shape else len(t.dense()) for t in tensors)
    rows = np.vstack([t.dense(width) if t.keys else _padded(t.dense(), width) for t in tensors])
    labels = None
    if all("values" in r.label for r in records):
        labels = np.asarray([float(r.label["values"].values[0]) for r in records])
    return rows, labels


def _padded(row: np.ndarray, width: int) -> np.ndarray:
    return row if len(row) == width else np.concatenate([row, np.full(width - len(row), np.nan)])
