"""A script-mode training script as written for the SageMaker scikit-learn container, unmodified."""

import argparse
import json
import os
import sys

import joblib
import numpy as np
from sklearn.linear_model import Ridge

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--alpha", type=float, default=1.0)
    parser.add_argument("--max_iter", type=int, default=100)
    parser.add_argument("--solver", type=str, default="auto")
    parser.add_argument("--model-dir", type=str, default=os.environ["SM_MODEL_DIR"])
    parser.add_argument("--train", type=str, default=os.environ["SM_CHANNEL_TRAIN"])
    parser.add_argument("--validation", type=str, default=os.environ["SM_CHANNEL_VALIDATION"])
    args = parser.parse_args()

    train = np.loadtxt(os.path.join(args.train, "train.csv"), delimiter=",", ndmin=2)
    validation = np.loadtxt(os.path.join(args.validation, "validation.csv"), delimiter=",", ndmin=2)
    model = Ridge(alpha=args.alpha, max_iter=args.max_iter, solver=args.solver)
    model.fit(train[:, 1:], train[:, 0])
    rmse = float(np.sqrt(np.mean((model.predict(validation[:, 1:]) - validation[:, 0]) ** 2)))
    print(f"train_rows={len(train)}")
    print(f"val_rmse={rmse:.6f}", file=sys.stderr)
    joblib.dump(model, os.path.join(args.model_dir, "model.joblib"))

    seen = {key: os.environ[key] for key in sorted(os.environ) if key.startswith("SM_") or key.startswith("TRAINING_")}
    with open(os.path.join(os.environ["SM_OUTPUT_DATA_DIR"], "environment.json"), "w") as fh:
        json.dump({"argv": sys.argv[1:], "env": seen, "cwd": os.getcwd()}, fh)
