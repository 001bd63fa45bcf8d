"""SageMaker processing script: score batch-transform predictions against held-out labels."""

import glob
import json
import os

import numpy as np

PREDICTIONS = "/opt/ml/processing/input/predictions"
LABELS = "/opt/ml/processing/input/labels"
OUTPUT = "/opt/ml/processing/evaluation"

if __name__ == "__main__":
    predicted = np.concatenate([np.loadtxt(f, delimiter=",", ndmin=1)
                                for f in sorted(glob.glob(f"{PREDICTIONS}/**/*.out", recursive=True))])
    actual = np.concatenate([np.loadtxt(f, delimiter=",", ndmin=1) for f in sorted(glob.glob(f"{LABELS}/*.csv"))])
    if predicted.shape != actual.shape:
        raise SystemExit(f"{predicted.shape[0]} predictions for {actual.shape[0]} labels")
    errors = predicted - actual
    mse = float(np.mean(errors ** 2))
    r2 = float(1 - np.sum(errors ** 2) / np.sum((actual - actual.mean()) ** 2))
    report = {"regression_metrics": {
        "mse": {"value": mse},
        "rmse": {"value": float(np.sqrt(mse))},
        "mae": {"value": float(np.mean(np.abs(errors)))},
        "r2": {"value": r2},
    }}
    os.makedirs(OUTPUT, exist_ok=True)
    with open(f"{OUTPUT}/evaluation.json", "w") as fh:
        json.dump(report, fh, indent=2)
    print(json.dumps(report))
