"""SageMaker script-mode training script (unchanged on SageMaker's scikit-learn container)."""

import argparse
import glob
import os

import joblib
import numpy as np
import pandas as pd
from sklearn.ensemble import GradientBoostingRegressor


def read_channel(path):
    files = sorted(glob.glob(os.path.join(path, "*.csv")))
    data = pd.concat([pd.read_csv(f, header=None) for f in files], ignore_index=True)
    return data.iloc[:, 1:].to_numpy(), data.iloc[:, 0].to_numpy()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--n_estimators", type=int, default=100)
    parser.add_argument("--max_depth", type=int, default=3)
    parser.add_argument("--learning_rate", type=float, default=0.1)
    parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR"))
    parser.add_argument("--train", default=os.environ.get("SM_CHANNEL_TRAIN"))
    parser.add_argument("--validation", default=os.environ.get("SM_CHANNEL_VALIDATION"))
    args, _ = parser.parse_known_args()

    x_train, y_train = read_channel(args.train)
    x_val, y_val = read_channel(args.validation)
    model = GradientBoostingRegressor(n_estimators=args.n_estimators, max_depth=args.max_depth,
                                      learning_rate=args.learning_rate, random_state=0)
    model.fit(x_train, y_train)
    rmse = float(np.sqrt(np.mean((model.predict(x_val) - y_val) ** 2)))
    print(f"validation_rmse={rmse:.4f}")
    joblib.dump(model, os.path.join(args.model_dir, "model.joblib"))
