"""bench/batch: batch prediction on 1,000,000 CSV rows — the `<pipeline>__batch` DAG end to end vs a plain loop.

Contender: `smflow run bench.yaml --dag batch --input <batch folder>` as a user runs it (a fresh process: Airflow
run set-up, resolve the latest Approved model version, find the batches it owes, one CreateTransformJob on a
ManifestFile of the batch's objects, the manifest). Anchor, in the same run, over the same files: a plain
`model.predict` loop — read CSV (numpy's C reader) → predict → write — both in this process (warm: imports and
model load paid already) and as a fresh `python predict.py` process (what a plain script pays: import
scikit-learn, load the model).

Throughput is per-row work on the 1,000,000-row batch, counted conservatively so fixed start-up costs stay out
without being estimated: the transform job's time on the objects (its log times each one: read, split, parse,
predict, format, write), plus all of the find_batches and predict tasks outside the job (ETags, manifests,
record counts, and those tasks' own start-up), as Airflow timed them. What is left out is the job's start-up
(a fresh Python importing scikit-learn, which a real container pays too) and the run's fixed Airflow cost; both
are printed, the first against the plain script run as a fresh process, which pays the same. The marginal rate
between a 1-file and a 5-file batch is printed as a cross-check; on a shared 2-core machine the start-up noise
(±0.5 s) is as large as the per-row work (~1 s), so it is only indicative.
Target: the DAG's throughput >= 0.8x the anchor's.

The model is scikit-learn's LinearRegression on 10 features; jobs run with smflow's own Python
(SMFLOW_IMAGE_ENVIRONMENTS=off), so both sides use the same scikit-learn and numpy. Each DAG run predicts with
a newly approved model version (a batch is predicted once per version, so a repeat needs a new version).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# bench/local.py's model, anchor loop and constants: both benchmarks measure against the same plain loop.
from local import IMAGE, INFERENCE, direct_once, make_model

BUCKET = "bench-batch"
GROUP = "bench-batch-regressor"
INPUT = f"s3://{BUCKET}/incoming/"
FEATURES = 10

TRAIN = """
# Never run by the benchmark: the batch DAG predicts with the version the benchmark registers and approves.
import argparse
argparse.ArgumentParser().parse_known_args()
"""

PIPELINE = f"""pipeline: benchbatch
defaults:
  bucket: {BUCKET}
  image: {{framework: sklearn, version: 1.2-1}}
models:
  regressor:
    steps:
      - {{name: train, type: training, entry_point: train.py}}
      - {{name: register, type: register, model: train, group: {GROUP}}}
    batch:
      input: {INPUT}
      marker: _SUCCESS
      transform: {{content_type: text/csv, split_type: Line, accept: text/csv, assemble_with: Line,
                  batch_strategy: MultiRecord, max_payload_mb: 6}}
"""

PLAIN_SCRIPT = """
import sys, time
started = time.perf_counter()
import joblib, numpy as np
model = joblib.load(sys.argv[1])
out = sys.argv[2]
for i, file in enumerate(sys.argv[3:]):
    predictions = model.predict(np.loadtxt(file, delimiter=",", dtype=np.float32))
    with open(f"{out}/{i}.out", "w") as handle:
        handle.write("\\n".join(map(str, predictions.tolist())) + "\\n")
print(time.perf_counter() - started)
"""


def make_data(work: Path, rows_per_file: int, files: int) -> list[Path]:
    import numpy as np

    rng = np.random.default_rng(2)
    data = work / "data"
    data.mkdir()
    paths = []
    for i in range(files):
        path = data / f"part-{i:05d}.csv"
        np.savetxt(path, rng.normal(size=(rows_per_file, FEATURES)), delimiter=",", fmt="%.6f")
        paths.append(path)
    return paths


def stage_batch(executor: Any, folder: str, paths: list[Path]) -> str:
    """A batch as a producer writes it: the part files, then the `_SUCCESS` marker that completes the folder."""
    prefix = f"{INPUT}{folder}/"
    for path in paths:
        executor.upload(path, prefix + path.name)
    executor.write_bytes(prefix + "_SUCCESS", b"")
    return prefix


def register_approved(executor: Any, model_uri: str) -> int:
    """A new Approved version in the group (what `smflow registry approve` leaves behind after a train run)."""
    from botocore.exceptions import ClientError

    try:
        executor.call("CreateModelPackageGroup", {"ModelPackageGroupName": GROUP})
    except ClientError:
        pass  # the group exists from an earlier version
    arn = executor.call("CreateModelPackage", {
        "ModelPackageGroupName": GROUP, "ModelApprovalStatus": "Approved",
        "InferenceSpecification": {
            "Containers": [{"Image": IMAGE, "ModelDataUrl": model_uri,
                            "Environment": {"SAGEMAKER_PROGRAM": "inference.py",
                                            "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"}}],
            "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]},
    })["ModelPackageArn"]
    return int(executor.call("DescribeModelPackage", {"ModelPackageName": arn})["ModelPackageVersion"])


def plain_script_once(work: Path, files: list[Path]) -> float:
    """The anchor as a fresh process: `python predict.py` pays importing scikit-learn and loading the model."""
    script = work / "predict.py"
    script.write_text(PLAIN_SCRIPT)
    out = work / "plain-out"
    out.mkdir(exist_ok=True)
    started = time.perf_counter()
    subprocess.run([sys.executable, str(script), str(work / "model" / "model.joblib"), str(out), *map(str, files)],
                   check=True, capture_output=True)
    return time.perf_counter() - started


def task_durations(home: Path, run_id: str) -> dict[str, float]:
    """Each task's duration in the run, as Airflow recorded it (the summary prints tenths only)."""
    with sqlite3.connect(home / "airflow" / "airflow.db") as db:
        rows = db.execute("SELECT task_id, duration FROM task_instance WHERE run_id = ?", (run_id,)).fetchall()
    return {task_id: float(duration or 0.0) for task_id, duration in rows}


def dag_run_once(spec: Path, batch_prefix: str, env: dict[str, str]) -> dict[str, Any]:
    """`smflow run --dag batch --input <batch>` in a fresh process: wall time and its tasks' durations."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "smflow.cli", "run", str(spec), "--dag", "batch",
                           "--input", batch_prefix], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    run = re.search(r"run (\S+): SUCCESS in ([\d.]+)s", done.stdout)
    if done.returncode != 0 or run is None:
        raise SystemExit(f"smflow run --dag batch failed ({done.returncode}):\n{done.stdout[-4000:]}\n"
                         f"{done.stderr[-4000:]}")
    tasks = task_durations(Path(env["SMFLOW_HOME"]), run.group(1))
    work = sum(seconds for task, seconds in tasks.items() if task.endswith((".find_batches", ".predict")))
    return {"wall": wall, "tasks": tasks, "work": work, "dag_test": float(run.group(2))}


OBJECT_LINE = re.compile(r"^\S+: (\d+) record\(s\) in \d+ request\(s\) → \S+ \(([\d.]+) s\)$", re.MULTILINE)


def transform_job(executor: Any, batch_prefix: str, version: int) -> dict[str, Any]:
    """The batch's manifest for `version`; its transform job's run time, and the time the job spent on the objects
    themselves (read → split → parse → predict → format → write, as its log times each one)."""
    folder = batch_prefix.removeprefix(INPUT).rstrip("/")
    uri = next(uri for uri in executor.store.list(f"s3://{BUCKET}/")
               if uri.endswith(f"/{folder}/v{version}/_manifest.json"))
    manifest = json.loads(executor.read_bytes(uri))
    name = manifest["transform_job"]
    description = executor.call("DescribeTransformJob", {"TransformJobName": name})
    log, _ = executor.read_log("CreateTransformJob", name, 0)
    objects = [(int(rows), float(seconds)) for rows, seconds in OBJECT_LINE.findall(log)]
    if sum(rows for rows, _ in objects) != manifest["records"]["input"]:
        raise SystemExit(f"could not read the per-object timings of {name} from its log")
    return {"manifest": manifest, "uri": uri, "objects_seconds": sum(seconds for _, seconds in objects),
            "job_seconds": (description["TransformEndTime"] - description["TransformStartTime"]).total_seconds()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rows-per-file", type=int, default=200_000)
    parser.add_argument("--files", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3, help="DAG runs per batch size (best of)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="smflow-bench-batch-"))
    env = {**os.environ, "SMFLOW_HOME": str(work / "home"), "SMFLOW_IMAGE_ENVIRONMENTS": "off"}
    env.pop("AIRFLOW_HOME", None)
    env.pop("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", None)
    os.environ.update({k: env[k] for k in ("SMFLOW_HOME", "SMFLOW_IMAGE_ENVIRONMENTS")})
    from smflow.executors.local import LocalExecutor

    executor = LocalExecutor()
    spec = work / "pipeline" / "pipeline.yaml"
    spec.parent.mkdir()
    spec.write_text(PIPELINE)
    (spec.parent / "train.py").write_text(TRAIN)
    (spec.parent / "inference.py").write_text(INFERENCE)  # the register step's; the DAG uses the package's

    model, archive = make_model(work, FEATURES)
    model_uri = f"s3://{BUCKET}/model/model.tar.gz"
    executor.upload(archive, model_uri)
    paths = make_data(work, args.rows_per_file, args.files)
    rows_one, rows_all = args.rows_per_file, args.rows_per_file * args.files
    marginal_rows = rows_all - rows_one
    small = stage_batch(executor, "small", paths[:1])
    full = stage_batch(executor, "full", paths)

    out = work / "direct-out"
    out.mkdir()

    def anchor() -> tuple[float, float]:
        return (min(direct_once(model, paths[:1], out) for _ in range(2)),
                min(direct_once(model, paths, out) for _ in range(2)))

    plain_all = min(plain_script_once(work, paths) for _ in range(2))
    register_approved(executor, model_uri)
    dag_run_once(spec, small, env)  # warm-up: creates the Airflow DB of this smflow home (a first run pays it)
    # The machine is shared, its load changes by the minute: each DAG pair runs right after an anchor pair, and
    # each side's best is taken, so both sides get the quiet moments alike.
    anchors, one_runs, all_runs = [], [], []
    for _ in range(args.repeat):
        anchors.append(anchor())
        version = register_approved(executor, model_uri)
        one_runs.append({**dag_run_once(spec, small, env), **transform_job(executor, small, version)})
        all_runs.append({**dag_run_once(spec, full, env), **transform_job(executor, full, version)})
    direct_one, direct_all = min(a[0] for a in anchors), min(a[1] for a in anchors)
    for run in (*one_runs, *all_runs):
        if run["manifest"]["records"]["output"] != run["manifest"]["records"]["input"]:
            raise SystemExit(f"the batch DAG wrote {run['manifest']['records']} records")

    def best(runs: list[dict[str, Any]], key: str) -> float:
        return min(float(r[key]) for r in runs)

    def median(runs: list[dict[str, Any]], key: str) -> float:
        return float(statistics.median(float(r[key]) for r in runs))

    # Headline: the DAG's per-row cost on the 1,000,000-row batch, counted conservatively: the job's time on the
    # objects (its log times each one: read, split, parse, predict, format, write) plus ALL of find_batches and
    # of predict outside the job (ETags, manifests, record counts, and those tasks' own start-up). Only the
    # job's start-up (a fresh Python importing scikit-learn, which a real container pays too) is left out.
    def per_row_seconds(run: dict[str, Any]) -> float:
        tasks = run["tasks"]
        find = sum(d for t, d in tasks.items() if t.endswith(".find_batches"))
        predict = sum(d for t, d in tasks.items() if t.endswith(".predict"))
        return float(run["objects_seconds"] + find + max(predict - run["job_seconds"], 0.0))

    dag_all = min(per_row_seconds(run) for run in all_runs)
    direct_rate = marginal_rows / (direct_all - direct_one)
    work_delta = median(all_runs, "work") - median(one_runs, "work")
    job_delta = median(all_runs, "job_seconds") - median(one_runs, "job_seconds")
    wall_one, wall_all = best(one_runs, "wall"), best(all_runs, "wall")
    print(f"batch prediction, {rows_all:,} CSV rows ({args.files} files x {rows_one:,} rows, {FEATURES} features), "
          f"LinearRegression, MultiRecord 6 MB; anchor best of {2 * args.repeat}, DAG runs best of {args.repeat}")
    print(f"{'path':>44} | {'1 file (s)':>10} | {f'{args.files} files (s)':>11} | {'rows/s':>10}")
    print("-" * 86)
    rows = [("model.predict loop, warm (anchor)", direct_one, direct_all),
            ("batch DAG, per-row work (conservative)", None, dag_all),
            ("python predict.py, fresh process", None, plain_all),
            ("batch DAG: find_batches + predict tasks", best(one_runs, "work"), best(all_runs, "work")),
            ("  of which the transform job", best(one_runs, "job_seconds"), best(all_runs, "job_seconds")),
            ("smflow run --dag batch, whole process", wall_one, wall_all)]
    for label, t_one, t_all in rows:
        print(f"{label:>44} | {'' if t_one is None else f'{t_one:.2f}':>10} | {t_all:>11.2f} | "
              f"{rows_all / t_all:>10,.0f}")
    print(f"\nthroughput ratio on {rows_all:,} rows, batch DAG / plain loop: {direct_all / dag_all:.2f}x "
          "(target >= 0.8x)"
          f" — the DAG's per-row work {dag_all:.2f} s (job on the objects {best(all_runs, 'objects_seconds'):.2f} s, "
          f"the rest find_batches and predict outside the job) vs the warm loop's {direct_all:.2f} s")
    print(f"including the job's start-up (a fresh Python importing scikit-learn), against the plain script as a "
          f"fresh process, which pays the same: {best(all_runs, 'work'):.2f} s vs {plain_all:.2f} s "
          f"({plain_all / best(all_runs, 'work'):.2f}x)")
    if work_delta > 0 and job_delta > 0:
        print(f"cross-check, marginal 1 → {args.files} files (medians; start-up noise of ±0.5 s swamps the ~1 s of "
              f"per-row work, so only indicative): DAG {marginal_rows / work_delta / direct_rate:.2f}x, "
              f"the job alone {marginal_rows / job_delta / direct_rate:.2f}x")
    fixed = wall_all - dag_all
    print(f"fixed cost of one `smflow run --dag batch`: {fixed:.1f} s whatever the rows (Python + Airflow import, "
          f"DB and DAG serialisation, dag.test's in-process API; resolve_model; the job's start-up); "
          f"end-to-end on {rows_all:,} rows: {wall_all:.1f} s vs {plain_all:.1f} s for the fresh plain script")
    print("\ntask durations (s), each run:")
    for label, runs in (("1 file", one_runs), (f"{args.files} files", all_runs)):
        for run in runs:
            tasks = ", ".join(f"{t.split('.')[-1]} {d:.2f}" for t, d in sorted(run["tasks"].items()))
            print(f"  {label:>8}: process {run['wall']:.2f}, dag.test {run['dag_test']:.1f}: {tasks}; "
                  f"transform job {run['job_seconds']:.2f} (objects {run['objects_seconds']:.2f})")
    print(f"manifest: {all_runs[-1]['uri']} records {all_runs[-1]['manifest']['records']}")


if __name__ == "__main__":
    main()
