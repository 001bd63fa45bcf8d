"""A drift report as one self-contained HTML page: the verdict, a summary table, and for each drifted feature
the reference and current histograms side by side, so a person sees the drift at a glance.

No external assets: inline CSS and inline SVG only (the page opens from a file, an object store or an email
attachment). Every name and value from the data is HTML-escaped.
"""

from __future__ import annotations

import math
from html import escape

import numpy as np

from smflow.drift.compare import DriftReport, FeatureResult, categorical_counts
from smflow.drift.sketch import Baseline, FeatureSketch

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1100px;
color:#1b1f24;padding:0 1em}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.15em;margin-top:2em}
.verdict{display:inline-block;padding:.35em .8em;border-radius:6px;font-weight:600}
.drift{background:#fde2e1;color:#8b1a13}.ok{background:#dcf3e3;color:#14532d}.muted{color:#5b6470}
table{border-collapse:collapse;width:100%;margin-top:1em}th,td{padding:.35em .6em;border-bottom:1px solid #e3e6ea;
text-align:left;vertical-align:top}th{background:#f5f7f9}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.drifted td:first-child{border-left:4px solid #d1453b}.chart{margin:.5em 0 1.5em}
.legend span{display:inline-block;width:.9em;height:.9em;margin:0 .3em 0 1em;vertical-align:-.1em}
"""
_REF, _CUR = "#7a8ca3", "#e0663e"
_WIDTH, _HEIGHT, _PAD = 1000, 220, 40


def render_html(report: DriftReport, baseline: Baseline, current: Baseline | None, *,
                title: str = "Data drift report") -> str:
    """The page for `report`; `current` (the batch's sketch on the baseline's bins) draws the histograms."""
    verdict = "Dataset drift detected" if report.dataset_drift else "No dataset drift"
    parts = [
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">",
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f"<p><span class=\"verdict {'drift' if report.dataset_drift else 'ok'}\">{verdict}</span> "
        f"{len(report.drifted)} of {len(report.features)} features drifted ({report.share:.0%}; the dataset "
        f"drifts at {report.drift_share:.0%}).</p>",
        f"<p class=\"muted\">Reference rows: {report.reference_rows:,} · current rows: {report.current_rows:,}</p>",
    ]
    parts += [f"<p class=\"muted\">{escape(note)}</p>" for note in report.notes]
    parts.append(_summary(report.features))
    drifted = [f for f in report.features if f.drifted]
    if drifted:
        parts.append("<h2>Drifted features: reference vs current</h2>")
        parts.append(f"<p class=\"legend muted\"><span style=\"background:{_REF}\"></span>reference"
                     f"<span style=\"background:{_CUR}\"></span>current (share of values per bin)</p>")
    for result in drifted:
        parts.append(f"<h3>{escape(result.feature)}</h3>")
        ref = baseline.feature(result.feature)
        cur = current.feature(result.feature) if current is not None else None
        chart = _histogram(ref, cur) if ref is not None and cur is not None else None
        parts.append(chart or f"<p class=\"muted\">No histogram: {escape(result.note or result.status)}</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _summary(features: list[FeatureResult]) -> str:
    rows = ["<table><thead><tr><th>Feature</th><th>Kind</th><th>Statistic</th><th>Value</th><th>Threshold</th>"
            "<th>Drifted</th><th>Status</th><th>Note</th></tr></thead><tbody>"]
    for f in sorted(features, key=lambda f: (not f.drifted, f.feature)):
        value = "–" if f.value is None else f"{f.value:.4g}"
        rows.append(f"<tr class=\"{'drifted' if f.drifted else ''}\"><td>{escape(f.feature)}</td>"
                    f"<td>{escape(f.kind)}</td><td>{escape(f.statistic)}</td><td class=\"num\">{value}</td>"
                    f"<td class=\"num\">{f.threshold:g}</td><td>{'yes' if f.drifted else 'no'}</td>"
                    f"<td>{escape(f.status)}</td><td>{escape(f.note or '')}</td></tr>")
    rows.append("</tbody></table>")
    return "".join(rows)


def _histogram(ref: FeatureSketch, cur: FeatureSketch) -> str | None:
    if ref.numeric is not None and cur.numeric is not None and ref.numeric.edges:
        edges = ref.numeric.edges
        reference = np.asarray(ref.numeric.counts, dtype=np.float64)
        current = np.asarray(cur.numeric.counts, dtype=np.float64)
        labels = [f"< {edges[0]:.4g}", *(f"{a:.4g} – {b:.4g}" for a, b in zip(edges, edges[1:], strict=False)),
                  f"≥ {edges[-1]:.4g}"]
        keep = (reference > 0) | (current > 0)
    elif ref.categorical is not None and cur.categorical is not None:
        reference, current = categorical_counts(ref, cur)
        labels = [*ref.categorical.values, "(other)"]
        keep = (reference > 0) | (current > 0)
    else:
        return None
    if not keep.any():
        return None
    return _bars([label for label, k in zip(labels, keep, strict=True) if k],
                 _shares(reference)[keep], _shares(current)[keep])


def _shares(counts: np.ndarray) -> np.ndarray:
    total = counts.sum()
    return counts / total if total else counts


def _bars(labels: list[str], reference: np.ndarray, current: np.ndarray) -> str:
    top = float(max(reference.max(), current.max(), 1e-12))
    slot = (_WIDTH - _PAD) / len(labels)
    bar = max(slot * 0.4, 1.0)
    plot = _HEIGHT - _PAD
    label_every = max(1, math.ceil(90 / slot))  # axis labels ~90 px apart; every bar's tooltip has its own
    shapes = [f"<svg class=\"chart\" viewBox=\"0 0 {_WIDTH} {_HEIGHT}\" width=\"100%\" role=\"img\" "
              "xmlns=\"http://www.w3.org/2000/svg\">",
              f"<line x1=\"{_PAD}\" y1=\"{plot}\" x2=\"{_WIDTH}\" y2=\"{plot}\" stroke=\"#9aa4b1\"/>",
              f"<text x=\"{_PAD - 4}\" y=\"12\" font-size=\"11\" text-anchor=\"end\">{top:.0%}</text>"]
    for i, (label, r, c) in enumerate(zip(labels, reference, current, strict=True)):
        x = _PAD + i * slot + slot * 0.1
        for offset, share, colour, who in ((0.0, r, _REF, "reference"), (bar, c, _CUR, "current")):
            height = plot * float(share) / top
            shapes.append(f"<rect x=\"{x + offset:.1f}\" y=\"{plot - height:.1f}\" width=\"{bar:.1f}\" "
                          f"height=\"{height:.1f}\" fill=\"{colour}\"><title>{escape(label)}: {who} "
                          f"{float(share):.2%}</title></rect>")
        if i % label_every == 0:
            shapes.append(f"<text x=\"{x + bar:.1f}\" y=\"{plot + 14}\" font-size=\"10\" text-anchor=\"middle\">"
                          f"{escape(_short(label))}</text>")
    shapes.append("</svg>")
    return "".join(shapes)


def _short(label: str, limit: int = 14) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"
