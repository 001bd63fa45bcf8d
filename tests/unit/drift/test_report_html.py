"""The HTML report: self-contained (no external assets or scripts), escaped, a histogram per drifted feature."""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa

from smflow.drift.compare import compare
from smflow.drift.report_html import render_html
from smflow.drift.sketch import sketch_table

RNG = np.random.default_rng(9)


def test_page_has_the_verdict_a_summary_and_a_chart_per_drifted_feature() -> None:
    name = "<script>alert(1)</script>"
    reference = pa.table({name: RNG.normal(size=2_000), "same": RNG.normal(size=2_000),
                          "colour": RNG.choice(["red", "blue"], 2_000)})
    current = pa.table({name: RNG.normal(2, 1, 2_000), "same": RNG.normal(size=2_000),
                        "colour": RNG.choice(["red", "green"], 2_000)})
    baseline = sketch_table(reference)
    current_sketch = sketch_table(current, edges_from=baseline)
    report = compare(baseline, current_sketch)
    page = render_html(report, baseline, current_sketch)
    assert "Dataset drift detected" in page and "2 of 3 features drifted" in page
    assert name not in page and "&lt;script&gt;" in page
    assert page.count("<svg") == 2 == len(report.drifted)
    assert not re.search(r"<script|<link|src=|@import", page)
    assert "(other)" in page  # the unseen 'green' lands in the other bin of the colour chart


def test_without_the_current_sketch_the_page_says_why_there_is_no_chart() -> None:
    baseline = sketch_table(pa.table({"x": RNG.normal(size=500)}))
    report = compare(baseline, pa.table({"y": [1.0]}))
    page = render_html(report, baseline, None)
    assert "No histogram" in page and "<svg" not in page
