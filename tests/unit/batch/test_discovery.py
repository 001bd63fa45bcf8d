"""Batches from a listing: one per object, or one per marked folder; ids, digests and patterns."""

from __future__ import annotations

from smflow.batch.discovery import Batch, find_batches

IN = "s3://b/incoming/"


def test_every_matching_object_is_a_batch_sorted_by_id() -> None:
    listing = [(IN + "day2.csv", "e2"), (IN + "day1.csv", "e1"), (IN + "notes.txt", "e3"),
               ("s3://b/incoming-other/x.csv", "e4")]
    batches = find_batches(listing, "s3://b/incoming", "*.csv", None)
    assert [b.batch_id for b in batches] == ["day1.csv", "day2.csv"]
    assert batches[0].objects == ((IN + "day1.csv", "e1"),)
    assert batches[0].prefix == IN


def test_pattern_sees_the_key_relative_to_the_input() -> None:
    listing = [(IN + "2026/01/a.csv", "e1"), (IN + "2026/01/b.json", "e2"), (IN + "top.csv", "e3")]
    assert [b.batch_id for b in find_batches(listing, IN, "2026/*.csv", None)] == ["2026/01/a.csv"]


def test_with_a_marker_only_marked_folders_are_batches_of_their_matching_objects() -> None:
    listing = [(IN + "d1/part-0.csv", "a"), (IN + "d1/part-1.csv", "b"), (IN + "d1/_SUCCESS", "m"),
               (IN + "d1/readme.txt", "r"),
               (IN + "d2/part-0.csv", "c"),  # still arriving: no marker yet
               (IN + "d3/_SUCCESS", "m"),  # marked but empty: nothing to predict
               (IN + "_SUCCESS", "m")]  # the input itself is not a batch
    batches = find_batches(listing, IN, "*.csv", "_SUCCESS")
    assert [b.batch_id for b in batches] == ["d1"]
    assert [uri for uri, _ in batches[0].objects] == [IN + "d1/part-0.csv", IN + "d1/part-1.csv"]
    assert batches[0].prefix == IN + "d1/"


def test_digest_changes_with_an_etag_and_is_stable_otherwise() -> None:
    one = Batch("d1", ((IN + "d1/a.csv", "e1"),))
    assert one.digest == Batch("d1", ((IN + "d1/a.csv", "e1"),)).digest
    assert len(one.digest) == 16
    assert one.digest != Batch("d1", ((IN + "d1/a.csv", "e2"),)).digest
    assert one.digest != Batch("d2", ((IN + "d1/a.csv", "e1"),)).digest
    assert Batch.from_json(one.as_json()) == one
