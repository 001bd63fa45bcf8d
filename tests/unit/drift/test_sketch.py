"""Baseline sketches: mergeable (chunks == one shot), small JSON that round-trips, fast binning == searchsorted."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from smflow.drift.binning import EdgeGrid
from smflow.drift.errors import BaselineError
from smflow.drift.sketch import Baseline, sketch_batches, sketch_file, sketch_table

RNG = np.random.default_rng(11)


def _table(rows: int) -> pa.Table:
    return pa.table({"a": RNG.normal(size=rows), "b": RNG.lognormal(size=rows), "k": RNG.integers(0, 4, rows),
                     "c": RNG.choice(["red", "green", "blue"], rows)})


def test_chunks_merge_to_the_one_shot_sketch_on_the_same_edges() -> None:
    table = _table(10_000)
    one_shot = sketch_table(table)
    chunks = [sketch_table(table.slice(i, 2_500), edges_from=one_shot) for i in range(0, 10_000, 2_500)]
    merged = chunks[0]
    for chunk in chunks[1:]:
        merged = merged.merge(chunk)
    for got, want in zip(merged.features, one_shot.features, strict=True):
        assert (got.rows, got.missing) == (want.rows, want.missing)
        if want.numeric is not None:
            n, m = got.numeric, want.numeric
            assert n is not None and n.counts == m.counts and n.edges == m.edges
            assert n.mean == pytest.approx(m.mean) and n.std == pytest.approx(m.std)
            assert (n.min, n.max, n.count) == (m.min, m.max, m.count)
        else:
            assert got.categorical is not None and want.categorical is not None
            assert dict(zip(got.categorical.values, got.categorical.counts, strict=True)) == \
                dict(zip(want.categorical.values, want.categorical.counts, strict=True))


def test_sketch_file_in_chunks_counts_every_row(tmp_path: Path) -> None:
    table = _table(9_000)
    pq.write_table(table, tmp_path / "t.parquet")
    chunked = sketch_file(tmp_path / "t.parquet", chunk_rows=2_000)
    assert chunked.rows == 9_000
    a = chunked.feature("a")
    assert a is not None and a.numeric is not None and sum(a.numeric.counts) == 9_000
    assert a.numeric.min == pytest.approx(float(np.min(table.column("a"))))
    assert a.numeric.mean == pytest.approx(float(np.mean(table.column("a"))))
    c = chunked.feature("c")
    assert c is not None and c.categorical is not None and sum(c.categorical.counts) == 9_000


def test_top_k_keeps_the_most_frequent_and_counts_the_rest_as_other() -> None:
    values = ["a"] * 50 + ["b"] * 30 + ["c"] * 5 + ["d"] * 3
    sketch = sketch_table(pa.table({"c": values}), top_k=2).features[0].categorical
    assert sketch is not None and sketch.values == ("a", "b") and sketch.counts == (50, 30) and sketch.other == 8


def test_merge_refuses_sketches_binned_on_different_edges() -> None:
    one = sketch_table(pa.table({"a": RNG.normal(size=500)}))
    two = sketch_table(pa.table({"a": RNG.normal(size=500)}))
    with pytest.raises(BaselineError, match="different bin edges"):
        one.merge(two)


def test_compare_refuses_a_current_sketch_on_other_edges() -> None:
    from smflow.drift.compare import compare

    one = sketch_table(pa.table({"a": RNG.normal(size=500)}))
    with pytest.raises(BaselineError, match="edges_from=baseline"):
        compare(one, sketch_table(pa.table({"a": RNG.normal(size=500)})))


def test_json_round_trip_and_size() -> None:
    table = pa.table({f"x{i}": RNG.normal(size=20_000) for i in range(100)})
    baseline = sketch_table(table)
    text = baseline.to_json()
    assert Baseline.from_json(text, "mem") == baseline
    assert len(text) < 100_000  # tens of KB for 100 columns
    assert json.loads(text)["version"] == 1


@pytest.mark.parametrize(("text", "message"), [
    ("{not json", "not valid JSON"),
    ('{"format": "other"}', "not a baseline sketch"),
    ('{"format": "smflow-drift-baseline", "version": 99}', "version 99"),
    ('{"format": "smflow-drift-baseline", "version": 1, "rows": 1}', "damaged"),
])
def test_bad_baseline_json_is_an_error_naming_the_source(text: str, message: str) -> None:
    with pytest.raises(BaselineError, match=message) as caught:
        Baseline.from_json(text, "s3://bucket/baseline.json")
    assert "s3://bucket/baseline.json" in str(caught.value)


@pytest.mark.parametrize("draw", [
    lambda n: RNG.normal(size=n), lambda n: RNG.lognormal(0, 3, n), lambda n: RNG.integers(0, 5, n) * 1.0,
    lambda n: RNG.pareto(0.5, n), lambda n: np.r_[np.zeros(n - 3), 1e300, -1e300, 5e-324],
])
def test_grid_binning_equals_searchsorted(draw) -> None:  # noqa: ANN001
    values = draw(20_000)
    edges = np.unique(np.quantile(values, np.linspace(0, 1, 25)))
    probe = np.r_[values, edges, np.nextafter(edges, -np.inf), np.nextafter(edges, np.inf), edges[0] - 1]
    probe = probe[np.isfinite(probe)]
    assert (EdgeGrid(edges).bins(probe) == np.searchsorted(edges, probe, "right")).all()


def test_first_chunk_fixes_the_edges_and_later_values_fall_outside() -> None:
    low, high = pa.table({"a": np.linspace(0, 1, 1000)}), pa.table({"a": np.linspace(5, 6, 1000)})
    merged = sketch_batches([low, high])
    numeric = merged.features[0].numeric
    assert numeric is not None and numeric.counts[-1] == 1000 and numeric.max == 6.0
    assert numeric.above_sum == pytest.approx(float(np.sum(np.linspace(5, 6, 1000))))


def test_a_chunked_current_sketch_keeps_every_reference_category() -> None:
    reference = pa.table({"c": [f"v{i}" for i in range(30)] * 10})
    baseline = sketch_table(reference, top_k=30)
    # The current batch: the reference's rarest-now categories and many new ones, over several chunks.
    current = pa.table({"c": ["v0"] * 5 + [f"new{i}" for i in range(60)] * 20})
    sketched = sketch_batches(current.to_batches(max_chunksize=100), top_k=5, edges_from=baseline)
    cat = sketched.features[0].categorical
    assert cat is not None and cat.values[:30] == baseline.features[0].categorical.values  # type: ignore[union-attr]
    assert dict(zip(cat.values, cat.counts, strict=True))["v0"] == 5 and cat.present == current.num_rows
