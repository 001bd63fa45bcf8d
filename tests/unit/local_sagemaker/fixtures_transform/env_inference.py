"""Echoes the batch environment and the number of records it was sent, one response per request."""

import os

NAMES = ("SAGEMAKER_BATCH", "SAGEMAKER_MAX_PAYLOAD_IN_MB", "SAGEMAKER_BATCH_STRATEGY",
         "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS", "MODEL_SETTING", "JOB_SETTING")


def model_fn(model_dir):
    return None


def transform_fn(model, body, content_type, accept):
    values = [os.environ.get(name, "-") for name in NAMES]
    return ",".join(values + [str(len(body.splitlines()))]) + "\n", "text/csv"
