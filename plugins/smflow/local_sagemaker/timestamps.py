"""Timestamps as the local SageMaker stores them: ISO-8601 strings in UTC with microseconds, always the same
width so they sort as text too; turned back into timezone-aware datetimes on the way out, as boto3 returns."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def as_datetime(value: Any) -> datetime:
    """A datetime (naive means UTC), epoch seconds or an ISO string → a timezone-aware datetime."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
