"""The demo's serving half (`make demo`, after the batch half approved a version): deploy the latest Approved
version of the demo model to a local real-time endpoint, invoke it with boto3's own sagemaker-runtime client
pointed at the local runtime, and print the curl command that does the same.

The endpoint is deleted at the end (its server is a detached process that would otherwise keep running);
`python scripts/demo_deploy.py --keep` leaves it serving, and `smflow endpoint describe diabetes-regressor`
then shows where, with the curl and boto3 lines to call it.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import boto3

from smflow import deployment
from smflow.executors.local import LocalExecutor
from smflow.spec import load_pipeline

SPEC = Path(__file__).resolve().parents[1] / "include" / "pipelines" / "diabetes" / "pipeline.yaml"
GROUP = "diabetes-regressor"  # the register step's group: <pipeline>-<model unit>
ENDPOINT = "diabetes-regressor"


def main(keep: bool) -> None:
    spec = load_pipeline(SPEC).spec
    executor = LocalExecutor()
    started = time.monotonic()
    package = deployment.approved_package(executor, group=GROUP)
    version = int(package["ModelPackageVersion"])
    print(f"\nDeploying {GROUP} version {version} (the latest Approved) to the local endpoint {ENDPOINT}:", flush=True)
    model = deployment.package_model(executor, package, spec.defaults.role, ENDPOINT)
    config = deployment.config_name_for(ENDPOINT, version, "make-demo")
    summary = deployment.deploy(executor, endpoint=ENDPOINT, package=package, model_name=model, config_name=config,
                                timeout=120, poll=0.1, say=lambda line: print(f"  {line}", flush=True))
    print(f"  {ENDPOINT} is {summary['status']}, serving version {summary['version']} ({config}) after "
          f"{time.monotonic() - started:.1f} s", flush=True)

    rows = held_back_rows(executor, spec.models["regressor"].batch.input if spec.models["regressor"].batch else "")
    runtime_url = executor.service.endpoints.runtime_url()
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(key, "local")  # the local runtime checks no signature; boto3 wants some credentials
    client = boto3.client("sagemaker-runtime", endpoint_url=runtime_url, region_name="us-east-1")
    print(f'\nboto3.client("sagemaker-runtime", endpoint_url="{runtime_url}").invoke_endpoint('
          f'EndpointName="{ENDPOINT}", ContentType="text/csv", Accept="text/csv", Body=<{len(rows)} rows>):')
    answer = client.invoke_endpoint(EndpointName=ENDPOINT, ContentType="text/csv", Accept="text/csv",
                                    Body="".join(rows).encode())
    predictions = answer["Body"].read().decode().split()
    for row, prediction in zip(rows, predictions, strict=False):
        print(f"  {row.strip()[:60]:<60} → {prediction}")
    print(f"\nThe same call with curl:\n  curl -X POST {runtime_url}/endpoints/{ENDPOINT}/invocations "
          f"-H 'Content-Type: text/csv' -H 'Accept: text/csv' --data-binary '{rows[0].strip()}'")
    if keep:
        print(f"\nThe endpoint keeps serving (--keep); `smflow endpoint describe {ENDPOINT}` shows it, and "
              f"`smflow endpoint rollback {ENDPOINT}` returns it to its previous version after a new deployment.")
    else:
        executor.call("DeleteEndpoint", {"EndpointName": ENDPOINT})
        print(f"\nEndpoint {ENDPOINT} deleted (its server stopped); run `python scripts/demo_deploy.py --keep` to "
              "leave it serving and call it yourself.")


def held_back_rows(executor: LocalExecutor, batch_input: str, count: int = 3) -> list[str]:
    """A few feature rows the model never trained on: the held-back batch the batch half dropped in."""
    found = [uri for uri in executor.store.list(batch_input) if uri.endswith(".csv")] if batch_input else []
    if not found:
        sys.exit(f"no held-back batch under {batch_input}; run scripts/demo_batch.py first (make demo does)")
    lines = executor.read_bytes(found[-1]).decode().splitlines(keepends=True)
    return [line if line.endswith("\n") else line + "\n" for line in lines[:count]]


if __name__ == "__main__":
    main("--keep" in sys.argv[1:])
