"""Compiled schedule values → what Airflow 3's `DAG(schedule=...)` takes (Asset objects, never URI strings)."""

from __future__ import annotations

from typing import Any

from airflow.sdk import Asset


def to_airflow_schedule(value: str | dict[str, Any] | None) -> Any:
    """cron/preset strings pass through; `{"assets": [...]}` becomes a list of Assets (all must update)."""
    if value is None or isinstance(value, str):
        return value
    if "assets" in value:
        return [Asset(uri) for uri in value["assets"]]
    if value.get("on_data"):  # the batch DAG: each run's first task waits (deferred) for a new batch
        return "@continuous"
    raise ValueError(f"unsupported compiled schedule {value!r}")
