"""The demo's batch-prediction half (`make demo`, after the train run): approve the version just trained, drop
the test split it was evaluated on — rows held back from its training — into the batch input, run the
`diabetes__batch` DAG and show where the predictions are.

Everything goes through the `smflow` command line a user would type; only the held-back slice is copied here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from smflow import settings
from smflow.compile.naming import run_key
from smflow.local_sagemaker.store import LocalStore
from smflow.spec import load_pipeline

SPEC = Path(__file__).resolve().parents[1] / "include" / "pipelines" / "diabetes" / "pipeline.yaml"
GROUP = "diabetes-regressor"


def smflow(*args: str, capture: bool = False) -> str:
    command = [str(Path(sys.executable).with_name("smflow")), *args]
    if not capture:
        print("$ smflow " + " ".join(args), flush=True)
    done = subprocess.run(command, text=True, capture_output=capture)
    if done.returncode != 0:
        sys.exit(f"smflow {' '.join(args)} failed (exit {done.returncode}){': ' + done.stderr if capture else ''}")
    return done.stdout if capture else ""


def main() -> None:
    versions = json.loads(smflow("registry", "list", "--group", GROUP, "--json", capture=True))
    if not versions:
        sys.exit(f"no version in {GROUP}: the train run registered none (its gate may have skipped register)")
    newest = max(versions, key=lambda v: v["version"])
    if newest["status"] == "PendingManualApproval":
        print(f"\nApproving version {newest['version']} for the demo (a reviewer would do this after looking at "
              "its metrics):", flush=True)
        smflow("registry", "approve", GROUP, str(newest["version"]), "--note", "approved by make demo")
        newest["status"] = "Approved"
    approved_versions = [v for v in versions if v["status"] == "Approved"]
    if not approved_versions:
        sys.exit(f"no Approved version in {GROUP}; approve one with `smflow registry approve {GROUP} VERSION`")
    approved = max(approved_versions, key=lambda v: v["version"])  # what the batch DAG uses: the latest Approved

    spec = load_pipeline(SPEC).spec
    batch = spec.models["regressor"].batch
    assert batch is not None
    store = LocalStore(settings.store_root())
    # The test split of the run that trained this version: the rows its evaluation scored, never trained on.
    run = approved.get("metadata", {}).get("smflow:run_id", "")
    runs = f"s3://{spec.defaults.bucket}/{spec.prefix}/runs/{run_key(run)}/regressor-preprocess/"
    split = [uri for uri in store.list(runs) if uri.endswith("/output/test_features/test.csv")]
    if not split:
        sys.exit(f"the test split of run {run} is not in the store ({runs}); run `make demo` again")
    target = f"{batch.input}held-back-v{approved['version']}.csv"
    store.write_bytes(target, store.read_bytes(split[-1]))
    rows = store.read_bytes(target).count(b"\n")
    print(f"\nA batch arrived: {target} ({rows} rows held back from training version {approved['version']})\n",
          flush=True)
    smflow("run", str(SPEC), "--dag", "batch")
    print("\nPredictions (one line per input row, beside a _manifest.json with the input ETags, model version "
          "and job):", flush=True)
    smflow("predictions", str(SPEC))
    print(f"\nThe files are under {settings.store_root()}/{spec.defaults.bucket}/{spec.prefix}/predictions/ "
          "(the local store standing in for S3).")


if __name__ == "__main__":
    main()
