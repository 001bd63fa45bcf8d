"""Arbitrary small tables — NaN, ±inf, huge values, empty, text, nulls — never crash sketch or compare."""

from __future__ import annotations

import json

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smflow.drift.compare import compare
from smflow.drift.report_html import render_html
from smflow.drift.sketch import Baseline, sketch_table

numbers = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True), st.integers(-10, 10).map(float))
texts = st.one_of(st.none(), st.text(max_size=4))


@st.composite
def tables(draw: st.DrawFn) -> pa.Table:
    rows = draw(st.integers(0, 12))
    columns = {}
    for name in draw(st.lists(st.sampled_from(["a", "b", "c", "<d>"]), unique=True, max_size=4)):
        if draw(st.booleans()):
            columns[name] = pa.array(draw(st.lists(numbers, min_size=rows, max_size=rows)), pa.float64())
        else:
            columns[name] = pa.array(draw(st.lists(texts, min_size=rows, max_size=rows)), pa.string())
    return pa.table(columns) if columns else pa.table({"a": pa.array([], pa.float64())})


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables(), tables())
def test_sketch_and_compare_never_crash(reference: pa.Table, current: pa.Table) -> None:
    baseline = sketch_table(reference)
    assert Baseline.from_json(baseline.to_json(), "mem") == baseline
    current_sketch = sketch_table(current, edges_from=baseline)
    report = compare(baseline, current_sketch)
    document = json.loads(report.to_json())
    assert len(document["features"]) == len(baseline.features)
    assert isinstance(document["dataset_drift"], bool)
    assert "<d>" not in render_html(report, baseline, current_sketch)
