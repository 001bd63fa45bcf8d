"""Reading CSV/Parquet for drift: format by content or suffix, headerless predictions, clear file errors."""

from __future__ import annotations

import gzip
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from smflow.drift.errors import DataFileError
from smflow.drift.tables import iter_batches, read_table, read_table_bytes


def test_csv_parquet_and_bytes_read_the_same(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("a,b\n1,x\n2,\n")
    pq.write_table(read_table(tmp_path / "t.csv"), tmp_path / "t.parquet")
    csv, parquet = read_table(tmp_path / "t.csv"), read_table(tmp_path / "t.parquet")
    assert csv.equals(parquet) and csv.column("b").to_pylist() == ["x", None]
    assert read_table_bytes((tmp_path / "t.parquet").read_bytes(), "s3://b/k").equals(csv)
    assert read_table_bytes(gzip.compress(b"a,b\n1,x\n2,\n"), "s3://b/k.csv.gz").equals(csv)
    assert read_table(tmp_path / "t.csv", ["b"]).column_names == ["b"]


def test_headerless_predictions_are_one_prediction_column(tmp_path: Path) -> None:
    (tmp_path / "p.csv").write_text("0.1\n0.7\n")
    table = read_table(tmp_path / "p.csv", header=False)
    assert table.column_names == ["prediction"] and table.column(0).to_pylist() == [0.1, 0.7]


def test_chunks_of_a_csv_keep_one_schema(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("a\n" + "\n".join(str(i) for i in range(10)) + "\n")
    batches = list(iter_batches(tmp_path / "t.csv", 4))
    assert [b.num_rows for b in batches] == [4, 4, 2] and batches[0].schema.field("a").type == pa.float64()
    (tmp_path / "h.csv").write_text("a,b\n")
    only = list(iter_batches(tmp_path / "h.csv", 4))
    assert len(only) == 1 and only[0].num_rows == 0 and only[0].schema.names == ["a", "b"]


@pytest.mark.parametrize(("name", "content", "message"), [
    ("missing.csv", None, "no such file"),
    ("empty.csv", b"", "the file is empty"),
    ("blank.csv", b"\n\n", "no header line"),
    ("ragged.csv", b"a,b\n1,2\n3\n", "not a readable CSV"),
    ("twice.csv", b"a,a\n1,2\n", "appears twice"),
    ("fake.parquet", b"a,b\n1,2\n", "Parquet's magic bytes"),
    ("cut.parquet", b"PAR1garbage", "not a readable Parquet file"),
])
def test_bad_files_are_errors_naming_the_file(tmp_path: Path, name: str, content: bytes | None,
                                              message: str) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DataFileError, match=message) as caught:
        read_table(path)
    assert name in str(caught.value)


def test_a_column_not_in_the_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("a,b\n1,2\n")
    with pytest.raises(DataFileError, match="no column 'z'"):
        read_table(tmp_path / "t.csv", ["z"])


def test_text_after_the_first_block_of_a_numeric_csv_column_is_a_clear_error(tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from smflow.drift import tables

    monkeypatch.setattr(tables, "CSV_BLOCK_BYTES", 64)
    (tmp_path / "t.csv").write_text("a\n" + "\n".join(str(i) for i in range(100)) + "\nhigh\n")
    with pytest.raises(DataFileError, match="does not fit the column types") as caught:
        list(iter_batches(tmp_path / "t.csv", 10))
    assert "t.csv" in str(caught.value)


@pytest.mark.parametrize("data", [b"\xff\xfe,b\n1,2\n", b"a,\xff\n1,2\n"])
def test_a_header_that_is_not_utf8_names_the_file(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes(data)
    for read in (lambda: read_table(path), lambda: list(iter_batches(path)), lambda: read_table_bytes(data, "k.csv")):
        with pytest.raises(DataFileError, match="header is not UTF-8 text"):
            read()
