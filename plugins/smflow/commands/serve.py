"""`smflow serve GROUP[:VERSION] [--host 127.0.0.1] [--port N]`: one registered model version, served outside any DAG.

The version is the group's latest Approved one unless VERSION names another (which must be Approved too, as
for a deployment). Its containers are prepared exactly as a local endpoint's are — each ModelDataUrl tarball
fetched from the local store and extracted, SAGEMAKER_SUBMIT_DIRECTORY made local, two or more containers
served as a serial inference pipeline — and the model server runs in the foreground until Ctrl-C (or
SIGTERM), finishing the requests in flight. It runs in smflow's own Python environment, not the image's.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from smflow.errors import SmflowError, UsageError, UserError

DEFAULT_PORT = 8080  # the port SageMaker's containers serve on


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("serve", parents=[common],
                       help="serve a registered model version (latest Approved by default) in the foreground")
    p.add_argument("package", metavar="GROUP[:VERSION]", help="model package group, optionally :VERSION")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT,
                   help=f"port to listen on (default {DEFAULT_PORT}, SageMaker's; 0 picks a free one)")
    p.set_defaults(func=cmd_serve)


def parse_package(text: str) -> tuple[str, int | None]:
    """`churn` → ("churn", None); `churn:3` → ("churn", 3); anything else is a usage error."""
    match = re.fullmatch(r"([A-Za-z0-9](?:-*[A-Za-z0-9]){0,62})(?::(\d+))?", text.strip())
    if match is None:
        raise UsageError(f"{text!r} is not GROUP or GROUP:VERSION (a model package group name, e.g. churn-model "
                         "or churn-model:3)")
    return match.group(1), int(match.group(2)) if match.group(2) else None


def cmd_serve(args: argparse.Namespace) -> int:
    from smflow import settings
    from smflow.deployment import approved_package
    from smflow.executors import make_executor
    from smflow.executors.local import LocalExecutor
    from smflow.local_sagemaker.endpoints.generation import prepare_generation
    from smflow.serving.config import load_config
    from smflow.serving.server import serve

    group, version = parse_package(args.package)
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port {args.port} is not a TCP port (0-65535; 0 picks a free one)")
    settings.checked_home(create=False)
    if not settings.registry_path().exists():
        raise UserError(f"no model registry at {settings.registry_path()}: nothing has been registered with this "
                        "SMFLOW_HOME yet (check SMFLOW_HOME, or run a pipeline with a register step first)")
    executor = make_executor("local")
    assert isinstance(executor, LocalExecutor)  # the local registry and store
    try:
        executor.call("DescribeModelPackageGroup", {"ModelPackageGroupName": group})
    except ClientError:
        raise UserError(f"model package group {group} does not exist in the local registry; "
                        "`smflow registry list` shows the groups and versions registered") from None
    try:
        package = approved_package(executor, group=group, package=None if version is None else f"{group}/{version}")
    except ClientError as e:
        known = f"`smflow registry list --group {group}` shows its versions"
        raise UserError(f"model package {group}" + (f" version {version}" if version else "")
                        + f" is not in the local registry ({e.response['Error'].get('Message', e)}); {known}") from None
    served_version = package.get("ModelPackageVersion")
    containers = (package.get("InferenceSpecification") or {}).get("Containers") or []
    if not containers:
        raise UserError(f"{package['ModelPackageArn']} has no InferenceSpecification container to serve")
    model: dict[str, Any] = {"ModelName": f"{group}-v{served_version}"}
    if len(containers) == 1:
        model["PrimaryContainer"] = containers[0]
    else:
        model["Containers"] = containers
        model["InferenceExecutionConfig"] = {"Mode": "Serial"}
    with tempfile.TemporaryDirectory(prefix="smflow-serve-") as work:
        try:
            plan = prepare_generation(Path(work), model, executor.store)
            config = load_config(plan.config_file).model_copy(
                update={"host": args.host, "port": args.port, "ready_file": None})
        except SmflowError as e:
            raise UserError(f"{group} version {served_version}: {e}") from None
        print(f"serving {group} version {served_version} ({package['ModelPackageArn']}), "
              f"{len(containers)} container(s); Ctrl-C stops", file=sys.stderr, flush=True)
        try:
            return serve(config)
        except SmflowError as e:  # the port is taken, a directory vanished
            raise UserError(str(e)) from None
