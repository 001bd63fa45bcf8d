"""The trigger behind `BatchArrivalSensor`: wait in the triggerer until a batch not seen before is complete.

Why not the Amazon provider's `S3KeyTrigger`? It fires as soon as any key matches (`wildcard_match`), and its
`check_fn` runs back in a worker after each firing, so "a batch that was not there before" would cost a worker
slot every poke once the first batch exists. This trigger keeps the whole question in the triggerer: it lists
the input prefix, groups the listing into batches exactly as the batch DAG does (`smflow.batch.discovery`), and
fires only when a batch digest (its objects and their ETags) is missing from the `seen` set the sensor passed.

Listing never blocks the triggerer's event loop: the local store is listed in a thread (`asyncio.to_thread`),
S3 through the provider's aiobotocore client (`S3Hook.get_async_conn`, ListObjectsV2 pages).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from smflow.batch.discovery import find_batches
from smflow.s3_names import split_s3_uri

Listing = list[tuple[str, str]]

CLASSPATH = "smflow.operators.triggers.batch_arrival.BatchArrivalTrigger"


def s3_etag(raw: str) -> str:
    """S3 lists an ETag in double quotes (`"9b2c…"`); batches compare the bare value, as the executors give it."""
    return raw.strip('"')


class BatchArrivalTrigger(BaseTrigger):
    """Poll `input_prefix` every `poke_seconds`; fire once with the batches whose digest is not in `seen`.

    Event payloads: `{"status": "arrived", "batches": [batch ids], "digests": [...]}` when something new is
    complete; `{"status": "recheck"}` after `recheck_seconds` without news (if set: the sensor's own question —
    has a version been approved meanwhile? — needs the registry, so it is asked back in the worker);
    `{"status": "error", "message": ...}` when listing fails (the sensor raises it, with the
    prefix, in the task's log — as the provider's S3 triggers report errors).

    `executor` says where the prefix lives: `local` (the on-disk store at `store_root`) or `sagemaker`
    (S3 through the `aws_conn_id` connection).
    """

    def __init__(
        self,
        *,
        input_prefix: str,
        pattern: str,
        marker: str | None,
        seen: list[str],
        poke_seconds: float,
        executor: str,
        store_root: str | None = None,
        recheck_seconds: float | None = None,
        aws_conn_id: str | None = None,
        region_name: str | None = None,
    ):
        super().__init__()
        if executor not in ("local", "sagemaker"):
            raise ValueError(f"BatchArrivalTrigger: unknown executor {executor!r}; use 'local' or 'sagemaker'")
        if executor == "local" and not store_root:
            raise ValueError("BatchArrivalTrigger: the local executor needs store_root (the local store's folder)")
        self.input_prefix = input_prefix
        self.pattern = pattern
        self.marker = marker
        self.seen = sorted(set(seen))
        self.poke_seconds = float(poke_seconds)
        self.executor = executor
        self.store_root = store_root
        self.recheck_seconds = None if recheck_seconds is None else float(recheck_seconds)
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return CLASSPATH, {
            "input_prefix": self.input_prefix, "pattern": self.pattern, "marker": self.marker, "seen": self.seen,
            "poke_seconds": self.poke_seconds, "executor": self.executor, "store_root": self.store_root,
            "recheck_seconds": self.recheck_seconds, "aws_conn_id": self.aws_conn_id, "region_name": self.region_name,
        }

    async def run(self) -> AsyncIterator[TriggerEvent]:
        seen = set(self.seen)
        try:
            list_once = self._lister()
            polls = 0
            recheck_at = None if self.recheck_seconds is None else time.monotonic() + self.recheck_seconds
            while True:
                listing = await list_once()
                polls += 1
                new = [b for b in find_batches(listing, self.input_prefix, self.pattern, self.marker)
                       if b.digest not in seen]
                if new:
                    self.log.info("new complete batches under %s after %d listings: %s", self.input_prefix, polls,
                                  ", ".join(b.batch_id for b in new))
                    yield TriggerEvent({"status": "arrived", "batches": [b.batch_id for b in new],
                                        "digests": [b.digest for b in new]})
                    return
                if recheck_at is not None and time.monotonic() >= recheck_at:
                    yield TriggerEvent({"status": "recheck", "listings": polls})
                    return
                await asyncio.sleep(self.poke_seconds)
        except Exception as e:  # reported to the sensor, which fails the task with it (a traceback helps nobody)
            yield TriggerEvent({"status": "error",
                                "message": f"listing {self.input_prefix} failed: {type(e).__name__}: {e}"})

    def _lister(self) -> Callable[[], Awaitable[Listing]]:
        if self.executor == "local":
            from smflow.local_sagemaker.store import LocalStore

            store = LocalStore(Path(str(self.store_root)))  # one instance: its ETag cache lives across polls

            async def list_local() -> Listing:
                return await asyncio.to_thread(local_listing, store, self.input_prefix)

            return list_local

        async def list_s3() -> Listing:
            return await s3_listing(self.input_prefix, self.aws_conn_id, self.region_name)

        return list_s3


def local_listing(store: Any, prefix: str) -> Listing:
    """(uri, etag) of every object under `prefix` in a `LocalStore`, as the local executor's `list_objects`; an
    object deleted between the listing and its hash is left out, as a later S3 listing would leave it out."""
    found = []
    for uri in store.list(prefix):
        try:
            found.append((uri, store.etag(uri)))
        except FileNotFoundError:
            continue
    return found


async def s3_listing(prefix: str, aws_conn_id: str | None, region_name: str | None) -> Listing:
    """(uri, etag) of every object under `prefix` in S3: ListObjectsV2 pages through the provider's async client."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    bucket, key = split_s3_uri(prefix)
    hook = S3Hook(aws_conn_id=aws_conn_id, region_name=region_name)
    found: Listing = []
    async with await hook.get_async_conn() as client:
        paginator = client.get_paginator("list_objects_v2")
        async for page in paginator.paginate(Bucket=bucket, Prefix=key):
            for item in page.get("Contents", []):
                found.append((f"s3://{bucket}/{item['Key']}", s3_etag(item["ETag"])))
    return sorted(found)
