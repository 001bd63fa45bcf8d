"""Issue 15's edge cases: each gives a clear per-feature result (status and note) or a clear error, no crash."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from smflow.drift.compare import DriftConfig, compare, quality_drift
from smflow.drift.errors import DriftConfigError
from smflow.drift.sketch import sketch_table

RNG = np.random.default_rng(3)
REFERENCE = pa.table({"x": RNG.normal(size=3_000), "c": RNG.choice(["a", "b"], 3_000)})
BASELINE = sketch_table(REFERENCE)


def _feature(current: pa.Table, name: str = "x"):
    report = compare(BASELINE, current)
    return report, next(f for f in report.features if f.feature == name)


def test_empty_batch_is_no_data_and_no_dataset_drift() -> None:
    report, x = _feature(REFERENCE.slice(0, 0))
    assert x.status == "no_data" and not x.drifted and x.value is None
    assert not report.dataset_drift and report.current_rows == 0 and "no rows" in report.notes[0]


def test_all_missing_column_is_drifted_with_a_note() -> None:
    _, x = _feature(pa.table({"x": pa.array([None] * 50, pa.float64()), "c": ["a"] * 50}))
    assert x.status == "all_missing" and x.drifted and "50 missing" in (x.note or "")


def test_all_missing_in_the_reference_is_no_reference() -> None:
    baseline = sketch_table(pa.table({"x": pa.array([None, None], pa.float64())}))
    x = compare(baseline, pa.table({"x": [1.0, 2.0]})).features[0]
    assert x.status == "no_reference" and not x.drifted


def test_constant_column_same_value_no_drift_other_value_drift() -> None:
    baseline = sketch_table(pa.table({"k": [3.0] * 2_000}))
    same = compare(baseline, pa.table({"k": [3.0] * 500})).features[0]
    other = compare(baseline, pa.table({"k": [4.0] * 500})).features[0]
    assert same.value == 0.0 and not same.drifted
    assert other.drifted and other.value is not None and other.value > 0


def test_unseen_categories_drift_and_are_named() -> None:
    _, c = _feature(pa.table({"x": RNG.normal(size=2_000), "c": RNG.choice(["a", "b", "zz"], 2_000)}), "c")
    assert c.drifted and "unseen" in (c.note or "") and "'zz'" in (c.note or "")


def test_nan_and_inf_are_left_out_and_counted() -> None:
    values = RNG.normal(size=2_000)
    values[:100] = np.nan
    values[100:110] = np.inf
    _, x = _feature(pa.table({"x": values, "c": ["a"] * 2_000}))
    assert x.status == "ok" and not x.drifted
    assert x.current_missing_share == pytest.approx(0.05) and "10 infinite" in (x.note or "")
    _, only_inf = _feature(pa.table({"x": [np.inf, -np.inf], "c": ["a", "b"]}))
    assert only_inf.status == "all_missing" and "2 infinite" in (only_inf.note or "")


def test_missing_column_is_drifted_and_extra_column_listed() -> None:
    report, x = _feature(pa.table({"c": ["a", "b"] * 100, "new": [1] * 200}))
    assert x.status == "missing_column" and x.drifted
    assert report.extra_columns == ["new"] and "new" in report.notes[-1]


def test_text_where_the_reference_has_numbers_is_a_type_mismatch() -> None:
    _, x = _feature(pa.table({"x": ["high", "low"], "c": ["a", "b"]}))
    assert x.status == "type_mismatch" and x.drifted


def test_dataset_drift_at_the_share() -> None:
    shifted = pa.table({"x": RNG.normal(3, 1, 3_000), "c": RNG.choice(["a", "b"], 3_000)})
    report = compare(BASELINE, shifted)
    assert report.drifted == ["x"] and report.share == 0.5 and report.dataset_drift
    assert not compare(BASELINE, shifted, DriftConfig(drift_share=0.6)).dataset_drift


def test_config_overrides_and_errors_name_the_key_path() -> None:
    config = DriftConfig.from_mapping({"drift_share": 0.3, "features": {"x": {"statistic": "psi",
                                                                              "threshold": 0.2}}}, "monitor")
    x = compare(BASELINE, REFERENCE, config).features[0]
    assert (x.statistic, x.threshold) == ("psi", 0.2)
    with pytest.raises(DriftConfigError, match=r"monitor\.features\.x\.statistic: unknown statistic 'tvd'"):
        DriftConfig.from_mapping({"features": {"x": {"statistic": "tvd"}}}, "monitor")
    with pytest.raises(DriftConfigError, match=r"monitor\.drift_share"):
        DriftConfig.from_mapping({"drift_share": 2}, "monitor")
    with pytest.raises(DriftConfigError, match=r"monitor\.colour: unknown drift setting"):
        DriftConfig.from_mapping({"colour": 1}, "monitor")
    with pytest.raises(DriftConfigError, match="categorical"):
        compare(BASELINE, REFERENCE, DriftConfig.from_mapping({"features": {"c": {"statistic": "ks"}}}, "m"))
    with pytest.raises(DriftConfigError, match=r"m\.categorical_statistic: wasserstein compares numbers"):
        DriftConfig.from_mapping({"categorical_statistic": "wasserstein"}, "m")
    with pytest.raises(DriftConfigError, match=r"m\.categorical_statistic: unknown statistic \['psi'\]"):
        DriftConfig.from_mapping({"categorical_statistic": ["psi"]}, "m")
    everywhere = compare(BASELINE, REFERENCE, DriftConfig.from_mapping({"statistic": "ks"}, "m")).features
    assert [f.statistic for f in everywhere] == ["ks", "jensenshannon"]  # KS where it applies, else the default


def test_quality_drift_by_direction_and_tolerance() -> None:
    worse = quality_drift("auc", 0.80, 0.86, direction="maximize", tolerance=0.05)
    assert worse.drifted and worse.value == pytest.approx(0.06)
    assert not quality_drift("rmse", 10.2, 10.0, direction="minimize", tolerance=0.5).drifted
    with pytest.raises(DriftConfigError, match="direction"):
        quality_drift("auc", 0.8, 0.9, direction="up", tolerance=0.1)  # type: ignore[arg-type]


def test_json_report_has_the_issue_shape() -> None:
    document = compare(BASELINE, REFERENCE).to_dict()
    assert set(document) >= {"dataset_drift", "drift_share", "share", "drifted", "rows", "features"}
    assert set(document["features"][0]) >= {"feature", "statistic", "value", "threshold", "drifted"}
    assert document["rows"] == {"reference": 3_000, "current": 3_000}
