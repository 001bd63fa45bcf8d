"""bench/local: local-executor overhead and batch-transform throughput, each against a baseline in this run.

1. Job overhead: the same script-mode training script run (a) directly with `python train.py` and the SM_*
   variables set by hand, and (b) as a CreateTrainingJob on the local executor (staging, sandbox, packing
   model.tar.gz, describe polling). Reported for a trivial script (fixed cost) and a non-trivial one
   (target: local / direct < 1.2x).
2. Transform throughput: rows/s of a CreateTransformJob over CSV files vs reading the same rows and calling
   `model.predict` directly (target: >= 0.8x).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

TRAIN_SCRIPT = """
import argparse, os, time
import numpy as np
parser = argparse.ArgumentParser()
parser.add_argument("--rows", type=int, default=10)
parser.add_argument("--trees", type=int, default=1)
args, _ = parser.parse_known_args()
from sklearn.ensemble import RandomForestRegressor
rng = np.random.default_rng(0)
x = rng.normal(size=(args.rows, 20)); y = x @ rng.normal(size=20)
model = RandomForestRegressor(n_estimators=args.trees, random_state=0, n_jobs=1).fit(x, y)
import joblib; joblib.dump(model, os.path.join(os.environ["SM_MODEL_DIR"], "model.joblib"))
print("score=%.4f" % model.score(x, y))
"""

INFERENCE = """
import os, joblib
def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))
"""

ROLE = "arn:aws:iam::000000000000:role/service-role/SmflowSageMakerRole"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"


def training_request(name: str, source_uri: str, hyperparameters: dict[str, str]) -> dict:
    return {
        "TrainingJobName": name, "RoleArn": ROLE,
        "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        "HyperParameters": {**hyperparameters, "sagemaker_program": json.dumps("train.py"),
                            "sagemaker_submit_directory": json.dumps(source_uri)},
        "OutputDataConfig": {"S3OutputPath": "s3://bench/output"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    }


def run_direct(code: Path, work: Path, hyperparameters: dict[str, str]) -> float:
    model_dir = work / "direct-model"
    model_dir.mkdir(exist_ok=True)
    args = [a for k, v in hyperparameters.items() for a in (f"--{k}", json.loads(v) if v.isdigit() else v)]
    env = {**os.environ, "SM_MODEL_DIR": str(model_dir)}
    started = time.perf_counter()
    subprocess.run([sys.executable, str(code / "train.py"), *map(str, args)], env=env, check=True,
                   capture_output=True)
    return time.perf_counter() - started


def run_local(executor, source_uri: str, name: str, hyperparameters: dict[str, str]) -> float:  # noqa: ANN001
    started = time.perf_counter()
    executor.start_job("CreateTrainingJob", training_request(name, source_uri, hyperparameters))
    executor.wait_for_job("CreateTrainingJob", name, poll_seconds=0.05)
    return time.perf_counter() - started


def bench_overhead(executor, work: Path) -> list[tuple[str, float, float]]:  # noqa: ANN001
    code = work / "code"
    code.mkdir()
    (code / "train.py").write_text(TRAIN_SCRIPT)
    source_uri = "s3://bench/code/sourcedir.tar.gz"
    executor.upload(code, source_uri, tar=True)
    rows = []
    for label, hps in (("trivial step", {"rows": "10", "trees": "1"}),
                       ("non-trivial step", {"rows": "20000", "trees": "40"})):
        direct = min(run_direct(code, work, hps) for _ in range(2))
        local = min(run_local(executor, source_uri, f"bench-{label.replace(' ', '-')}-{i}", hps) for i in range(2))
        rows.append((label, direct, local))
    return rows


def _transform_once(executor, name: str, prefix: str) -> float:  # noqa: ANN001
    request = {
        "TransformJobName": name, "ModelName": "bench-model", "BatchStrategy": "MultiRecord", "MaxPayloadInMB": 6,
        "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": prefix}},
                           "ContentType": "text/csv", "SplitType": "Line"},
        "TransformOutput": {"S3OutputPath": f"s3://bench/predictions/{name}", "Accept": "text/csv",
                            "AssembleWith": "Line"},
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
    }
    started = time.perf_counter()
    executor.start_job("CreateTransformJob", request)
    executor.wait_for_job("CreateTransformJob", name, poll_seconds=0.02)
    return time.perf_counter() - started


def direct_once(model, files: list[Path], out: Path) -> float:  # noqa: ANN001
    """The strongest plain-Python equivalent: numpy's C CSV parser, predict, fast float formatting."""
    import numpy as np

    started = time.perf_counter()
    for file in files:
        predictions = model.predict(np.loadtxt(file, delimiter=",", dtype=np.float32))
        (out / f"{file.name}.out").write_text("\n".join(map(str, predictions.tolist())) + "\n")
    return time.perf_counter() - started


def make_model(work: Path, features: int = 10):  # noqa: ANN201
    """A fitted LinearRegression, and its model.tar.gz (model.joblib + code/inference.py) as SageMaker packs it."""
    import joblib
    import numpy as np
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(1)
    x = rng.normal(size=(2000, features))
    model = LinearRegression().fit(x, x @ rng.normal(size=features))
    model_dir = work / "model"
    (model_dir / "code").mkdir(parents=True)
    joblib.dump(model, model_dir / "model.joblib")
    (model_dir / "code" / "inference.py").write_text(INFERENCE)
    archive = work / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for item in model_dir.iterdir():
            tar.add(item, arcname=item.name)
    return model, archive


def bench_transform(executor, work: Path, rows_per_file: int = 100_000, files: int = 5):  # noqa: ANN001, ANN201
    """Marginal throughput: (5 files - 1 file) rows / time difference, so fixed start-up costs cancel out."""
    import numpy as np

    model, archive = make_model(work)
    rng = np.random.default_rng(2)
    executor.upload(archive, "s3://bench/model/model.tar.gz")
    data_dir = work / "data"
    data_dir.mkdir()
    paths = []
    for i in range(files):
        path = data_dir / f"part-{i}.csv"
        np.savetxt(path, rng.normal(size=(rows_per_file, 10)), delimiter=",", fmt="%.6f")
        paths.append(path)
    executor.upload(data_dir / "part-0.csv", "s3://bench/one/part-0.csv")
    executor.upload(data_dir, "s3://bench/all")
    executor.call("CreateModel", {"ModelName": "bench-model", "ExecutionRoleArn": ROLE, "PrimaryContainer": {
        "Image": IMAGE, "ModelDataUrl": "s3://bench/model/model.tar.gz",
        "Environment": {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"}}})
    out = work / "direct-out"
    out.mkdir()
    direct_one = min(direct_once(model, paths[:1], out) for _ in range(3))
    direct_all = min(direct_once(model, paths, out) for _ in range(3))
    local_one = min(_transform_once(executor, f"bench-one-{i}", "s3://bench/one") for i in range(2))
    local_all = min(_transform_once(executor, f"bench-all-{i}", "s3://bench/all") for i in range(2))
    marginal_rows = rows_per_file * (files - 1)
    return {
        "direct": (direct_one, direct_all, marginal_rows / (direct_all - direct_one)),
        "local": (local_one, local_all, marginal_rows / (local_all - local_one)),
        "rows": rows_per_file * files,
    }


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="smflow-bench-local-"))
    os.environ["SMFLOW_HOME"] = str(work / "home")
    # Jobs run with this Python, as the direct side does: an image environment (e.g. sklearn 1.2-1's older
    # numpy) would neither compare like with like nor unpickle the model this process writes with numpy 2.
    os.environ["SMFLOW_IMAGE_ENVIRONMENTS"] = "off"
    from smflow.executors.local import LocalExecutor

    executor = LocalExecutor()
    print("1. training job overhead (best of 2; RandomForest on synthetic data, model.tar.gz packed at gzip -6)")
    print(f"{'step':>17} | {'direct (s)':>10} | {'local job (s)':>13} | {'ratio':>6} | {'overhead (s)':>12}")
    print("-" * 72)
    for label, direct, local in bench_overhead(executor, work):
        print(f"{label:>17} | {direct:>10.2f} | {local:>13.2f} | {local / direct:>5.2f}x | {local - direct:>12.2f}")
    print()
    result = bench_transform(executor, work)
    print(f"2. batch transform (LinearRegression, CSV, 10 features, MultiRecord 6 MB; {result['rows']:,} rows, "
          "5 files)")
    print(f"{'path':>34} | {'1 file (s)':>10} | {'5 files (s)':>11} | {'marginal rows/s':>15}")
    print("-" * 80)
    for label, key in (("loadtxt + predict + write, direct", "direct"), ("CreateTransformJob (local)", "local")):
        one, five, rate = result[key]
        print(f"{label:>34} | {one:>10.2f} | {five:>11.2f} | {rate:>15,.0f}")
    ratio = result["local"][2] / result["direct"][2]
    print(f"\nthroughput ratio local/direct (marginal): {ratio:.2f}x (target >= 0.8x); the local job's fixed "
          f"start-up (runner, imports, model load): {result['local'][0] - result['direct'][0]:.2f} s")


if __name__ == "__main__":
    main()
