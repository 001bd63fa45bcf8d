"""`smflow validate` warns, at the line that chose the image, where the local run uses other versions."""

from __future__ import annotations

from pathlib import Path

import pytest

from smflow.cli import main
from tests.conftest import PIPELINES

DEMO = PIPELINES / "diabetes"

SPEC = """\
pipeline: images
defaults:
  image: {framework: sklearn, version: 1.4-2}
models:
  m:
    source_dir: code
    steps:
      - name: prep
        type: processing
        entry_point: prep.py
        image: {framework: sklearn, version: 1.0-1}
        outputs: [train]
      - name: train
        type: training
        entry_point: train.py
        inputs: {train: prep.train}
"""


def validate(paths: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["validate", *paths])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_demo_validates_with_a_positioned_warning(smflow_home: Path, capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SMFLOW_IMAGE_ENVIRONMENTS", raising=False)
    code, out, err = validate([str(DEMO)], capsys)
    assert code == 0 and out.startswith("ok: ")
    [warning] = err.splitlines()
    assert warning.startswith(f"{DEMO / 'pipeline.yaml'}:8:10: defaults.image: warning: image "
                              "sagemaker-scikit-learn:1.2-1-cpu-py3 (sklearn 1.2-1, Python 3.9) runs on the local "
                              "executor with Python 3.11 and pandas 1.5.0 instead of 1.1.3, scipy 1.9.2 instead of "
                              "1.8.0")
    assert "SMFLOW_IMAGE_ENVIRONMENTS=off" in warning


def test_each_step_is_warned_at_its_own_image(smflow_home: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "prep.py").write_text("print('prep')\n")
    (tmp_path / "code" / "train.py").write_text("print('train')\n")
    (tmp_path / "pipeline.yaml").write_text(SPEC)
    code, _, err = validate([str(tmp_path / "pipeline.yaml")], capsys)
    assert code == 0
    lines = err.splitlines()
    # 1.0-1 (the processing step's own image) substitutes; 1.4-2 (the default, for training) installs as is
    assert len(lines) == 1 and lines[0].startswith(f"{tmp_path / 'pipeline.yaml'}:11:16: models.m.steps[0].image: "
                                                   "warning: image sagemaker-scikit-learn:1.0-1-cpu-py3")
    assert "scikit-learn 1.1.3 instead of 1.0.2" in lines[0] and "numpy 1.23.2 instead of 1.19.5" in lines[0]


@pytest.mark.parametrize(("variable", "value"), [("SMFLOW_IMAGE_ENVIRONMENTS", "off"),
                                                 ("SMFLOW_EXECUTOR", "sagemaker")])
def test_no_warning_when_jobs_do_not_run_in_image_environments(smflow_home: Path, capsys: pytest.CaptureFixture[str],
                                                               monkeypatch: pytest.MonkeyPatch, variable: str,
                                                               value: str) -> None:
    monkeypatch.setenv(variable, value)
    code, out, err = validate([str(DEMO)], capsys)
    assert code == 0 and out.startswith("ok: ") and err == ""


def test_a_bad_opt_out_value_is_a_warning_naming_the_values(smflow_home: Path, capsys: pytest.CaptureFixture[str],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMFLOW_IMAGE_ENVIRONMENTS", "maybe")
    code, _, err = validate([str(DEMO)], capsys)
    assert code == 0
    assert "warning: SMFLOW_IMAGE_ENVIRONMENTS='maybe' is neither on nor off" in err


def test_a_framework_version_the_table_lacks_is_a_warning(smflow_home: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    # sklearn 0.20.0 is an image the SDK knows but the table does not: its jobs run in smflow's own venv.
    monkeypatch.delenv("SMFLOW_IMAGE_ENVIRONMENTS", raising=False)
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "prep.py").write_text("print('prep')\n")
    (tmp_path / "code" / "train.py").write_text("print('train')\n")
    (tmp_path / "pipeline.yaml").write_text(SPEC.replace("version: 1.0-1", "version: 0.20.0"))
    code, _, err = validate([str(tmp_path / "pipeline.yaml")], capsys)
    assert code == 0
    [line] = err.splitlines()
    assert line.startswith(f"{tmp_path / 'pipeline.yaml'}:11:16: models.m.steps[0].image: warning: image "
                           "sagemaker-scikit-learn:0.20.0-cpu-py3 is sklearn 0.20.0, which is not in smflow's table")
    assert line.endswith("with smflow's package versions")
