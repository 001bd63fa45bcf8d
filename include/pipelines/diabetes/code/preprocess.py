"""SageMaker processing script: split the raw CSV into train / validation / test (hard-coded container paths)."""

import os

import numpy as np
import pandas as pd

INPUT = "/opt/ml/processing/input/raw"
OUTPUT = "/opt/ml/processing/output"

if __name__ == "__main__":
    files = sorted(f for f in os.listdir(INPUT) if f.endswith(".csv"))
    frame = pd.concat([pd.read_csv(os.path.join(INPUT, f)) for f in files], ignore_index=True)
    frame = frame.dropna()
    rng = np.random.default_rng(42)
    order = rng.permutation(len(frame))
    n_train, n_val = int(0.7 * len(frame)), int(0.15 * len(frame))
    parts = {
        "train": frame.iloc[order[:n_train]],
        "validation": frame.iloc[order[n_train:n_train + n_val]],
        "test": frame.iloc[order[n_train + n_val:]],
    }
    for name in ("train", "validation"):
        os.makedirs(f"{OUTPUT}/{name}", exist_ok=True)
        # SageMaker convention: label in the first column, no header.
        parts[name].to_csv(f"{OUTPUT}/{name}/{name}.csv", header=False, index=False)
    os.makedirs(f"{OUTPUT}/test_features", exist_ok=True)
    os.makedirs(f"{OUTPUT}/test_labels", exist_ok=True)
    parts["test"].drop(columns=["target"]).to_csv(f"{OUTPUT}/test_features/test.csv", header=False, index=False)
    parts["test"][["target"]].to_csv(f"{OUTPUT}/test_labels/test.csv", header=False, index=False)
    print(f"rows: train={len(parts['train'])} validation={len(parts['validation'])} test={len(parts['test'])}")
