"""A SageMaker-style processing script, unmodified: hard-coded /opt/ml/processing paths, argparse arguments."""

import argparse
import csv
import glob
import os

INPUT_DIR = "/opt/ml/processing/input/raw"
TRAIN_DIR = "/opt/ml/processing/output/train"
VALIDATION_DIR = "/opt/ml/processing/output/validation"

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--validation-every", type=int, default=5)
    args = parser.parse_args()

    rows = []
    for path in sorted(glob.glob(os.path.join(INPUT_DIR, "*.csv"))):
        with open(path, newline="") as fh:
            reader = csv.reader(fh)
            next(reader)  # header
            rows.extend(reader)
    os.makedirs(TRAIN_DIR, exist_ok=True)
    os.makedirs(VALIDATION_DIR, exist_ok=True)
    with open(os.path.join(TRAIN_DIR, "train.csv"), "w", newline="") as train, \
            open(os.path.join(VALIDATION_DIR, "validation.csv"), "w", newline="") as validation:
        for i, row in enumerate(rows):
            target = validation if i % args.validation_every == 0 else train
            # label first, as the SageMaker built-in CSV convention has it
            target.write(",".join([row[-1], *row[:-1]]) + "\n")
    with open("/opt/ml/config/processingjobconfig.json") as fh:
        job_name = __import__("json").load(fh)["ProcessingJobName"]
    print(f"{job_name}: processed {len(rows)} rows from {INPUT_DIR}")
