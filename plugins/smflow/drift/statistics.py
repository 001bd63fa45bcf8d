"""Drift statistics from bin counts: the reference's bins against the current data's counts on the same bins.

Each follows Evidently's definition (https://docs.evidentlyai.com/reference/data-drift-algorithm and its
`legacy/calculations/stattests/`), computed from the bins instead of the raw values:

- `psi`: population stability index over the bins, an empty bin's share replaced by 0.0001 (as Evidently);
- `jensenshannon`: the Jensen–Shannon *distance* (natural log), as `scipy.spatial.distance.jensenshannon`;
- `ks`: the two-sample Kolmogorov–Smirnov p-value of the largest CDF gap at the bin edges, with scipy's
  asymptotic distribution (`scipy.stats.kstwo` at n·m/(n+m), as `ks_2samp(method="asymp")`). On one bin per
  value this is exact; on quantile bins the gap is read at the edges only, so D can be lower than the raw
  data's by at most the current share of one bin;
- `wasserstein`: the 1-Wasserstein distance (the area between the two CDFs) divided by max(reference std,
  0.001), CDFs taken as linear within each bin, and exact outside the reference range (from the sums kept of
  values beyond the edges);
- `chisquare`: Pearson's chi-square goodness-of-fit p-value of the current counts against the reference shares
  (a category the reference never had makes it 0);
- `z`: the two-proportion Z-test p-value of a two-valued feature.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Counts = npt.NDArray[np.float64]

PSI_EMPTY_SHARE = 0.0001
MIN_STD = 0.001
P_VALUE_STATISTICS = frozenset({"ks", "chisquare", "z"})
NUMERIC_ONLY = frozenset({"ks", "wasserstein"})
STATISTICS = ("psi", "ks", "jensenshannon", "wasserstein", "chisquare", "z")
DEFAULT_THRESHOLDS = {"psi": 0.1, "ks": 0.05, "jensenshannon": 0.1, "wasserstein": 0.1, "chisquare": 0.05,
                      "z": 0.05}


@dataclass(frozen=True)
class NumericBins:
    """A numeric feature's reference and current counts on the reference edges, with what lies outside."""

    edges: npt.NDArray[np.float64]
    reference: Counts
    current: Counts
    reference_outside: tuple[float, float]  # sums of the values below the first edge and from the last edge up
    current_outside: tuple[float, float]
    reference_std: float


def shares(counts: Counts) -> Counts:
    total = counts.sum()
    return counts / total if total > 0 else counts


def psi(reference: Counts, current: Counts) -> float:
    ref = shares(reference).copy()
    cur = shares(current).copy()
    ref[ref == 0] = PSI_EMPTY_SHARE
    cur[cur == 0] = PSI_EMPTY_SHARE
    return float(np.sum((ref - cur) * np.log(ref / cur)))


def jensenshannon(reference: Counts, current: Counts) -> float:
    p, q = shares(reference), shares(current)
    m = (p + q) / 2
    divergence = (_kl(p, m) + _kl(q, m)) / 2
    return math.sqrt(max(divergence, 0.0))


def _kl(p: Counts, m: Counts) -> float:
    used = p > 0
    return float(np.sum(p[used] * np.log(p[used] / m[used])))


def ks_distance(bins: NumericBins) -> float:
    """The largest gap between the two empirical CDFs at the bin edges."""
    gap = np.cumsum(shares(bins.reference))[:-1] - np.cumsum(shares(bins.current))[:-1]
    return float(np.max(np.abs(gap))) if len(gap) else 0.0


def ks_p_value(distance: float, n: int, m: int) -> float:
    from scipy.stats import kstwo

    if n == 0 or m == 0:
        return 1.0
    en = n * m / (n + m)
    return float(np.clip(kstwo.sf(distance, max(int(round(en)), 1)), 0.0, 1.0))


def ks(bins: NumericBins) -> float:
    return ks_p_value(ks_distance(bins), int(bins.reference.sum()), int(bins.current.sum()))


def wasserstein(bins: NumericBins) -> float:
    """Normalised 1-Wasserstein distance: ∫|F − G| dx / max(std_ref, 0.001)."""
    n, m = bins.reference.sum(), bins.current.sum()
    if n == 0 or m == 0:
        return 0.0
    edges = bins.edges
    f = np.cumsum(bins.reference)[:-1] / n  # CDF at each edge (counts below it)
    g = np.cumsum(bins.current)[:-1] / m
    d0, d1 = (f - g)[:-1], (f - g)[1:]
    width = np.diff(edges)
    same_sign = d0 * d1 >= 0
    total = np.abs(d0) + np.abs(d1)
    crossing = np.divide(d0 * d0 + d1 * d1, 2 * total, out=np.zeros_like(total), where=total > 0)
    inside = float(np.sum(np.where(same_sign, width * total / 2, width * crossing)))
    low, high = edges[0], edges[-1]
    # Below the first edge ∫F = E[(low − X)+]; above the last ∫(1 − F) = E[(X − high)+]: exact from the sums.
    ref_below = (bins.reference[0] * low - bins.reference_outside[0]) / n
    cur_below = (bins.current[0] * low - bins.current_outside[0]) / m
    ref_above = (bins.reference_outside[1] - bins.reference[-1] * high) / n
    cur_above = (bins.current_outside[1] - bins.current[-1] * high) / m
    distance = inside + abs(ref_below - cur_below) + abs(ref_above - cur_above)
    return float(distance / max(bins.reference_std, MIN_STD))


def chisquare(reference: Counts, current: Counts) -> float:
    """p-value of the current counts against the reference shares scaled to the current total."""
    from scipy.stats import chi2

    m = current.sum()
    if m == 0 or reference.sum() == 0:
        return 1.0
    expected = shares(reference) * m
    used = (expected > 0) | (current > 0)
    if np.any((expected == 0) & (current > 0)):
        return 0.0
    categories = int(np.count_nonzero(used))
    if categories < 2:
        return 1.0
    statistic = float(np.sum((current[used] - expected[used]) ** 2 / expected[used]))
    return float(chi2.sf(statistic, categories - 1))


def z_test(reference: Counts, current: Counts) -> float:
    """Two-sided p-value that the share of the first value with any count is the same in both."""
    n, m = reference.sum(), current.sum()
    if n == 0 or m == 0:
        return 1.0
    present = np.flatnonzero((reference > 0) | (current > 0))
    if len(present) < 2:
        return 1.0
    first = present[0]
    p1, p2 = reference[first] / n, current[first] / m
    pooled = (reference[first] + current[first]) / (n + m)
    spread = pooled * (1 - pooled) * (1 / n + 1 / m)
    if spread <= 0:
        return 1.0 if p1 == p2 else 0.0
    z = (p1 - p2) / math.sqrt(spread)
    return float(math.erfc(abs(z) / math.sqrt(2)))


def drifted(statistic: str, value: float, threshold: float) -> bool:
    """p-values drift when small (KS at or below the threshold, chi-square and Z below, as Evidently);
    distances when at or above it."""
    if statistic == "ks":
        return value <= threshold
    if statistic in P_VALUE_STATISTICS:
        return value < threshold
    return value >= threshold
