"""The monitor DAG's operators: the version in production and its baseline, the drift of each new batch, and the
retrain Asset on dataset drift (once per cool-down).

Each batch is checked once: its report `<output>/<batch>/drift.json` records the batch digest and is the ledger
(smflow/batch/drift_ledger.py). The retrain task is skipped, not failed, when nothing drifted or a retraining was
triggered within the cool-down: "Airflow marks an asset as updated only if the task completes successfully"
(https://airflow.apache.org/docs/apache-airflow/stable/authoring-and-scheduling/asset-scheduling.html), so a
skipped retrain task starts no train run.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import Asset
from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSkipException

from smflow.batch.discovery import Batch, find_batches, folder_prefix
from smflow.batch.drift_ledger import (
    REPORT_HTML,
    REPORT_JSON,
    cooling_until,
    last_retrain,
    report_uri,
    unchecked,
)
from smflow.batch.ledger import MANIFEST_NAME, batch_output
from smflow.compile.monitor import PREDICTIONS_METADATA
from smflow.errors import UserError
from smflow.operators.base import SmflowOperator
from smflow.operators.baseline import PREDICTION
from smflow.operators.batch import resolve_package, upstream_outputs
from smflow.operators.monitor_data import read_tables

if TYPE_CHECKING:
    from airflow.sdk import Context

    from smflow.executors.base import Executor
    from smflow.operators.result import TaskResult


def package_baseline(package: dict[str, Any]) -> str | None:
    """The baseline a model package version was registered with (DriftCheckBaselines data-quality statistics)."""
    statistics = (package.get("DriftCheckBaselines") or {}).get("ModelDataQuality", {}).get("Statistics") or {}
    uri = statistics.get("S3Uri")
    return str(uri) if uri else None


def stored(executor: Executor, uri: str) -> bytes | None:
    return executor.read_bytes(uri) if executor.exists(uri) else None


class MonitorResolveOperator(SmflowOperator):
    """`<unit>.resolve_baseline`: the version in production (pinned, else latest Approved) and its baseline."""

    ui_color = "#e5dbff"

    def execute(self, context: Context) -> TaskResult:
        executor = self.get_executor()
        group, version = self.params_["group"], self.params_.get("version")
        package = resolve_package(executor, group, version, purpose="whose baseline to check against",
                                  pin_key="monitor.model.version")
        arn, number = package["ModelPackageArn"], int(package["ModelPackageVersion"])
        baseline = package_baseline(package)
        if baseline is None:
            raise AirflowFailException(f"{arn} (version {number}) was registered without a drift baseline "
                                       "(DriftCheckBaselines), so there is nothing to compare batches with; run the "
                                       "train DAG with `monitor:` configured to register a version that has one, "
                                       f"and approve it (`smflow registry approve {group} VERSION`)")
        predictions = (package.get("CustomerMetadataProperties") or {}).get(PREDICTIONS_METADATA, "")
        evaluation = ((package.get("ModelMetrics") or {}).get("ModelQuality", {}).get("Statistics") or {}).get(
            "S3Uri", "")
        self.log.info("monitoring against version %s of %s (%s): baseline %s%s", number, group,
                      package.get("ModelApprovalStatus"), baseline,
                      f", predictions baseline {predictions}" if predictions else "")
        return self.result(arn, str(package.get("ModelApprovalStatus")),
                           {"model_package_arn": arn, "model_version": number, "baseline": baseline,
                            "predictions_baseline": predictions, "evaluation_report": evaluation})


class DriftCheckOperator(SmflowOperator):
    """`<unit>.check_drift`: every complete batch not checked yet, compared with the baseline; reports written."""

    ui_color = "#fff3bf"

    def execute(self, context: Context) -> TaskResult:
        from smflow.drift.compare import DriftConfig
        from smflow.drift.sketch import Baseline

        executor = self.get_executor()
        params = self.params_
        model = upstream_outputs(context, params["resolve_task"])
        output = params["output"]
        present = find_batches(executor.list_objects(folder_prefix(params["input"])), params["input"],
                               params["pattern"], params.get("marker"))
        try:
            owed = unchecked(present, output, lambda uri: stored(executor, uri))
        except ValueError as e:
            raise AirflowFailException(str(e)) from None
        self.log.info("%d batch(es) under %s; %d not checked yet: %s", len(present), params["input"], len(owed),
                      ", ".join(b.batch_id for b in owed) or "none")
        baseline_uri = str(model["baseline"])
        try:
            baseline = Baseline.from_json(executor.read_bytes(baseline_uri).decode(), baseline_uri)
            config = DriftConfig.from_mapping(params["drift"], params.get("where", "monitor"))
        except (UserError, ValueError) as e:
            raise AirflowFailException(f"baseline {baseline_uri}: {e}") from None
        checked, failed, unrecorded = [], [], []
        for batch in owed:
            try:
                verdict, ledger = self.check(executor, batch, baseline, config, model, context)
            except (UserError, ValueError) as e:
                self.log.error("batch %s: %s", batch.batch_id, e)
                failed.append(f"{batch.batch_id}: {e}")
                continue
            checked.append(verdict)
            if verdict["dataset_drift"]:
                unrecorded.append(ledger)  # recorded once this task succeeds, so the retrain task acts on it
            else:
                executor.write_bytes(*ledger)
        if failed:
            # A drifted batch is recorded only by a run that goes on to the retrain task, so its drift is never
            # lost: this run fails, and the next (once the bad batches are fixed) checks and signals it again.
            raise AirflowException(
                f"{len(failed)} of {len(owed)} batch(es) could not be checked: " + "; ".join(failed)
                + (f". The drifted batch(es) {', '.join(c['batch_id'] for c in checked if c['dataset_drift'])} are "
                   "checked again by the next run" if unrecorded else "")
                + "; fix or remove the bad batches (a batch whose objects change is checked again)")
        # Quality is checked before any drifted batch is recorded: a failure there must not leave a drift recorded
        # that no retrain task will act on. Every ledger entry is written only once everything has passed.
        quality = self.check_quality(executor, present, model, context) if params.get("quality") else []
        for ledger in unrecorded:
            executor.write_bytes(*ledger)
        for found in quality:
            executor.write_bytes(*found.pop("ledger"))
        drifted = [c for c in checked if c["dataset_drift"]] + [q for q in quality if q["quality_drift"]]
        result = self.result(f"{len(checked)} batch(es)", "Drift" if drifted else "NoDrift",
                             {"reports": output, "drifted_batches": len(drifted)})
        result["checked"] = checked
        result["quality"] = quality
        return result

    def check_quality(self, executor: Executor, present: list[Batch], model: dict[str, Any],
                      context: Context) -> list[dict[str, Any]]:
        """Model-quality drift of every batch whose labels and predictions are there and not compared yet."""
        from smflow.operators.condition import metric_value
        from smflow.operators.monitor_quality import batch_quality, owed

        params, quality = self.params_, self.params_["quality"]
        report = str(model.get("evaluation_report") or "")
        if not report:
            self.log.warning("model-quality drift: version %s has no evaluation report (ModelMetrics) to compare "
                             "with; register it with `report:` to get one", model["model_version"])
            return []
        try:
            reference = metric_value(json.loads(executor.read_bytes(report)), quality["report_metric"], report)
        except (UserError, ValueError) as e:
            raise AirflowFailException(f"model-quality drift: the evaluation report {report} of version "
                                       f"{model['model_version']} cannot be read: {e}") from None
        run = {"dag_id": self.dag_id, "run_id": str(context["run_id"])}
        found = []
        for batch in present:
            try:
                if not owed(executor, batch, params["output"]):
                    continue
                done = batch_quality(executor, batch, quality, params["predictions_output"], model, reference,
                                     params["output"], run)
            except (UserError, ValueError) as e:
                raise AirflowFailException(f"model-quality drift of batch {batch.batch_id}: {e}") from None
            if done is None:
                continue
            self.log.info("batch %s: %s %.4g on its labels against %.4g at evaluation: %s (report %s)",
                          batch.batch_id, done["metric"], done["current"], reference,
                          "QUALITY DRIFT" if done["quality_drift"] else "no quality drift", done["report"])
            found.append(done)
        return found

    def check(self, executor: Executor, batch: Batch, baseline: Any, config: Any, model: dict[str, Any],
              context: Context) -> tuple[dict[str, Any], tuple[str, bytes]]:
        """One batch against the baseline: drift.html written, and drift.json (the report, the batch digest, the
        version) returned with the verdict — the ledger entry, which the caller writes when it may."""
        from smflow.drift.compare import compare
        from smflow.drift.report_html import render_html
        from smflow.drift.sketch import sketch_batches

        params = self.params_
        uris = [uri for uri, _ in batch.objects]
        features = params.get("columns")
        # On the baseline's edges (what compare judges), chunk by chunk: a batch never has to fit in memory.
        current = sketch_batches(read_tables(executor, uris, features, features, params.get("exclude") or []),
                                 edges_from=baseline)
        report = compare(baseline, current, config)
        json_uri = report_uri(params["output"], batch.batch_id, REPORT_JSON)
        html_uri = report_uri(params["output"], batch.batch_id, REPORT_HTML)
        document = {
            **report.to_dict(),
            "batch": {"batch_id": batch.batch_id, "digest": batch.digest, "rows": current.rows,
                      "objects": [{"uri": uri, "etag": etag} for uri, etag in batch.objects]},
            "model": {"model_package_arn": model["model_package_arn"], "model_version": model["model_version"],
                      "baseline": model["baseline"]},
            "monitor_run": {"dag_id": self.dag_id, "run_id": str(context["run_id"])},
            "html": html_uri,
            "checked_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "prediction_drift": self.prediction_drift(executor, batch, model, config),
        }
        executor.write_bytes(html_uri, render_html(report, baseline, current).encode())
        drifted = sorted(report.drifted)
        self.log.info("batch %s (%d rows): %s; %d drifted feature(s)%s; report %s (HTML %s)", batch.batch_id,
                      current.rows, "DATASET DRIFT" if report.dataset_drift else "no dataset drift", len(drifted),
                      f": {', '.join(drifted)}" if drifted else "", json_uri, html_uri)
        predicted = document["prediction_drift"]
        if predicted.get("value") is not None:
            self.log.info("batch %s: predictions by version %s %s (%s %.4g, threshold %.4g)", batch.batch_id,
                          model["model_version"], "DRIFTED" if predicted["drift"] else "did not drift",
                          predicted["statistic"], predicted["value"], predicted["threshold"])
        verdict = {"batch_id": batch.batch_id, "dataset_drift": bool(report.dataset_drift), "drifted": drifted,
                   "features": len(report.features), "report": json_uri, "html": html_uri,
                   "prediction_drift": predicted.get("drift")}
        return verdict, (json_uri, json.dumps(document, indent=2, default=str).encode())

    def prediction_drift(self, executor: Executor, batch: Batch, model: dict[str, Any],
                         config: Any) -> dict[str, Any]:
        """The batch DAG's predictions of this batch by the version in production against the version's
        predictions at training time; a reason instead when either is not there (yet)."""
        from smflow.drift.compare import compare
        from smflow.drift.sketch import Baseline, sketch_batches

        output, reference_uri = self.params_.get("predictions_output"), model.get("predictions_baseline")
        if not output or not reference_uri:
            return {"status": "not configured (monitor.baseline.predictions and a batch: section)"}
        folder = batch_output(output, batch.batch_id, model["model_version"])
        if not executor.exists(folder + MANIFEST_NAME):
            return {"status": f"no predictions of this batch by version {model['model_version']} yet ({folder})"}
        objects = sorted(uri for uri, _ in executor.list_objects(folder) if uri.endswith(".out"))
        try:
            reference = Baseline.from_json(executor.read_bytes(reference_uri), reference_uri)
            current = sketch_batches(read_tables(executor, objects, [PREDICTION], None, []), edges_from=reference)
        except (UserError, ValueError) as e:
            return {"status": f"predictions not compared: {e}"}
        (result,) = compare(reference, current, config).features
        found = result.to_dict()
        return {"status": "compared", "drift": bool(found["drifted"]), "statistic": found["statistic"],
                "value": found["value"], "threshold": found["threshold"], "predictions": folder,
                "baseline": reference_uri, "rows": current.rows}


class RetrainSignalOperator(SmflowOperator):
    """`<unit>.retrain`: update the retrain Asset when a batch drifted and no retraining was triggered within the
    cool-down; skipped otherwise. The event's extra carries the report, the monitor run and the drifted features."""

    ui_color = "#ffc9c9"

    def execute(self, context: Context) -> TaskResult:
        params = self.params_
        pulled = context["ti"].xcom_pull(task_ids=params["check_task"]) or {}
        checked = pulled.get("checked", [])
        drifted = [c for c in checked if c.get("dataset_drift")] + [
            {**q, "drifted": [q["metric"]], "html": q["report"]} for q in pulled.get("quality", [])
            if q.get("quality_drift")]
        if not drifted:
            raise AirflowSkipException(f"no dataset drift in {len(checked)} newly checked batch(es) and no quality "
                                       "drift: no retraining")
        executor = self.get_executor()
        record_uri = params["cooldown_record"]
        record = last_retrain(stored(executor, record_uri), record_uri)
        cooldown = timedelta(seconds=float(params["cooldown_seconds"]))
        until = cooling_until(record, cooldown)
        if until is not None and record is not None:
            raise AirflowSkipException(
                f"dataset drift in {', '.join(c['batch_id'] for c in drifted)}, but drift already triggered a "
                f"retraining at {record['emitted_at']} (run {record.get('run_id')}, report {record.get('report')}), "
                f"within the cool-down of {cooldown}; none is triggered before {until.isoformat(timespec='seconds')}")
        latest = drifted[-1]
        extra = {"report": latest["report"], "html": latest["html"], "dag_id": self.dag_id,
                 "run_id": str(context["run_id"]), "batches": [c["batch_id"] for c in drifted],
                 "drifted": sorted({f for c in drifted for f in c["drifted"]})}
        record = {"emitted_at": datetime.now(UTC).isoformat(timespec="seconds"), **extra}
        executor.write_bytes(record_uri, json.dumps(record, indent=2).encode())
        for uri in params["outlets"]:
            context["outlet_events"][Asset(uri)].extra = extra
        self.log.info("dataset drift in %s: updating %s for %s (report %s); cool-down until %s",
                      ", ".join(extra["batches"]), ", ".join(params["outlets"]), params.get("train_dag"),
                      latest["report"], (datetime.now(UTC) + cooldown).isoformat(timespec="seconds"))
        return self.result(", ".join(params["outlets"]), "Triggered", {"report": latest["report"],
                                                                      "batches": extra["batches"],
                                                                      "drifted": extra["drifted"]})
