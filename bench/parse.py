"""bench/parse: time to discover, compile and build DAGs for 1, 50 and 500 generated pipelines, beside dag-factory.

Prints a table. Cold = a fresh process with an empty compiled-pipeline cache (every YAML validated and compiled),
as the DAG processor parses a file after an edit; the process has imported Airflow already (every loader pays
that alike), the time counts importing the loader library and building the DAGs. Warm = cache hit in a process
that has built once (what each re-parse costs; best of 3); one DAG = the parsing-context path a worker takes.

Beside it, in the same run: dag-factory (installed for the benchmark only, into .smflow/bench-deps, never into
the project's environment) building the same 500 five-task DAGs from one YAML file each, cold the same way; and
the hand-written baseline: the same DAG shapes written directly in Python with plain operators, the floor any
YAML loader sits on. Targets: cold ≤ dag-factory's, warm ≤ 1.5× hand-written, one DAG < 20 ms.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC
from pathlib import Path

DAG_FACTORY = "dag-factory==1.1.0"  # the newest release; supports Airflow 3
DEPS = Path(__file__).resolve().parent.parent / ".smflow" / "bench-deps" / DAG_FACTORY.replace("==", "-")
EMPTY = "airflow.providers.standard.operators.empty.EmptyOperator"

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
STEPS = ("prep", "fit", "evaluate", "gate", "register")


def generate(root: Path, count: int) -> Path:
    folder = root / f"pipelines-{count}"
    for i in range(count):
        target = folder / f"p{i:04d}"
        target.mkdir(parents=True)
        (target / "pipeline.yaml").write_text(TEMPLATE.format(i=i))
        (target / "job.py").write_text("print('hello')\n")
    return folder


def generate_dag_factory(root: Path, count: int) -> Path:
    """The same DAGs as dag-factory YAML, one file per DAG (its documented layout), with the same task group."""
    folder = root / f"dag-factory-{count}"
    folder.mkdir(parents=True)
    upstream = {step: [a for a, b in EDGES if b == step] for step in STEPS}
    for i in range(count):
        tasks = "".join(
            f"    {step}:\n      operator: {EMPTY}\n      task_group_name: m\n"
            + (f"      dependencies: [{', '.join(upstream[step])}]\n" if upstream[step] else "")
            for step in STEPS)
        (folder / f"p{i:04d}.yaml").write_text(
            f"p{i:04d}__train:\n  default_args:\n    owner: airflow\n    start_date: 2024-01-01\n"
            f"  schedule: \"@daily\"\n  catchup: false\n  task_groups:\n    m:\n      tooltip: model unit m\n"
            f"  tasks:\n{tasks}")
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
                ops = {name: EmptyOperator(task_id=name) for name in STEPS}
            for a, b in EDGES:
                ops[a] >> ops[b]


def install_dag_factory() -> bool:
    """dag-factory into a folder only this benchmark's child processes put on sys.path (its own dependencies,
    Airflow, PyYAML, typer, pathspec, are the project's already)."""
    if (DEPS / "dagfactory").is_dir():
        return True
    DEPS.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                           "--no-deps", "--target", str(DEPS), DAG_FACTORY], check=False)
    if done.returncode != 0:
        print(f"could not install {DAG_FACTORY} for the benchmark; dag-factory columns left empty", file=sys.stderr)
        shutil.rmtree(DEPS, ignore_errors=True)
    return done.returncode == 0


def child(which: str, folder: str) -> None:
    """One cold parse in this fresh process: Airflow imported first (untimed), then the loader timed."""
    import airflow.providers.standard.operators.empty  # noqa: F401
    import airflow.sdk  # noqa: F401

    started = time.perf_counter()
    namespace: dict[str, object] = {}
    if which == "smflow":
        from smflow.dags.loader import build_dags

        result = build_dags(Path(folder))
        assert not result.errors, result.errors
        namespace.update(result.dags)
    else:
        from dagfactory import load_yaml_dags

        load_yaml_dags(globals_dict=namespace, dags_folder=folder)
    cold = time.perf_counter() - started
    if which != "smflow":
        warm = best_of(lambda: load_yaml_dags(globals_dict={}, dags_folder=folder), 3)  # it has no cache
    else:
        warm = float("nan")
    print(json.dumps({"cold": cold, "warm": warm, "dags": len(namespace)}))


def cold_run(which: str, folder: Path, env: dict[str, str]) -> dict[str, float]:
    done = subprocess.run([sys.executable, __file__, "--child", which, str(folder)], env=env, check=True,
                          capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="smflow-bench-"))
    os.environ["SMFLOW_HOME"] = str(work / "home")
    # Resolve the images once: their table is cached in the smflow home, so "cold" measures smflow, not the
    # SageMaker SDK's 2-4 s import (a DAG processor has that table cached after its first parse too).
    from smflow.compile.images import resolve_image
    from smflow.dags.loader import build_dags

    resolve_image("sklearn", "1.2-1", "us-east-1", "ml.m5.large", "training")
    resolve_image("sklearn", "1.2-1", "us-east-1", "ml.m5.large", "inference")
    baseline(1)  # import Airflow's operator modules before timing anything
    have_df = install_dag_factory()
    child_env = {**os.environ, "AIRFLOW__DAG_FACTORY__ENABLE_TELEMETRY": "False", "DO_NOT_TRACK": "1"}
    df_env = {**child_env, "PYTHONPATH": os.pathsep.join([str(DEPS), child_env.get("PYTHONPATH", "")])}

    rows = []
    for count in (1, 50, 500):
        folder = generate(work, count)
        cache = work / "home" / "cache" / "compiled"
        shutil.rmtree(cache, ignore_errors=True)
        cold = cold_run("smflow", folder, child_env)
        assert cold["dags"] == count, cold
        result = build_dags(folder)  # this process's first build (compiles nothing: the child filled the cache)
        assert len(result.dags) == count and not result.errors, result.errors
        warm = best_of(lambda f=folder: build_dags(f), 3)
        base = best_of(lambda c=count: baseline(c), 3)
        one_id = f"p{count - 1:04d}__train"
        one = statistics.median(
            [best_of(lambda f=folder, d=one_id: build_dags(f, only_dag_id=d), 1) for _ in range(7)])
        df = {"cold": float("nan"), "warm": float("nan")}
        if have_df:
            df = cold_run("dagfactory", generate_dag_factory(work, count), df_env)
            assert df["dags"] == count, df
        rows.append((count, cold["cold"], warm, df["cold"], df["warm"], base, one))

    print(f"{'pipelines':>9} | {'smflow cold':>11} | {'smflow warm':>11} | {'dag-factory cold':>16} | "
          f"{'dag-factory warm':>16} | {'hand-written':>12} | {'warm/hand':>9} | {'one DAG (ms)':>12}")
    print("-" * 121)
    for count, cold_s, warm, df_cold, df_warm, base, one in rows:
        print(f"{count:>9} | {cold_s:>10.3f}s | {warm:>10.3f}s | {df_cold:>15.3f}s | {df_warm:>15.3f}s | "
              f"{base:>11.3f}s | {warm / base:>8.2f}x | {one * 1000:>12.1f}")
    print()
    _, cold_500, warm_500, df_500, _, base_500, one_500 = rows[-1]
    verdict = "PASS" if cold_500 <= df_500 else ("n/a" if df_500 != df_500 else "FAIL")
    print(f"500 pipelines: cold ≤ dag-factory cold: {verdict} ({cold_500:.3f} s vs {df_500:.3f} s); "
          f"warm ≤ 1.5x hand-written: {'PASS' if warm_500 <= 1.5 * base_500 else 'FAIL'} "
          f"({warm_500 / base_500:.2f}x); one DAG < 20 ms: {'PASS' if one_500 < 0.02 else 'FAIL'} "
          f"({one_500 * 1000:.1f} ms)")
    shutil.rmtree(work, ignore_errors=True)
    sys.exit(0)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2], sys.argv[3])
    else:
        main()
