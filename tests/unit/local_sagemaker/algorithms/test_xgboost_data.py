"""Channel data as the SageMaker XGBoost container reads it: content types, CSV label first, libsvm."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from smflow.local_sagemaker.algorithms import xgboost_data as data


@pytest.mark.parametrize(("given", "kind"), [
    (None, "libsvm"), ("text/csv", "csv"), ("csv", "csv"), ("text/csv; label_size=1", "csv"),
    ("Text/CSV;charset=utf-8", "csv"), ("text/libsvm", "libsvm"), ("text/x-libsvm", "libsvm"),
    ("application/x-parquet", "parquet"), ("application/x-recordio-protobuf", "recordio-protobuf"),
])
def test_content_types(given: str | None, kind: str) -> None:
    assert data.content_type(given) == kind


def test_bad_content_types_say_what_is_accepted() -> None:
    with pytest.raises(data.DataError, match=r"^application/json is not an accepted ContentType: csv, libsvm"):
        data.content_type("application/json")
    with pytest.raises(data.DataError, match="label_size must be equal to 1"):
        data.content_type("text/csv;label_size=2")


def test_csv_label_first_every_data_file_in_name_order(tmp_path: Path) -> None:
    (tmp_path / "b.csv").write_text("0,4,5\n")
    (tmp_path / "a.csv").write_text("1,2,3\n2,,7\n")
    (tmp_path / "_SUCCESS").write_text("")
    (tmp_path / ".hidden").write_text("9,9,9\n")
    matrix = data.read_channel(tmp_path, "csv")
    assert matrix is not None and matrix.rows == 3
    assert matrix.labels.tolist() == [1.0, 2.0, 0.0]
    np.testing.assert_array_equal(matrix.features, [[2, 3], [np.nan, 7], [4, 5]])
    assert matrix.weights is None


def test_csv_weights_are_the_second_column(tmp_path: Path) -> None:
    (tmp_path / "train.csv").write_text("1,0.5,2,3\n0,2,4,5\n")
    matrix = data.read_channel(tmp_path, "csv", weights=True)
    assert matrix is not None
    assert matrix.weights is not None and matrix.weights.tolist() == [0.5, 2.0]
    assert matrix.features.tolist() == [[2.0, 3.0], [4.0, 5.0]]


def test_csv_delimiter_is_sniffed(tmp_path: Path) -> None:
    (tmp_path / "train.csv").write_text("1\t2\t3\n0\t4\t5\n")
    matrix = data.read_channel(tmp_path, "csv")
    assert matrix is not None and matrix.features.tolist() == [[2.0, 3.0], [4.0, 5.0]]


def test_a_csv_header_is_the_containers_format_error(tmp_path: Path) -> None:
    (tmp_path / "train.csv").write_text("label,x1,x2\n1,2,3\n")
    with pytest.raises(data.DataError, match="First line 'label,x1,x2...' of file 'train.csv' is not 'CSV' format"):
        data.read_channel(tmp_path, "csv")


def test_ragged_csv_rows_fail(tmp_path: Path) -> None:
    (tmp_path / "train.csv").write_text("1,2,3\n0,4\n")
    with pytest.raises(data.DataError, match=r"different numbers of columns \(2, 3\)"):
        data.read_channel(tmp_path, "csv")


def test_libsvm_with_weights_and_sparse_indexes(tmp_path: Path) -> None:
    (tmp_path / "train.libsvm").write_text("1:2 0:1.5 3:2\n0 1:4\n")
    matrix = data.read_channel(tmp_path, "libsvm")
    assert matrix is not None and matrix.rows == 2
    assert matrix.labels.tolist() == [1.0, 0.0]
    assert matrix.weights is not None and matrix.weights.tolist() == [2.0, 1.0]
    assert matrix.features.toarray().tolist() == [[1.5, 0, 0, 2], [0, 4, 0, 0]]


def test_csv_read_as_libsvm_names_the_fix(tmp_path: Path) -> None:
    (tmp_path / "train.csv").write_text("1,2,3\n")
    with pytest.raises(data.DataError, match="is not 'LIBSVM' format.*content_type: text/csv"):
        data.read_channel(tmp_path, "libsvm")


def test_an_empty_channel_has_no_data(tmp_path: Path) -> None:
    (tmp_path / "empty.csv").write_text("")
    assert data.read_channel(tmp_path, "csv") is None
    with pytest.raises(data.DataError, match="is not a valid path"):
        data.read_channel(tmp_path / "missing", "csv")


def test_recordio_protobuf_channels(tmp_path: Path) -> None:
    from tests.unit.local_sagemaker.algorithms.test_recordio_protobuf import dense

    rows = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32)
    (tmp_path / "part-0.pbr").write_bytes(dense(rows, np.array([0.0, 1.0])))
    matrix = data.read_channel(tmp_path, "recordio-protobuf")
    assert matrix is not None and matrix.features.tolist() == rows.tolist() and matrix.labels.tolist() == [0, 1]
    (tmp_path / "part-1.pbr").write_bytes(dense(rows))
    with pytest.raises(data.DataError, match="part-1.pbr: a record has no `values` label"):
        data.read_channel(tmp_path, "recordio-protobuf")
    (tmp_path / "part-1.pbr").write_bytes(b"1,2,3\n4,5,6\n")
    with pytest.raises(data.DataError, match="bad RecordIO magic number"):
        data.read_channel(tmp_path, "recordio-protobuf")
