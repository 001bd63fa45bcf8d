"""Reading what the monitor compares: training data and arriving batches, through the executor's store (the local
store or S3), one object at a time, as tables of the monitored features.

SageMaker's CSV convention has no header row (and the label first in training files), so a spec can name the
columns (`monitor.columns`, `baseline.columns`); otherwise the first line is the header. Parquet carries its own
names. What is monitored: the named batch columns (or every column), minus `monitor.exclude`.
"""

from __future__ import annotations

import io
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


def read_object(data: bytes, uri: str, columns: Sequence[str] | None) -> pa.Table:
    """One CSV or Parquet object as a table; a header-less CSV gets `columns` as its names."""
    name = uri.rsplit("/", 1)[-1]
    if columns is not None and not name.lower().endswith((".parquet", ".pq")):
        import pyarrow.csv as pacsv

        try:
            return pacsv.read_csv(io.BytesIO(data), read_options=pacsv.ReadOptions(column_names=list(columns)))
        except Exception as e:  # pyarrow raises ArrowInvalid with the row and column count
            raise MonitorDataError(f"{uri}: not a header-less CSV of the {len(columns)} columns named in the spec "
                                   f"({', '.join(columns)}): {e}; fix the data or the column names") from None
    from smflow.drift.tables import read_table_bytes

    try:
        return read_table_bytes(data, name)
    except UserError:
        raise
    except (ValueError, OSError) as e:
        raise MonitorDataError(f"{uri}: {e}") from None


def monitored(table: pa.Table, uri: str, features: Sequence[str] | None, exclude: Sequence[str]) -> pa.Table:
    """The table's monitored columns: `features` (all must be there) or all of them, minus `exclude`."""
    names = list(features) if features is not None else list(table.column_names)
    missing = [n for n in names if n not in table.column_names]
    if missing:
        raise MonitorDataError(f"{uri} has no column {', '.join(missing)} (its columns: "
                               f"{', '.join(table.column_names)}); name the columns in monitor.columns / "
                               "baseline.columns, or fix the data")
    return table.select([n for n in names if n not in set(exclude)])


def read_tables(executor: Executor, objects: Sequence[str], columns: Sequence[str] | None,
                features: Sequence[str] | None, exclude: Sequence[str]) -> Iterator[pa.Table]:
    """Each object's monitored columns, one object in memory at a time."""
    for uri in objects:
        yield monitored(read_object(executor.read_bytes(uri), uri, columns), uri, features, exclude)
