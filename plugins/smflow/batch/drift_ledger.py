"""The monitor's ledger: a batch's drift report is the proof it was checked, so each batch is checked once.

`<output>/<batch_id>/drift.json` (beside `drift.html`) records the batch digest (its objects and ETags) with the
verdict; a batch whose report carries its current digest is not checked again, one whose objects changed is.
The cool-down record `<output>/_retrain.json` says when drift last triggered a retraining. Both are written
whole (the local store replaces files atomically, S3 puts whole objects), so a crash leaves the old one or the
new one, never half of either.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from smflow.batch.discovery import Batch, folder_prefix

REPORT_JSON = "drift.json"
REPORT_HTML = "drift.html"

ReportLookup = Callable[[str], bytes | None]  # uri → the stored object, or None when absent


def report_uri(output: str, batch_id: str, name: str = REPORT_JSON) -> str:
    return f"{folder_prefix(output)}{batch_id}/{name}"


def recorded_digest(data: bytes, uri: str) -> str:
    """The batch digest a stored drift report was made for, or ValueError naming the file."""
    try:
        value = json.loads(data)
    except ValueError as e:
        raise ValueError(f"{uri} is not a drift report (not JSON: {e}); delete it to check the batch again") from None
    digest = value.get("batch", {}).get("digest") if isinstance(value, dict) else None
    if not isinstance(digest, str):
        raise ValueError(f"{uri} is not a drift report of smflow's monitor (no batch.digest); delete it to check "
                         "the batch again")
    return digest


def unchecked(batches: Iterable[Batch], output: str, lookup: ReportLookup) -> list[Batch]:
    """The batches without a drift report for their current contents."""
    owed = []
    for batch in batches:
        uri = report_uri(output, batch.batch_id)
        data = lookup(uri)
        if data is None or recorded_digest(data, uri) != batch.digest:
            owed.append(batch)
    return owed


def last_retrain(data: bytes | None, uri: str) -> dict[str, Any] | None:
    """The cool-down record, or None when drift never triggered a retraining (or the record is unreadable,
    which must not block retraining: it is rewritten at the next one)."""
    if data is None:
        return None
    try:
        value = json.loads(data)
        datetime.fromisoformat(value["emitted_at"])
    except (ValueError, KeyError, TypeError):
        return None
    return value if isinstance(value, dict) else None


def cooling_until(record: dict[str, Any] | None, cooldown: timedelta, now: datetime | None = None) -> datetime | None:
    """When the cool-down after the recorded retraining ends, if it has not ended yet; else None."""
    if record is None:
        return None
    emitted = datetime.fromisoformat(record["emitted_at"])
    if emitted.tzinfo is None:
        emitted = emitted.replace(tzinfo=UTC)
    until = emitted + cooldown
    return until if (now or datetime.now(UTC)) < until else None
