"""Reading what the monitor compares: training data and arriving batches, through the executor's store (the local
store or S3), one object at a time, as tables of the monitored features.

SageMaker's CSV convention has no header row (and the label first in training files), so a spec can name the
columns (`monitor.columns`, `baseline.columns`); otherwise the first line is the header. Parquet carries its own
names. What is monitored: the named batch columns (or every column), minus `monitor.exclude`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from smflow.errors import UserError

if TYPE_CHECKING:
    import pyarrow as pa

    from smflow.executors.base import Executor

SKIPPED_PREFIXES = ("_", ".")  # markers (_SUCCESS), manifests (_manifest.json), hidden files


class MonitorDataError(UserError):
    """Data the monitor cannot read as the spec describes it; the message names the object and the fix."""


def data_objects(executor: Executor, uri: str) -> list[str]:
    """The objects a data location holds: the object itself, or every object under the prefix (markers and
    hidden files left out), sorted."""
    folder = uri if uri.endswith("/") else uri + "/"
    found = sorted(u for u, _ in executor.list_objects(uri) if u == uri or u.startswith(folder))
    objects = [u for u in found if not u.rsplit("/", 1)[-1].startswith(SKIPPED_PREFIXES)]
    if not objects:
        raise MonitorDataError(f"no data under {uri}: nothing to sketch or compare; check the step that writes it")
    return objects


def monitored(table: pa.Table | pa.RecordBatch, uri: str, features: Sequence[str] | None,
              exclude: Sequence[str]) -> pa.RecordBatch:
    """The table's monitored columns: `features` (all must be there) or all of them, minus `exclude`."""
    names = list(features) if features is not None else list(table.column_names)
    missing = [n for n in names if n not in table.column_names]
    if missing:
        raise MonitorDataError(f"{uri} has no column {', '.join(missing)} (its columns: "
                               f"{', '.join(table.column_names)}); name the columns in monitor.columns / "
                               "baseline.columns, or fix the data")
    return table.select([n for n in names if n not in set(exclude)])


def read_tables(executor: Executor, objects: Sequence[str], columns: Sequence[str] | None,
                features: Sequence[str] | None, exclude: Sequence[str]) -> Iterator[pa.RecordBatch]:
    """The objects' monitored columns in chunks of rows, read as the consumer asks (a sketch merges them):
    memory holds one chunk, never a whole object, however large the training set or the batch."""
    from smflow.drift.errors import DataFileError
    from smflow.drift.tables import iter_batches

    for uri in objects:
        named = columns is not None and not uri.rsplit("/", 1)[-1].lower().endswith((".parquet", ".pq"))
        with executor.local_file(uri) as path:
            if path.stat().st_size == 0:
                raise MonitorDataError(f"{uri}: the object is empty; nothing to sketch or compare (write the "
                                       "data before its marker, or remove the empty object)")
            try:
                for chunk in iter_batches(path, names=columns if named else None, label=uri):
                    yield monitored(chunk, uri, features, exclude)
            except DataFileError as e:
                if named:
                    detail = str(e).removeprefix(f"{uri}: ")
                    raise MonitorDataError(f"{uri}: not a header-less CSV of the {len(columns or [])} columns "
                                           f"named in the spec ({', '.join(columns or [])}): {detail}; fix the "
                                           "data or the column names") from None
                raise MonitorDataError(str(e)) from None
