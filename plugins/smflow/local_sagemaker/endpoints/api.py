"""SageMaker's endpoint API family on this machine: endpoint configs, endpoints, their tags, and invocation.

States follow SageMaker's (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeEndpoint.html):
CreateEndpoint → Creating → InService | Failed; UpdateEndpoint → Updating → InService (the old config serves
until the new one is ready; a failed update stays InService on the old config, with FailureReason);
DeleteEndpoint → Deleting → gone. The slow part runs in a detached deployer process (deployer.py); the
records (records.py) let any process — a later Airflow task, the CLI, a restarted scheduler — describe,
update, invoke or delete the endpoint.

A server that died (machine restart, killed process) is restarted on the next Describe or Invoke, from the
deployment's prepared directory, and counted in the record's `Restarts`: SageMaker users expect an InService
endpoint to heal itself (SageMaker replaces instances that fail health checks) rather than to be told to
redeploy. A restart that fails is reported in FailureReason.

Local limits, each a clear ValidationException: one production variant per endpoint (the first config with
more is refused at CreateEndpoint/UpdateEndpoint), InferenceExecutionConfig Direct is not emulated.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from smflow.local_sagemaker.endpoints.deployer import deployer_process, restart_serving
from smflow.local_sagemaker.endpoints.records import EndpointDir, EndpointExistsError, EndpointStore, server_process
from smflow.local_sagemaker.endpoints.runtime_control import ensure_runtime, stop_runtime
from smflow.local_sagemaker.endpoints.server_process import ping, reap, stop_process
from smflow.local_sagemaker.jobs.records import ProcessId, write_json_atomic
from smflow.local_sagemaker.models import Models
from smflow.local_sagemaker.shapes import Arns, check_name, is_plain_name, output
from smflow.local_sagemaker.timestamps import as_datetime, now_iso
from smflow.sagemaker_api import not_found_error, validation_error

Handler = Callable[[dict[str, Any]], dict[str, Any]]
Tags = list[dict[str, str]]
DEPLOYER_MODULE = "smflow.local_sagemaker.endpoints.deployer"
DEPLOYER_START_GRACE_SECONDS = 30.0
ACTIVE = frozenset({"Creating", "Updating"})


class Endpoints:
    def __init__(self, root: Path, store_root: Path, arns: Arns, models: Models):
        self.store = EndpointStore(root)
        self.store_root = store_root
        self.arns = arns
        self.models = models
        self._deployers: list[subprocess.Popen[bytes]] = []

    def handlers(self) -> dict[str, Handler]:
        return {
            "CreateEndpointConfig": self.create_config, "DescribeEndpointConfig": self.describe_config,
            "DeleteEndpointConfig": self.delete_config, "ListEndpointConfigs": self.list_configs,
            "CreateEndpoint": self.create, "UpdateEndpoint": self.update, "DescribeEndpoint": self.describe,
            "DeleteEndpoint": self.delete, "ListEndpoints": self.list_endpoints,
            "AddTags": self.add_tags, "ListTags": self.list_tags, "DeleteTags": self.delete_tags,
        }

    # ---- endpoint configs --------------------------------------------------------------------------

    def config_arn(self, name: str) -> str:
        return self.arns.arn("endpoint-config", name)

    def endpoint_arn(self, name: str) -> str:
        return self.arns.arn("endpoint", name)

    def config_record(self, operation: str, name: str) -> dict[str, Any]:
        record = self.store.read_config(name) if is_plain_name(name) else None
        if record is None:
            raise not_found_error(operation, f'Could not find endpoint configuration "{self.config_arn(name)}".')
        return record

    def create_config(self, params: dict[str, Any]) -> dict[str, Any]:
        operation = "CreateEndpointConfig"
        name = params["EndpointConfigName"]
        check_name(operation, "EndpointConfigName", name)
        variants = params["ProductionVariants"]
        names = [v["VariantName"] for v in variants]
        if len(set(names)) != len(names):
            raise validation_error(operation, f"VariantName values must be unique within a config; got {names}")
        for variant in variants:
            self.models.record(operation, variant["ModelName"])  # SageMaker: the model must exist
        arn = self.config_arn(name)
        record = {"Request": {k: v for k, v in params.items() if k != "Tags"}, "Tags": params.get("Tags", []),
                  "EndpointConfigArn": arn, "CreationTime": now_iso()}
        try:
            self.store.create_config(name, record)
        except EndpointExistsError:
            raise validation_error(operation, f'Cannot create already existing endpoint configuration "{arn}".') \
                from None
        return {"EndpointConfigArn": arn}

    def describe_config(self, params: dict[str, Any]) -> dict[str, Any]:
        record = self.config_record("DescribeEndpointConfig", params["EndpointConfigName"])
        return output("DescribeEndpointConfig", {**record["Request"], "EndpointConfigArn": record["EndpointConfigArn"],
                                                 "CreationTime": record["CreationTime"]})

    def delete_config(self, params: dict[str, Any]) -> dict[str, Any]:
        """As on SageMaker, deleting a config an endpoint uses is allowed; the endpoint keeps serving it."""
        name = params["EndpointConfigName"]
        self.config_record("DeleteEndpointConfig", name)
        self.store.delete_config(name)
        return {}

    def list_configs(self, params: dict[str, Any]) -> dict[str, Any]:
        rows = []
        for name in self.store.config_names():
            record = self.store.read_config(name)
            if record is not None:
                rows.append({"EndpointConfigName": name, "EndpointConfigArn": record["EndpointConfigArn"],
                             "CreationTime": record["CreationTime"]})
        page, token = _page(rows, params, "EndpointConfigName", "ListEndpointConfigs")
        return output("ListEndpointConfigs", {"EndpointConfigs": page, **({"NextToken": token} if token else {})})

    # ---- endpoints ------------------------------------------------------------------------------------

    def endpoint_dir(self, operation: str, name: str) -> EndpointDir:
        found = self.store.find(name) if is_plain_name(name) else None
        if found is None:
            raise not_found_error(operation, f'Could not find endpoint "{self.endpoint_arn(name)}".')
        return found

    def _check_servable(self, operation: str, config: dict[str, Any]) -> None:
        variants = config["Request"].get("ProductionVariants") or []
        if len(variants) != 1:
            raise validation_error(operation, (
                f"endpoint config {config['Request']['EndpointConfigName']} has {len(variants)} production variants; "
                "the local SageMaker serves one variant per endpoint (split traffic with the sagemaker executor)"))

    def create(self, params: dict[str, Any]) -> dict[str, Any]:
        operation = "CreateEndpoint"
        name, config_name = params["EndpointName"], params["EndpointConfigName"]
        check_name(operation, "EndpointName", name)
        config = self.config_record(operation, config_name)
        self._check_servable(operation, config)
        arn = self.endpoint_arn(name)
        now = now_iso()
        record: dict[str, Any] = {
            "EndpointName": name, "EndpointArn": arn, "EndpointConfigName": config_name, "EndpointStatus": "Creating",
            "CreationTime": now, "LastModifiedTime": now, "Tags": params.get("Tags", []), "History": [],
            "NextGeneration": 2, "Restarts": 0, "Pending": {"Generation": 1, "EndpointConfigName": config_name},
        }
        if params.get("DeploymentConfig"):
            record["LastDeploymentConfig"] = params["DeploymentConfig"]
        try:
            endpoint = self.store.create(name, record)
        except EndpointExistsError:
            raise validation_error(operation, f'Cannot create already existing endpoint "{arn}".') from None
        self._spawn(endpoint, 1)
        return {"EndpointArn": arn}

    def update(self, params: dict[str, Any]) -> dict[str, Any]:
        operation = "UpdateEndpoint"
        endpoint = self.endpoint_dir(operation, params["EndpointName"])
        config_name = params["EndpointConfigName"]
        config = self.config_record(operation, config_name)
        self._check_servable(operation, config)
        self._refresh(endpoint)
        generation: list[int] = []

        def change(record: dict[str, Any]) -> dict[str, Any] | None:
            status = record["EndpointStatus"]
            if status != "InService":
                raise validation_error(operation, f'Cannot update in-progress endpoint "{record["EndpointArn"]}".'
                                       if status in ACTIVE else
                                       f'Cannot update endpoint "{record["EndpointArn"]}" in status {status}; only an '
                                       "InService endpoint can be updated (delete and create a Failed one again)")
            number = int(record.get("NextGeneration", 2))
            generation.append(number)
            fields: dict[str, Any] = {
                "EndpointStatus": "Updating", "NextGeneration": number + 1, "FailureReason": None,
                "Pending": {"Generation": number, "EndpointConfigName": config_name},
                "PendingDeploymentSummary": {"EndpointConfigName": config_name, "StartTime": now_iso()}}
            if params.get("DeploymentConfig"):
                fields["LastDeploymentConfig"] = params["DeploymentConfig"]
            return fields

        record = endpoint.update(change)
        self._spawn(endpoint, generation[0])
        return {"EndpointArn": record["EndpointArn"]}

    def describe(self, params: dict[str, Any]) -> dict[str, Any]:
        endpoint = self.endpoint_dir("DescribeEndpoint", params["EndpointName"])
        return output("DescribeEndpoint", self._refresh(endpoint))

    def delete(self, params: dict[str, Any]) -> dict[str, Any]:
        endpoint = self.endpoint_dir("DeleteEndpoint", params["EndpointName"])
        before = endpoint.record()
        endpoint.update(lambda r: {"EndpointStatus": "Deleting", "Pending": None})  # a deployer now stands down
        self._stop_everything(endpoint, before)
        self.store.remove(endpoint)
        if not self.store.names():
            stop_runtime(self.store.root)  # the last endpoint is gone: nothing left to front
        return {}

    def runtime_url(self) -> str:
        """The local sagemaker-runtime's URL (runtime_proxy.py), started now if it is not running."""
        return ensure_runtime(self.store.root, self.store_root)

    def list_endpoints(self, params: dict[str, Any]) -> dict[str, Any]:
        rows = []
        for name in self.store.names():
            endpoint = self.store.find(name)
            if endpoint is None:
                continue
            try:
                record = self._refresh(endpoint)
            except FileNotFoundError:
                continue  # deleted meanwhile
            if params.get("StatusEquals") and record["EndpointStatus"] != params["StatusEquals"]:
                continue
            rows.append({k: record[k] for k in ("EndpointName", "EndpointArn", "CreationTime", "LastModifiedTime",
                                                 "EndpointStatus")})
        page, token = _page(rows, params, "EndpointName", "ListEndpoints")
        return output("ListEndpoints", {"Endpoints": page, **({"NextToken": token} if token else {})})

    # ---- beyond the API: the serving process ----------------------------------------------------

    def serving_port(self, operation: str, name: str) -> tuple[int, dict[str, Any]]:
        """The port of the endpoint's live server (restarted first if it died), or the error InvokeEndpoint gives."""
        endpoint = self.endpoint_dir(operation, name)
        record = self._refresh(endpoint, health_check=False)  # the pid check only: a ping per call would cost
        serving = record.get("Serving")
        if record["EndpointStatus"] not in {"InService", "Updating"} or not serving:
            raise validation_error(operation, f"Endpoint {name} of account {self.arns.account} is in status "
                                              f"{record['EndpointStatus']}, not InService"
                                   + (f": {record['FailureReason']}" if record.get("FailureReason") else ""))
        return int(serving["port"]), record

    def local_record(self, name: str) -> dict[str, Any]:
        """The whole record (server port and pid, history, tags): for `smflow endpoint describe`."""
        return self._refresh(self.endpoint_dir("DescribeEndpoint", name))

    def _spawn(self, endpoint: EndpointDir, generation: int) -> None:
        package_parent = str(Path(__file__).resolve().parents[3])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_parent, env.get("PYTHONPATH", "")) if p)
        self._reap()
        with endpoint.log_file.open("ab") as log:
            try:
                process = subprocess.Popen(
                    [sys.executable, "-m", DEPLOYER_MODULE, str(endpoint.path), str(generation), str(self.store_root)],
                    cwd=endpoint.path, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    start_new_session=True, close_fds=True)
            except OSError as e:
                reason = f"InternalServerError: could not start the deployer: {e}"
                endpoint.update(lambda r: _failed(r, reason))
                return
        self._deployers.append(process)
        pid = ProcessId.of(process.pid).serialise().strip()

        def note(record: dict[str, Any]) -> dict[str, Any] | None:
            pending = record.get("Pending") or {}
            if pending.get("Generation") != generation:
                return None
            return {"Pending": {**pending, "deployer": pid}}

        endpoint.update(note)

    def _reap(self) -> None:
        self._deployers = [p for p in self._deployers if p.poll() is None]
        reap()

    def _refresh(self, endpoint: EndpointDir, health_check: bool = True) -> dict[str, Any]:
        """The record, after noticing a deployer that died mid-way or a server that is gone (restarted)."""
        self._reap()
        record = endpoint.record()
        status = record["EndpointStatus"]
        if status in ACTIVE:
            pending = record.get("Pending") or {}
            deployer = deployer_process(pending)
            age = (datetime.now(UTC) - as_datetime(record["LastModifiedTime"])).total_seconds()
            if (deployer is None and age > DEPLOYER_START_GRACE_SECONDS) or (deployer and not deployer.alive()):
                stop_process(server_process(pending), grace=2.0)
                reason = "the local endpoint deployer " + (f"died (pid {deployer.pid})" if deployer
                                                           else "never started")
                generation = pending.get("Generation")
                return endpoint.update(lambda r: _failed(r, reason) if (r.get("Pending") or {}).get(
                    "Generation") == generation else None)
            return record
        serving = record.get("Serving")
        if status == "InService" and serving:
            pid = server_process(serving)
            if pid is None or not pid.alive():
                return restart_serving(endpoint, record)
            if health_check and not ping(int(serving["port"])):
                stop_process(pid, grace=2.0)
                return restart_serving(endpoint, record)
        return record

    def _stop_everything(self, endpoint: EndpointDir, record: dict[str, Any]) -> None:
        """End the deployer in flight, the server it started, and the serving server (and any other server whose
        ready file a generation directory still holds)."""
        deployer = deployer_process(record.get("Pending"))
        if deployer is not None:
            stop_process(deployer, grace=2.0)
        for entry in (record.get("Pending"), record.get("Serving")):
            stop_process(server_process(entry), grace=5.0)
        for ready in sorted((endpoint.path / "generations").glob("*/ready.json")):
            try:
                pid = json.loads(ready.read_text(encoding="utf-8")).get("pid")
            except (OSError, ValueError, AttributeError):
                pid = None
            if isinstance(pid, int) and _serves_from(pid, ready.parent):
                stop_process(ProcessId.of(pid), grace=5.0)

    # ---- tags -------------------------------------------------------------------------------------

    def _tagged(self, operation: str, arn: str) -> tuple[Callable[[], Tags], Callable[[Tags], None]]:
        """(read, write) of the tags of the endpoint or endpoint config `arn` names."""
        resource, _, lowered = arn.rpartition(":")[2].partition("/")
        if resource == "endpoint":
            name = next((n for n in self.store.names() if n.lower() == lowered), None)
            if name is None:
                raise not_found_error(operation, f'Could not find endpoint "{arn}".')
            endpoint = self.store.endpoint(name)

            def read_endpoint() -> Tags:
                return [dict(t) for t in endpoint.record().get("Tags", [])]

            def write_endpoint(tags: Tags) -> None:
                endpoint.update(lambda r: {"Tags": tags})

            return read_endpoint, write_endpoint
        if resource == "endpoint-config":
            config = next((n for n in self.store.config_names() if n.lower() == lowered), None)
            if config is None:
                raise not_found_error(operation, f'Could not find endpoint configuration "{arn}".')
            config_name = config

            def read_config() -> Tags:
                return [dict(t) for t in self.config_record(operation, config_name).get("Tags", [])]

            def write_config(tags: Tags) -> None:
                record = self.config_record(operation, config_name)
                record["Tags"] = tags
                write_json_atomic(self.store.config_path(config_name), record)

            return read_config, write_config
        raise validation_error(operation, f"the local SageMaker keeps tags of endpoints and endpoint configs only, "
                                          f"not of {arn}")

    def add_tags(self, params: dict[str, Any]) -> dict[str, Any]:
        read, write = self._tagged("AddTags", params["ResourceArn"])
        merged = {t["Key"]: t["Value"] for t in read()}
        merged.update({t["Key"]: t.get("Value", "") for t in params["Tags"]})
        if len(merged) > 50:
            raise validation_error("AddTags", "a resource may have at most 50 tags")
        tags = [{"Key": k, "Value": v} for k, v in merged.items()]
        write(tags)
        return {"Tags": tags}

    def list_tags(self, params: dict[str, Any]) -> dict[str, Any]:
        read, _ = self._tagged("ListTags", params["ResourceArn"])
        return {"Tags": read()}

    def delete_tags(self, params: dict[str, Any]) -> dict[str, Any]:
        read, write = self._tagged("DeleteTags", params["ResourceArn"])
        write([t for t in read() if t["Key"] not in set(params["TagKeys"])])
        return {}


def _failed(record: dict[str, Any], reason: str) -> dict[str, Any]:
    """A deployment that cannot finish: a new endpoint is Failed, an updated one keeps serving its old config."""
    status = "InService" if record.get("Serving") else "Failed"
    return {"EndpointStatus": status, "FailureReason": reason[:1024], "Pending": None, "PendingDeploymentSummary": None}


def _page(rows: list[dict[str, Any]], params: dict[str, Any], name_key: str,
          operation: str) -> tuple[list[dict[str, Any]], str | None]:
    """Filter (NameContains, creation/modification times), sort and page a List call's summaries."""
    if params.get("NameContains"):
        rows = [r for r in rows if str(params["NameContains"]).lower() in r[name_key].lower()]
    for key, field, before in (("CreationTimeBefore", "CreationTime", True),
                               ("CreationTimeAfter", "CreationTime", False),
                               ("LastModifiedTimeBefore", "LastModifiedTime", True),
                               ("LastModifiedTimeAfter", "LastModifiedTime", False)):
        if params.get(key) is not None:
            bound = as_datetime(params[key])
            rows = [r for r in rows if field in r and ((as_datetime(r[field]) < bound) if before
                                                       else (as_datetime(r[field]) > bound))]
    sort_by = params.get("SortBy", "CreationTime")
    column = {"Name": name_key, "CreationTime": "CreationTime", "Status": "EndpointStatus"}.get(sort_by)
    if column is None:
        raise validation_error(operation, f"SortBy {sort_by!r} is not one of Name, CreationTime, Status")
    rows.sort(key=lambda r: (str(r.get(column, "")), r[name_key]),
              reverse=params.get("SortOrder", "Descending") == "Descending")
    start = 0
    if params.get("NextToken"):
        if not str(params["NextToken"]).isdigit():
            raise validation_error(operation, f"NextToken {params['NextToken']!r} was not returned by {operation}")
        start = int(params["NextToken"])
    size = int(params.get("MaxResults", 10))
    page = rows[start:start + size]
    return page, (str(start + size) if start + size < len(rows) else None)


def _serves_from(pid: int, generation: Path) -> bool:
    """Whether `pid` is still the server started from `generation` (its command line names that directory's
    config): a ready file outlives its server, and a recycled pid must never be signalled."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False  # gone, or no procfs to tell: leave it be
    return any(str(generation) in part.decode(errors="replace") for part in command)
