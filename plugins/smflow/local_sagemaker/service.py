"""SageMaker's job, model and model-registry API, emulated on this machine: one operation → handler table.

Every request is first checked by botocore's own validator against the real SageMaker service model (what
boto3 would reject, this rejects, with the same `ParamValidationError`), then by the server-side rules
SageMaker applies (name patterns, unique names, LocalPath prefixes, ...), which raise `ClientError`
ValidationException like the service.

Jobs run in detached runner processes (see jobs/runner.py) and are described from their durable job
directories (see jobs/records.py), so any process — this one, a restarted scheduler, the CLI — can describe, list
and stop them. A job whose runner died without recording an ending is marked Failed ("local job runner
died (pid N)") the first time anyone looks at it.

Responses are shaped like boto3's (without ResponseMetadata, as the sagemaker executor returns them):
timestamps are timezone-aware `datetime`s, converted from the ISO strings the job files hold by walking
the operation's output shape.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ParamValidationError
from botocore.model import Shape

from smflow import settings
from smflow.local_sagemaker.jobs.records import (
    ACTIVE_STATUSES,
    RUNNER_START_GRACE_SECONDS,
    JobDir,
    JobExistsError,
    JobStore,
    now_iso,
    read_json,
    write_json_atomic,
)
from smflow.local_sagemaker.store import InvalidUriError, LocalStore
from smflow.local_sagemaker.timestamps import as_datetime
from smflow.sagemaker_api import (
    JOB_OPERATIONS,
    PROCESSING,
    TRAINING,
    TRANSFORM,
    JobKind,
    JobVerb,
    not_found_error,
    validation_error,
)
from smflow.service_model import request_problems, sagemaker_model

if TYPE_CHECKING:
    from smflow.local_sagemaker.registry import ModelRegistry

def to_boto(value: Any, shape: Shape | None) -> Any:
    """Stored JSON → what boto3 returns: ISO strings at timestamp members become timezone-aware datetimes."""
    if shape is None:
        return value
    if shape.type_name == "timestamp" and isinstance(value, str):
        return datetime.fromisoformat(value)
    if shape.type_name == "structure" and isinstance(value, dict):
        members = shape.members  # type: ignore[attr-defined]
        return {k: to_boto(v, members.get(k)) for k, v in value.items()}
    if shape.type_name == "list" and isinstance(value, list):
        return [to_boto(v, shape.member) for v in value]  # type: ignore[attr-defined]
    if shape.type_name == "map" and isinstance(value, dict):
        return {k: to_boto(v, shape.value) for k, v in value.items()}  # type: ignore[attr-defined]
    return value


class LocalSageMaker:
    """SageMaker on this machine: jobs as sandboxed subprocesses, S3 as a directory, the registry in SQLite."""

    def __init__(self, home: Path | None = None, store_root: Path | None = None):
        self.home = Path(home).resolve() if home is not None else settings.smflow_home()
        if store_root is not None:
            root = Path(store_root)
        else:
            root = self.home / "store" if home is not None else settings.store_root()
        self.store = LocalStore(root)
        self.jobs = JobStore(self.home / "jobs")
        self.models_dir = self.home / "models"
        self.region = settings.region()
        self.account = settings.DEFAULT_ACCOUNT
        self._children: dict[Path, subprocess.Popen[bytes]] = {}

    @cached_property
    def _job_handlers(self) -> dict[JobVerb, Callable[[JobKind, dict[str, Any]], dict[str, Any]]]:
        return {"create": self._create_job, "describe": self._describe_job, "stop": self._stop_job,
                "list": self._list_job}

    @cached_property
    def _model_handlers(self) -> dict[str, Callable[[dict[str, Any]], dict[str, Any]]]:
        return {"CreateModel": self._create_model, "DescribeModel": self._describe_model,
                "DeleteModel": self._delete_model}

    @cached_property
    def registry(self) -> ModelRegistry:
        from smflow.local_sagemaker.registry import ModelRegistry

        return ModelRegistry(self.home / settings.registry_path().name)

    # ---- the API ------------------------------------------------------------------------------------

    def call(self, operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
        params = dict(params)
        if operation in JOB_OPERATIONS:
            self._reap()
            verb, api = JOB_OPERATIONS[operation]
            self._validate(operation, params)
            return self._job_handlers[verb](api, params)
        if operation in self._model_handlers:
            self._validate(operation, params)
            return self._model_handlers[operation](params)
        from smflow.local_sagemaker.registry import ModelRegistry

        if operation in ModelRegistry.OPERATIONS:
            return self.registry.call(operation, params)
        supported = sorted([*JOB_OPERATIONS, *self._model_handlers, *ModelRegistry.OPERATIONS])
        raise validation_error(operation, f"the local executor does not implement the SageMaker operation "
                                          f"{operation!r}; it implements {', '.join(supported)}. Run this step "
                                          "with the sagemaker executor")

    def _validate(self, operation: str, params: Mapping[str, Any]) -> None:
        """botocore's client-side check, exactly as boto3 runs it before sending a request."""
        problems = request_problems(operation, params)
        if problems:
            raise ParamValidationError(report=f"invalid {operation} request:\n{problems}")

    def _check_name(self, operation: str, key: str, name: str) -> None:
        """SageMaker's server-side name pattern; names also become directory names, so this guards paths."""
        pattern = sagemaker_model().operation_model(operation).input_shape.members[key].metadata["pattern"]
        if not re.fullmatch(pattern, name):
            raise validation_error(operation, f"1 validation error detected: Value {name!r} at '{key}' failed to "
                                              f"satisfy constraint: Member must satisfy regular expression pattern: "
                                              f"{pattern} (letters, digits and hyphens, at most 63 characters)")

    def _arn(self, resource: str, name: str) -> str:
        return f"arn:aws:sagemaker:{self.region}:{self.account}:{resource}/{name.lower()}"

    def _output(self, operation: str, value: Mapping[str, Any]) -> dict[str, Any]:
        shape = sagemaker_model().operation_model(operation).output_shape
        members = shape.members if shape is not None else {}  # type: ignore[attr-defined]
        result: dict[str, Any] = to_boto({k: v for k, v in value.items() if k in members}, shape)
        return result

    # ---- jobs ---------------------------------------------------------------------------------------

    def _create_job(self, api: JobKind, params: dict[str, Any]) -> dict[str, Any]:
        name = params[api.name_key]
        self._check_name(api.create, api.name_key, name)
        extra_files = self._check_job_request(api, params)
        arn = self._arn(api.arn_type, name)
        duplicate = validation_error(api.create, "Job name must be unique within an AWS account and region, and a "
                                                 f"job with this name already exists ({arn})")
        existing = self.jobs.find(api.directory, name)
        if existing is not None:
            self._refresh(existing)  # a dead runner's job is recorded Failed before we refuse the name
            raise duplicate
        describe_members = sagemaker_model().operation_model(api.describe).output_shape.members  # type: ignore
        now = now_iso()
        description = {k: v for k, v in params.items() if k in describe_members}
        description.update({api.arn_key: arn, api.status_key: "InProgress", "CreationTime": now,
                            "LastModifiedTime": now})
        if api is TRAINING:
            description.update({"SecondaryStatus": "Starting", "SecondaryStatusTransitions": [
                {"Status": "Starting", "StartTime": now, "StatusMessage": "Starting the training job"}]})
        try:
            job = self.jobs.create(api.directory, name, params, description, extra_files)
        except JobExistsError:
            raise duplicate from None
        self._spawn(job)
        return {api.arn_key: arn}

    def _check_job_request(self, api: JobKind, params: Mapping[str, Any]) -> dict[str, Any]:
        """Server-side checks per job type; returns extra files for the job directory (the transform's model)."""
        if api is PROCESSING:
            from smflow.local_sagemaker.containers.processing import validate_processing_request

            problems = validate_processing_request(params)
        elif api is TRAINING:
            from smflow.local_sagemaker.containers.training import validate_training_request

            problems = validate_training_request(params)
        else:
            model = self._model_record(api.create, params["ModelName"])  # not found: SageMaker's error first
            problems = []
        problems += self._uri_problems(params)
        if problems:
            raise validation_error(api.create, f"{len(problems)} problem(s) in the {api.create} request: "
                                               + "; ".join(problems))
        for uri in _output_uris(params):
            self.store.remove_stale_parts(uri)  # what a killed earlier attempt left half-written
        return {"model.json": model["Request"]} if api is TRANSFORM else {}

    def _uri_problems(self, params: Mapping[str, Any]) -> list[str]:
        """Every s3:// URI of a request must name a valid bucket and a key inside it (S3's naming rules)."""
        problems = []
        for where, uri in _s3_values(params):
            try:
                self.store.path_for(uri)
            except InvalidUriError as e:
                problems.append(f"{where}: {e}")
        return problems

    def _spawn(self, job: JobDir) -> None:
        """Start the runner in its own session, so this call returns at once and the job outlives us."""
        package_parent = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_parent, env.get("PYTHONPATH", "")) if p)
        with job.log_file.open("ab") as log:
            try:
                process = subprocess.Popen(
                    [sys.executable, "-m", "smflow.local_sagemaker.jobs.runner", str(job.path), str(self.store.root)],
                    cwd=job.path, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    start_new_session=True, close_fds=True)
            except OSError as e:
                job.finish("Failed", f"InternalServerError: could not start the local job runner: {e}")
                return
        job.write_pid(job.runner_pid_file, process.pid)
        self._children[job.path] = process

    def _find(self, api: JobKind, operation: str, name: str) -> JobDir:
        job = self.jobs.find(api.directory, name) if re.fullmatch(r"[a-zA-Z0-9-]{1,63}", name) else None
        if job is None:
            raise not_found_error(operation, f"Could not find requested job with name {name}")
        return job

    def _refresh(self, job: JobDir) -> dict[str, Any]:
        """The description, after recording an ending for an active job whose runner is gone."""
        description = job.description()
        if description[job.status_key] not in ACTIVE_STATUSES:
            return description
        self._reap()
        pid = job.read_pid(job.runner_pid_file)
        if pid is None:
            age = datetime.now(UTC) - as_datetime(description["CreationTime"])
            if age.total_seconds() < RUNNER_START_GRACE_SECONDS:
                return description
            reason = "local job runner never started (no runner.pid)"
        elif pid.alive():
            return description
        else:
            reason = f"local job runner died (pid {pid.pid})"
        self._kill_container(job)
        stopping = description[job.status_key] == "Stopping"
        status = "Stopped" if stopping else "Failed"
        extra: dict[str, Any] = {"SecondaryStatus": status} if job.kind == "training" else {}
        return job.finish(status, reason + (" while stopping" if stopping else ""), **extra)

    def _reap(self) -> None:
        """Collect runners of ours that ended, so they do not linger as zombies (which look alive to `kill 0`)."""
        for path, child in list(self._children.items()):
            if child.poll() is not None:
                del self._children[path]

    def _kill_container(self, job: JobDir) -> None:
        """A runner that died may leave its container running (no sandbox death signal): end its group."""
        pid = job.read_pid(job.container_pid_file)
        if pid is not None and pid.alive():
            try:
                os.killpg(pid.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def _describe_job(self, api: JobKind, params: dict[str, Any]) -> dict[str, Any]:
        job = self._find(api, api.describe, params[api.name_key])
        return self._output(api.describe, self._refresh(job))

    def _stop_job(self, api: JobKind, params: dict[str, Any]) -> dict[str, Any]:
        name = params[api.name_key]
        job = self._find(api, api.stop, name)
        status = self._refresh(job)[api.status_key]
        if status == "Stopping":
            return {}
        if status != "InProgress":
            raise validation_error(api.stop, f"The job {name} is {status}; only an InProgress job can be stopped")

        def mark(description: dict[str, Any]) -> dict[str, Any] | None:
            if description[api.status_key] != "InProgress":
                return None
            return {api.status_key: "Stopping", **({"SecondaryStatus": "Stopping"} if api is TRAINING else {})}

        job.update(mark)
        pid = job.read_pid(job.runner_pid_file)
        if pid is not None and pid.alive():
            try:
                os.kill(pid.pid, signal.SIGTERM)  # the runner stops the container and records Stopped
            except ProcessLookupError:
                pass
        return {}

    def _list_job(self, api: JobKind, params: dict[str, Any]) -> dict[str, Any]:
        descriptions = [self._refresh(self.jobs.job(api.directory, name)) for name in self.jobs.names(api.directory)]
        contains = str(params.get("NameContains", "")).lower()
        selected = []
        for d in descriptions:
            if contains and contains not in d[api.name_key].lower():
                continue
            if "StatusEquals" in params and d[api.status_key] != params["StatusEquals"]:
                continue
            if not _in_window(d, "CreationTime", params) or not _in_window(d, "LastModifiedTime", params):
                continue
            selected.append(d)
        sort_by = {"Name": api.name_key, "Status": api.status_key}.get(params.get("SortBy", ""), "CreationTime")
        selected.sort(key=lambda d: str(d.get(sort_by, "")), reverse=params.get("SortOrder", "Descending")
                      == "Descending")
        start = int(params.get("NextToken") or 0)
        size = int(params.get("MaxResults") or 10)
        page = selected[start:start + size]
        output = sagemaker_model().operation_model(api.list).output_shape
        summary_shape = output.members[api.summaries_key].member  # type: ignore[attr-defined]
        summaries = [to_boto({k: v for k, v in d.items() if k in summary_shape.members}, summary_shape)
                     for d in page]
        result: dict[str, Any] = {api.summaries_key: summaries}
        if start + size < len(selected):
            result["NextToken"] = str(start + size)
        return result

    def job_dir(self, operation: str, name: str) -> Path | None:
        """The job's directory (log, request, private /opt/ml), for debugging and the CLI."""
        api = JOB_OPERATIONS[operation][1]
        job = self.jobs.find(api.directory, name)
        return None if job is None else job.path

    # ---- models ---------------------------------------------------------------------------------------

    def _model_path(self, name: str) -> Path:
        return self.models_dir / f"{name}.json"

    def _model_record(self, operation: str, name: str) -> dict[str, Any]:
        path = self._model_path(name) if re.fullmatch(r"[a-zA-Z0-9-]{1,63}", name) else None
        if path is None or not path.is_file():
            raise not_found_error(operation, f'Could not find model "{self._arn("model", name)}".')
        record: dict[str, Any] = read_json(path)
        return record

    def _create_model(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params["ModelName"]
        self._check_name("CreateModel", "ModelName", name)
        if not params.get("PrimaryContainer") and not params.get("Containers"):
            raise validation_error("CreateModel", "a model needs PrimaryContainer or Containers")
        arn = self._arn("model", name)
        self.models_dir.mkdir(parents=True, exist_ok=True)
        record = {"Request": params, "ModelArn": arn, "CreationTime": now_iso()}
        fd, tmp = tempfile.mkstemp(dir=self.models_dir, prefix=f".{name}.", suffix=".tmp")
        os.close(fd)
        try:
            write_json_atomic(Path(tmp), record)
            os.link(tmp, self._model_path(name))  # atomic and exclusive: fails if the model exists
        except FileExistsError:
            raise validation_error("CreateModel", f'Cannot create already existing model "{arn}".') from None
        finally:
            Path(tmp).unlink(missing_ok=True)
        return {"ModelArn": arn}

    def _describe_model(self, params: dict[str, Any]) -> dict[str, Any]:
        record = self._model_record("DescribeModel", params["ModelName"])
        return self._output("DescribeModel", {**record["Request"], "ModelArn": record["ModelArn"],
                                              "CreationTime": record["CreationTime"]})

    def _delete_model(self, params: dict[str, Any]) -> dict[str, Any]:
        self._model_record("DeleteModel", params["ModelName"])
        self._model_path(params["ModelName"]).unlink(missing_ok=True)
        return {}

    def read_log(self, operation: str, name: str, offset: int) -> tuple[str, int]:
        """Whole lines of the job log after byte `offset` (a line still being written waits for the next call)."""
        if operation not in JOB_OPERATIONS:
            raise ValueError(f"read_log needs a job operation name such as CreateTrainingJob, not {operation!r}")
        job = self.jobs.find(JOB_OPERATIONS[operation][1].directory, name)
        if job is None:
            return "", offset
        with job.log_file.open("rb") as fh:
            fh.seek(offset)
            data = fh.read()
        end = data.rfind(b"\n") + 1
        return data[:end].decode("utf-8", errors="replace"), offset + end


def _s3_values(value: Any, where: str = "") -> Iterator[tuple[str, str]]:
    """(key path, value) of every string in a request that is an s3:// URI."""
    if isinstance(value, str):
        if value.startswith("s3://"):
            yield where, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _s3_values(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _s3_values(item, f"{where}[{index}]")


def _output_uris(params: Mapping[str, Any]) -> list[str]:
    """Where a job writes: processing outputs, training and transform output paths."""
    uris = [(params.get("OutputDataConfig") or {}).get("S3OutputPath"),
            (params.get("TransformOutput") or {}).get("S3OutputPath"),
            *[(o.get("S3Output") or {}).get("S3Uri")
              for o in (params.get("ProcessingOutputConfig") or {}).get("Outputs") or []]]
    return [u for u in uris if isinstance(u, str) and u.startswith("s3://")]


def _in_window(description: Mapping[str, Any], key: str, params: Mapping[str, Any]) -> bool:
    value = as_datetime(description[key]) if key in description else None
    if value is None:
        return True
    after, before = params.get(f"{key}After"), params.get(f"{key}Before")
    return (after is None or value > as_datetime(after)) and (before is None or value < as_datetime(before))
