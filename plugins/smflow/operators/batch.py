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
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSkipException
from botocore.exceptions import ClientError

from smflow.batch.discovery import Batch, find_batches, folder_prefix
from smflow.batch.ledger import (
    INPUT_MANIFEST_NAME,
    batch_output,
    build_manifest,
    input_manifest,
    manifest_uri,
    parse_manifest,
    pending,
    version_label,
)
from smflow.compile.batch import BATCH_TOKEN, VERSION_TOKEN
from smflow.compile.naming import bounded_name, digest
from smflow.compile.render import replace_strings
from smflow.executors.base import JobFailedError
from smflow.operators.base import SmflowOperator
from smflow.operators.jobs import MAX_ATTEMPTS, BatchTransformOperator
from smflow.sagemaker_api import FAILED_STATUSES, is_not_found

if TYPE_CHECKING:
    from airflow.sdk import Context

    from smflow.executors.base import Executor
    from smflow.operators.result import TaskResult

APPROVE_HINT = "approve one with `smflow registry approve {group} VERSION` (`smflow registry list --group {group}` " \
               "shows the versions), or pin `batch.model.version`"


def model_name_for(prefix: str, package_arn: str, version: int) -> str:
    """The SageMaker Model made from a package: the same package always gives the same name, so a model is
    created once per version and every run after that reuses it."""
    return bounded_name(f"{prefix}-v{version}-{digest(package_arn, length=8)}")


def batch_job_name(prefix: str, batch: Batch, package_arn: str, attempt: int = 1) -> str:
    """The transform job predicting `batch` with one model package: from the batch digest and the ARN only."""
    suffix = digest(batch.digest, package_arn, length=12) + (f"-a{attempt}" if attempt > 1 else "")
    return f"{prefix[: 63 - len(suffix) - 1].rstrip('-')}-{suffix}"


def _package_summaries(executor: Executor, group: str, status: str | None) -> list[dict[str, Any]]:
    request: dict[str, Any] = {"ModelPackageGroupName": group, "SortBy": "CreationTime", "SortOrder": "Descending"}
    if status:
        request["ModelApprovalStatus"] = status
    summaries: list[dict[str, Any]] = []
    while True:
        page = executor.call("ListModelPackages", request)
        summaries += page.get("ModelPackageSummaryList", [])
        if not page.get("NextToken") or status:  # the newest approved one is on the first page
            return summaries
        request["NextToken"] = page["NextToken"]


def resolve_package(executor: Executor, group: str, version: int | None) -> dict[str, Any]:
    """The DescribeModelPackage answer of the version to use: the pinned one, else the latest Approved."""
    try:
        summaries = _package_summaries(executor, group, None if version else "Approved")
    except ClientError as e:
        if is_not_found(e):
            raise AirflowFailException(f"model package group {group} does not exist: nothing to predict with; run "
                                       "the train DAG so its register step creates a version, then "
                                       + APPROVE_HINT.format(group=group)) from e
        raise
    if version is not None:
        chosen = [s for s in summaries if s.get("ModelPackageVersion") == version]
        if not chosen:
            known = sorted(int(s["ModelPackageVersion"]) for s in summaries if "ModelPackageVersion" in s)
            raise AirflowFailException(f"batch.model.version {version} is not in model package group {group} "
                                       f"(versions: {', '.join(map(str, known)) or 'none'}); pin an existing one")
        if chosen[0].get("ModelApprovalStatus") == "Rejected":
            raise AirflowFailException(f"pinned version {version} of {group} is Rejected; pin another version or "
                                       f"approve it with `smflow registry approve {group} {version}`")
    else:
        if not summaries:
            raise AirflowFailException(f"no Approved model package version in group {group}, so there is no model "
                                       "to predict with; " + APPROVE_HINT.format(group=group))
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


def _manifest_lookup(executor: Executor, output: str) -> Any:
    def lookup(batch: Batch, label: str) -> dict[str, Any] | None:
        uri = f"{folder_prefix(output)}{batch.batch_id}/{label}/_manifest.json"
        if not executor.exists(uri):
            return None
        try:
            return parse_manifest(executor.read_bytes(uri), uri)
        except ValueError as e:
            raise AirflowFailException(str(e)) from None

    return lookup


def upstream_outputs(context: Context, task_id: str) -> dict[str, Any]:
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
        restrict = conf.get("input") if isinstance(conf, dict) else None
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


class PredictBatchesOperator(BatchTransformOperator):
    """`<unit>.predict`: one transform job per owed batch, then its manifest. Skips when nothing is owed."""

    ui_color = "#ffc078"

    def execute(self, context: Context) -> TaskResult:  # type: ignore[override]
        finder = context["ti"].xcom_pull(task_ids=self.params_["find_task"])
        owed = [Batch.from_json(b) for b in (finder or {}).get("batches", [])]
        if not owed:
            raise AirflowSkipException("no batch is owed a prediction by this model version; nothing to do")
        model = upstream_outputs(context, self.params_["resolve_task"])
        executor = self.get_executor()
        done, failed = [], []
        for batch in owed:
            try:
                done.append(self.predict(executor, batch, model))
            except AirflowException as e:
                self.log.error("batch %s: %s", batch.batch_id, e)
                failed.append(f"{batch.batch_id}: {e}")
        if failed:
            raise AirflowException(f"{len(failed)} of {len(owed)} batch(es) failed (the others are predicted and "
                                   "recorded; a retry or the next run predicts only the failed ones): "
                                   + "; ".join(failed))
        result = self.result(f"{len(done)} batch(es)", "Completed", {"predictions": self.params_["output"]})
        result["predicted"] = done
        return result

    def choose(self, executor: Executor, base: str, batch: Batch, arn: str
               ) -> tuple[str, dict[str, Any] | None]:
        """The batch's job to use: the first attempt that is absent, running or Completed (Failed: the next)."""
        for attempt in range(1, MAX_ATTEMPTS + 1):
            name = batch_job_name(base, batch, arn, attempt)
            described = executor.describe_job("CreateTransformJob", name)
            if described is None or described["TransformJobStatus"] not in FAILED_STATUSES:
                return name, described
        raise AirflowException(f"{MAX_ATTEMPTS} transform jobs for batch {batch.batch_id} failed; fix the cause "
                               "(see their logs), or change the batch")

    def predict(self, executor: Executor, batch: Batch, model: dict[str, Any]) -> dict[str, Any]:
        arn, version = str(model["model_package_arn"]), int(model["model_version"])
        output = self.params_["output"]
        label = version_label(version)
        request = replace_strings(self.request, {BATCH_TOKEN: batch.batch_id, VERSION_TOKEN: label})
        name, described = self.choose(executor, self.params_["job_prefix"], batch, arn)
        request["TransformJobName"] = name
        folder = batch_output(output, batch.batch_id, version)
        self._running = (executor, name)
        if described is None:
            executor.write_bytes(folder + INPUT_MANIFEST_NAME, input_manifest(batch))
            executor.start_job("CreateTransformJob", request)
            self.log.info("batch %s (%d object(s)): started transform job %s with %s version %s", batch.batch_id,
                          len(batch.objects), name, arn, version)
        elif described["TransformJobStatus"] == "Completed":
            self.log.info("batch %s: transform job %s already completed (an earlier run or try predicted it); "
                          "reusing its predictions, not predicting again", batch.batch_id, name)
        else:
            self.log.info("batch %s: attaching to transform job %s (%s)", batch.batch_id, name,
                          described["TransformJobStatus"])
        reused = described is not None and described["TransformJobStatus"] == "Completed"
        if not reused:
            self.wait(executor, name)
        self._running = None
        records = self.records(executor, batch, request, folder)
        manifest = build_manifest(batch, model_package_arn=arn, version=version, model_name=str(model["model_name"]),
                                  job_name=name, output=output, records=records, reused_job=reused)
        executor.write_bytes(manifest_uri(output, batch.batch_id, version), json.dumps(manifest, indent=2).encode())
        self.log.info("batch %s: %s record(s) in, %s out → %s", batch.batch_id, records["input"], records["output"],
                      folder)
        return {"batch_id": batch.batch_id, "job_name": name, "predictions": folder, "records": records,
                "reused": reused}

    def wait(self, executor: Executor, name: str) -> None:
        """Follow the job's log until it ends; a Failed or Stopped job fails this batch (kills stop it: on_kill)."""
        poll = self.poll_seconds if self.poll_seconds is not None else (0.2 if executor.name == "local" else 30.0)

        def log_line(line: str, stderr: bool) -> None:
            self.log.log(logging.WARNING if stderr else logging.INFO, "[%s] %s", name, line)

        try:
            executor.wait_for_job("CreateTransformJob", name, poll_seconds=poll, on_log=log_line)
        except JobFailedError as e:
            self._running = None
            raise AirflowException(f"transform job {name} {e.status}: {e.reason}") from e

    @staticmethod
    def records(executor: Executor, batch: Batch, request: dict[str, Any], folder: str) -> dict[str, int]:
        """Records in and out: lines when the input is split by line / the output assembled by line, else
        objects. Read back from the store, so the counts are what is there, whichever run wrote it."""
        by_line_in = request["TransformInput"].get("SplitType") == "Line"
        by_line_out = request["TransformOutput"].get("AssembleWith") == "Line"
        prefix = batch.prefix
        counts = {"objects": len(batch.objects), "input": 0, "output": 0}
        for uri, _ in batch.objects:
            counts["input"] += count_records(executor.read_bytes(uri), by_line_in)
            out = f"{folder}{uri[len(prefix):]}.out"
            counts["output"] += count_records(executor.read_bytes(out), by_line_out) if executor.exists(out) else 0
        return counts
