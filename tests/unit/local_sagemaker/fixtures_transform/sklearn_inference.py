"""A typical SKC inference script: only model_fn; SKC's defaults decode, predict and encode."""

import os

import joblib


def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))
