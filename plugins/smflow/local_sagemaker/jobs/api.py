"""SageMaker's job API family on this machine: Create/Describe/Stop/List for processing, training and
transform jobs, over durable job directories (records.py) and detached runners (supervisor.py)."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from smflow.local_sagemaker.jobs.records import JobDir, JobExistsError, JobStore
from smflow.local_sagemaker.jobs.sandbox import STDERR_INDEX
from smflow.local_sagemaker.jobs.supervisor import Supervisor
from smflow.local_sagemaker.models import Models
from smflow.local_sagemaker.shapes import Arns, check_name, is_plain_name, output, to_boto
from smflow.local_sagemaker.store import InvalidUriError, LocalStore
from smflow.local_sagemaker.timestamps import as_datetime, now_iso
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
from smflow.service_model import sagemaker_model

Handler = Callable[[JobKind, dict[str, Any]], dict[str, Any]]


class Jobs:
    def __init__(self, store: LocalStore, jobs: JobStore, arns: Arns, models: Models):
        self.store = store
        self.jobs = jobs
        self.arns = arns
        self.models = models
        self.supervisor = Supervisor(store.root)

    def handlers(self) -> dict[JobVerb, Handler]:
        return {"create": self.create, "describe": self.describe, "stop": self.stop, "list": self.list}

    # ---- Create -----------------------------------------------------------------------------------

    def create(self, api: JobKind, params: dict[str, Any]) -> dict[str, Any]:
        name = params[api.name_key]
        check_name(api.create, api.name_key, name)
        extra_files = self._check_request(api, params)
        arn = self.arns.arn(api.arn_type, name)
        duplicate = validation_error(api.create, "Job name must be unique within an AWS account and region, and a "
                                                 f"job with this name already exists ({arn})")
        existing = self.jobs.find(api.directory, name)
        if existing is not None:
            self.supervisor.refresh(existing)  # a dead runner's job is recorded Failed before we refuse the name
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
        self.supervisor.spawn(job)
        return {api.arn_key: arn}

    def _check_request(self, api: JobKind, params: Mapping[str, Any]) -> dict[str, Any]:
        """Server-side checks per job type; returns extra files for the job directory (the transform's model)."""
        if api is PROCESSING:
            from smflow.local_sagemaker.containers.processing import validate_processing_request

            problems = validate_processing_request(params)
        elif api is TRAINING:
            from smflow.local_sagemaker.containers.training import validate_training_request

            problems = validate_training_request(params)
        else:
            model = self.models.record(api.create, params["ModelName"])  # not found: SageMaker's error first
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

    # ---- Describe, Stop, List ---------------------------------------------------------------------

    def _find(self, api: JobKind, operation: str, name: str) -> JobDir:
        job = self.jobs.find(api.directory, name) if is_plain_name(name) else None
        if job is None:
            raise not_found_error(operation, f"Could not find requested job with name {name}")
        return job

    def describe(self, api: JobKind, params: dict[str, Any]) -> dict[str, Any]:
        job = self._find(api, api.describe, params[api.name_key])
        return output(api.describe, self.supervisor.refresh(job))

    def stop(self, api: JobKind, params: dict[str, Any]) -> dict[str, Any]:
        name = params[api.name_key]
        job = self._find(api, api.stop, name)
        status = self.supervisor.refresh(job)[api.status_key]
        if status == "Stopping":
            return {}
        if status != "InProgress":
            raise validation_error(api.stop, f"The job {name} is {status}; only an InProgress job can be stopped")

        def mark(description: dict[str, Any]) -> dict[str, Any] | None:
            if description[api.status_key] != "InProgress":
                return None
            return {api.status_key: "Stopping", **({"SecondaryStatus": "Stopping"} if api is TRAINING else {})}

        job.update(mark)
        self.supervisor.signal_stop(job)
        return {}

    def list(self, api: JobKind, params: dict[str, Any]) -> dict[str, Any]:
        descriptions = [self.supervisor.refresh(self.jobs.job(api.directory, name))
                        for name in self.jobs.names(api.directory)]
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
        list_output = sagemaker_model().operation_model(api.list).output_shape
        summary_shape = list_output.members[api.summaries_key].member  # type: ignore[attr-defined]
        summaries = [to_boto({k: v for k, v in d.items() if k in summary_shape.members}, summary_shape)
                     for d in page]
        result: dict[str, Any] = {api.summaries_key: summaries}
        if start + size < len(selected):
            result["NextToken"] = str(start + size)
        return result

    # ---- beyond the API: the job directory and its log --------------------------------------------

    def job_dir(self, operation: str, name: str) -> Path | None:
        """The job's directory (log, request, private /opt/ml), for debugging and the CLI."""
        api = JOB_OPERATIONS[operation][1]
        job = self.jobs.find(api.directory, name)
        return None if job is None else job.path

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

    def read_log_lines(self, operation: str, name: str, offset: int) -> tuple[builtins.list[tuple[str, bool]], int]:
        """Like `read_log`, one (line, written to stderr?) pair per whole line."""
        text, end = self.read_log(operation, name, offset)
        job = self.jobs.find(JOB_OPERATIONS[operation][1].directory, name)
        starts: set[int] = set()
        if job is not None and text:
            try:
                raw = (job.path / STDERR_INDEX).read_text(encoding="ascii")
                starts = {int(v) for v in raw.split() if v.isdigit() and offset <= int(v) < end}
            except OSError:
                pass
        lines: builtins.list[tuple[str, bool]] = []
        position = offset
        # "\n" only, as the log pump writes lines: str.splitlines would also split on "\r" (progress bars).
        for line in text[:-1].split("\n") if text else []:
            lines.append((line.rstrip("\r"), position in starts))
            position += len(line.encode("utf-8", errors="replace")) + 1
        return lines, end


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
