"""Model-quality drift once labels arrive: the metric on a batch's labels and the batch DAG's predictions of it by
the version in production, against the version's evaluation value (smflow.drift.compare.quality_drift).

Labels come later than the data, so this is its own ledger: `<output>/<batch>/quality.json` (with the batch
digest) is written once both the labels (`<labels>/<batch>…`) and the predictions (the batch DAG's manifest) are
there; until then the batch waits and is looked at again by the next monitor run.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from smflow.batch.discovery import Batch, folder_prefix
from smflow.batch.drift_ledger import recorded_digest, report_uri
from smflow.batch.ledger import MANIFEST_NAME, batch_output
from smflow.errors import UserError

if TYPE_CHECKING:
    from smflow.executors.base import Executor

QUALITY_JSON = "quality.json"
DIRECTIONS = {"rmse": "minimize", "mae": "minimize", "accuracy": "maximize"}


class QualityDataError(UserError):
    """Labels and predictions that cannot be compared; the message names the objects and the fix."""


def value_lines(executor: Executor, uris: list[str]) -> list[str]:
    return [line.strip() for uri in uris for line in executor.read_bytes(uri).decode().splitlines() if line.strip()]


def metric_of(name: str, labels: list[str], predictions: list[str], where: str) -> float:
    """rmse / mae on numbers, accuracy on values (numbers compared as numbers)."""
    if len(labels) != len(predictions):
        raise QualityDataError(f"{where}: {len(labels)} label(s) but {len(predictions)} prediction(s); labels are "
                               "one per line in the batch's row order")
    if not labels:
        raise QualityDataError(f"{where}: no labels to compare")
    if name == "accuracy":
        def same(a: str, b: str) -> bool:
            try:
                return math.isclose(float(a), float(b))
            except ValueError:
                return a == b
        return sum(same(a, b) for a, b in zip(labels, predictions, strict=True)) / len(labels)
    try:
        errors = [float(a) - float(b) for a, b in zip(labels, predictions, strict=True)]
    except ValueError as e:
        raise QualityDataError(f"{where}: {name} needs numeric labels and predictions ({e})") from None
    if name == "rmse":
        return math.sqrt(sum(e * e for e in errors) / len(errors))
    return sum(abs(e) for e in errors) / len(errors)


def owed(executor: Executor, batch: Batch, output: str) -> bool:
    """No quality report for the batch's current contents yet."""
    uri = report_uri(output, batch.batch_id, QUALITY_JSON)
    return not executor.exists(uri) or recorded_digest(executor.read_bytes(uri), uri) != batch.digest


def batch_quality(executor: Executor, batch: Batch, quality: dict[str, Any], predictions_output: str,
                  model: dict[str, Any], reference: float, output: str, run: dict[str, str]) -> dict[str, Any] | None:
    """The batch's quality drift and its quality.json (`ledger`: (uri, bytes), for the caller to write once the
    whole check has succeeded, so a later failure cannot leave a drift recorded but never signalled); None while
    its labels or predictions are missing."""
    from smflow.drift.compare import quality_drift

    labels = sorted(uri for uri, _ in executor.list_objects(f"{folder_prefix(quality['labels'])}{batch.batch_id}")
                    if not uri.rsplit("/", 1)[-1].startswith(("_", ".")))
    folder = batch_output(predictions_output, batch.batch_id, model["model_version"])
    if not labels or not executor.exists(folder + MANIFEST_NAME):
        return None
    predicted = sorted(uri for uri, _ in executor.list_objects(folder) if uri.endswith(".out"))
    where = f"batch {batch.batch_id} (labels {labels[0]}…, predictions {folder})"
    metric = quality["metric"]
    current = metric_of(metric, value_lines(executor, labels), value_lines(executor, predicted), where)
    result = quality_drift(metric, current, reference, direction=DIRECTIONS[metric],  # type: ignore[arg-type]
                           tolerance=float(quality["tolerance"])).to_dict()
    uri = report_uri(output, batch.batch_id, QUALITY_JSON)
    document = {**result, "current": current, "reference": reference, "labels": labels, "predictions": folder,
                "batch": {"batch_id": batch.batch_id, "digest": batch.digest}, "model": model, "monitor_run": run,
                "checked_at": datetime.now(UTC).isoformat(timespec="seconds")}
    return {"batch_id": batch.batch_id, "metric": metric, "current": current, "reference": reference,
            "quality_drift": bool(result["drifted"]), "report": uri,
            "ledger": (uri, json.dumps(document, indent=2, default=str).encode())}
