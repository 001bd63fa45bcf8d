"""BatchArrivalTrigger on S3 (a moto server on loopback): the provider's async client lists the prefix, batches
get the same digests as the sagemaker executor's listing gives them, and only a new object fires."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import boto3
import pytest
from airflow.triggers.base import TriggerEvent

from smflow.batch.discovery import find_batches
from smflow.executors.sagemaker import SageMakerExecutor
from smflow.operators.batch_sensor import BatchArrivalSensor
from smflow.operators.triggers.batch_arrival import BatchArrivalTrigger, s3_listing

BUCKET = "smflow-arrival"
PREFIX = f"s3://{BUCKET}/incoming/"


@pytest.fixture
def s3(aws_env: str):  # noqa: ANN201
    client = boto3.client("s3", endpoint_url=aws_env, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    return client


async def first_event(trigger: BatchArrivalTrigger, timeout: float) -> TriggerEvent | None:
    events: AsyncIterator[TriggerEvent] = trigger.run()
    try:
        return await asyncio.wait_for(anext(events), timeout)
    except TimeoutError:
        return None
    finally:
        await events.aclose()


def test_s3_listing_matches_the_executor_and_only_a_new_object_fires(s3) -> None:  # noqa: ANN001
    s3.put_object(Bucket=BUCKET, Key="incoming/day-1.csv", Body=b"1,2\n")
    s3.put_object(Bucket=BUCKET, Key="incoming/readme.txt", Body=b"not a batch")
    executor = SageMakerExecutor(aws_conn_id="smflow_moto", region_name="us-east-1")
    listed = asyncio.run(s3_listing(PREFIX, "smflow_moto", "us-east-1"))
    assert listed == executor.list_objects(PREFIX)  # same URIs, same unquoted ETags: the same digests

    sensor = BatchArrivalSensor(task_id="wait", input_prefix=PREFIX, executor="sagemaker", poke_seconds=0.05)
    sensor.get_executor = lambda: executor  # type: ignore[method-assign]
    seen = [b.digest for b in find_batches(executor.list_objects(PREFIX), PREFIX, "*.csv", None)]
    trigger = sensor.trigger(seen, executor)
    kwargs = trigger.serialize()[1]
    assert kwargs["executor"] == "sagemaker" and kwargs["aws_conn_id"] == "smflow_moto"
    assert kwargs["store_root"] is None
    assert asyncio.run(first_event(trigger, timeout=1.0)) is None

    async def arrive_later() -> TriggerEvent | None:
        waiting = asyncio.create_task(first_event(sensor.trigger(seen, executor), timeout=20))
        await asyncio.sleep(0.3)
        await asyncio.to_thread(s3.put_object, Bucket=BUCKET, Key="incoming/day-2.csv", Body=b"3,4\n")
        return await waiting

    event = asyncio.run(arrive_later())
    assert event is not None and event.payload["status"] == "arrived"
    assert event.payload["batches"] == ["day-2.csv"]


def test_a_missing_bucket_is_an_error_event_naming_the_prefix(aws_env: str) -> None:
    trigger = BatchArrivalTrigger(input_prefix="s3://no-such-bucket-here/in/", pattern="*.csv", marker=None, seen=[],
                                  poke_seconds=0.05, executor="sagemaker", aws_conn_id="smflow_moto",
                                  region_name="us-east-1")
    event = asyncio.run(first_event(trigger, timeout=20))
    assert event is not None and event.payload["status"] == "error"
    assert "listing s3://no-such-bucket-here/in/ failed" in event.payload["message"]
    assert "NoSuchBucket" in event.payload["message"]
