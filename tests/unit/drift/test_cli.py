"""`smflow baseline` / `smflow drift`: exit 0 with or without drift, 1 on bad input, JSON and HTML outputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest

from smflow.cli import main

RNG = np.random.default_rng(5)


@pytest.fixture
def files(tmp_path: Path) -> Path:
    rows = 3_000
    pq.write_table(pa.table({"x": RNG.normal(size=rows), "y": RNG.normal(size=rows),
                             "c": RNG.choice(["a", "b"], rows)}), tmp_path / "ref.parquet")
    pa_csv.write_csv(pa.table({"x": RNG.normal(2, 1, rows), "y": RNG.normal(size=rows),
                               "c": RNG.choice(["a", "b"], rows)}), tmp_path / "cur.csv")
    (tmp_path / "preds.csv").write_text("\n".join(f"{v:.4f}" for v in RNG.uniform(size=500)) + "\n")
    return tmp_path


def test_baseline_then_drift_exits_zero_with_drift_and_writes_reports(files: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["baseline", str(files / "ref.parquet"), "-o", str(files / "b.json")]) == 0
    assert "3,000 rows, 2 numeric and 1 categorical features" in capsys.readouterr().out
    assert main(["drift", "--baseline", str(files / "b.json"), "--current", str(files / "cur.csv"),
                 "--html", str(files / "r.html")]) == 0
    out = capsys.readouterr().out
    assert "no dataset drift: 1 of 3" in out and "x " in out and "r.html" in out
    assert "<svg" in (files / "r.html").read_text() and "http" not in (files / "r.html").read_text().replace(
        "http://www.w3.org/2000/svg", "")
    assert main(["drift", "--baseline", str(files / "b.json"), "--current", str(files / "cur.csv"), "--json",
                 "--drift-share", "0.3"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["dataset_drift"] is True and report["drifted"] == ["x"]


def test_headerless_predictions(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["baseline", str(files / "preds.csv"), "--no-header", "-o", str(files / "p.json")]) == 0
    assert main(["drift", "--baseline", str(files / "p.json"), "--current", str(files / "preds.csv"),
                 "--no-header", "--json"]) == 0
    report = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    assert [f["feature"] for f in report["features"]] == ["prediction"] and report["drifted"] == []


@pytest.mark.parametrize("case", ["missing data", "bad baseline", "bad config", "unknown categorical"])
def test_bad_input_exits_one_with_a_message(files: Path, case: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["baseline", str(files / "ref.parquet"), "-o", str(files / "b.json")]) == 0
    (files / "bad.json").write_text('{"format": "smflow-drift-baseline", "version": 7}')
    (files / "config.json").write_text('{"features": {"x": {"statistic": "nope"}}}')
    argv = {"missing data": ["drift", "--baseline", str(files / "b.json"), "--current", str(files / "no.csv")],
            "bad baseline": ["drift", "--baseline", str(files / "bad.json"), "--current", str(files / "cur.csv")],
            "bad config": ["drift", "--baseline", str(files / "b.json"), "--current", str(files / "cur.csv"),
                           "--config", str(files / "config.json")],
            "unknown categorical": ["baseline", str(files / "cur.csv"), "-o", str(files / "x.json"),
                                    "--categorical", "zz"]}[case]
    capsys.readouterr()
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("smflow ") and len(err.strip().splitlines()) == 1
