"""The batch DAG's operators: resolve the approved model, find the batches it owes, predict each exactly once.

Exactly once, across retries, re-runs and crashes: a batch's transform job is named from the batch digest and
the model package ARN (never the DAG run), so whichever run meets the batch again finds that job — running
(attach), Completed (reuse, no second prediction) or Failed (the next attempt `-aN`). The manifest is written
only after the job completed; a batch with a manifest for the model version is not owed any more
(smflow/batch/ledger.py).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSkipException
from botocore.exceptions import ClientError

from smflow.batch.discovery import Batch, find_batches, folder_prefix
from smflow.batch.ledger import (
    INPUT_MANIFEST_NAME,
    MANIFEST_NAME,
    LedgerLookup,
    batch_output,
    build_manifest,
    input_manifest,
    manifest_uri,
    parse_manifest,
    pending,
    version_label,
)
from smflow.compile.batch import BATCH_TOKEN, PREPROCESSED, VERSION_TOKEN
from smflow.compile.naming import bounded_name, digest
from smflow.compile.render import replace_strings
from smflow.executors.base import JobFailedError
from smflow.model_packages import newest_package, package_summaries
from smflow.operators.base import SmflowOperator
from smflow.operators.jobs import MAX_ATTEMPTS, BatchTransformOperator, JobOperator, ProcessingJobOperator
from smflow.sagemaker_api import FAILED_STATUSES, is_not_found

if TYPE_CHECKING:
    from airflow.sdk import Context

    from smflow.executors.base import Executor
    from smflow.operators.result import TaskResult

APPROVE_HINT = "approve one with `smflow registry approve {group} VERSION` (`smflow registry list --group {group}` " \
               "shows the versions), or pin `{pin_key}`"


def model_name_for(prefix: str, package_arn: str, version: int) -> str:
    """The SageMaker Model made from a package: the same package always gives the same name, so a model is
    created once per version and every run after that reuses it."""
    return bounded_name(f"{prefix}-v{version}-{digest(package_arn, length=8)}")


def batch_job_name(prefix: str, batch: Batch, package_arn: str, attempt: int = 1) -> str:
    """The transform job predicting `batch` with one model package: from the batch digest and the ARN only."""
    suffix = digest(batch.digest, package_arn, length=12) + (f"-a{attempt}" if attempt > 1 else "")
    return f"{prefix[: 63 - len(suffix) - 1].rstrip('-')}-{suffix}"


def resolve_package(executor: Executor, group: str, version: int | None, *, purpose: str = "to predict with",
                    pin_key: str = "batch.model.version") -> dict[str, Any]:
    """The DescribeModelPackage answer of the version to use: the pinned one, else the latest Approved.

    `purpose` and `pin_key` word the failures for the DAG asking (the batch DAG predicts, the monitor checks).
    """
    try:
        if version:
            summaries = package_summaries(executor, group)
        else:
            newest = newest_package(executor, group, status="Approved")
            summaries = [newest] if newest else []
    except ClientError as e:
        if is_not_found(e):
            raise AirflowFailException(f"model package group {group} does not exist: nothing {purpose}; run "
                                       "the train DAG so its register step creates a version, then "
                                       + APPROVE_HINT.format(group=group, pin_key=pin_key)) from e
        raise
    if version is not None:
        chosen = [s for s in summaries if s.get("ModelPackageVersion") == version]
        if not chosen:
            known = sorted(int(s["ModelPackageVersion"]) for s in summaries if "ModelPackageVersion" in s)
            raise AirflowFailException(f"{pin_key} {version} is not in model package group {group} "
                                       f"(versions: {', '.join(map(str, known)) or 'none'}); pin an existing one")
        if chosen[0].get("ModelApprovalStatus") == "Rejected":
            raise AirflowFailException(f"pinned version {version} of {group} is Rejected; pin another version or "
                                       f"approve it with `smflow registry approve {group} {version}`")
    else:
        if not summaries:
            raise AirflowFailException(f"no Approved model package version in group {group}, so there is no model "
                                       f"{purpose}; " + APPROVE_HINT.format(group=group, pin_key=pin_key))
        chosen = summaries
    return executor.call("DescribeModelPackage", {"ModelPackageName": chosen[0]["ModelPackageArn"]})


class ResolveModelOperator(SmflowOperator):
    """`<unit>.resolve_model`: the model package version to use, and a SageMaker Model made from it (once)."""

    ui_color = "#e5dbff"

    def execute(self, context: Context) -> TaskResult:
        executor = self.get_executor()
        params = self.params_
        package = resolve_package(executor, params["group"], params.get("version"))
        arn, version = package["ModelPackageArn"], int(package["ModelPackageVersion"])
        name = model_name_for(params["model_prefix"], arn, version)
        try:
            executor.call("DescribeModel", {"ModelName": name})
            self.log.info("using %s (version %s, %s): model %s exists", arn, version,
                          package.get("ModelApprovalStatus"), name)
        except ClientError as e:
            if not is_not_found(e):
                raise
            containers = package.get("InferenceSpecification", {}).get("Containers") or []
            if not containers:
                raise AirflowFailException(f"{arn} has no InferenceSpecification container to serve; register it "
                                           "with a model artifact and image") from e
            keep = ("Image", "ModelDataUrl", "Environment")
            primary = {k: containers[0][k] for k in keep if k in containers[0]}
            executor.call("CreateModel", {"ModelName": name, "PrimaryContainer": primary, **self.request})
            self.log.info("created model %s from %s (version %s, %s)", name, arn, version,
                          package.get("ModelApprovalStatus"))
        outputs = {"model_name": name, "model_package_arn": arn, "model_version": version}
        return self.result(name, str(package.get("ModelApprovalStatus")), outputs)


def _manifest_lookup(executor: Executor, output: str) -> LedgerLookup:
    """The ledger as `pending()` reads it: a batch's manifest for a version label, through the executor's store.
    A manifest that is not one (hand-edited, truncated by a tool) fails the task naming the file."""

    def lookup(batch: Batch, label: str) -> dict[str, Any] | None:
        uri = f"{folder_prefix(output)}{batch.batch_id}/{label}/{MANIFEST_NAME}"
        if not executor.exists(uri):
            return None
        try:
            return parse_manifest(executor.read_bytes(uri), uri)
        except ValueError as e:
            raise AirflowFailException(str(e)) from None

    return lookup


def upstream_outputs(context: Context, task_id: str) -> dict[str, Any]:
    """An upstream batch task's outputs in this run (its TaskResult XCom), or a clear failure when it has none."""
    value = context["ti"].xcom_pull(task_ids=task_id)
    if not isinstance(value, dict) or "outputs" not in value:
        raise AirflowException(f"upstream task {task_id} published no result in this run; did it succeed?")
    outputs: dict[str, Any] = value["outputs"]
    return outputs


def selected(batches: list[Batch], restrict: str | None) -> list[Batch]:
    """With a run's `input` (a prefix or an object URI), only the batches all of whose objects lie under it."""
    if not restrict:
        return batches
    return [b for b in batches if all(uri.startswith(restrict) for uri, _ in b.objects)]


class FindBatchesOperator(SmflowOperator):
    """`<unit>.find_batches`: the complete batches under the input that the resolved version has not predicted."""

    ui_color = "#d3f9d8"

    def execute(self, context: Context) -> TaskResult:
        executor = self.get_executor()
        params = self.params_
        model = upstream_outputs(context, params["resolve_task"])
        version = int(model["model_version"])
        listing = executor.list_objects(folder_prefix(params["input"]))
        present = find_batches(listing, params["input"], params["pattern"], params.get("marker"))
        conf = getattr(context.get("dag_run"), "conf", None) or {}
        restrict = (context.get("params") or {}).get("input") or (conf.get("input") if isinstance(conf, dict)
                                                                  else None)
        chosen = selected(present, restrict)
        owed = pending(chosen, _manifest_lookup(executor, params["output"]), version)
        where = f" under {restrict}" if restrict else ""
        self.log.info("%d batch(es) under %s%s (pattern %s%s); %d owed by model version %s: %s", len(chosen),
                      params["input"], where, params["pattern"],
                      f", marker {params['marker']}" if params.get("marker") else "", len(owed), version,
                      ", ".join(b.batch_id for b in owed) or "none")
        result = self.result(f"{len(owed)} of {len(chosen)} batches", "Pending" if owed else "UpToDate",
                             {"batch_count": len(owed)})
        result["batches"] = [b.as_json() for b in owed]
        return result


def count_records(data: bytes, lines: bool) -> int:
    """Records in one object: its lines (the last one may lack its newline), or 1 when not split by line."""
    if not lines:
        return 1 if data else 0
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


class BatchJobs(JobOperator):
    """One job per owed batch, named from the batch digest and the model package ARN: shared by the preprocess
    and predict tasks. `on_kill` (JobOperator's) stops the batch job running at that moment."""

    def owed(self, context: Context) -> tuple[list[Batch], dict[str, Any]]:
        """The batches find_batches handed over, and the resolved model; skips the task when none is owed."""
        finder = context["ti"].xcom_pull(task_ids=self.params_["find_task"])
        owed = [Batch.from_json(b) for b in (finder or {}).get("batches", [])]
        if not owed:
            raise AirflowSkipException("no batch is owed a prediction by this model version; nothing to do")
        return owed, upstream_outputs(context, self.params_["resolve_task"])

    def each_batch(self, owed: list[Batch], run: Callable[[Batch], dict[str, Any]]) -> list[dict[str, Any]]:
        """`run` for every batch; one failing batch does not stop the others (they are recorded), the task fails
        after, naming the failed ones, so a retry or the next run does only those."""
        done, failed = [], []
        for batch in owed:
            try:
                done.append(run(batch))
            except AirflowException as e:
                self.log.error("batch %s: %s", batch.batch_id, e)
                failed.append(f"{batch.batch_id}: {e}")
        if failed:
            raise AirflowException(f"{len(failed)} of {len(owed)} batch(es) failed (the others are done and "
                                   "recorded; a retry or the next run does only the failed ones): "
                                   + "; ".join(failed))
        return done

    def batch_request(self, batch: Batch, version: int) -> dict[str, Any]:
        request: dict[str, Any] = replace_strings(self.request, {BATCH_TOKEN: batch.batch_id,
                                                                 VERSION_TOKEN: version_label(version)})
        return request

    def run_job(self, executor: Executor, batch: Batch, arn: str, request: dict[str, Any]) -> tuple[str, bool]:
        """Start, attach to or reuse the batch's job; returns its name and whether a Completed one was reused."""
        assert self.operation is not None
        kind = self.kind
        name = ""
        described: dict[str, Any] | None = None
        for attempt in range(1, MAX_ATTEMPTS + 1):
            name = batch_job_name(self.params_["job_prefix"], batch, arn, attempt)
            described = executor.describe_job(self.operation, name)
            if described is None or described[kind.status_key] not in FAILED_STATUSES:
                break
        else:
            raise AirflowException(f"{MAX_ATTEMPTS} jobs for batch {batch.batch_id} failed; fix the cause (see their "
                                   "logs), or change the batch")
        request[kind.name_key] = name
        what = self.operation.removeprefix("Create")
        if described is not None and described[kind.status_key] == "Completed":
            self.log.info("batch %s: %s %s already completed (an earlier run or try did it); reusing it, not "
                          "running it again", batch.batch_id, what, name)
            return name, True
        self._running = (executor, name)
        if described is None:
            if not getattr(self, "_staged", False):  # the code, once per task for all its batches
                self.stage_uploads(executor)
                self._staged = True
            executor.start_job(self.operation, request)
            self.log.info("batch %s (%d object(s)): started %s %s", batch.batch_id, len(batch.objects), what, name)
        else:
            self.log.info("batch %s: attaching to %s %s (%s)", batch.batch_id, what, name, described[kind.status_key])
        poll = self.poll_seconds if self.poll_seconds is not None else (0.2 if executor.name == "local" else 30.0)

        def log_line(line: str, stderr: bool) -> None:
            self.log.log(logging.WARNING if stderr else logging.INFO, "[%s] %s", name, line)

        try:
            executor.wait_for_job(self.operation, name, poll_seconds=poll, on_log=log_line)
        except JobFailedError as e:
            raise AirflowException(f"{what} {name} {e.status}: {e.reason}") from e
        finally:
            self._running = None
        return name, False


class PreprocessBatchesOperator(BatchJobs, ProcessingJobOperator):
    """`<unit>.preprocess`: one processing job per owed batch, writing `<batch folder>/preprocessed/`."""

    ui_color = "#ffe8cc"

    def execute(self, context: Context) -> TaskResult:  # type: ignore[override]
        owed, model = self.owed(context)
        executor = self.get_executor()
        arn, version = str(model["model_package_arn"]), int(model["model_version"])

        def run(batch: Batch) -> dict[str, Any]:
            folder = batch_output(self.params_["output"], batch.batch_id, version)
            executor.write_bytes(folder + INPUT_MANIFEST_NAME, input_manifest(batch))
            name, reused = self.run_job(executor, batch, arn, self.batch_request(batch, version))
            return {"batch_id": batch.batch_id, "job_name": name, "preprocessed": folder + PREPROCESSED,
                    "reused": reused}

        done = self.each_batch(owed, run)
        result = self.result(f"{len(done)} batch(es)", "Completed", {})
        result["preprocessed"] = done
        return result


class PredictBatchesOperator(BatchJobs, BatchTransformOperator):
    """`<unit>.predict`: one transform job per owed batch, then its manifest. Skips when nothing is owed."""

    ui_color = "#ffc078"

    def execute(self, context: Context) -> TaskResult:  # type: ignore[override]
        owed, model = self.owed(context)
        executor = self.get_executor()
        preprocessed: dict[str, str] = {}
        if self.params_.get("preprocess_task"):
            done = (context["ti"].xcom_pull(task_ids=self.params_["preprocess_task"]) or {}).get("preprocessed", [])
            preprocessed = {p["batch_id"]: p["preprocessed"] for p in done}
        predicted = self.each_batch(owed, lambda batch: self.predict(executor, batch, model, preprocessed))
        result = self.result(f"{len(predicted)} batch(es)", "Completed", {"predictions": self.params_["output"]})
        result["predicted"] = predicted
        return result

    def predict(self, executor: Executor, batch: Batch, model: dict[str, Any],
                preprocessed: dict[str, str]) -> dict[str, Any]:
        arn, version = str(model["model_package_arn"]), int(model["model_version"])
        output = self.params_["output"]
        request = self.batch_request(batch, version)
        folder = batch_output(output, batch.batch_id, version)
        recorded = _manifest_lookup(executor, output)(batch, version_label(version))
        if recorded is not None and recorded.get("digest") == batch.digest:
            # A retry of this task after some batches were recorded: those are done, whatever the XCom says.
            self.log.info("batch %s: already predicted by version %s (%s); not again", batch.batch_id, version,
                          manifest_uri(output, batch.batch_id, version))
            return {"batch_id": batch.batch_id, "job_name": recorded.get("transform_job"), "predictions": folder,
                    "records": recorded.get("records", {}), "reused": True}
        if self.params_.get("preprocess_task"):
            if batch.batch_id not in preprocessed:
                raise AirflowException(f"the preprocess task handed over no output for batch {batch.batch_id}")
            source = preprocessed[batch.batch_id]
            request["TransformInput"]["DataSource"]["S3DataSource"] = {"S3DataType": "S3Prefix", "S3Uri": source}
            inputs = [(uri, uri[len(source):]) for uri, _ in executor.list_objects(source)]
        else:
            executor.write_bytes(folder + INPUT_MANIFEST_NAME, input_manifest(batch))
            inputs = [(uri, uri[len(batch.prefix):]) for uri, _ in batch.objects]
        name, reused = self.run_job(executor, batch, arn, request)
        records = self.records(executor, inputs, request, folder)
        records["objects"] = len(batch.objects)
        manifest = build_manifest(batch, model_package_arn=arn, version=version, model_name=str(model["model_name"]),
                                  job_name=name, output=output, records=records, reused_job=reused)
        executor.write_bytes(manifest_uri(output, batch.batch_id, version), json.dumps(manifest, indent=2).encode())
        self.log.info("batch %s: %s record(s) in, %s out → %s", batch.batch_id, records["input"], records["output"],
                      folder)
        return {"batch_id": batch.batch_id, "job_name": name, "predictions": folder, "records": records,
                "reused": reused}

    @staticmethod
    def records(executor: Executor, inputs: list[tuple[str, str]], request: dict[str, Any],
                folder: str) -> dict[str, int]:
        """Records in and out: lines when the input is split by line / the output assembled by line, else
        objects. Read back from the store, so the counts are what is there, whichever run wrote it."""
        by_line_in = request["TransformInput"].get("SplitType") == "Line"
        by_line_out = request["TransformOutput"].get("AssembleWith") == "Line"
        counts = {"input": 0, "output": 0}
        for uri, relative in inputs:
            counts["input"] += count_records(executor.read_bytes(uri), by_line_in)
            out = f"{folder}{relative}.out"
            counts["output"] += count_records(executor.read_bytes(out), by_line_out) if executor.exists(out) else 0
        return counts
