"""Data drift: sketch a reference table once, compare new batches against the sketch, report the result.

A library: it reads CSV/Parquet with pyarrow and computes with numpy, and knows nothing of YAML or Airflow
(the monitor DAG and the CLI call it). The pieces:

- `tables`: read CSV or Parquet (whole, chunked, or from bytes) with errors naming the file;
- `sketch`: `Baseline` — per feature quantile-bin counts and moments, or top-k category counts — small JSON,
  mergeable across chunks so a file of any size is sketched in bounded memory;
- `statistics`: PSI, Kolmogorov–Smirnov, Jensen–Shannon, normalised Wasserstein, chi-square, Z, all from bin
  counts;
- `compare`: `DriftConfig` → `compare(baseline, current)` → `DriftReport` (per-feature verdicts and the
  dataset verdict); `quality_drift` for a model metric;
- `report_html`: a self-contained HTML page of a report.
"""

from __future__ import annotations

from smflow.drift.compare import DriftConfig, DriftReport, FeatureResult, compare, quality_drift
from smflow.drift.sketch import Baseline, FeatureSketch, sketch_file, sketch_table
from smflow.drift.tables import iter_batches, read_table, read_table_bytes

__all__ = ["Baseline", "DriftConfig", "DriftReport", "FeatureResult", "FeatureSketch", "compare", "iter_batches",
           "quality_drift", "read_table", "read_table_bytes", "sketch_file", "sketch_table"]
