"""Runs one batch transform inside the job's sandbox, as SageMaker runs the model container.

The runner starts this module under the same private /opt/ml as processing and training jobs, so the
model is unpacked at /opt/ml/model and an inference script that opens `/opt/ml/model/...` directly works
unchanged. Usage: python -m smflow.local_sagemaker.containers.transform_container JOB_DIR STORE_ROOT OPT_ML
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

FAILURE_FILE = "output/failure"


def main(argv: list[str]) -> int:
    from smflow.local_sagemaker.containers.transform import TransformJobError, run_transform_job
    from smflow.local_sagemaker.store import LocalStore

    job_dir, store_root, opt_ml = (Path(a) for a in argv)
    request = json.loads((job_dir / "request.json").read_text())
    model = json.loads((job_dir / "model.json").read_text())
    try:
        run_transform_job(request, model, LocalStore(store_root), opt_ml, sys.stdout)
    except TransformJobError as e:
        failure = opt_ml / FAILURE_FILE
        failure.parent.mkdir(parents=True, exist_ok=True)
        failure.write_text(e.reason)
        print(f"transform failed: {e.reason}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
