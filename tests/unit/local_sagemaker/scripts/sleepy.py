"""Saves a model, says it is ready, then works (sleeps) until it is stopped or killed."""

import os
import time

with open(os.path.join(os.environ.get("SM_MODEL_DIR", "/opt/ml/model"), "weights.txt"), "w") as fh:
    fh.write("0.5 0.25\n")
print("ready", flush=True)
for i in range(600):
    print(f"epoch={i} loss={1.0 / (i + 1):.4f}", flush=True)
    time.sleep(0.1)
