"""The detached process that deploys one endpoint config: `python -m smflow.local_sagemaker.endpoints.deployer
ENDPOINT_DIR GENERATION STORE_ROOT`.

CreateEndpoint and UpdateEndpoint return at once (Creating / Updating), as on SageMaker; this process does
the slow part — unpack the model data, find (or build) the image's Python environment, start the model server,
wait for its /ping — and then switches the endpoint to the new server in one locked record update. Only then
is the previous server stopped, so the old config keeps serving until the new one is ready (SageMaker's
blue/green update, https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-blue-green.html).
If anything fails, a new endpoint ends Failed; an endpoint being updated stays InService on its old config
with the reason in FailureReason, as SageMaker reports a failed update.

Also here: restarting the server of an InService endpoint whose server died (`restart_serving`), which the
API does on the next Describe or Invoke, as SageMaker replaces an instance that fails its health checks.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

from smflow.local_sagemaker.endpoints.generation import DeploymentError, prepare_generation
from smflow.local_sagemaker.endpoints.records import EndpointDir, EndpointStore, clip, server_process
from smflow.local_sagemaker.endpoints.server_process import (
    RunningServer,
    ServerPython,
    ServerStartError,
    choose_interpreter,
    start_server,
    stop_process,
    wait_ready,
)
from smflow.local_sagemaker.file_lock import exclusive_lock
from smflow.local_sagemaker.jobs.records import ProcessId, read_json
from smflow.local_sagemaker.store import LocalStore
from smflow.local_sagemaker.timestamps import now_iso
from smflow.sagemaker_api import model_images


def variant_descriptions(config: dict[str, Any], model: dict[str, Any] | None) -> list[dict[str, Any]]:
    """DescribeEndpoint's ProductionVariants for a config now serving (images as the model names them)."""
    now = now_iso()
    images = model_images(model) if model else []
    out = []
    for variant in config["Request"].get("ProductionVariants", []):
        weight = float(variant.get("InitialVariantWeight", 1.0))
        count = int(variant.get("InitialInstanceCount", 1))
        out.append({"VariantName": variant["VariantName"],
                    "DeployedImages": [{"SpecifiedImage": i, "ResolvedImage": i, "ResolutionTime": now}
                                       for i in images],
                    "CurrentWeight": weight, "DesiredWeight": weight,
                    "CurrentInstanceCount": count, "DesiredInstanceCount": count})
    return out


def _model_of(home: Path, config: dict[str, Any]) -> dict[str, Any]:
    variants = config["Request"].get("ProductionVariants") or []
    name = variants[0]["ModelName"]
    path = home / "models" / f"{name}.json"
    if not path.is_file():
        raise DeploymentError(f"model {name} (variant {variants[0]['VariantName']}) does not exist; create it with "
                              "CreateModel, then update the endpoint again")
    model: dict[str, Any] = read_json(path)["Request"]
    return model


def deploy(endpoint: EndpointDir, generation: int, store_root: Path) -> None:
    record = endpoint.record()
    pending = record.get("Pending") or {}
    if pending.get("Generation") != generation:
        return  # superseded or deleted before we started
    config_name = pending["EndpointConfigName"]
    directory = endpoint.generation_dir(generation)
    directory.mkdir(parents=True, exist_ok=True)
    started: RunningServer | None = None
    try:
        config = EndpointStore(endpoint.home / "endpoints").read_config(config_name)
        if config is None:
            raise DeploymentError(f"endpoint config {config_name} was deleted before it could be deployed")
        model = _model_of(endpoint.home, config)
        endpoint.log(f"deploying {config_name} (generation {generation}): model {model.get('ModelName')}")
        plan = prepare_generation(directory, model, LocalStore(store_root))
        python = choose_interpreter(plan.images, endpoint.home, endpoint.log, endpoint.log_file,
                                    directory / "server-packages")
        process = start_server(python, plan.config_file, plan.ready_file, plan.log_file)
        _note_server(endpoint, generation, ProcessId.of(process.pid))
        started = wait_ready(process, plan.ready_file, plan.log_file)
        endpoint.log(f"server pid {started.pid.pid} ready on 127.0.0.1:{started.port}")
    except (DeploymentError, ServerStartError, OSError, ValueError, KeyError) as e:
        _record_failure(endpoint, generation, f"{type(e).__name__}: {e}" if isinstance(e, KeyError) else str(e))
        return
    except Exception as e:  # noqa: BLE001 - anything else still ends the deployment with a reason
        _record_failure(endpoint, generation, f"InternalServerError: {type(e).__name__}: {e}")
        return
    _switch(endpoint, generation, config, model, started, python)


def _note_server(endpoint: EndpointDir, generation: int, pid: ProcessId) -> None:
    """Record the starting server in `Pending`, so a DeleteEndpoint meanwhile can stop it too."""

    def change(record: dict[str, Any]) -> dict[str, Any] | None:
        pending = record.get("Pending") or {}
        return {"Pending": {**pending, "pid": pid.serialise().strip()}} if pending.get("Generation") == generation \
            else None

    endpoint.update(change)


def _switch(endpoint: EndpointDir, generation: int, config: dict[str, Any], model: dict[str, Any],
            server: RunningServer, python: ServerPython) -> None:
    """Point the endpoint at the new server in one locked update, then stop the server it replaced."""
    replaced: dict[str, Any] = {}

    def change(record: dict[str, Any]) -> dict[str, Any] | None:
        if (record.get("Pending") or {}).get("Generation") != generation:
            return None
        replaced.update(record.get("Serving") or {})
        name = config["Request"]["EndpointConfigName"]
        history = [*record.get("History", []), name]
        return {"EndpointStatus": "InService", "EndpointConfigName": name, "FailureReason": None,
                "ProductionVariants": variant_descriptions(config, model), "PendingDeploymentSummary": None,
                "Pending": None, "History": history[-50:],
                "Serving": {"Generation": generation, "EndpointConfigName": name, "pid": server.pid.serialise().strip(),
                            "port": server.port, "interpreter": python.interpreter,
                            "pythonpath": list(python.path)}}

    record = endpoint.update(change)
    if (record.get("Serving") or {}).get("Generation") != generation:
        stop_process(server.pid, grace=5.0)  # deleted or superseded while we started: this server is not wanted
        shutil.rmtree(endpoint.generation_dir(generation), ignore_errors=True)
        return
    if replaced:
        endpoint.log(f"stopping the previous server (generation {replaced.get('Generation')})")
        stop_process(server_process(replaced))
        if replaced.get("Generation") is not None:
            shutil.rmtree(endpoint.generation_dir(int(replaced["Generation"])), ignore_errors=True)


def _record_failure(endpoint: EndpointDir, generation: int, reason: str) -> None:
    endpoint.log(f"deployment of generation {generation} failed: {reason}")

    def change(record: dict[str, Any]) -> dict[str, Any] | None:
        if (record.get("Pending") or {}).get("Generation") != generation:
            return None
        if record.get("Serving"):  # an update: the old config keeps serving
            return {"EndpointStatus": "InService", "FailureReason": clip(reason), "Pending": None,
                    "PendingDeploymentSummary": None}
        return {"EndpointStatus": "Failed", "FailureReason": clip(reason), "Pending": None,
                "PendingDeploymentSummary": None}

    endpoint.update(change)


def restart_serving(endpoint: EndpointDir, record: dict[str, Any]) -> dict[str, Any]:
    """Start the serving generation's server again from its prepared directory (its server died).

    One restart at a time per endpoint (a lock of its own, since the record's lock is taken inside): a second
    process that found the same dead server waits, then sees the new one alive and leaves it be."""
    with exclusive_lock(endpoint.path / ".restart.lock"):
        current = endpoint.record()
        same = (current.get("Serving") or {}).get("pid") == (record.get("Serving") or {}).get("pid")
        if not same or current.get("EndpointStatus") != "InService":
            return current  # restarted (or redeployed) meanwhile
        return _restart(endpoint, current)


def _restart(endpoint: EndpointDir, record: dict[str, Any]) -> dict[str, Any]:
    serving = record["Serving"]
    directory = endpoint.generation_dir(int(serving["Generation"]))
    config_file = directory / "server.json"
    ready_file = directory / "ready.json"
    endpoint.log(f"the server of generation {serving['Generation']} (pid {serving.get('pid')}) is gone; restarting it")
    try:
        python = ServerPython(str(serving.get("interpreter") or sys.executable),
                              tuple(serving.get("pythonpath") or ()))
        process = start_server(python, config_file, ready_file, directory / "server.log")
        server = wait_ready(process, ready_file, directory / "server.log")
    except (ServerStartError, OSError) as e:
        endpoint.log(f"restart failed: {e}")
        reason = clip(f"the endpoint's server died and could not be restarted: {e}")
        return endpoint.update(lambda r: {"FailureReason": reason})
    endpoint.log(f"restarted: pid {server.pid.pid} on 127.0.0.1:{server.port}")

    def change(current: dict[str, Any]) -> dict[str, Any] | None:
        if (current.get("Serving") or {}).get("Generation") != serving["Generation"]:
            return None
        return {"Serving": {**current["Serving"], "pid": server.pid.serialise().strip(), "port": server.port},
                "Restarts": int(current.get("Restarts", 0)) + 1}

    updated = endpoint.update(change)
    if (updated.get("Serving") or {}).get("port") != server.port:
        stop_process(server.pid, grace=5.0)
    return updated


def deployer_process(pending: dict[str, Any] | None) -> ProcessId | None:
    if not pending or not pending.get("deployer"):
        return None
    return ProcessId.parse(str(pending["deployer"]))


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: python -m smflow.local_sagemaker.endpoints.deployer ENDPOINT_DIR GENERATION STORE_ROOT",
              file=sys.stderr)
        return 2
    deploy(EndpointDir(Path(argv[0])), int(argv[1]), Path(argv[2]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
