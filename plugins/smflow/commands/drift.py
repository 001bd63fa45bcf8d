"""`smflow baseline` and `smflow drift`: sketch a reference table once, then check new data against it.

Both read CSV or Parquet (`--no-header` for a headerless CSV such as a batch transform's predictions, whose
one column is then `prediction`). `smflow drift` exits 0 whether or not drift is found and 1 on bad input;
the sketch, the JSON and the HTML are written atomically.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from smflow.errors import UsageError, UserError

if TYPE_CHECKING:
    from smflow.drift.compare import DriftReport


def cmd_baseline(args: argparse.Namespace) -> int:
    from smflow.atomic_files import write_text_atomic
    from smflow.drift.sketch import sketch_file

    output = _output_path(args.output, "-o")
    categorical = [c.strip() for c in (args.categorical or "").split(",") if c.strip()]
    baseline = sketch_file(args.data, categorical=categorical, header=not args.no_header, top_k=args.top_k,
                           bins=args.bins, chunk_rows=args.chunk_rows)
    text = baseline.to_json()
    write_text_atomic(output, text)
    kinds = [f.kind for f in baseline.features]
    skipped = f", {len(baseline.skipped)} skipped ({', '.join(baseline.skipped)})" if baseline.skipped else ""
    print(f"wrote {output}: {baseline.rows:,} rows, {kinds.count('numeric')} numeric and "
          f"{kinds.count('categorical')} categorical features{skipped}; {len(text) / 1024:.1f} KiB")
    return 0


def cmd_drift(args: argparse.Namespace) -> int:
    from smflow.atomic_files import write_text_atomic
    from smflow.drift.compare import DriftConfig, compare
    from smflow.drift.report_html import render_html
    from smflow.drift.sketch import Baseline, sketch_file

    html = _output_path(args.html, "--html") if args.html else None
    baseline_path = Path(args.baseline)
    try:
        text = baseline_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"--baseline {baseline_path}: no such file; make one with `smflow baseline DATA -o "
                        f"{baseline_path}`") from None
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"--baseline {baseline_path}: cannot be read ({e})") from None
    baseline = Baseline.from_json(text, str(baseline_path))
    settings = _config(args.config) if args.config else {}
    if args.drift_share is not None:
        if not isinstance(settings, dict):
            raise UserError(f"--config {args.config}: expected a JSON object of drift settings")
        settings = {**settings, "drift_share": args.drift_share}
    config = DriftConfig.from_mapping(settings, args.config or "drift settings")
    current = sketch_file(args.current, edges_from=baseline, header=not args.no_header, chunk_rows=args.chunk_rows)
    report = compare(baseline, current, config)
    if html is not None:
        write_text_atomic(html, render_html(report, baseline, current))
    if args.json:
        print(report.to_json(indent=2))
    else:
        print(summary(report))
        if html is not None:
            print(f"report: {html}")
    return 0


def summary(report: DriftReport) -> str:
    """A few lines: the verdict, then each drifted feature with its statistic."""
    verdict = "DATASET DRIFT" if report.dataset_drift else "no dataset drift"
    lines = [f"{verdict}: {len(report.drifted)} of {len(report.features)} features drifted ({report.share:.0%}, "
             f"threshold {report.drift_share:.0%}); {report.current_rows:,} rows against {report.reference_rows:,}"]
    for f in report.features:
        if f.drifted:
            value = "-" if f.value is None else f"{f.value:.4g}"
            lines.append(f"  {f.feature:<24} {f.statistic:<14} {value:>10}  (threshold {f.threshold:g})"
                         + (f"  {f.status}" if f.status != "ok" else "") + (f"  {f.note}" if f.note else ""))
    lines += [f"note: {n}" for n in report.notes]
    return "\n".join(lines)


def _config(path: str) -> Any:
    file = Path(path)
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"--config {file}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UserError(f"--config {file}: not a readable JSON file ({e})") from None


def _output_path(value: str, option: str) -> Path:
    path = Path(value)
    if path.is_dir() or value.endswith(("/", "\\")):
        raise UsageError(f"{option} {value} is a directory; give the file to write")
    if path.parent.exists() and not path.parent.is_dir():
        raise UsageError(f"{option} {value}: {path.parent} is a file, not a folder")
    return path


def _positive(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"{number} must be at least 1")
    return number


def _share(text: str) -> float:
    try:
        number = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < number <= 1:
        raise argparse.ArgumentTypeError(f"{number} is not a share in (0, 1]")
    return number


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add `baseline` and `drift` to the CLI's subparsers."""
    from smflow.drift.sketch import DEFAULT_BINS, DEFAULT_TOP_K
    from smflow.drift.tables import DEFAULT_CHUNK_ROWS

    data = argparse.ArgumentParser(add_help=False)
    data.add_argument("--no-header", action="store_true",
                      help="the CSV has no header line (one column is named `prediction`)")
    data.add_argument("--chunk-rows", type=_positive, default=DEFAULT_CHUNK_ROWS,
                      help=f"rows read at a time (default {DEFAULT_CHUNK_ROWS:,})")

    p = sub.add_parser("baseline", parents=[common, data], help="sketch reference data (CSV or Parquet) into a "
                                                                "small JSON baseline for `smflow drift`")
    p.add_argument("data", help="the reference data: a CSV or Parquet file")
    p.add_argument("-o", "--output", required=True, help="the baseline sketch to write (JSON)")
    p.add_argument("--categorical", help="comma-separated columns to treat as categories (text columns are "
                                         "categorical anyway)")
    p.add_argument("--top-k", type=_positive, default=DEFAULT_TOP_K, help="categories kept per feature")
    p.add_argument("--bins", type=_positive, default=DEFAULT_BINS, help="quantile bins per numeric feature")
    p.set_defaults(func=cmd_baseline)

    p = sub.add_parser("drift", parents=[common, data], help="compare new data with a baseline sketch; exit 0 "
                                                             "whether or not it drifted")
    p.add_argument("--baseline", required=True, help="a sketch written by `smflow baseline`")
    p.add_argument("--current", required=True, help="the new data: a CSV or Parquet file")
    p.add_argument("--json", action="store_true", help="print the JSON report")
    p.add_argument("--html", help="also write a self-contained HTML report here")
    p.add_argument("--config", help="a JSON file of drift settings (drift_share, statistic, threshold, "
                                    "features: {name: {statistic, threshold}})")
    p.add_argument("--drift-share", type=_share, help="share of drifted features that makes dataset drift "
                                                      "(default 0.5)")
    p.set_defaults(func=cmd_drift)


