"""bench/parse: time to discover, compile and build DAGs for 1, 50 and 500 generated pipelines.

Prints a table. Cold = empty compiled-pipeline cache (every YAML validated and compiled); warm = cache hit
(what the DAG processor pays on each re-parse); one DAG = the parsing-context path a worker takes.
Baseline in the same run: building DAGs of the same shape directly in Python with plain operators — the
floor any YAML loader sits on. Targets: 500 pipelines warm < 1 s; one DAG < 20 ms.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC
from pathlib import Path

TEMPLATE = """pipeline: p{i:04d}
defaults: {{bucket: bench}}
schedule: {{train: "@daily"}}
models:
  m:
    steps:
      - {{name: prep, type: processing, entry_point: job.py, outputs: [train, test]}}
      - {{name: fit, type: training, entry_point: job.py, inputs: {{train: prep.train}}}}
      - {{name: evaluate, type: evaluation, entry_point: job.py, inputs: {{model: fit.model, test: prep.test}}}}
      - {{name: gate, type: condition, report: evaluate, checks: [{{metric: a.b, lt: 1}}]}}
      - {{name: register, type: register, model: fit, report: evaluate, entry_point: job.py, depends_on: [gate]}}
"""
EDGES = [("prep", "fit"), ("prep", "evaluate"), ("fit", "evaluate"), ("evaluate", "gate"), ("gate", "register"),
         ("fit", "register"), ("evaluate", "register")]


def generate(root: Path, count: int) -> Path:
    folder = root / f"pipelines-{count}"
    for i in range(count):
        target = folder / f"p{i:04d}"
        target.mkdir(parents=True)
        (target / "pipeline.yaml").write_text(TEMPLATE.format(i=i))
        (target / "job.py").write_text("print('hello')\n")
    return folder


def best_of(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times) if repeat > 1 else times[0]


def baseline(count: int) -> None:
    """Same DAG shapes written directly in Python (what a hand-written DAG file costs to parse)."""
    from datetime import datetime

    from airflow.providers.standard.operators.empty import EmptyOperator
    from airflow.sdk import DAG, TaskGroup

    for i in range(count):
        with DAG(f"p{i:04d}__train", schedule="@daily", start_date=datetime(2024, 1, 1, tzinfo=UTC),
                 catchup=False):
            with TaskGroup("m"):
                ops = {name: EmptyOperator(task_id=name) for name in ("prep", "fit", "evaluate", "gate", "register")}
            for a, b in EDGES:
                ops[a] >> ops[b]


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="smflow-bench-"))
    os.environ["SMFLOW_HOME"] = str(work / "home")
    # Resolve the image once so "cold" measures smflow, not the SageMaker SDK's 2-4 s import.
    from smflow.compile.images import resolve_image
    from smflow.dags.loader import build_dags

    resolve_image("sklearn", "1.2-1", "us-east-1", "ml.m5.large", "training")
    resolve_image("sklearn", "1.2-1", "us-east-1", "ml.m5.large", "inference")
    baseline(1)  # import Airflow's operator modules before timing anything

    rows = []
    for count in (1, 50, 500):
        folder = generate(work, count)
        cache = work / "home" / "cache" / "compiled"
        shutil.rmtree(cache, ignore_errors=True)
        started = time.perf_counter()
        result = build_dags(folder)
        cold = time.perf_counter() - started
        assert len(result.dags) == count and not result.errors, result.errors
        warm = best_of(lambda f=folder: build_dags(f), 3)
        base = best_of(lambda c=count: baseline(c), 3)
        one_id = f"p{count - 1:04d}__train"
        one = statistics.median(
            [best_of(lambda f=folder, d=one_id: build_dags(f, only_dag_id=d), 1) for _ in range(7)])
        rows.append((count, cold, warm, base, one))

    print(f"{'pipelines':>9} | {'cold (s)':>9} | {'warm (s)':>9} | {'baseline (s)':>12} | {'warm/base':>9} | "
          f"{'one DAG (ms)':>12}")
    print("-" * 76)
    for count, cold, warm, base, one in rows:
        print(f"{count:>9} | {cold:>9.3f} | {warm:>9.3f} | {base:>12.3f} | {warm / base:>8.2f}x | {one * 1000:>12.1f}")
    print()
    warm_500, one_500 = rows[-1][2], rows[-1][4]
    print(f"target 500 warm < 1 s: {'PASS' if warm_500 < 1 else 'FAIL'} ({warm_500:.3f} s); "
          f"one DAG < 20 ms: {'PASS' if one_500 < 0.02 else 'FAIL'} ({one_500 * 1000:.1f} ms)")
    shutil.rmtree(work, ignore_errors=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
