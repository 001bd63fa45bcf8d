"""SageMaker inference handler: only model_fn is needed; input/predict/output use the container defaults."""

import os

import joblib


def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))
