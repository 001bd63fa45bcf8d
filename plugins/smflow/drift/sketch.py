"""A baseline sketch: per feature, what drift compares new data against — small, JSON, mergeable.

Numeric features keep fixed bin edges with counts (quantiles of the reference, plus finer tail levels
0.1%/1%/99%/99.9% so distances see the tails; a column of at most `bins` distinct values gets one bin per
value), the count and sum of values outside the edges, and count/mean/std/min/max. Categorical features keep
their `top_k` most frequent values with counts and one "other" count. Both keep the row and missing counts
(null and NaN are missing; ±inf are counted apart and left out of the statistics, as Evidently drops them).

The edges are fixed by the first chunk a sketch sees; later chunks are binned on the same edges
(`edges_from=`) and merged, so `sketch_file` reads a file of any size in bounded memory. The edges are
therefore quantiles of the file's first `chunk_rows` rows: shuffle a file sorted by a feature first.
Sketches merge when their edges agree (any sketch made with `edges_from=` the other's baseline does).

The same functions sketch the *current* data on a baseline's edges: `compare` works on two sketches.
"""

from __future__ import annotations

import functools
import json
import math
import os
import threading
from collections.abc import Collection, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from smflow.drift.binning import EdgeGrid, FloatArray
from smflow.drift.errors import BaselineError, DataFileError
from smflow.drift.tables import DEFAULT_CHUNK_ROWS, column_names, iter_batches

FORMAT = "smflow-drift-baseline"
VERSION = 1
DEFAULT_BINS = 20
DEFAULT_TOP_K = 20
TAIL_LEVELS = (0.001, 0.01, 0.99, 0.999)
# While chunks are merged, categorical counts keep this many values per top_k, so a value frequent overall
# but not in one chunk's top k is still counted; the final sketch keeps top_k.
_MERGE_KEEP = 50

Kind = Literal["numeric", "categorical"]


@dataclass(frozen=True)
class NumericSketch:
    """Bins of a numeric feature: `counts[i]` values in bin i of `edges` (see `smflow.drift.binning`):
    counts[0] below edges[0], counts[-1] at or above edges[-1]; `below_sum`/`above_sum` are those values'
    sums (Wasserstein needs how far outside they lie). Moments are over finite values only."""

    edges: tuple[float, ...]
    counts: tuple[int, ...]
    below_sum: float
    above_sum: float
    count: int
    mean: float | None
    std: float | None
    min: float | None
    max: float | None
    infinite: int
    distinct: int


@dataclass(frozen=True)
class CategoricalSketch:
    """The most frequent values (as strings) with counts, and how many present values are not among them."""

    values: tuple[str, ...]
    counts: tuple[int, ...]
    other: int
    distinct: int

    @property
    def present(self) -> int:
        return sum(self.counts) + self.other


@dataclass(frozen=True)
class FeatureSketch:
    """One feature: `rows` rows seen, `missing` of them null or NaN; `numeric` or `categorical` per `kind`."""

    name: str
    kind: Kind
    rows: int
    missing: int
    numeric: NumericSketch | None = None
    categorical: CategoricalSketch | None = None

    @property
    def missing_share(self) -> float | None:
        return self.missing / self.rows if self.rows else None

    @property
    def present(self) -> int:
        """Values the statistics use: not missing and (numeric) finite."""
        if self.numeric is not None:
            return self.numeric.count
        return self.categorical.present if self.categorical is not None else 0

    @property
    def distinct(self) -> int:
        part = self.numeric or self.categorical
        return part.distinct if part is not None else 0


@dataclass(frozen=True)
class Baseline:
    """The sketch of one table: its rows, every column it saw, and a sketch per feature."""

    rows: int
    features: tuple[FeatureSketch, ...]
    columns: tuple[str, ...] = ()
    skipped: Mapping[str, str] = field(default_factory=dict)
    bins: int = DEFAULT_BINS
    top_k: int = DEFAULT_TOP_K

    def feature(self, name: str) -> FeatureSketch | None:
        return next((f for f in self.features if f.name == name), None)

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.features]

    def to_json(self) -> str:
        return json.dumps(_baseline_document(self), separators=(",", ":"), allow_nan=False)

    @classmethod
    def from_json(cls, text: str | bytes, source: str) -> Baseline:
        """A baseline from `to_json`'s text; any problem is a BaselineError naming `source`."""
        try:
            document = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise BaselineError(f"{source}: not a baseline sketch (not valid JSON: {e}); make one with "
                                "`smflow baseline DATA -o SKETCH.json`") from None
        return _baseline_from_document(document, source)

    def merge(self, other: Baseline) -> Baseline:
        """The sketch of both tables' rows together (their edges must agree: sketch one with `edges_from=`
        the other)."""
        return merge_baselines([self, other])


def sketch_table(table: pa.Table | pa.RecordBatch, *, categorical: Collection[str] | None = None,
                 top_k: int = DEFAULT_TOP_K, bins: int = DEFAULT_BINS, edges_from: Baseline | None = None,
                 threads: int | None = None) -> Baseline:
    """Sketch every column of `table` (or, with `edges_from`, the baseline's features found in it, on its
    edges and categories). Columns named in `categorical` are categorical; otherwise numbers are numeric and
    text, booleans and dictionaries categorical. Other types (lists, binary, …) are listed in `skipped`.
    Columns are sketched in the process's thread pool (a thread per core); `threads=1` keeps to this thread."""
    _check_settings(top_k, bins)
    if isinstance(table, pa.RecordBatch):
        table = pa.Table.from_batches([table])
    wanted = set(categorical or ())
    unknown = wanted - set(table.column_names)
    if unknown and edges_from is None:
        raise DataFileError(f"categorical column {', '.join(sorted(map(repr, unknown)))} is not in the data; "
                            f"its columns are {', '.join(table.column_names[:20])}")
    jobs: list[tuple[str, pa.ChunkedArray, Kind, FeatureSketch | None]] = []
    skipped: dict[str, str] = {}
    if edges_from is not None:
        for reference in edges_from.features:
            if reference.name in table.column_names:
                jobs.append((reference.name, table.column(reference.name), reference.kind, reference))
    else:
        for name in table.column_names:
            column = table.column(name)
            kind = _kind(column.type, name in wanted)
            if kind is None:
                skipped[name] = f"type {column.type} is neither numeric nor categorical"
            else:
                jobs.append((name, column, kind, None))
    features = _run(lambda job: _sketch_column(*job, top_k=top_k, bins=bins), jobs, threads)
    return Baseline(rows=table.num_rows, features=tuple(features), columns=tuple(table.column_names),
                    skipped=skipped, bins=bins, top_k=top_k)


def sketch_batches(batches: Iterable[pa.RecordBatch | pa.Table], *, categorical: Collection[str] | None = None,
                   top_k: int = DEFAULT_TOP_K, bins: int = DEFAULT_BINS, edges_from: Baseline | None = None,
                   threads: int | None = None) -> Baseline:
    """Sketch chunk by chunk: the first chunk fixes the edges (unless `edges_from` does), the rest merge."""
    merged: Baseline | None = None
    for batch in batches:
        reference = edges_from or merged
        part = sketch_table(batch, categorical=categorical, top_k=top_k * _MERGE_KEEP if edges_from is None else
                            top_k, bins=bins, edges_from=reference, threads=threads)
        if merged is None:
            merged = part if edges_from is not None else replace(part, top_k=top_k)
        else:
            merged = merge_baselines([merged, part], keep=top_k * _MERGE_KEEP)
    if merged is None:
        raise DataFileError("no data to sketch: the input gave no chunk at all")
    return _truncate(merged, top_k, edges_from)


def sketch_file(path: str | Path, *, chunk_rows: int = DEFAULT_CHUNK_ROWS, header: bool = True,
                categorical: Collection[str] | None = None, top_k: int = DEFAULT_TOP_K, bins: int = DEFAULT_BINS,
                edges_from: Baseline | None = None, threads: int | None = None) -> Baseline:
    """Sketch a CSV or Parquet file in chunks of `chunk_rows` rows (memory bounded by one chunk). With
    `edges_from`, only the baseline's features are read; the file's other columns are still listed."""
    columns = None
    names = column_names(path, header=header)
    if edges_from is not None:
        columns = [n for n in edges_from.names if n in names]
    elif categorical:
        missing = sorted(set(categorical) - set(names))
        if missing:
            raise DataFileError(f"{path}: categorical column {', '.join(map(repr, missing))} is not in the file; "
                                f"its columns are {', '.join(names[:20])}")
    baseline = sketch_batches(iter_batches(path, chunk_rows, columns, header=header), categorical=categorical,
                              top_k=top_k, bins=bins, edges_from=edges_from, threads=threads)
    return replace(baseline, columns=tuple(names))


def merge_baselines(parts: Iterable[Baseline], *, keep: int | None = None) -> Baseline:
    """Several sketches of the same columns as one (see `Baseline.merge`)."""
    items = list(parts)
    if not items:
        raise BaselineError("nothing to merge: give at least one baseline")
    first = items[0]
    features = {f.name: f for f in first.features}
    order = [f.name for f in first.features]
    columns = list(first.columns)
    skipped = dict(first.skipped)
    for part in items[1:]:
        for f in part.features:
            if f.name in features:
                features[f.name] = _merge_feature(features[f.name], f, keep or first.top_k)
            else:
                features[f.name] = f
                order.append(f.name)
        columns += [c for c in part.columns if c not in columns]
        skipped.update({k: v for k, v in part.skipped.items() if k not in features})
    return Baseline(rows=sum(p.rows for p in items), features=tuple(features[n] for n in order),
                    columns=tuple(columns), skipped=skipped, bins=first.bins, top_k=first.top_k)


# ---- one column ---------------------------------------------------------------------------------------------

def _kind(type_: pa.DataType, categorical: bool) -> Kind | None:
    if categorical:
        return "categorical" if _stringable(type_) else None
    if pa.types.is_integer(type_) or pa.types.is_floating(type_) or pa.types.is_decimal(type_):
        return "numeric"
    if pa.types.is_null(type_):
        return "numeric"
    if pa.types.is_temporal(type_) and not pa.types.is_time(type_):
        return "numeric"
    return "categorical" if _stringable(type_) else None


def _stringable(type_: pa.DataType) -> bool:
    return (pa.types.is_string(type_) or pa.types.is_large_string(type_) or pa.types.is_boolean(type_)
            or pa.types.is_dictionary(type_) or pa.types.is_integer(type_) or pa.types.is_floating(type_)
            or pa.types.is_null(type_) or pa.types.is_decimal(type_) or pa.types.is_temporal(type_))


def _sketch_column(name: str, column: pa.ChunkedArray, kind: Kind, reference: FeatureSketch | None, *,
                   top_k: int, bins: int) -> FeatureSketch:
    if kind == "numeric":
        values = numeric_values(column)
        if values is None:  # text where the reference has numbers: nothing to bin, every value unusable
            return FeatureSketch(name, kind, len(column), len(column))
        ref = reference.numeric if reference is not None else None
        numeric, missing = sketch_numeric(values, bins=bins, edges=ref.edges if ref and ref.edges else None)
        return FeatureSketch(name, kind, len(column), missing, numeric=numeric)
    strings = _strings(column)
    missing = strings.null_count
    known = reference.categorical.values if reference is not None and reference.categorical else ()
    return FeatureSketch(name, kind, len(column), missing, categorical=sketch_categorical(strings, top_k, known))


def numeric_values(column: pa.ChunkedArray) -> FloatArray | None:
    """The column as float64 with NaN for nulls (zero-copy for float64 without nulls in one chunk), or None
    when it holds no numbers (text)."""
    type_ = column.type
    if pa.types.is_temporal(type_):
        if pa.types.is_date32(type_):
            column = pc.cast(column, pa.date64())
        column = pc.cast(column, pa.int64())
        type_ = column.type
    numeric = (pa.types.is_boolean(type_) or pa.types.is_null(type_) or pa.types.is_decimal(type_)
               or pa.types.is_integer(type_) or pa.types.is_floating(type_))
    if not numeric:
        return None
    if not pa.types.is_float64(type_):
        column = pc.cast(column, pa.float64())
    if column.num_chunks == 1 and column.null_count == 0:
        return column.chunk(0).to_numpy(zero_copy_only=False)
    if column.num_chunks == 0:
        return np.zeros(0)
    return column.to_numpy()


def sketch_numeric(values: FloatArray, *, bins: int = DEFAULT_BINS,
                   edges: tuple[float, ...] | None = None) -> tuple[NumericSketch, int]:
    """Sketch float64 `values` (NaN = missing) on `edges` from a reference, or on quantile edges of these;
    also return how many were missing."""
    with np.errstate(invalid="ignore", over="ignore"):
        total = float(values.sum()) if len(values) else 0.0
    infinite = missing = 0
    finite = values
    if not math.isfinite(total):  # one cheap sum tells whether any value is NaN or ±inf
        infinite = int(np.count_nonzero(np.isinf(values)))
        missing = int(np.count_nonzero(np.isnan(values)))
        finite = values[np.isfinite(values)]
    count = len(finite)
    if count == 0:
        empty = NumericSketch(edges or (), (0,) * (len(edges) + 1) if edges else (), 0.0, 0.0, 0, None, None, None,
                              None, infinite, 0)
        return empty, missing
    sorted_values = None
    if edges is None:
        sorted_values = np.sort(finite)
        edges = _quantile_edges(sorted_values, bins)
    binned = grid_for(tuple(edges)).summarise(finite)
    if sorted_values is not None:
        distinct = int(np.count_nonzero(np.diff(sorted_values))) + 1
    else:
        distinct = int(np.count_nonzero(binned.counts))
    sketch = NumericSketch(tuple(edges), tuple(int(c) for c in binned.counts), _finite(binned.below_sum) or 0.0,
                           _finite(binned.above_sum) or 0.0, count, _finite(binned.mean), _finite(binned.std),
                           binned.min, binned.max, infinite, distinct)
    return sketch, missing


@functools.lru_cache(maxsize=4096)
def grid_for(edges: tuple[float, ...]) -> EdgeGrid:
    """One lookup grid per set of edges, reused by every chunk of every batch compared with a baseline."""
    return EdgeGrid(np.asarray(edges, dtype=np.float64))


def _just_above(value: float) -> float:
    """The last edge: the next float above the maximum (the maximum itself at the top of the float range,
    where it then counts as beyond the edges)."""
    with np.errstate(over="ignore"):
        above = float(np.nextafter(value, np.inf))
    return above if math.isfinite(above) else value


def _finite(value: float) -> float | None:
    """None for a moment that overflowed (values near ±1.8e308): JSON has no inf, and no statistic needs it."""
    return value if math.isfinite(value) else None


def _quantile_edges(sorted_values: FloatArray, bins: int) -> tuple[float, ...]:
    """Edges of about `bins` equal-mass bins plus tail levels; one bin per value when there are few values.
    The last edge sits just above the maximum so the maximum falls inside the last bin."""
    unique = np.unique(sorted_values) if len(sorted_values) <= 4 * bins else None
    if unique is None:
        steps = np.diff(sorted_values) != 0
        if np.count_nonzero(steps) + 1 <= bins:
            unique = sorted_values[np.r_[True, steps]]
    if unique is not None and len(unique) <= bins:
        values = [float(v) for v in unique]
        return (*values, _just_above(values[-1]))
    levels = np.unique(np.r_[np.linspace(0.0, 1.0, bins + 1), TAIL_LEVELS])
    positions = np.round(levels * (len(sorted_values) - 1)).astype(np.int64)
    interior = [float(f"{v:.7g}") for v in sorted_values[positions[1:-1]]]
    low, high = float(sorted_values[0]), _just_above(float(sorted_values[-1]))
    kept = sorted({v for v in interior if low < v < high})
    return (low, *kept, high)


def _strings(column: pa.ChunkedArray) -> pa.ChunkedArray:
    type_ = column.type
    if pa.types.is_dictionary(type_):
        column = pc.cast(column, type_.value_type)
        type_ = column.type
    if pa.types.is_string(type_):
        return column
    if pa.types.is_floating(type_):  # NaN is missing, as in a numeric column
        column = pc.if_else(pc.is_nan(column), pa.scalar(None, type_), column)
    return pc.cast(column, pa.string())


def sketch_categorical(strings: pa.ChunkedArray, top_k: int, known: tuple[str, ...] = ()) -> CategoricalSketch:
    """Counts of the `known` values (a reference's categories, even at 0), then the most frequent others up
    to `top_k`; the rest is `other`."""
    counted = pc.value_counts(strings.drop_null()) if len(strings) else pa.StructArray.from_arrays(
        [pa.array([], pa.string()), pa.array([], pa.int64())], names=["values", "counts"])
    values = counted.field("values").to_pylist()
    counts = counted.field("counts").to_pylist()
    by_value = dict(zip(values, counts, strict=True))
    kept = [(v, by_value.pop(v, 0)) for v in known]
    rest = sorted(by_value.items(), key=lambda item: (-item[1], item[0]))
    kept += rest[:top_k]
    other = sum(c for _, c in rest[top_k:])
    return CategoricalSketch(tuple(v for v, _ in kept), tuple(int(c) for _, c in kept), int(other), len(values))


# ---- merging ------------------------------------------------------------------------------------------------

def _merge_feature(a: FeatureSketch, b: FeatureSketch, keep: int) -> FeatureSketch:
    if a.kind != b.kind:
        raise BaselineError(f"feature {a.name!r} is {a.kind} in one sketch and {b.kind} in the other; sketch both "
                            "with the same categorical columns")
    numeric = categorical = None
    if a.numeric is not None and b.numeric is not None:
        numeric = _merge_numeric(a.name, a.numeric, b.numeric)
    elif a.kind == "numeric":
        numeric = a.numeric or b.numeric
    if a.categorical is not None and b.categorical is not None:
        categorical = _merge_categorical(a.categorical, b.categorical, keep)
    elif a.kind == "categorical":
        categorical = a.categorical or b.categorical
    return FeatureSketch(a.name, a.kind, a.rows + b.rows, a.missing + b.missing, numeric, categorical)


def _merge_numeric(name: str, a: NumericSketch, b: NumericSketch) -> NumericSketch:
    if a.count == 0 or b.count == 0:
        kept = b if a.count == 0 else a
        return replace(kept, infinite=a.infinite + b.infinite)
    if a.edges != b.edges:
        raise BaselineError(f"feature {name!r}: the sketches have different bin edges, so their counts cannot be "
                            "added; sketch the second with edges_from= the first")
    n = a.count + b.count
    mean = std = None
    if a.mean is not None and b.mean is not None and a.std is not None and b.std is not None:
        delta = b.mean - a.mean
        mean = _finite(a.mean + delta * b.count / n)  # Chan et al.'s pairwise update; float * overflows to inf
        m2 = a.std * a.std * a.count + b.std * b.std * b.count + delta * delta * a.count * b.count / n
        std = _finite(math.sqrt(max(m2 / n, 0.0))) if math.isfinite(m2) else None
    return NumericSketch(a.edges, tuple(x + y for x, y in zip(a.counts, b.counts, strict=True)),
                         a.below_sum + b.below_sum, a.above_sum + b.above_sum, n, mean, std,
                         min(a.min, b.min), max(a.max, b.max),  # type: ignore[type-var]
                         a.infinite + b.infinite, max(a.distinct, b.distinct))


def _merge_categorical(a: CategoricalSketch, b: CategoricalSketch, keep: int) -> CategoricalSketch:
    totals: dict[str, int] = dict(zip(a.values, a.counts, strict=True))
    for value, count in zip(b.values, b.counts, strict=True):
        totals[value] = totals.get(value, 0) + count
    order = sorted(totals.items(), key=lambda item: (-item[1], item[0]))
    first = [(v, totals[v]) for v in a.values]  # a's values (a reference's categories) stay, in their order
    extra = [item for item in order if item[0] not in set(a.values)]
    room = max(keep - len(first), 0)
    kept = first + extra[:room]
    other = a.other + b.other + sum(c for _, c in extra[room:])
    return CategoricalSketch(tuple(v for v, _ in kept), tuple(c for _, c in kept), other,
                             max(a.distinct, b.distinct, len(totals)))


def _truncate(baseline: Baseline, top_k: int, reference: Baseline | None) -> Baseline:
    """Keep `top_k` categories per feature — beyond the reference's own, which a current sketch always keeps
    (a reference category missing from it would read as a count of 0)."""
    features = []
    for f in baseline.features:
        cat = f.categorical
        ref = reference.feature(f.name) if reference is not None else None
        known = set(ref.categorical.values) if ref is not None and ref.categorical is not None else set()
        if cat is not None and len(cat.values) > len(known) + top_k:
            pairs = list(zip(cat.values, cat.counts, strict=True))
            kept = [p for p in pairs if p[0] in known]
            extra = sorted((p for p in pairs if p[0] not in known), key=lambda item: (-item[1], item[0]))
            kept += extra[:top_k]
            cat = CategoricalSketch(tuple(v for v, _ in kept), tuple(c for _, c in kept),
                                    cat.other + sum(c for _, c in extra[top_k:]), cat.distinct)
            f = replace(f, categorical=cat)
        features.append(f)
    return replace(baseline, features=tuple(features), top_k=top_k)


def _check_settings(top_k: int, bins: int) -> None:
    if top_k < 1:
        raise DataFileError(f"top_k must be at least 1, not {top_k}")
    if bins < 2:
        raise DataFileError(f"bins must be at least 2, not {bins}")


_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    """One pool for the process: its threads keep their scratch buffers (see `smflow.drift.binning`) from
    chunk to chunk, where a pool per chunk would allocate them afresh."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="smflow-drift")
        return _POOL


def _run(work: Any, jobs: list[Any], threads: int | None) -> list[FeatureSketch]:
    """numpy and pyarrow release the GIL in their loops, so columns sketch in parallel threads."""
    workers = threads or min(len(jobs), os.cpu_count() or 1)
    if workers <= 1 or len(jobs) <= 1:
        return [work(job) for job in jobs]
    return list(_pool().map(work, jobs))


# ---- JSON ---------------------------------------------------------------------------------------------------

def _baseline_document(b: Baseline) -> dict[str, Any]:
    return {"format": FORMAT, "version": VERSION, "rows": b.rows, "bins": b.bins, "top_k": b.top_k,
            "columns": list(b.columns), "skipped": dict(b.skipped),
            "features": [_feature_document(f) for f in b.features]}


def _feature_document(f: FeatureSketch) -> dict[str, Any]:
    doc: dict[str, Any] = {"name": f.name, "kind": f.kind, "rows": f.rows, "missing": f.missing}
    if f.numeric is not None:
        n = f.numeric
        doc["numeric"] = {"edges": list(n.edges), "counts": list(n.counts), "below_sum": n.below_sum,
                          "above_sum": n.above_sum, "count": n.count, "mean": n.mean, "std": n.std, "min": n.min,
                          "max": n.max, "infinite": n.infinite, "distinct": n.distinct}
    if f.categorical is not None:
        c = f.categorical
        doc["categorical"] = {"values": list(c.values), "counts": list(c.counts), "other": c.other,
                              "distinct": c.distinct}
    return doc


def _baseline_from_document(doc: Any, source: str) -> Baseline:
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise BaselineError(f"{source}: not a baseline sketch (no \"format\": \"{FORMAT}\"); make one with "
                            "`smflow baseline DATA -o SKETCH.json`")
    if doc.get("version") != VERSION:
        raise BaselineError(f"{source}: baseline format version {doc.get('version')!r} is not one this smflow "
                            f"reads (version {VERSION}); re-create the sketch with this smflow's `smflow baseline`")
    try:
        features = tuple(_feature_from_document(f) for f in doc["features"])
        return Baseline(rows=int(doc["rows"]), features=features, columns=tuple(str(c) for c in doc["columns"]),
                        skipped={str(k): str(v) for k, v in dict(doc.get("skipped", {})).items()},
                        bins=int(doc["bins"]), top_k=int(doc["top_k"]))
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise BaselineError(f"{source}: the baseline sketch is damaged ({type(e).__name__}: {e}); re-create it "
                            "with `smflow baseline`") from None


def _feature_from_document(doc: Mapping[str, Any]) -> FeatureSketch:
    kind = doc["kind"]
    if kind not in ("numeric", "categorical"):
        raise ValueError(f"feature {doc.get('name')!r} has kind {kind!r}")
    numeric = categorical = None
    if doc.get("numeric") is not None:
        n = doc["numeric"]
        edges = tuple(float(e) for e in n["edges"])
        counts = tuple(int(c) for c in n["counts"])
        if edges and len(counts) != len(edges) + 1:
            raise ValueError(f"feature {doc['name']!r} has {len(edges)} edges but {len(counts)} counts")
        numeric = NumericSketch(edges, counts, float(n["below_sum"]), float(n["above_sum"]), int(n["count"]),
                                _opt_float(n["mean"]), _opt_float(n["std"]), _opt_float(n["min"]),
                                _opt_float(n["max"]), int(n["infinite"]), int(n["distinct"]))
    if doc.get("categorical") is not None:
        c = doc["categorical"]
        values, counts = tuple(str(v) for v in c["values"]), tuple(int(x) for x in c["counts"])
        if len(values) != len(counts):
            raise ValueError(f"feature {doc['name']!r} has {len(values)} values but {len(counts)} counts")
        categorical = CategoricalSketch(values, counts, int(c["other"]), int(c["distinct"]))
    return FeatureSketch(str(doc["name"]), kind, int(doc["rows"]), int(doc["missing"]), numeric, categorical)


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)
