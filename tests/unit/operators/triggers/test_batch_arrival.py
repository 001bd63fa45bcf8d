"""BatchArrivalTrigger on the local store: serialises for the triggerer, fires only on batches it was not told
about, honours markers, reports listing errors as events, and lists off the event loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk._shared.module_loading import import_string
from airflow.sdk.serde import deserialize, serialize
from airflow.triggers.base import TriggerEvent

from smflow.batch.discovery import find_batches
from smflow.local_sagemaker.store import LocalStore
from smflow.operators.triggers import batch_arrival
from smflow.operators.triggers.batch_arrival import BatchArrivalTrigger, local_listing, s3_etag

PREFIX = "s3://data/incoming/"


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "store")


def put(store: LocalStore, key: str, text: str = "1,2,3\n") -> None:
    store.write_bytes(f"{PREFIX}{key}", text.encode())


def digests(store: LocalStore, marker: str | None = None, pattern: str = "*.csv") -> list[str]:
    return [b.digest for b in find_batches(local_listing(store, PREFIX), PREFIX, pattern, marker)]


def make(store: LocalStore, seen: list[str], **kwargs: Any) -> BatchArrivalTrigger:
    options: dict[str, Any] = {"input_prefix": PREFIX, "pattern": "*.csv", "marker": None, "seen": seen,
                               "poke_seconds": 0.02, "executor": "local", "store_root": str(store.root)}
    return BatchArrivalTrigger(**{**options, **kwargs})


async def first_event(trigger: BatchArrivalTrigger, timeout: float = 5) -> TriggerEvent | None:
    """The trigger's first event, or None when it fires nothing within `timeout` seconds."""
    events: AsyncIterator[TriggerEvent] = trigger.run()
    try:
        return await asyncio.wait_for(anext(events), timeout)
    except TimeoutError:
        return None
    finally:
        await events.aclose()


def test_serialize_round_trips_through_airflow_serde_to_an_importable_class(store: LocalStore) -> None:
    trigger = make(store, ["b", "a"], marker="_SUCCESS", recheck_seconds=60, aws_conn_id=None)
    classpath, kwargs = trigger.serialize()
    assert import_string(classpath) is BatchArrivalTrigger
    # The triggerer stores kwargs with Airflow's serde and rebuilds the trigger from them, as dag.test() does.
    rebuilt = import_string(classpath)(**deserialize(serialize(kwargs)))
    assert rebuilt.serialize() == (classpath, kwargs)
    assert kwargs["seen"] == ["a", "b"] and kwargs["marker"] == "_SUCCESS" and kwargs["recheck_seconds"] == 60.0


def test_bad_arguments_are_clear_errors(store: LocalStore) -> None:
    with pytest.raises(ValueError, match="unknown executor 'docker'"):
        make(store, [], executor="docker")
    with pytest.raises(ValueError, match="needs store_root"):
        make(store, [], store_root=None)


def test_fires_on_a_new_object_and_not_on_the_ones_seen(store: LocalStore) -> None:
    put(store, "day-1.csv")
    seen = digests(store)
    assert asyncio.run(first_event(make(store, seen), timeout=0.3)) is None

    async def arrive_later() -> TriggerEvent | None:
        waiting = asyncio.create_task(first_event(make(store, seen)))
        await asyncio.sleep(0.1)
        put(store, "day-2.csv")
        put(store, "notes.txt")  # not the pattern: never a batch
        return await waiting

    event = asyncio.run(arrive_later())
    assert event is not None
    assert event.payload["status"] == "arrived"
    assert event.payload["batches"] == ["day-2.csv"]
    assert event.payload["digests"] == [d for d in digests(store) if d not in seen]


def test_an_object_rewritten_with_new_contents_is_new(store: LocalStore) -> None:
    put(store, "day-1.csv", "1,2\n")
    seen = digests(store)
    put(store, "day-1.csv", "3,4\n")  # same key, new ETag: a new batch digest
    event = asyncio.run(first_event(make(store, seen)))
    assert event is not None and event.payload["batches"] == ["day-1.csv"]


def test_with_a_marker_a_folder_fires_only_once_the_marker_is_there(store: LocalStore) -> None:
    put(store, "2026-01-01/part-0.csv")
    put(store, "2026-01-01/part-1.csv")
    seen = digests(store, marker="_SUCCESS")
    assert seen == []  # no marker yet: still arriving, not a batch
    assert asyncio.run(first_event(make(store, seen, marker="_SUCCESS"), timeout=0.3)) is None
    put(store, "2026-01-01/_SUCCESS", "")
    event = asyncio.run(first_event(make(store, seen, marker="_SUCCESS")))
    assert event is not None and event.payload["batches"] == ["2026-01-01"]

    # More files after the marker change the batch (new digest): the producer rewrote a complete batch
    seen = digests(store, marker="_SUCCESS")
    put(store, "2026-01-02/part-0.csv")  # a second folder without its marker: nothing yet
    assert asyncio.run(first_event(make(store, seen, marker="_SUCCESS"), timeout=0.3)) is None


def test_recheck_fires_after_its_interval_without_news(store: LocalStore) -> None:
    put(store, "day-1.csv")
    event = asyncio.run(first_event(make(store, digests(store), recheck_seconds=0.1)))
    assert event is not None and event.payload["status"] == "recheck"


def test_a_listing_error_is_an_error_event_naming_the_prefix(store: LocalStore) -> None:
    event = asyncio.run(first_event(make(store, [], input_prefix="s3://Not_A_Bucket/in/")))
    assert event is not None and event.payload["status"] == "error"
    assert "s3://Not_A_Bucket/in/" in event.payload["message"] and "InvalidBucketName" in event.payload["message"]


def test_local_listing_runs_off_the_event_loop(store: LocalStore, monkeypatch: pytest.MonkeyPatch) -> None:
    put(store, "day-1.csv")
    threads: list[threading.Thread] = []
    real = batch_arrival.local_listing

    def recording(*args: Any) -> Any:
        threads.append(threading.current_thread())
        return real(*args)

    monkeypatch.setattr(batch_arrival, "local_listing", recording)
    event = asyncio.run(first_event(make(store, [])))
    assert event is not None and event.payload["batches"] == ["day-1.csv"]
    assert threads and all(t is not threading.main_thread() for t in threads)


def test_an_object_deleted_between_listing_and_hashing_is_left_out(store: LocalStore,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    put(store, "a.csv")
    put(store, "b.csv")
    real_etag = store.etag

    def vanishing(uri: str) -> str:
        if uri.endswith("a.csv"):
            store.delete(uri)
        return real_etag(uri)

    monkeypatch.setattr(store, "etag", vanishing)
    assert [uri for uri, _ in local_listing(store, PREFIX)] == [f"{PREFIX}b.csv"]


def test_s3_etags_lose_their_quotes_as_the_executors_give_them() -> None:
    assert s3_etag('"9b2cf535f27731c974343645a3985328"') == "9b2cf535f27731c974343645a3985328"
