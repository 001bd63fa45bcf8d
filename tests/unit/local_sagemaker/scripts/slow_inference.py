"""An inference handler that takes its time, and swallows every error the way careless handlers do."""

import time


def model_fn(model_dir):
    return "echo"


def predict_fn(data, model):
    try:
        time.sleep(0.3)
    except Exception:  # noqa: BLE001 - deliberately broad: a stop must get through anyway
        pass
    return data
