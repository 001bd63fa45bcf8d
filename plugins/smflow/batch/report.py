"""What the batch DAG has predicted, read back from the manifests (for `smflow predictions`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from smflow.batch.ledger import MANIFEST_NAME, parse_manifest


def prediction_rows(unit: str, uris: Iterable[str], read: Callable[[str], bytes]) -> list[dict[str, Any]]:
    """One row per manifest under a unit's output: batch, model version, job, counts, where the predictions are.
    A manifest that cannot be read is a row with its `problem`, not a crash: the others still show."""
    rows: list[dict[str, Any]] = []
    for uri in sorted(u for u in uris if u.endswith("/" + MANIFEST_NAME)):
        try:
            manifest = parse_manifest(read(uri), uri)
        except ValueError as e:
            rows.append({"unit": unit, "manifest": uri, "problem": str(e)})
            continue
        rows.append({"unit": unit, "batch_id": manifest["batch_id"], "model_version": manifest.get("model_version"),
                     "model_package_arn": manifest.get("model_package_arn"),
                     "transform_job": manifest.get("transform_job"), "records": manifest.get("records", {}),
                     "predictions": manifest.get("predictions"), "completed_at": manifest.get("completed_at"),
                     "reused_job": manifest.get("reused_job", False), "manifest": uri})
    return rows


def format_rows(rows: list[dict[str, Any]]) -> list[str]:
    lines = []
    for row in rows:
        if "problem" in row:
            lines.append(f"{row['unit']:<12} {row['problem']}")
            continue
        records = row["records"]
        lines.append(f"{row['unit']:<12} {row['batch_id']:<28} v{row['model_version']!s:<4} "
                     f"{records.get('input', '?')!s:>8} in {records.get('output', '?')!s:>8} out  "
                     f"{str(row['completed_at'])[:19]}  {row['transform_job']}  {row['predictions']}")
    return lines
