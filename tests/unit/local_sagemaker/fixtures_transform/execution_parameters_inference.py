"""A script that answers /execution-parameters (SKC serves the route when the script defines the function),
then echoes the batch environment it sees, as env_inference.py does."""

import json
import os

from flask import Response

NAMES = ("SAGEMAKER_MAX_PAYLOAD_IN_MB", "SAGEMAKER_BATCH_STRATEGY", "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS")


def model_fn(model_dir):
    return None


def execution_parameters_fn():
    parameters = {"MaxConcurrentTransforms": 4, "BatchStrategy": "SINGLE_RECORD", "MaxPayloadInMB": 2}
    return Response(response=json.dumps(parameters), status=200, mimetype="application/json")


def transform_fn(model, body, content_type, accept):
    values = [os.environ.get(name, "-") for name in NAMES]
    return ",".join(values + [str(len(body.splitlines()))]) + "\n", "text/csv"
