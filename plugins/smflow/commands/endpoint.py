"""`smflow endpoint list|describe|rollback NAME`: real-time endpoints, locally or on AWS (`--executor`).

Through the executor protocol, as `smflow registry` is: the same SageMaker calls reach the local SageMaker or
AWS. `describe` shows the version an endpoint serves (from its endpoint config's tags) and what `rollback`
returns to (the config its last deployment replaced); for a local endpoint also where to invoke it — the
local sagemaker-runtime URL for boto3 and curl.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from botocore.exceptions import ClientError

from smflow.errors import UserError


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("endpoint", parents=[common], help="real-time endpoints: list, describe, rollback")
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("--executor", choices=["local", "sagemaker"], default=None,
                         help="whose endpoints: local (default: the executor setting) or sagemaker (AWS)")
    options.add_argument("--json", action="store_true", help="print JSON")
    actions = p.add_subparsers(dest="action", required=True)
    actions.add_parser("list", parents=[common, options], help="every endpoint, its status and version")
    d = actions.add_parser("describe", parents=[common, options], help="one endpoint: status, version, history")
    d.add_argument("name")
    r = actions.add_parser("rollback", parents=[common, options],
                           help="update the endpoint back to the config its last deployment replaced")
    r.add_argument("name")
    r.add_argument("--timeout", type=float, default=1800.0, help="seconds to wait for InService (default 1800)")
    p.set_defaults(func=cmd_endpoint)


def cmd_endpoint(args: argparse.Namespace) -> int:
    from smflow import deployment, settings
    from smflow.executors import make_executor

    name = args.executor or settings.get("executor")
    if name == "local":
        settings.checked_home(create=False)
    try:
        executor = make_executor(name)
    except ValueError as e:
        raise UserError(str(e)) from None
    try:
        if args.action == "list":
            rows = [deployment.summary(executor, e["EndpointName"]) for e in _endpoints(executor)]
            _print(rows, args.json, lambda row: print(_line(row)), "no endpoints")
            return 0
        if args.action == "describe":
            row = deployment.summary(executor, args.name)
            row.update(_local_details(executor, args.name))
            _print(row, args.json, _describe, "")
            return 0
        row = deployment.rollback(executor, args.name, timeout=args.timeout,
                                  poll=0.2 if executor.name == "local" else 15.0, say=print)
        _print(row, args.json, lambda r: print(f"{r['endpoint_name']} now serves {r['endpoint_config']} "
                                               f"(version {r['version']})"), "")
        return 0
    except deployment.DeploymentError:
        raise
    except ClientError as e:
        raise UserError(str(e)) from None


def _endpoints(executor: Any) -> list[dict[str, Any]]:
    request: dict[str, Any] = {"SortBy": "Name", "SortOrder": "Ascending", "MaxResults": 100}
    found: list[dict[str, Any]] = []
    while True:
        page = executor.call("ListEndpoints", request)
        found += page.get("Endpoints", [])
        if not page.get("NextToken"):
            return found
        request["NextToken"] = page["NextToken"]


def _local_details(executor: Any, name: str) -> dict[str, Any]:
    """Where a local endpoint answers: its server, and the local sagemaker-runtime for boto3 and curl."""
    service = getattr(executor, "service", None)
    if service is None:
        return {}
    record = service.endpoints.local_record(name)
    serving = record.get("Serving") or {}
    details: dict[str, Any] = {"history": record.get("History", []), "restarts": record.get("Restarts", 0)}
    if serving and record.get("EndpointStatus") in {"InService", "Updating"}:
        runtime = service.endpoints.runtime_url()
        details.update({
            "server": f"http://127.0.0.1:{serving['port']}", "runtime_url": runtime,
            "curl": f"curl -X POST {runtime}/endpoints/{name}/invocations -H 'Content-Type: text/csv' "
                    "--data-binary @rows.csv",
            "boto3": f"boto3.client('sagemaker-runtime', endpoint_url='{runtime}').invoke_endpoint("
                     f"EndpointName='{name}', ContentType='text/csv', Body=b'...')"})
    return details


def _line(row: dict[str, Any]) -> str:
    version = f"v{row['version']}" if row.get("version") is not None else "v?"
    return f"{row['endpoint_name']:<32} {row['status']:<12} {version:<5} {row.get('endpoint_config') or ''}"


def _describe(row: dict[str, Any]) -> None:
    for key, value in row.items():
        if value not in (None, "", []):
            print(f"{key:<26} {value}")


def _print(value: Any, as_json: bool, plain: Any, empty: str) -> None:
    if as_json:
        print(json.dumps(value, indent=2, default=str))
    elif isinstance(value, list):
        if not value and empty:
            print(empty)
        for row in value:
            plain(row)
    else:
        plain(value)
