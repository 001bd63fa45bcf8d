"""RecordIO-protobuf as the SageMaker Python SDK writes it (`write_numpy_to_dense_tensor`,
`write_spmatrix_to_sparse_tensor`), built here with the protobuf library from the SDK's record.proto."""

from __future__ import annotations

import io
import struct
from typing import Any

import numpy as np
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from smflow.local_sagemaker.algorithms.recordio_protobuf import RecordIOError, features_and_labels, read_records

F = descriptor_pb2.FieldDescriptorProto


def _record_class() -> Any:
    """aialgs.data.Record from the SDK's record.proto (proto2, packed tensors)."""
    file = descriptor_pb2.FileDescriptorProto(name="smflow_test_record.proto", package="aialgs.data",
                                              syntax="proto2")
    for name, kind in (("Float32Tensor", F.TYPE_FLOAT), ("Float64Tensor", F.TYPE_DOUBLE),
                       ("Int32Tensor", F.TYPE_INT32)):
        message = file.message_type.add(name=name)
        for number, field, field_type in ((1, "values", kind), (2, "keys", F.TYPE_UINT64),
                                          (3, "shape", F.TYPE_UINT64)):
            added = message.field.add(name=field, number=number, type=field_type, label=F.LABEL_REPEATED)
            added.options.packed = True
    value = file.message_type.add(name="Value")
    value.oneof_decl.add(name="value")
    for name, number in (("float32_tensor", 2), ("float64_tensor", 3), ("int32_tensor", 7)):
        type_name = ".aialgs.data." + "".join(part.capitalize() for part in name.split("_")).replace("tensor", "Tensor")
        value.field.add(name=name, number=number, type=F.TYPE_MESSAGE, label=F.LABEL_OPTIONAL,
                        type_name=type_name, oneof_index=0)
    record = file.message_type.add(name="Record")
    for name, number in (("features", 1), ("label", 2)):
        entry = record.nested_type.add(name=name.capitalize() + "Entry")
        entry.options.map_entry = True
        entry.field.add(name="key", number=1, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
        entry.field.add(name="value", number=2, type=F.TYPE_MESSAGE, label=F.LABEL_OPTIONAL,
                        type_name=".aialgs.data.Value")
        record.field.add(name=name, number=number, type=F.TYPE_MESSAGE, label=F.LABEL_REPEATED,
                         type_name=f".aialgs.data.Record.{name.capitalize()}Entry")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("aialgs.data.Record"))


Record = _record_class()


def _write_recordio(stream: io.BytesIO, data: bytes) -> None:
    """The SDK's framing: magic, length, payload, zero padding to 4 bytes."""
    stream.write(struct.pack("I", 0xCED7230A))
    stream.write(struct.pack("I", len(data)))
    stream.write(data)
    stream.write(b"\x00" * ((((len(data) + 3) >> 2) << 2) - len(data)))


def dense(rows: np.ndarray, labels: np.ndarray | None = None) -> bytes:
    stream = io.BytesIO()
    for i, row in enumerate(rows):
        record = Record()
        record.features["values"].float32_tensor.values.extend(row.tolist())
        if labels is not None:
            record.label["values"].float32_tensor.values.extend([float(labels[i])])
        _write_recordio(stream, record.SerializeToString())
    return stream.getvalue()


def test_dense_float32_records_with_labels() -> None:
    rows = np.array([[1.5, -2.0, 3.25], [0.0, 4.0, 0.5]], dtype=np.float32)
    features, labels = features_and_labels(dense(rows, np.array([1.0, 0.0])))
    np.testing.assert_array_equal(features, rows)
    assert labels is not None and labels.tolist() == [1.0, 0.0]


def test_sparse_records_use_their_shape() -> None:
    stream = io.BytesIO()
    for keys, values in (([0, 3], [1.0, 2.0]), ([2], [5.0])):
        record = Record()
        tensor = record.features["values"].float32_tensor
        tensor.values.extend(values)
        tensor.keys.extend(keys)
        tensor.shape.extend([4])
        _write_recordio(stream, record.SerializeToString())
    features, labels = features_and_labels(stream.getvalue())
    assert features.tolist() == [[1.0, 0.0, 0.0, 2.0], [0.0, 0.0, 5.0, 0.0]]
    assert labels is None


def test_float64_and_int32_tensors() -> None:
    stream = io.BytesIO()
    record = Record()
    record.features["values"].float64_tensor.values.extend([0.1, 0.2])
    _write_recordio(stream, record.SerializeToString())
    record = Record()
    record.features["values"].int32_tensor.values.extend([-3, 7])
    _write_recordio(stream, record.SerializeToString())
    features, _ = features_and_labels(stream.getvalue())
    assert features.tolist() == [[0.1, 0.2], [-3.0, 7.0]]
    assert len(read_records(stream.getvalue())) == 2


def test_not_recordio() -> None:
    with pytest.raises(RecordIOError, match="bad RecordIO magic number"):
        read_records(b"1,2,3\n4,5,6\n")
    with pytest.raises(RecordIOError, match="truncated RecordIO record"):
        read_records(dense(np.ones((1, 3), dtype=np.float32))[:-6])
