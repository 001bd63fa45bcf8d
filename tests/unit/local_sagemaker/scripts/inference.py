"""Inference handler for the model train.py saves (SKC style: only model_fn)."""

import os

import joblib


def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))
