"""Read the tables drift works on — CSV or Parquet, from a path or from bytes — with errors naming the file.

The format comes from the content when it can (a Parquet file starts with `PAR1`), else from the name's
suffix; CSV may be gzip-compressed (`.csv.gz`). Reading is pyarrow's (multi-threaded, no pandas). A CSV
without a header line (a batch transform's predictions) reads with `header=False`: one column is named
`prediction`, several `prediction_0`, `prediction_1`, …

`iter_batches` reads a file in row chunks so a file larger than memory can be sketched chunk by chunk.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from smflow.drift.errors import DataFileError

PARQUET_MAGIC = b"PAR1"
PARQUET_SUFFIXES = (".parquet", ".pq", ".parq")
# Large CSV blocks: column types are inferred from the first block, so a streamed CSV sees many rows first.
CSV_BLOCK_BYTES = 16 << 20
# Rows per chunk: ~110 MB for 100 float64 columns, enough rows for the first chunk's quantile edges.
DEFAULT_CHUNK_ROWS = 1 << 17
PREDICTION = "prediction"

Source = Path | bytes


def read_table(path: str | Path, columns: Sequence[str] | None = None, *, header: bool = True) -> pa.Table:
    """The whole table at `path` (only `columns`, when given: each must exist)."""
    file = _checked_path(path)
    return _read(file, str(file), columns, header)


def read_table_bytes(data: bytes, name: str, columns: Sequence[str] | None = None, *,
                     header: bool = True) -> pa.Table:
    """The table in `data` (an object read from a store); `name` (its key or URI) gives the suffix and the
    errors' wording."""
    if not data:
        raise DataFileError(f"{name}: the object is empty; a CSV needs at least a header line, a Parquet file "
                            "its footer")
    return _read(bytes(data), name, columns, header)


def column_names(path: str | Path, *, header: bool = True) -> list[str]:
    """The columns of the table at `path`, without reading its rows (Parquet) or past the first block (CSV)."""
    file = _checked_path(path)
    if _is_parquet(file, str(file)):
        return list(_parquet_schema(file, str(file)).names)
    reader = _open_csv(file, str(file), None, header)
    with _utf8_header(str(file)):
        return _csv_names(reader.schema.names, header)


def iter_batches(path: str | Path, chunk_rows: int = DEFAULT_CHUNK_ROWS, columns: Sequence[str] | None = None, *,
                 header: bool = True, names: Sequence[str] | None = None,
                 label: str | None = None) -> Iterator[pa.RecordBatch]:
    """The table at `path` in record batches of at most `chunk_rows` rows, read as they are needed.

    A CSV's column types are inferred from its first block (16 MB) and integers widened to float64, so later
    blocks keep one schema; a later value that does not fit (text in a numeric column) is an error naming
    the file. `names` names a header-less CSV's columns (SageMaker's convention; ignored for Parquet, which
    names its own), and `label` is what errors call the file (an object's URI rather than its local copy)."""
    if chunk_rows < 1:
        raise DataFileError(f"chunk_rows must be at least 1, not {chunk_rows}")
    file = _checked_path(path, label)
    name = label or str(file)
    if _is_parquet(file, name):
        _check_columns(list(_parquet_schema(file, name).names), columns, name)
        try:
            yield from _parquet_batches(pq.ParquetFile(file), chunk_rows, columns)
        except (pa.ArrowException, OSError) as e:
            raise DataFileError(f"{name}: not a readable Parquet file ({e})") from None
        return
    yield from _rechunked(_csv_batches(file, name, columns, header, names), chunk_rows)


def _parquet_batches(parquet: pq.ParquetFile, chunk_rows: int,
                     columns: Sequence[str] | None) -> Iterator[pa.RecordBatch]:
    """Row group by row group: `read_row_group` decodes a group's columns in parallel into one allocation
    each, where `iter_batches` took 5x the CPU and 4x the memory on a 1M × 104 file (pyarrow 25). A group much
    larger than `chunk_rows` is streamed in batches instead, so memory stays bounded by the chunk."""
    wanted = list(columns) if columns is not None else None
    if parquet.num_row_groups == 0:
        yield pa.RecordBatch.from_pylist([], schema=_selected(parquet.schema_arrow, wanted))
        return
    for group in range(parquet.num_row_groups):
        if parquet.metadata.row_group(group).num_rows > 2 * chunk_rows:
            yield from parquet.iter_batches(batch_size=chunk_rows, row_groups=[group], columns=wanted)
            continue
        table = parquet.read_row_group(group, columns=wanted)
        yield from table.to_batches(max_chunksize=chunk_rows) or [pa.RecordBatch.from_pylist([], schema=table.schema)]


def _selected(schema: pa.Schema, columns: list[str] | None) -> pa.Schema:
    return schema if columns is None else pa.schema([schema.field(c) for c in columns])


def _checked_path(path: str | Path, label: str | None = None) -> Path:
    file = Path(path)
    shown = label or str(file)
    if not file.exists():
        raise DataFileError(f"{shown}: no such file; give the path of a CSV or Parquet file")
    if file.is_dir():
        raise DataFileError(f"{shown} is a directory; give a CSV or Parquet file inside it")
    try:
        size = file.stat().st_size
        with file.open("rb"):
            pass
    except OSError as e:
        raise DataFileError(f"{shown}: cannot be read ({e.strerror}); check its permissions") from None
    if size == 0:
        raise DataFileError(f"{shown}: the file is empty; a CSV needs at least a header line, a Parquet file "
                            "its footer")
    return file


def _head(source: Source) -> bytes:
    if isinstance(source, bytes):
        return source[:4]
    with source.open("rb") as handle:
        return handle.read(4)


def _is_parquet(source: Source, name: str) -> bool:
    head = _head(source)
    if head == PARQUET_MAGIC:
        return True
    if name.lower().endswith(PARQUET_SUFFIXES):
        raise DataFileError(f"{name}: named like a Parquet file but does not start with Parquet's magic bytes "
                            "(PAR1); write it with a Parquet writer, or name a CSV file .csv")
    return False


def _parquet_input(source: Source) -> Path | pa.BufferReader:
    return pa.BufferReader(source) if isinstance(source, bytes) else source


def _parquet_schema(source: Source, name: str) -> pa.Schema:
    try:
        return pq.read_schema(_parquet_input(source))
    except (pa.ArrowException, OSError) as e:
        raise DataFileError(f"{name}: not a readable Parquet file ({e})") from None


def _read(source: Source, name: str, columns: Sequence[str] | None, header: bool) -> pa.Table:
    if _is_parquet(source, name):
        _check_columns(list(_parquet_schema(source, name).names), columns, name)
        try:
            return pq.read_table(_parquet_input(source), columns=list(columns) if columns is not None else None)
        except (pa.ArrowException, OSError) as e:
            raise DataFileError(f"{name}: not a readable Parquet file ({e})") from None
    try:
        table = pa_csv.read_csv(_csv_stream(source, name), read_options=_csv_read_options(header),
                                convert_options=pa_csv.ConvertOptions(strings_can_be_null=True))
    except pa.ArrowInvalid as e:
        raise _csv_error(name, e) from None
    except (pa.ArrowException, OSError, UnicodeDecodeError) as e:
        raise DataFileError(f"{name}: not a readable CSV file ({e})") from None
    with _utf8_header(name):
        table = table.rename_columns(_csv_names(table.column_names, header))
    _check_names(table.column_names, name)
    if columns is not None:
        _check_columns(table.column_names, columns, name)
        table = table.select(list(columns))
    return table


def _csv_stream(source: Source, name: str) -> pa.NativeFile:
    raw: pa.NativeFile = pa.BufferReader(source) if isinstance(source, bytes) else pa.OSFile(str(source), "rb")
    if name.lower().endswith(".gz"):
        return pa.CompressedInputStream(raw, "gzip")
    return raw


def _csv_read_options(header: bool, names: Sequence[str] | None = None) -> pa_csv.ReadOptions:
    if names is not None:  # every line is data, in these columns
        return pa_csv.ReadOptions(column_names=list(names), block_size=CSV_BLOCK_BYTES)
    return pa_csv.ReadOptions(autogenerate_column_names=not header, block_size=CSV_BLOCK_BYTES)


def _csv_names(names: list[str], header: bool) -> list[str]:
    if header:
        return names
    return [PREDICTION] if len(names) == 1 else [f"{PREDICTION}_{i}" for i in range(len(names))]


def _csv_error(name: str, error: pa.ArrowInvalid) -> DataFileError:
    text = str(error)
    if "Empty CSV file" in text:
        return DataFileError(f"{name}: no header line (the CSV is empty); the first line must name the columns, "
                             "or read it with header=False (--no-header)")
    return DataFileError(f"{name}: not a readable CSV file ({text.strip()}); every line needs the same number "
                         "of comma-separated fields as the header")


def _check_names(names: list[str], name: str) -> None:
    if not names or names == [""]:
        raise DataFileError(f"{name}: the header line is empty; the first line must name the columns")
    seen: set[str] = set()
    for column in names:
        if column in seen:
            raise DataFileError(f"{name}: column {column!r} appears twice in the header; give each column its "
                                "own name")
        seen.add(column)


def _check_columns(names: list[str], columns: Sequence[str] | None, name: str) -> None:
    if columns is None:
        return
    missing = [c for c in columns if c not in names]
    if missing:
        raise DataFileError(f"{name}: no column {', '.join(map(repr, missing))}; it has {', '.join(names[:20])}"
                            + (" …" if len(names) > 20 else ""))


@contextmanager
def _utf8_header(name: str) -> Iterator[None]:
    """Arrow decodes a CSV's column names lazily, raising UnicodeDecodeError when they are read."""
    try:
        yield
    except UnicodeDecodeError as e:
        raise DataFileError(f"{name}: its header is not UTF-8 text ({e.reason} at byte {e.start}); save the CSV "
                            "as UTF-8") from None


def _open_csv(source: Source, name: str, column_types: dict[str, pa.DataType] | None,
              header: bool, names: Sequence[str] | None = None) -> pa_csv.CSVStreamingReader:
    convert = pa_csv.ConvertOptions(column_types=column_types or {}, strings_can_be_null=True)
    try:
        return pa_csv.open_csv(_csv_stream(source, name), read_options=_csv_read_options(header, names),
                               convert_options=convert)
    except pa.ArrowInvalid as e:
        raise _csv_error(name, e) from None
    except (pa.ArrowException, OSError, UnicodeDecodeError) as e:
        raise DataFileError(f"{name}: not a readable CSV file ({e})") from None


def _csv_batches(source: Source, name: str, columns: Sequence[str] | None, header: bool,
                 given: Sequence[str] | None = None) -> Iterator[pa.RecordBatch]:
    header = header or given is not None  # given names are used as they are
    schema = _open_csv(source, name, None, header, given).schema
    with _utf8_header(name):
        _check_names(_csv_names(schema.names, header), name)
        widened = {f.name: pa.float64() for f in schema if pa.types.is_integer(f.type)}
    reader = _open_csv(source, name, widened, header, given)
    names = _csv_names(reader.schema.names, header)
    _check_columns(names, columns, name)
    any_rows = False
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            if not any_rows:  # a header line only: one empty batch carries the columns
                empty = pa.RecordBatch.from_pylist([], schema=pa.schema(
                    [pa.field(n, f.type) for n, f in zip(names, reader.schema, strict=True)]))
                yield empty.select(list(columns)) if columns is not None else empty
            return
        except pa.ArrowInvalid as e:
            raise DataFileError(f"{name}: a later part of the CSV does not fit the column types of its first "
                                f"{CSV_BLOCK_BYTES >> 20} MB ({str(e).strip()}); make each column hold one kind "
                                "of value") from None
        any_rows = True
        batch = pa.RecordBatch.from_arrays(batch.columns, names=names)
        yield batch.select(list(columns)) if columns is not None else batch


def _rechunked(batches: Iterator[pa.RecordBatch], rows: int) -> Iterator[pa.RecordBatch]:
    """Batches of exactly `rows` rows (the last may be shorter); one empty batch for a table with no rows, so
    a reader still learns the columns."""
    pending: list[pa.RecordBatch] = []
    held, emitted = 0, False
    empty: pa.RecordBatch | None = None
    for batch in batches:
        empty = empty or batch.slice(0, 0)
        pending.append(batch)
        held += batch.num_rows
        while held >= rows:
            table = pa.Table.from_batches(pending)
            yield from table.slice(0, rows).combine_chunks().to_batches()
            emitted = True
            rest = table.slice(rows)
            pending, held = rest.to_batches(), rest.num_rows
    if held:
        yield from pa.Table.from_batches(pending).combine_chunks().to_batches()
    elif not emitted and empty is not None:
        yield empty


__all__ = ["DEFAULT_CHUNK_ROWS", "PREDICTION", "column_names", "iter_batches", "read_table", "read_table_bytes"]
