"""Training data for the XGBoost algorithm, read as the SageMaker XGBoost container reads its channels.

The container's rules (aws/sagemaker-xgboost-container `data_utils.py`; the SageMaker developer guide,
"Input/Output interface for the XGBoost algorithm"):

- a channel's ContentType picks the format: `text/csv` / `csv` (optionally `;label_size=1`),
  `text/libsvm` / `text/x-libsvm` / `libsvm`, `application/x-parquet` / `parquet`,
  `application/x-recordio-protobuf`; no ContentType means libsvm. The `train` channel's type applies to
  `validation` too;
- CSV has no header and the label in the first column (the instance weight in the second when
  `csv_weights=1`); the delimiter is sniffed from the first line; empty fields are missing values;
- libsvm lines are `<label>[:<weight>] <index>:<value> ...`;
- recordio-protobuf records carry `values` features and a `values` label (recordio_protobuf.py);
- every regular file in the channel folder is data, except names starting with `.` or `_`.

numpy (and scipy for libsvm) are imported here; xgboost only by the caller, so these readers are testable
without it.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from smflow.errors import SmflowError

CSV = "csv"
LIBSVM = "libsvm"
PARQUET = "parquet"
RECORDIO_PROTOBUF = "recordio-protobuf"
_TYPES = {
    "csv": CSV, "text/csv": CSV,
    "libsvm": LIBSVM, "text/libsvm": LIBSVM, "text/x-libsvm": LIBSVM,
    "parquet": PARQUET, "application/x-parquet": PARQUET,
    "recordio-protobuf": RECORDIO_PROTOBUF, "application/x-recordio-protobuf": RECORDIO_PROTOBUF,
}
ACCEPTED = ("csv", "libsvm", "parquet", "recordio-protobuf", "text/csv", "text/libsvm", "text/x-libsvm",
            "application/x-parquet", "application/x-recordio-protobuf")


class DataError(SmflowError, ValueError):
    """Input data the container would reject (its UserError): the job fails with a ClientError."""


@dataclass
class Matrix:
    """Features, labels and optional instance weights of one channel, ready for `xgboost.DMatrix`."""

    features: Any  # np.ndarray, or a scipy.sparse.csr_matrix for libsvm
    labels: np.ndarray
    weights: np.ndarray | None = None

    @property
    def rows(self) -> int:
        return int(self.features.shape[0])


def content_type(value: str | None) -> str:
    """A channel's ContentType → csv | libsvm | parquet | recordio-protobuf (None → libsvm, as the container)."""
    if value is None:
        return LIBSVM
    media, *params = (part.strip() for part in value.lower().split(";"))
    kind = _TYPES.get(media)
    if kind is None:
        raise DataError(f"{value} is not an accepted ContentType: {', '.join(ACCEPTED)}.")
    if kind == CSV:
        for param in params:
            key, _, val = param.partition("=")
            if key.strip() == "label_size" and val.strip() != "1":
                raise DataError(f"{value} is not an accepted csv ContentType. Optional parameter label_size must be "
                                "equal to 1")
    return kind


def data_files(path: Path) -> list[Path]:
    """The channel's data files in name order: a file itself, or every regular file under a folder except
    hidden (`.`) and `_`-prefixed ones (e.g. `_SUCCESS` markers)."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise DataError(f"{path} is not a valid path!")
    found: list[Path] = []
    for root, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
        found.extend(Path(root) / f for f in sorted(files) if not f.startswith((".", "_")))
    return [f for f in found if f.is_file()]


def sniff_delimiter(line: str) -> str:
    """The container's `csv.Sniffer` on the first line; a letter or digit 'delimiter' means a comma."""
    try:
        delimiter = csv.Sniffer().sniff(line[:512]).delimiter
    except csv.Error as e:
        raise DataError(f"Could not determine delimiter on line {line[:50]}:\n{e}") from None
    return "," if delimiter.isalnum() else delimiter


def read_csv(files: Sequence[Path], *, weights: bool = False) -> Matrix:
    """CSV rows with the label first (and the weight second when `weights`), no header."""
    rows: list[list[float]] = []
    delimiter: str | None = None
    for file in files:
        with file.open(encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle, 1):
                text = line.strip()
                if not text:
                    continue
                if delimiter is None:
                    delimiter = sniff_delimiter(text) if any(c in text for c in ",;\t| ") else ","
                try:
                    rows.append([float(v) if v.strip() else np.nan for v in text.split(delimiter)])
                except ValueError:
                    raise DataError(f"First line '{text[:50]}...' of file '{file.name}' is not 'CSV' format. "
                                    "Please ensure the file is in 'CSV' format." if number == 1 else
                                    f"Failed to load csv data with exception:\n{file.name} line {number}: "
                                    f"'{text[:50]}' has a value that is not a number") from None
    if not rows:
        raise DataError("no CSV records")
    widths = {len(r) for r in rows}
    if len(widths) > 1:
        raise DataError(f"Failed to load csv data with exception:\nrows have different numbers of columns "
                        f"({', '.join(map(str, sorted(widths)))})")
    data = np.asarray(rows, dtype=np.float64)
    first = 2 if weights else 1
    if data.shape[1] <= first:
        raise DataError(f"CSV rows have {data.shape[1]} column(s); the label comes first"
                        + (" and the weight second (csv_weights=1)" if weights else "") + ", then the features")
    return Matrix(data[:, first:], data[:, 0], data[:, 1] if weights else None)


def read_libsvm(files: Sequence[Path]) -> Matrix:
    """libsvm lines `<label>[:<weight>] <index>:<value> ...` into a sparse matrix (column = index as written)."""
    from scipy.sparse import csr_matrix

    labels: list[float] = []
    weights: list[float] = []
    indptr, indices, values = [0], [], []
    for file in files:
        with file.open(encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle, 1):
                parts = line.split("#", 1)[0].split()
                if not parts:
                    continue
                try:
                    label, _, weight = parts[0].partition(":")
                    labels.append(float(label))
                    weights.append(float(weight) if weight else 1.0)
                    for item in parts[1:]:
                        index, sep, value = item.partition(":")
                        if not sep:
                            raise ValueError(item)
                        indices.append(int(index))
                        values.append(float(value))
                except ValueError:
                    raise DataError(f"First line '{line.strip()[:50]}...' of file '{file.name}' is not 'LIBSVM' "
                                    "format. Please ensure the file is in 'LIBSVM' format (a channel without "
                                    "ContentType is read as libsvm; for CSV data set the input's "
                                    "content_type: text/csv)." if number == 1 else
                                    f"Failed to load libsvm data with exception:\n{file.name} line {number}: "
                                    f"'{line.strip()[:50]}' is not `<label> <index>:<value> ...`") from None
                indptr.append(len(indices))
    if not labels:
        raise DataError("no libsvm records")
    columns = max(indices, default=-1) + 1
    features = csr_matrix((np.asarray(values, dtype=np.float32), np.asarray(indices), np.asarray(indptr)),
                          shape=(len(labels), columns))
    has_weights = any(w != 1.0 for w in weights)
    return Matrix(features, np.asarray(labels), np.asarray(weights) if has_weights else None)


def read_parquet(files: Sequence[Path]) -> Matrix:
    """Parquet with the label in the first column (needs pyarrow in the job's environment)."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError("parquet input needs pyarrow, which this job's Python environment lacks; use text/csv "
                        "or text/libsvm, or install pyarrow") from None
    tables = [np.column_stack([c.to_numpy(zero_copy_only=False) for c in pq.read_table(f).columns])
              for f in files]
    data = np.vstack(tables).astype(np.float64)
    return Matrix(data[:, 1:], data[:, 0])


def read_channel(path: Path, kind: str, *, weights: bool = False) -> Matrix | None:
    """A channel's data in `kind` format, or None when it holds no data files (the caller decides if that is
    an error: it is for `train`)."""
    files = [f for f in data_files(path) if f.stat().st_size > 0]
    if not files:
        return None
    if kind == CSV:
        return read_csv(files, weights=weights)
    if kind == LIBSVM:
        return read_libsvm(files)
    if kind == PARQUET:
        return read_parquet(files)
    return read_recordio_protobuf(files)


def read_recordio_protobuf(files: Sequence[Path]) -> Matrix:
    """RecordIO-protobuf records (the SDK's `write_numpy_to_dense_tensor`): `values` features and labels."""
    from smflow.local_sagemaker.algorithms.recordio_protobuf import RecordIOError, features_and_labels

    features, labels = [], []
    for file in files:
        try:
            rows, row_labels = features_and_labels(file.read_bytes())
        except RecordIOError as e:
            raise DataError(f"Failed to load recordio-protobuf data with exception:\n{file.name}: {e}") from None
        if row_labels is None:
            raise DataError(f"{file.name}: a record has no `values` label; training records need one")
        features.append(rows)
        labels.append(row_labels)
    width = max(f.shape[1] for f in features)
    padded = [np.hstack([f, np.full((f.shape[0], width - f.shape[1]), np.nan)]) if f.shape[1] < width else f
              for f in features]
    return Matrix(np.vstack(padded), np.concatenate(labels))
