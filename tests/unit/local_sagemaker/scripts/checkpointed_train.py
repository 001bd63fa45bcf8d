"""A script-mode training script that resumes from checkpoints, the way the SageMaker managed spot training
examples write one: restore from /opt/ml/checkpoints if a checkpoint is there, save one after every epoch."""

import argparse
import json
import os
import sys

CHECKPOINT_DIR = "/opt/ml/checkpoints"

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--crash-after-epoch", type=int, default=0)
    parser.add_argument("--model-dir", type=str, default=os.environ.get("SM_MODEL_DIR"))
    args, _ = parser.parse_known_args()

    checkpoint = os.path.join(CHECKPOINT_DIR, "checkpoint.json")
    start, history = 0, []
    if os.path.isfile(checkpoint):
        with open(checkpoint) as f:
            state = json.load(f)
        start, history = state["epoch"], state["history"]
        print(f"resuming from epoch {start}")
    os.makedirs(CHECKPOINT_DIR, exist_ok=True)
    for epoch in range(start + 1, args.epochs + 1):
        history.append(epoch)
        with open(checkpoint, "w") as f:
            json.dump({"epoch": epoch, "history": history}, f)
        print(f"epoch {epoch} done")
        if epoch == args.crash_after_epoch:
            print("simulated interruption", file=sys.stderr)
            sys.exit(3)
    with open(os.path.join(args.model_dir, "model.json"), "w") as f:
        json.dump({"resumed_from": start, "history": history}, f)
