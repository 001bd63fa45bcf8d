"""Fails the way SageMaker documents it: write /opt/ml/output/failure, exit non-zero."""

import sys

with open("/opt/ml/output/failure", "w") as fh:
    fh.write("ValueError: column 'price' has 3 non-numeric values (first at row 17); clean the input data")
print("giving up", file=sys.stderr)
sys.exit(2)
