"""`<unit>.baseline`: the training data sketched once, when the model is trained, so the monitor never re-reads it.

Each object of the training data is read through the executor (local store or S3) and sketched on its own; the
sketches merge (smflow.drift.sketch), so memory holds one object, not the data set. The sketch is written beside
the run's artifacts and the register step records its URI with the version (DriftCheckBaselines), which is how
the monitor finds the baseline of the version in production.

When drift started this run (the retrain Asset), the triggering event's report is logged and handed on
(`trigger` output → the version's `smflow:retrain_trigger` metadata): report, monitor run and retraining link up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowFailException

from smflow.errors import UserError
from smflow.operators.base import SmflowOperator
from smflow.operators.monitor_data import data_objects, read_tables

if TYPE_CHECKING:
    from airflow.sdk import Context

    from smflow.operators.result import TaskResult

PREDICTION = "prediction"  # the one feature of a predictions baseline
MANUAL_TRIGGER = "none"  # a scheduled or manual run (registry metadata allows no parentheses)


def triggering_reports(context: Context) -> list[dict[str, Any]]:
    """The retrain events that started this run: their drift report, monitor run and drifted features. A run
    started by hand for a drift can name its report in the run conf (`{"retrain_report": URI}`)."""
    events = context.get("triggering_asset_events") or {}
    conf = getattr(context.get("dag_run"), "conf", None) or {}
    found: list[dict[str, Any]] = []
    if isinstance(conf, dict) and isinstance(conf.get("retrain_report"), str):
        found.append({"report": conf["retrain_report"], "dag_id": "(run conf)", "run_id": "-"})
    for asset_events in events.values():
        for event in asset_events:
            extra = dict(getattr(event, "extra", None) or {})
            if extra.get("report"):
                found.append(extra)
    return found


class BaselineOperator(SmflowOperator):
    """Sketch `params_['data']` (per object, merged) into `outputs['baseline']` (JSON)."""

    ui_color = "#e3fafc"

    def execute(self, context: Context) -> TaskResult:
        from smflow.drift.sketch import sketch_batches

        triggers = triggering_reports(context)
        for extra in triggers:
            self.log.info("retraining started by drift: report %s (monitor run %s of %s, drifted: %s)",
                          extra.get("report"), extra.get("run_id"), extra.get("dag_id"),
                          ", ".join(extra.get("drifted") or []) or "-")
        executor = self.get_executor()
        self.stage_uploads(executor)
        params = self.params_
        target = self.outputs["baseline"]
        try:
            objects = data_objects(executor, params["data"])
            # The first object fixes the bin edges, the others are sketched on them and merged.
            baseline = sketch_batches(read_tables(executor, objects, params.get("columns"), params.get("features"),
                                                  params.get("exclude") or []),
                                      categorical=params.get("categorical"))
        except UserError as e:
            raise AirflowFailException(f"baseline of {params['data']}: {e}") from None
        executor.write_bytes(target, baseline.to_json().encode())
        rows, features = baseline.rows, baseline.names
        self.log.info("baseline of %d row(s), %d feature(s) (%s) in %d object(s) under %s → %s", rows, len(features),
                      ", ".join(features), len(objects), params["data"], target)
        if params.get("predictions"):
            self.sketch_predictions(params["predictions"], self.outputs["predictions_baseline"])
        trigger = triggers[0]["report"] if triggers else MANUAL_TRIGGER
        return self.result(target, "Completed", {"baseline": target, "rows": rows, "objects": len(objects),
                                                 "features": features, "trigger": trigger})

    def sketch_predictions(self, source: str, target: str) -> None:
        """The predictions at training time (one per line, as a Line-assembled transform writes them), sketched as
        the one feature `prediction`: what the monitor compares the batch DAG's predictions with."""
        from smflow.drift.sketch import sketch_batches

        executor = self.get_executor()
        try:
            objects = data_objects(executor, source)
            sketch = sketch_batches(read_tables(executor, objects, [PREDICTION], None, []))
        except UserError as e:
            raise AirflowFailException(f"predictions baseline of {source}: {e}") from None
        executor.write_bytes(target, sketch.to_json().encode())
        self.log.info("predictions baseline of %d prediction(s) under %s → %s", sketch.rows, source, target)
