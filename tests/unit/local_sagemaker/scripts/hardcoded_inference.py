"""An inference script that opens the container path directly, as scripts written for SageMaker often do."""

import joblib


def model_fn(model_dir):
    assert model_dir == "/opt/ml/model", model_dir
    return joblib.load("/opt/ml/model/model.joblib")
