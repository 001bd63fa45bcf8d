"""Manifests and pending batches: a version owes a batch until a manifest with the batch's digest exists."""

from __future__ import annotations

import json

import pytest

from smflow.batch.discovery import Batch
from smflow.batch.ledger import (
    build_manifest,
    input_manifest,
    manifest_uri,
    parse_manifest,
    pending,
)

IN = "s3://b/in/"


def test_pending_skips_batches_with_a_manifest_of_the_same_digest() -> None:
    a, b = Batch("a.csv", ((IN + "a.csv", "1"),)), Batch("b.csv", ((IN + "b.csv", "2"),))
    store = {("a.csv", "v3"): {"batch_id": "a.csv", "digest": a.digest}}
    assert pending([a, b], lambda batch, label: store.get((batch.batch_id, label)), 3) == [b]
    assert pending([a, b], lambda batch, label: store.get((batch.batch_id, label)), 4) == [a, b]


def test_a_changed_batch_is_owed_again() -> None:
    old = Batch("a.csv", ((IN + "a.csv", "1"),))
    new = Batch("a.csv", ((IN + "a.csv", "2"),))
    assert pending([new], lambda batch, label: {"batch_id": "a.csv", "digest": old.digest}, 1) == [new]


def test_manifest_records_inputs_model_job_and_counts() -> None:
    batch = Batch("d1", ((IN + "d1/x.csv", "e"), (IN + "d1/y.csv", "f")))
    manifest = build_manifest(batch, model_package_arn="arn:p/1", version=1, model_name="m", job_name="j",
                              output="s3://b/out", records={"input": 4, "output": 4}, reused_job=False)
    assert manifest["inputs"] == [{"uri": IN + "d1/x.csv", "etag": "e"}, {"uri": IN + "d1/y.csv", "etag": "f"}]
    assert manifest["predictions"] == "s3://b/out/d1/v1/"
    assert manifest_uri("s3://b/out/", "d1", 1) == "s3://b/out/d1/v1/_manifest.json"
    assert parse_manifest(json.dumps(manifest).encode(), "u") == manifest
    assert json.loads(input_manifest(batch)) == [{"prefix": IN + "d1/"}, "x.csv", "y.csv"]


@pytest.mark.parametrize("data", [b"{not json", b"[]", b'{"digest": "x"}'])
def test_a_broken_manifest_says_which_file_and_what_to_do(data: bytes) -> None:
    with pytest.raises(ValueError, match=r"s3://b/out/d1/v1/_manifest.json is not a batch manifest.*delete it"):
        parse_manifest(data, "s3://b/out/d1/v1/_manifest.json")
