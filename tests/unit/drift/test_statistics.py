"""Each drift statistic, computed from sketches, against scipy on the raw data (or a hand-computed value).

Tolerances are the binning's: on one bin per value the statistics are exact; on quantile bins the CDFs are
read at the edges (KS) or taken as linear within a bin (Wasserstein), so those are checked to a few percent.
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import chisquare, ks_2samp, wasserstein_distance

from smflow.drift import statistics as stats
from smflow.drift.compare import DriftConfig, compare
from smflow.drift.sketch import sketch_table

RNG = np.random.default_rng(7)


def _result(reference: np.ndarray, current: np.ndarray, statistic: str, **columns: object):
    baseline = sketch_table(pa.table({"x": reference}), **columns)  # type: ignore[arg-type]
    report = compare(baseline, pa.table({"x": current}), DriftConfig(statistic=statistic))
    return report.features[0]


def test_wasserstein_matches_scipy_within_binning_error() -> None:
    reference, current = RNG.normal(0, 2, 20_000), RNG.normal(0.6, 2.2, 20_000)
    expected = wasserstein_distance(reference, current) / np.std(reference)
    got = _result(reference, current, "wasserstein").value
    assert got == pytest.approx(expected, rel=0.05)


def test_wasserstein_counts_values_beyond_the_reference_range_exactly() -> None:
    reference, current = RNG.uniform(0, 1, 5_000), RNG.uniform(3, 4, 5_000)  # all of current above the edges
    expected = wasserstein_distance(reference, current) / np.std(reference)
    assert _result(reference, current, "wasserstein").value == pytest.approx(expected, rel=0.01)


def test_ks_p_value_matches_scipy_asymptotic() -> None:
    reference, current = RNG.normal(0, 1, 20_000), RNG.normal(0.03, 1, 20_000)
    got = _result(reference, current, "ks").value
    expected = ks_2samp(reference, current, method="asymp").pvalue
    assert got is not None
    # D read at ~25 edges is a lower bound of the raw D; the p-value is close on the log scale.
    assert math.log10(got) == pytest.approx(math.log10(expected), abs=0.6)
    assert (got <= 0.05) == (expected <= 0.05)


def test_ks_is_exact_on_one_bin_per_value() -> None:
    reference, current = RNG.integers(0, 8, 3_000).astype(float), RNG.integers(0, 9, 3_000).astype(float)
    baseline = sketch_table(pa.table({"x": reference}), bins=20)
    bins = stats.NumericBins(np.asarray(baseline.features[0].numeric.edges),  # type: ignore[union-attr]
                             np.asarray(baseline.features[0].numeric.counts, dtype=float),  # type: ignore[union-attr]
                             np.asarray(sketch_table(pa.table({"x": current}), edges_from=baseline)
                                        .features[0].numeric.counts, dtype=float),  # type: ignore[union-attr]
                             (0.0, 0.0), (0.0, 0.0), 1.0)
    assert stats.ks_distance(bins) == pytest.approx(ks_2samp(reference, current).statistic, abs=1e-12)


def test_jensenshannon_matches_scipy_on_the_bins() -> None:
    reference = RNG.choice(list("abcde"), 4_000, p=[0.4, 0.3, 0.15, 0.1, 0.05])
    current = RNG.choice(list("abcde"), 3_000, p=[0.2, 0.3, 0.2, 0.2, 0.1])
    got = _result(reference, current, "jensenshannon").value
    ref_counts = np.array([np.sum(reference == v) for v in "abcde"])
    cur_counts = np.array([np.sum(current == v) for v in "abcde"])
    assert got == pytest.approx(jensenshannon(ref_counts / ref_counts.sum(), cur_counts / cur_counts.sum()),
                                abs=1e-12)


def test_chisquare_matches_scipy() -> None:
    reference = RNG.choice(list("abc"), 900, p=[0.5, 0.3, 0.2])
    current = RNG.choice(list("abc"), 700, p=[0.45, 0.35, 0.2])
    ref_counts = np.array([np.sum(reference == v) for v in "abc"], dtype=float)
    cur_counts = np.array([np.sum(current == v) for v in "abc"], dtype=float)
    expected = chisquare(cur_counts, ref_counts / ref_counts.sum() * cur_counts.sum()).pvalue
    assert _result(reference, current, "chisquare").value == pytest.approx(expected, rel=1e-9)


def test_chisquare_with_an_unseen_category_is_zero() -> None:
    result = _result(np.array(["a", "b"] * 50), np.array(["a", "b", "c"] * 30), "chisquare")
    assert result.value == 0.0 and result.drifted


def test_psi_by_hand() -> None:
    reference = stats.shares(np.array([50.0, 30.0, 20.0, 0.0]))
    current = np.array([0.3, 0.3, 0.3, 0.1])
    ref = np.array([0.5, 0.3, 0.2, 0.0001])
    expected = float(np.sum((ref - current) * np.log(ref / current)))
    assert stats.psi(reference * 100, current * 100) == pytest.approx(expected, rel=1e-12)


def test_z_test_by_hand() -> None:
    # 60 of 100 vs 40 of 100: pooled 0.5, z = 0.2 / sqrt(0.25 * 0.02) = 2.828…, p = erfc(z / sqrt 2)
    p = stats.z_test(np.array([60.0, 40.0]), np.array([40.0, 60.0]))
    assert p == pytest.approx(math.erfc(0.2 / math.sqrt(0.25 * 0.02) / math.sqrt(2)), rel=1e-12)


def test_default_statistics_follow_evidently_by_type_and_size() -> None:
    small, large = 500, 5_000
    table = pa.table({"many": RNG.normal(size=large), "few": RNG.integers(0, 4, large).astype(float),
                      "two": RNG.integers(0, 2, large).astype(float), "cat": RNG.choice(list("abcd"), large)})
    chosen = {f.feature: f.statistic for f in compare(sketch_table(table), table).features}
    assert chosen == {"many": "wasserstein", "few": "jensenshannon", "two": "jensenshannon", "cat": "jensenshannon"}
    head = table.slice(0, small)
    chosen = {f.feature: f.statistic for f in compare(sketch_table(head), head).features}
    assert chosen == {"many": "ks", "few": "chisquare", "two": "z", "cat": "chisquare"}


def test_thresholds_decide_and_p_values_drift_when_small() -> None:
    assert stats.drifted("ks", 0.05, 0.05) and not stats.drifted("ks", 0.06, 0.05)
    assert not stats.drifted("chisquare", 0.05, 0.05) and stats.drifted("chisquare", 0.049, 0.05)
    assert stats.drifted("wasserstein", 0.1, 0.1) and not stats.drifted("psi", 0.09, 0.1)
