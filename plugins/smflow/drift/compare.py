"""Compare current data with a baseline sketch: a verdict per feature and for the dataset.

The statistic per feature is Evidently's default unless configured
(https://docs.evidentlyai.com/reference/data-drift-algorithm): with at most 1000 reference values, KS for a
numeric feature of more than 5 distinct values, chi-square for 3-5 values or a categorical feature of more
than 2, Z for two values; above 1000, normalised Wasserstein for a numeric feature of more than 5 values and
Jensen–Shannon otherwise. The distinct count is the larger of the reference's and the current's (Evidently
counts the union). The dataset drifts when the share of drifted features reaches `drift_share`.

What cannot be compared gets a result saying why, never a crash (`status`): `missing_column` (the batch lacks
the feature: drifted), `all_missing` (no usable value in the batch: drifted unless the reference had none
either), `no_reference` (the reference had no usable value: not drifted), `no_data` (an empty batch: not
drifted, and no dataset drift), `type_mismatch` (text where the reference has numbers: drifted). Unseen
categories and ±inf values are counted in the feature's `note`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pyarrow as pa

from smflow.drift import statistics as stats
from smflow.drift.errors import BaselineError, DriftConfigError
from smflow.drift.sketch import Baseline, FeatureSketch, sketch_table

SMALL_SAMPLE = 1000
Status = Literal["ok", "missing_column", "all_missing", "no_reference", "no_data", "type_mismatch"]
DEFAULT_DRIFT_SHARE = 0.5


@dataclass(frozen=True)
class FeatureOverride:
    """A feature's own statistic and/or threshold (None: the defaults)."""

    statistic: str | None = None
    threshold: float | None = None


@dataclass(frozen=True)
class DriftConfig:
    """How drift is judged. The statistic of a feature is its own (`features`), else its kind's
    (`numeric_statistic` / `categorical_statistic`), else `statistic` where it applies (KS and Wasserstein to
    numeric features only), else Evidently's choice by type and sample size. `threshold` replaces every
    default threshold; a feature's own threshold wins over it."""

    drift_share: float = DEFAULT_DRIFT_SHARE
    statistic: str | None = None
    numeric_statistic: str | None = None
    categorical_statistic: str | None = None
    threshold: float | None = None
    features: Mapping[str, FeatureOverride] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any] | None, where: str) -> DriftConfig:
        """A config from plain data (a YAML or JSON section at `where`); errors name the key path."""
        if mapping is None:
            return cls()
        if not isinstance(mapping, Mapping):
            raise DriftConfigError(f"{where}: expected a mapping of drift settings, got {type(mapping).__name__}")
        known = {"drift_share", "statistic", "numeric_statistic", "categorical_statistic", "threshold", "features"}
        unknown = sorted(set(map(str, mapping)) - known)
        if unknown:
            raise DriftConfigError(f"{where}.{unknown[0]}: unknown drift setting; use one of "
                                   f"{', '.join(sorted(known))}")
        share = _number(mapping.get("drift_share", DEFAULT_DRIFT_SHARE), f"{where}.drift_share")
        if not 0 < share <= 1:
            raise DriftConfigError(f"{where}.drift_share: {share} is not a share in (0, 1]; e.g. 0.5 flags the "
                                   "dataset when half of its features drift")
        features: dict[str, FeatureOverride] = {}
        raw = mapping.get("features") or {}
        if not isinstance(raw, Mapping):
            raise DriftConfigError(f"{where}.features: expected a mapping of feature name → "
                                   "{statistic, threshold}")
        for name, override in raw.items():
            path = f"{where}.features.{name}"
            if not isinstance(override, Mapping):
                raise DriftConfigError(f"{path}: expected {{statistic: …, threshold: …}}, got "
                                       f"{type(override).__name__}")
            extra = sorted(set(map(str, override)) - {"statistic", "threshold"})
            if extra:
                raise DriftConfigError(f"{path}.{extra[0]}: unknown setting; a feature takes statistic and "
                                       "threshold")
            features[str(name)] = FeatureOverride(_statistic(override.get("statistic"), f"{path}.statistic"),
                                                  _threshold(override.get("threshold"), f"{path}.threshold"))
        categorical = _statistic(mapping.get("categorical_statistic"), f"{where}.categorical_statistic")
        if categorical in stats.NUMERIC_ONLY:
            raise DriftConfigError(f"{where}.categorical_statistic: {categorical} compares numbers; use "
                                   "jensenshannon, psi, chisquare or z for categorical features")
        return cls(drift_share=share,
                   statistic=_statistic(mapping.get("statistic"), f"{where}.statistic"),
                   numeric_statistic=_statistic(mapping.get("numeric_statistic"), f"{where}.numeric_statistic"),
                   categorical_statistic=categorical,
                   threshold=_threshold(mapping.get("threshold"), f"{where}.threshold"), features=features)

    def choose(self, reference: FeatureSketch, current: FeatureSketch | None) -> tuple[str, float]:
        """The statistic and threshold for one feature."""
        override = self.features.get(reference.name, FeatureOverride())
        by_kind = self.numeric_statistic if reference.kind == "numeric" else self.categorical_statistic
        every = self.statistic
        if every in stats.NUMERIC_ONLY and reference.kind != "numeric":
            every = None  # `statistic: ks` means "KS wherever it applies"
        statistic = override.statistic or by_kind or every or default_statistic(reference, current)
        if statistic in stats.NUMERIC_ONLY and reference.kind != "numeric":
            where = f"features.{reference.name}.statistic" if override.statistic else "statistic"
            raise DriftConfigError(f"{where}: {statistic} compares numbers, and feature {reference.name!r} is "
                                   "categorical; use jensenshannon, psi or chisquare for it")
        threshold = override.threshold
        if threshold is None:
            threshold = self.threshold if self.threshold is not None else stats.DEFAULT_THRESHOLDS[statistic]
        return statistic, threshold


def default_statistic(reference: FeatureSketch, current: FeatureSketch | None) -> str:
    """Evidently's default for the feature's kind, reference size and distinct values."""
    distinct = max(reference.distinct, current.distinct if current is not None else 0)
    if reference.present <= SMALL_SAMPLE:
        if reference.kind == "numeric" and distinct > 5:
            return "ks"
        if distinct > 2:
            return "chisquare"
        return "z"
    if reference.kind == "numeric" and distinct > 5:
        return "wasserstein"
    return "jensenshannon"


@dataclass(frozen=True)
class FeatureResult:
    """One feature's verdict; `value` is None when nothing could be computed (see `status`)."""

    feature: str
    statistic: str
    value: float | None
    threshold: float
    drifted: bool
    status: Status = "ok"
    kind: str = ""
    note: str | None = None
    reference_missing_share: float | None = None
    current_missing_share: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"feature": self.feature, "statistic": self.statistic, "value": self.value,
                               "threshold": self.threshold, "drifted": self.drifted, "status": self.status}
        if self.kind:
            out["kind"] = self.kind
        if self.note:
            out["note"] = self.note
        if self.reference_missing_share is not None or self.current_missing_share is not None:
            out["missing_share"] = {"reference": self.reference_missing_share,
                                    "current": self.current_missing_share}
        return out


@dataclass(frozen=True)
class DriftReport:
    """Every feature's result, and whether the dataset drifted (share of drifted features ≥ drift_share)."""

    features: list[FeatureResult]
    drift_share: float
    reference_rows: int
    current_rows: int
    extra_columns: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def drifted(self) -> list[str]:
        return [f.feature for f in self.features if f.drifted]

    @property
    def share(self) -> float:
        return len(self.drifted) / len(self.features) if self.features else 0.0

    @property
    def dataset_drift(self) -> bool:
        return bool(self.features) and self.current_rows > 0 and self.share >= self.drift_share

    def to_dict(self) -> dict[str, Any]:
        return {"dataset_drift": self.dataset_drift, "drift_share": self.drift_share, "share": self.share,
                "drifted": self.drifted, "rows": {"reference": self.reference_rows, "current": self.current_rows},
                "features": [f.to_dict() for f in self.features], "extra_columns": self.extra_columns,
                "notes": self.notes}

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)


def compare(baseline: Baseline, current: pa.Table | pa.RecordBatch | Baseline,
            config: DriftConfig | None = None) -> DriftReport:
    """Judge `current` (a table, or its sketch made with `edges_from=baseline`) against `baseline`."""
    config = config or DriftConfig()
    if not isinstance(current, Baseline):
        current = sketch_table(current, edges_from=baseline)
    results = [_compare_feature(ref, current.feature(ref.name), current.rows, config) for ref in baseline.features]
    extra = [c for c in current.columns if c not in set(baseline.names) and c not in baseline.skipped]
    notes = []
    if current.rows == 0:
        notes.append("the current batch has no rows: nothing to compare, so no dataset drift")
    if extra:
        notes.append(f"{len(extra)} column(s) not in the baseline were not compared: {', '.join(extra[:10])}"
                     + (" …" if len(extra) > 10 else ""))
    return DriftReport(results, config.drift_share, baseline.rows, current.rows, extra, notes)


def _compare_feature(ref: FeatureSketch, cur: FeatureSketch | None, current_rows: int,
                     config: DriftConfig) -> FeatureResult:
    statistic, threshold = config.choose(ref, cur)

    def result(value: float | None, drifted: bool, status: Status, note: str | None) -> FeatureResult:
        return FeatureResult(ref.name, statistic, value, threshold, drifted, status, ref.kind, note,
                             ref.missing_share, cur.missing_share if cur is not None else None)

    if cur is None:
        return result(None, True, "missing_column", "the current batch has no such column")
    if current_rows == 0:
        return result(None, False, "no_data", "the current batch is empty")
    if ref.present == 0:
        return result(None, False, "no_reference", "the reference has no usable value of this feature, so there "
                                                   "is nothing to compare with")
    if ref.kind == "numeric" and cur.numeric is None:
        return result(None, True, "type_mismatch", "the reference holds numbers; the current column holds text")
    if cur.present == 0:
        infinite = cur.numeric.infinite if cur.numeric is not None else 0
        return result(None, True, "all_missing", f"no usable value in the current batch ({cur.missing} missing"
                                                 + (f", {infinite} infinite" if infinite else "") + ")")
    if ref.numeric is not None and cur.numeric is not None and cur.numeric.edges != ref.numeric.edges:
        raise BaselineError(f"feature {ref.name!r}: the current sketch is binned on other edges than the "
                            "baseline; sketch the current data with edges_from=baseline (or pass the table)")
    value = _statistic_value(statistic, ref, cur)
    return result(value, stats.drifted(statistic, value, threshold), "ok", _note(ref, cur))


def _statistic_value(statistic: str, ref: FeatureSketch, cur: FeatureSketch) -> float:
    if ref.numeric is not None and cur.numeric is not None:
        bins = stats.NumericBins(np.asarray(ref.numeric.edges, dtype=np.float64),
                                 np.asarray(ref.numeric.counts, dtype=np.float64),
                                 np.asarray(cur.numeric.counts, dtype=np.float64),
                                 (ref.numeric.below_sum, ref.numeric.above_sum),
                                 (cur.numeric.below_sum, cur.numeric.above_sum), ref.numeric.std or 0.0)
        if statistic == "ks":
            return stats.ks(bins)
        if statistic == "wasserstein":
            return stats.wasserstein(bins)
        reference, current = bins.reference, bins.current
    else:
        reference, current = categorical_counts(ref, cur)
    if statistic == "psi":
        return stats.psi(reference, current)
    if statistic == "jensenshannon":
        return stats.jensenshannon(reference, current)
    if statistic == "chisquare":
        return stats.chisquare(reference, current)
    return stats.z_test(reference, current)


def categorical_counts(ref: FeatureSketch, cur: FeatureSketch) -> tuple[stats.Counts, stats.Counts]:
    """Counts on the reference's categories plus one bin for the rest (its "other"; the current's other and
    unseen values)."""
    assert ref.categorical is not None and cur.categorical is not None
    by_value = dict(zip(cur.categorical.values, cur.categorical.counts, strict=True))
    reference = [*ref.categorical.counts, ref.categorical.other]
    known = [by_value.get(v, 0) for v in ref.categorical.values]
    current = [*known, cur.categorical.present - sum(known)]
    return np.asarray(reference, dtype=np.float64), np.asarray(current, dtype=np.float64)


def _note(ref: FeatureSketch, cur: FeatureSketch) -> str | None:
    notes = []
    if ref.categorical is not None and cur.categorical is not None:
        known = set(ref.categorical.values)
        unseen = [(v, c) for v, c in zip(cur.categorical.values, cur.categorical.counts, strict=True)
                  if v not in known and c]
        if unseen:
            what = "unseen" if ref.categorical.other == 0 else "not among the reference's top values"
            listed = ", ".join(f"{v!r} ({c})" for v, c in unseen[:5])
            notes.append(f"{len(unseen)}{'+' if cur.categorical.other else ''} categor"
                         f"{'y' if len(unseen) == 1 else 'ies'} {what}: {listed}")
    if cur.numeric is not None and cur.numeric.infinite:
        notes.append(f"{cur.numeric.infinite} infinite value(s) left out")
    if ref.missing_share is not None and cur.missing_share is not None and \
            cur.missing_share - ref.missing_share >= 0.1:
        notes.append(f"missing share rose from {ref.missing_share:.1%} to {cur.missing_share:.1%}")
    return "; ".join(notes) or None


def quality_drift(metric: str, current: float, reference: float, *,
                  direction: Literal["maximize", "minimize"], tolerance: float) -> FeatureResult:
    """Model-quality drift: the metric on labelled current data against the version's evaluation value.
    `value` is how much worse it got (reference − current when higher is better); drifted when that exceeds
    `tolerance` (absolute, in the metric's units)."""
    if direction not in ("maximize", "minimize"):
        raise DriftConfigError(f"quality metric {metric!r}: direction must be maximize or minimize, not "
                               f"{direction!r}")
    for label, number in (("current", current), ("reference", reference), ("tolerance", tolerance)):
        if not isinstance(number, int | float) or not np.isfinite(number):
            raise DriftConfigError(f"quality metric {metric!r}: the {label} value {number!r} is not a finite "
                                   "number")
    if tolerance < 0:
        raise DriftConfigError(f"quality metric {metric!r}: tolerance {tolerance} must be zero or more")
    worse = reference - current if direction == "maximize" else current - reference
    return FeatureResult(feature=metric, statistic="quality_degradation", value=float(worse),
                         threshold=float(tolerance), drifted=worse > tolerance, kind="quality",
                         note=f"{metric} {current:g} against {reference:g} at evaluation ({direction})")


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value):
        raise DriftConfigError(f"{where}: {value!r} is not a number")
    return float(value)


def _statistic(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if value not in stats.STATISTICS:
        raise DriftConfigError(f"{where}: unknown statistic {value!r}; choose one of {', '.join(stats.STATISTICS)}")
    return str(value)


def _threshold(value: Any, where: str) -> float | None:
    if value is None:
        return None
    number = _number(value, where)
    if number < 0:
        raise DriftConfigError(f"{where}: {number} must be zero or more")
    return number
