"""bench/drift: data drift on 1,000,000 rows × 100 numeric + 4 categorical columns, known shifted columns.

Contender: smflow's compare — read the current Parquet file in chunks, bin it on the baseline sketch's edges,
compute the per-feature statistics and the dataset verdict (`sketch_file(current, edges_from=baseline)` +
`compare`, what `smflow drift` and the monitor DAG run). The baseline is sketched once, at training time, so
its cost is reported on its own line and not in the headline.
Anchors, in the same run, each in a fresh process over the same files:
- the numpy floor: a plain script reading both Parquet files with pyarrow and computing a 10-quantile PSI per
  column with numpy (np.quantile edges of the reference, np.histogram of both). It misses n006, a uniform
  column spread 1.5x wider: np.histogram drops current values outside the reference's min..max, and what is
  left is still uniform over the deciles (smflow's sketch keeps bins below and above the edges);
- Evidently's `Report([DataDriftPreset()])` (its defaults: normalised Wasserstein / Jensen–Shannon above 1000
  rows), installed for the benchmark only in its own venv (.smflow/bench/evidently-venv, with uv from PyPI).
  Evidently on the full 1M × 104 took 1012 s and 8.3 GiB here (load average 3.3; issue 15 measured 590 s
  and 4.7 GiB on 1M × 100 numeric), so by default it runs on the first
  `--evidently-rows` (100,000) rows of both files, and smflow is timed on the same rows for a like-for-like
  ratio; `--evidently-rows 1000000` runs it at full size.
Each contender is timed inside its process from after its imports (the process's total wall time is printed
too) and its peak memory is that process's own peak RSS (getrusage). Each reports the features it finds
drifted; the run checks them against the known shifted set.

Targets (issue 15): smflow ≤ 3 s and < 1 GiB peak on 1M × 100 including reading the batch, ≥ 50× faster
than Evidently, faster than the numpy floor, the same drifted set on these clear shifts.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / ".smflow" / "bench" / "drift"
EVIDENTLY_VENV = REPO / ".smflow" / "bench" / "evidently-venv"
# Evidently 0.7 imports a pandas helper that pandas 3 removed.
EVIDENTLY_REQUIREMENTS = ["evidently>=0.7,<0.8", "pandas<3", "pyarrow"]
ROWS, NUMERIC, CATEGORICAL, CATEGORIES = 1_000_000, 100, 4, 8
ROW_GROUP = 125_000
# Clear shifts: the mean of n000-n004 moves by half a standard deviation, n005-n009 spread 1.5x wider, and
# one category of c0 takes 40% of the rows instead of 12.5%.
SHIFTED = {f"n{i:03d}" for i in range(10)} | {"c0"}


def numeric_name(i: int) -> str:
    return f"n{i:03d}"


def make_files(rows: int, work: Path) -> tuple[Path, Path]:
    """reference.parquet and current.parquet (written once per size, then reused)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    reference, current = work / f"reference-{rows}.parquet", work / f"current-{rows}.parquet"
    if reference.exists() and current.exists():
        return reference, current
    work.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(2026)
    categories = np.array([f"v{k}" for k in range(CATEGORIES)])
    for path, shifted in ((reference, False), (current, True)):
        writer = None
        for start in range(0, rows, ROW_GROUP):
            n = min(ROW_GROUP, rows - start)
            columns: dict[str, Any] = {}
            for i in range(NUMERIC):
                values = _draw(rng, i, n)
                if shifted and i < 5:
                    values = values + 0.5 * _std(i)
                elif shifted and i < 10:
                    values = _center(i) + (values - _center(i)) * 1.5
                columns[numeric_name(i)] = values
            for j in range(CATEGORICAL):
                p = np.full(CATEGORIES, 1 / CATEGORIES)
                if shifted and j == 0:
                    p = np.r_[0.4, np.full(CATEGORIES - 1, 0.6 / (CATEGORIES - 1))]
                columns[f"c{j}"] = categories[rng.choice(CATEGORIES, n, p=p)]
            table = pa.table(columns)
            if writer is None:
                writer = pq.ParquetWriter(path.with_suffix(".tmp"), table.schema)
            writer.write_table(table)
        assert writer is not None
        writer.close()
        path.with_suffix(".tmp").rename(path)
    return reference, current


def _draw(rng: Any, i: int, n: int) -> Any:
    kind = i % 4
    if kind == 0:
        return rng.normal(i, 1 + i % 7, n)
    if kind == 1:
        return rng.lognormal(0, 0.5, n)
    if kind == 2:
        return rng.uniform(-i, i + 1, n)
    return rng.poisson(10, n).astype("float64")


def _center(i: int) -> float:
    return [float(i), 1.133, 0.5, 10.0][i % 4]


def _std(i: int) -> float:
    import math

    return [1 + i % 7, math.sqrt((math.e ** 0.25 - 1) * math.e ** 0.25), (2 * i + 1) / math.sqrt(12),
            math.sqrt(10)][i % 4]


# ---- workers: each runs in its own process and prints one JSON line ---------------------------------------

def worker_smflow_sketch(reference: str, out: str) -> dict[str, Any]:
    from smflow.atomic_files import write_text_atomic
    from smflow.drift.sketch import sketch_file

    started = time.perf_counter()
    baseline = sketch_file(reference)
    text = baseline.to_json()
    write_text_atomic(Path(out), text)
    return {"seconds": time.perf_counter() - started, "bytes": len(text)}


def worker_smflow_compare(baseline_path: str, current: str) -> dict[str, Any]:
    from smflow.drift.compare import compare
    from smflow.drift.sketch import Baseline, sketch_file

    started = time.perf_counter()
    baseline = Baseline.from_json(Path(baseline_path).read_text(), baseline_path)
    report = compare(baseline, sketch_file(current, edges_from=baseline))
    return {"seconds": time.perf_counter() - started, "drifted": report.drifted,
            "dataset_drift": report.dataset_drift}


def worker_numpy(reference: str, current: str) -> dict[str, Any]:
    """The plain script a person would write: read both files, quantile-PSI per column."""
    import numpy as np
    import pyarrow.parquet as pq

    started = time.perf_counter()
    ref, cur = pq.read_table(reference), pq.read_table(current)
    drifted = []
    for name in ref.column_names:
        a, b = ref.column(name).to_numpy(), cur.column(name).to_numpy()
        if a.dtype.kind in "fiu":
            edges = np.unique(np.quantile(a, np.linspace(0, 1, 11)))
            p, q = np.histogram(a, edges)[0], np.histogram(b, edges)[0]
        else:
            values = np.unique(a)
            p = np.array([np.count_nonzero(a == v) for v in values])
            q = np.array([np.count_nonzero(b == v) for v in values])
        p = np.clip(p / p.sum(), 1e-4, None)
        q = np.clip(q / max(q.sum(), 1), 1e-4, None)
        if float(np.sum((p - q) * np.log(p / q))) >= 0.1:
            drifted.append(name)
    return {"seconds": time.perf_counter() - started, "drifted": drifted}


EVIDENTLY_WORKER = """
import json, resource, sys, time
started_process = time.perf_counter()
import pyarrow.parquet as pq
from evidently import Report
from evidently.presets import DataDriftPreset
reference, current, rows = sys.argv[1], sys.argv[2], int(sys.argv[3])
started = time.perf_counter()
ref = pq.read_table(reference).slice(0, rows).to_pandas()
cur = pq.read_table(current).slice(0, rows).to_pandas()
snapshot = Report([DataDriftPreset()]).run(cur, ref)
drifted = []
for metric in snapshot.dict()["metrics"]:
    config = metric.get("config", {})
    if config.get("type", "").endswith("ValueDrift"):
        value, threshold = metric["value"], config["threshold"]
        p_value = "p_value" in config.get("method", "")
        if (value < threshold) if p_value else (value >= threshold):
            drifted.append(config["column"])
print(json.dumps({"seconds": time.perf_counter() - started, "drifted": drifted,
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run_worker(argv: list[str]) -> dict[str, Any]:
    started = time.perf_counter()
    result = subprocess.run(argv, capture_output=True, text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(
        REPO / "plugins")})
    if result.returncode != 0:
        raise SystemExit(f"worker failed ({' '.join(argv[:3])} …):\n{result.stderr[-3000:]}")
    out = json.loads(result.stdout.strip().splitlines()[-1])
    out["process_seconds"] = time.perf_counter() - started
    return out


def ours(worker: str, *args: str) -> dict[str, Any]:
    return run_worker([sys.executable, __file__, "--worker", worker, *args])


def evidently_python() -> Path:
    python = EVIDENTLY_VENV / "bin" / "python"
    check = [str(python), "-c", "import evidently, pandas; assert int(pandas.__version__.split('.')[0]) < 3"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python
    uv = Path(sys.executable).parent / "uv"
    print(f"installing Evidently into {EVIDENTLY_VENV} (benchmark only) …", flush=True)
    subprocess.run([str(uv), "venv", "-q", "--python", "3.11", str(EVIDENTLY_VENV)], check=True)
    subprocess.run([str(uv), "pip", "install", "-q", "--python", str(python), *EVIDENTLY_REQUIREMENTS],
                   check=True)
    return python


def agreement(drifted: list[str]) -> str:
    found = set(drifted)
    if found == SHIFTED:
        return "same set"
    missed, extra = sorted(SHIFTED - found), sorted(found - SHIFTED)
    return "differs: " + "; ".join(part for part in (f"missed {', '.join(missed)}" if missed else "",
                                                      f"extra {', '.join(extra)}" if extra else "") if part)


def row(label: str, result: dict[str, Any]) -> str:
    return (f"{label:>38} | {result['seconds']:>9.2f} | {result['process_seconds']:>9.2f} | "
            f"{result['peak_rss_mib']:>9.0f} | {agreement(result['drifted'])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--evidently-rows", type=int, default=100_000,
                        help="rows Evidently sees (default 100,000; give --rows for the full size, ~10 min)")
    parser.add_argument("--repeat", type=int, default=3, help="smflow compare runs (best is reported)")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        import resource

        name, *rest = args.worker
        out = {"sketch": worker_smflow_sketch, "compare": worker_smflow_compare, "numpy": worker_numpy}[name](*rest)
        out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(out))
        return

    rows, evidently_rows = args.rows, min(args.evidently_rows, args.rows)
    started_load = os.getloadavg()[0]
    print(f"generating / reusing {rows:,} rows × {NUMERIC} numeric + {CATEGORICAL} categorical columns "
          f"(Parquet, snappy, {ROW_GROUP:,}-row groups) in {WORK} …", flush=True)
    reference, current = make_files(rows, WORK)
    size = current.stat().st_size / 2**20
    print(f"current batch: {current.name}, Parquet, {size:,.0f} MiB; known shifted: {len(SHIFTED)} features "
          f"({', '.join(sorted(SHIFTED))})\n")
    baseline = WORK / f"baseline-{rows}.json"
    sketch = ours("sketch", str(reference), str(baseline))
    print(f"baseline sketch (once, at training time; not in the headline): {sketch['seconds']:.2f} s, peak "
          f"{sketch['peak_rss_mib']:.0f} MiB, {sketch['bytes'] / 1024:.0f} KiB of JSON\n")

    runs = [ours("compare", str(baseline), str(current)) for _ in range(max(args.repeat, 1))]
    smflow = min(runs, key=lambda r: r["seconds"])
    floor = ours("numpy", str(reference), str(current))
    print(f"{'':>38} | {'work (s)':>9} | {'proc (s)':>9} | {'peak MiB':>9} | drifted set vs the known shift")
    print("-" * 104)
    print(row(f"smflow compare, {rows:,} rows (best of {len(runs)})", smflow))
    print(row(f"numpy floor (quantile PSI), {rows:,} rows", floor))

    python = evidently_python()
    if evidently_rows < rows:
        small_ref, small_cur = make_files(evidently_rows, WORK)
        small_baseline = WORK / f"baseline-{evidently_rows}.json"
        ours("sketch", str(small_ref), str(small_baseline))
        small = min((ours("compare", str(small_baseline), str(small_cur)) for _ in range(3)),
                    key=lambda r: r["seconds"])
        print(row(f"smflow compare, {evidently_rows:,} rows", small))
    else:
        small_ref, small_cur, small = reference, current, smflow
    print(f"(running Evidently DataDriftPreset on {evidently_rows:,} rows …)", flush=True)
    evidently = run_worker([str(python), "-c", EVIDENTLY_WORKER, str(small_ref), str(small_cur),
                            str(evidently_rows)])
    print(row(f"Evidently DataDriftPreset, {evidently_rows:,} rows", evidently))
    print()
    print(f"machine: {os.cpu_count()} cores; load average {started_load:.1f} at the start, {os.getloadavg()[0]:.1f} at "
          "the end (other work on the machine slows every contender alike)")
    print(f"smflow on {rows:,} rows: {smflow['seconds']:.2f} s (target ≤ 3 s), peak {smflow['peak_rss_mib']:.0f} "
          f"MiB (target < 1024); {floor['seconds'] / smflow['seconds']:.1f}x faster than the numpy floor")
    print(f"vs Evidently on the same {evidently_rows:,} rows: {evidently['seconds'] / small['seconds']:.0f}x faster "
          f"(work), {evidently['process_seconds'] / small['process_seconds']:.0f}x (whole process); target ≥ 50x")
    if evidently_rows < rows:
        print(f"(Evidently was not run on {rows:,} rows; --evidently-rows {rows} runs it, 10-17 minutes and "
              "5-8 GiB here)")


if __name__ == "__main__":
    main()
