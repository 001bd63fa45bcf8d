"""Compiled schedule values → what Airflow 3's `DAG(schedule=...)` takes (Asset objects, never URI strings)."""

from __future__ import annotations

from typing import Any

from airflow.sdk import Asset, AssetAll, AssetOrTimeSchedule, CronTriggerTimetable

PRESET_CRONS = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@weekly": "0 0 * * 0", "@monthly": "0 0 1 * *",
                "@quarterly": "0 0 1 */3 *", "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *"}


def to_airflow_schedule(value: str | dict[str, Any] | None) -> Any:
    """cron/preset strings pass through; `{"assets": [...]}` becomes a list of Assets (all must update);
    `{"cron", "assets"}` runs on either (AssetOrTimeSchedule, https://airflow.apache.org/docs/apache-airflow/stable/
    authoring-and-scheduling/asset-scheduling.html#combining-asset-and-time-based-schedules)."""
    if value is None or isinstance(value, str):
        return value
    if "cron" in value and "assets" in value:
        cron = PRESET_CRONS.get(value["cron"], value["cron"])
        return AssetOrTimeSchedule(timetable=CronTriggerTimetable(cron, timezone="UTC"),
                                   assets=AssetAll(*(Asset(uri) for uri in value["assets"])))
    if "assets" in value:
        return [Asset(uri) for uri in value["assets"]]
    if value.get("on_data"):  # the batch / monitor DAG: each run's first task waits (deferred) for a new batch
        return "@continuous"
    raise ValueError(f"unsupported compiled schedule {value!r}")
