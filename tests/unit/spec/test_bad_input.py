"""Regression cases from fuzzing `smflow validate`: each input once crashed with a traceback; now each is a
positioned `file:line:col: key.path: message` line and exit code 1."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from smflow.cli import main
from tests.unit.spec.mutations import DEMO, SEED

SEED_ENV = {"SMP_ACCOUNTID": "111122223333", "SMP_REGION": "eu-west-1", "SMP_S3BUCKETNAME": "seed-bucket",
            "SMP_ROLE": "arn:aws:iam::111122223333:role/SeedRole"}


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    shutil.copytree(DEMO, tmp_path / "demo")
    return tmp_path / "demo" / "pipeline.yaml"


@pytest.fixture
def lgbm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(SEED / "lgbm", tmp_path / "lgbm")
    for name, value in SEED_ENV.items():
        monkeypatch.setenv(name, value)
    return tmp_path / "lgbm" / "examples" / "lgbm" / "conf" / "conf.yaml"


def edit(file: Path, old: str, new: str) -> None:
    text = file.read_text()
    assert old in text, old
    file.write_text(text.replace(old, new, 1))


def line_col(file: Path, needle: str) -> tuple[int, int]:
    for number, line in enumerate(file.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if needle in line:
            return number, line.index(needle) + 1
    raise AssertionError(needle)


def validate(capsys: pytest.CaptureFixture[str], *paths: Path | str) -> list[str]:
    """`smflow validate` → its output lines; it must exit 1 without a traceback."""
    code = main(["validate", *map(str, paths)])
    out, err = capsys.readouterr()
    assert code == 1, out + err
    assert "Traceback" not in out + err
    return out.splitlines()


# ---- characters YAML or a file system cannot take -------------------------------------------------------

@pytest.mark.parametrize("char, name", [("\x7f", "U+007F (DEL)"), ("\x00", "U+0000 (NUL)"), ("\x1b", "U+001B (ESC)")])
def test_control_character_in_a_value(demo: Path, capsys: pytest.CaptureFixture[str], char: str, name: str) -> None:
    edit(demo, "entry_point: train.py", f"entry_point: tr{char}ain.py")
    line, col = line_col(demo, f"tr{char}ain")
    col += 2
    assert validate(capsys, demo) == [
        f"{demo}:{line}:{col}: <yaml>: control character {name} is not allowed in YAML; delete it (inside a "
        "double-quoted string write it as an escape like \\x7f)"]


def test_bytes_that_are_not_utf8(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    demo.write_bytes(demo.read_bytes().replace(b"entry_point: train.py", b"entry_point: tr\xe9in.py"))
    line, _ = line_col(demo, "entry_point: tr")
    (out,) = validate(capsys, demo)
    assert out.startswith(f"{demo}:{line}:24: <file>: byte 0xe9 is not valid UTF-8")
    assert out.endswith("save the file as UTF-8")


def test_newline_inside_a_value_stays_on_one_line(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(demo, "{name: model, type: create_model, model: train}", '{name: model, type: create_model, model: "a\\nb"}')
    line, col = line_col(demo, '"a\\nb"')
    (out,) = validate(capsys, demo)
    assert out.startswith(f"{demo}:{line}:{col}: models.regressor.steps[2].model: unknown step 'a\\nb' in model "
                          "unit 'regressor'")


def test_nul_escape_in_a_path(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(demo, "entry_point: train.py", 'entry_point: "tra\\0in.py"')
    line, col = line_col(demo, '"tra')
    assert validate(capsys, demo) == [
        f"{demo}:{line}:{col}: models.regressor.steps[1].entry_point: entry_point contains a NUL byte, which no "
        "file name can hold; remove it"]


# ---- explicit YAML tags ----------------------------------------------------------------------------------

@pytest.mark.parametrize("tag, value, reason", [
    ("!!int", "train.py", "invalid literal for int() with base 10: 'train.py'"),
    ("!!float", "train.py", "could not convert string to float: 'train.py'"),
    ("!!bool", "train.py", "it does not match the tag"),
    ("!!timestamp", "train.py", "it does not match the tag"),
])
def test_explicit_tag_that_does_not_fit(demo: Path, capsys: pytest.CaptureFixture[str], tag: str, value: str,
                                        reason: str) -> None:
    edit(demo, f"entry_point: {value}", f"entry_point: {tag} {value}")
    line, col = line_col(demo, tag)
    assert validate(capsys, demo) == [
        f"{demo}:{line}:{col}: models.regressor.steps[1].entry_point: the explicit tag {tag} cannot read "
        f"'{value}' ({reason}); remove the tag (plain YAML values need none) or write a value of that type"]


def test_explicit_tag_on_a_key(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(demo, "        entry_point: train.py", "        !!int entry_point: train.py")
    line, col = line_col(demo, "!!int")
    out = validate(capsys, demo)
    assert f"{demo}:{line}:{col}: models.regressor.steps[1]: the explicit tag !!int cannot read 'entry_point' " \
           "(invalid literal for int() with base 10: 'entrypoint'); remove the tag (plain YAML values need none) " \
           "or write a value of that type" in out


def test_explicit_tag_that_fits_is_read(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(demo, "hyperparameters: {n_estimators: 150,", "hyperparameters: {n_estimators: !!int 150,")
    edit(demo, "pipeline: diabetes", "pipeline: !!str diabetes")
    assert main(["validate", str(demo)]) == 0
    assert capsys.readouterr().out.startswith(f"ok: {demo}: pipeline diabetes")


def test_timestamp_tag_on_a_string_setting(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(demo, 'train: "0 3 * * 1"', "train: !!timestamp 2024-01-01")
    line, col = line_col(demo, "!!timestamp")
    (out,) = validate(capsys, demo)
    assert out.startswith(f"{demo}:{line}:{col}: schedule.train:")


# ---- values no file system accepts -----------------------------------------------------------------------

@pytest.mark.parametrize("old, new, key, setting, size", [
    ("source_dir: code", f"source_dir: {'x' * 300}", "models.regressor.source_dir", "source_dir", 300),
    ("entry_point: train.py", f"entry_point: {'x' * 300}.py", "models.regressor.steps[1].entry_point",
     "entry_point", 303),
    ("raw: ./data/diabetes.csv", f"raw: ./data/{'x' * 300}.csv", "models.regressor.steps[0].inputs.raw",
     "local input", 304),
])
def test_over_long_paths(demo: Path, capsys: pytest.CaptureFixture[str], old: str, new: str, key: str,
                         setting: str, size: int) -> None:
    edit(demo, old, new)
    line, col = line_col(demo, new.partition(": ")[2])
    assert validate(capsys, demo) == [
        f"{demo}:{line}:{col}: {key}: {setting} has a file or folder name of {size} bytes; file systems allow at "
        "most 255 per name — shorten it"]


def test_over_long_path_of_many_short_names(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(demo, "raw: ./data/diabetes.csv", f"raw: ./{'ab/' * 1500}x.csv")
    (out,) = validate(capsys, demo)
    assert ": models.regressor.steps[0].inputs.raw: local input is 4507 bytes long; paths can be at most 4096 " \
           "bytes — shorten it" in out


def test_empty_image_uri(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(demo, "image: {framework: sklearn, version: 1.2-1}", 'image: {uri: ""}')
    line, col = line_col(demo, '{uri: ""}')
    assert validate(capsys, demo) == [
        f"{demo}:{line}:{col}: defaults.image: the image URI is empty; give an ECR image URI like "
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/name:tag, or `framework` and `version`"]


# ---- seed-framework confs --------------------------------------------------------------------------------

def test_seed_unknown_step_class_of_every_step(lgbm: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = lgbm.read_text()
    for cls in ("Training", "CreateModel", "Transform", "Metrics", "RegisterModel"):
        text = text.replace(f"step_class: {cls}\n", f"step_class: {cls}X\n")
    lgbm.write_text(text)
    out = validate(capsys, lgbm)
    line, col = line_col(lgbm, "TrainingX")
    assert f"{lgbm}:{line}:{col}: conf.sagemakerPipeline.models.lgbm.steps[0].step_class: unknown step_class " \
           "'TrainingX'; use one of Processing, Training, CreateModel, Transform, Metrics, RegisterModel" in out
    assert len(out) == 5 and all("unknown step_class" in line for line in out)


def test_seed_empty_image_uri(lgbm: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(lgbm, "image_uri: SMP_ACCOUNTID.dkr.ecr.SMP_REGION.amazonaws.com/pytorch-training:1.9.0-cpu-py38",
         'image_uri: ""')
    line, col = line_col(lgbm, '""')
    assert validate(capsys, lgbm) == [
        f"{lgbm}:{line}:{col}: conf.models.lgbm.train.image_uri: the image URI is empty; give an ECR image URI like "
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/name:tag, or `framework` and `version`"]


@pytest.mark.parametrize("old, key", [
    ("source_directory: examples/lgbm", "conf.models.lgbm.source_directory"),
    ("entry_point: training/training.py", "conf.models.lgbm.train.entry_point"),
])
def test_seed_over_long_paths(lgbm: Path, capsys: pytest.CaptureFixture[str], old: str, key: str) -> None:
    name, _, value = old.partition(": ")
    edit(lgbm, old, f"{name}: {value}{'y' * 400}")
    line, col = line_col(lgbm, f"{value}{'y' * 400}")
    (out,) = validate(capsys, lgbm)
    assert out.startswith(f"{lgbm}:{line}:{col}: {key}: ")
    assert "file systems allow at most 255 per name — shorten it" in out


def test_seed_over_long_local_data_file(lgbm: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(lgbm, "fileName: s3://SMP_S3BUCKETNAME/lightGBM/train", f"fileName: data/{'z' * 300}.csv")
    line, col = line_col(lgbm, "- sourceName: online_shoppers_intention_train")
    (out,) = validate(capsys, lgbm)  # seed inputs are reported at their dataFiles entry
    assert out == f"{lgbm}:{line}:{col + 2}: conf.models.lgbm.train.channels.train.dataFiles[0]: local input " \
                  "has a file or folder name of 304 bytes; file systems allow at most 255 per name — shorten it"


def test_seed_control_character(lgbm: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(lgbm, "base_job_name: lightgbm-train", "base_job_name: lightgbm\x08train")
    line, _ = line_col(lgbm, "base_job_name: lightgbm")
    (out,) = validate(capsys, lgbm)
    assert out.startswith(f"{lgbm}:{line}:40: <yaml>: control character U+0008 (BS) is not allowed")


# ---- files that cannot be read ---------------------------------------------------------------------------

def test_missing_file_and_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "dir.yaml").mkdir()
    out = validate(capsys, tmp_path / "nope.yaml", tmp_path / "dir.yaml")
    assert out == [f"{tmp_path / 'nope.yaml'}:1:1: <file>: no such file; check the path",
                   f"{tmp_path / 'dir.yaml'}:1:1: <file>: no pipeline spec found here (pipeline.yaml, "
                   "*.pipeline.yaml or */conf/conf.yaml)"]


# ---- bucket names (S3's naming rules, as the local store applies them) ----------------------------------

def test_bucket_names_are_checked_where_a_spec_names_them(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(demo, "${SMFLOW_BUCKET:-smflow-demo}", "${SMFLOW_BUCKET:-..}")
    edit(demo, "raw: ./data/diabetes.csv", "raw: s3://My_Bucket/raw/diabetes.csv")
    edit(demo, "input: preprocess.test_features,", "input: 's3://ok-bucket/a/../b',")
    bucket = line_col(demo, "${SMFLOW_BUCKET")
    raw = line_col(demo, "s3://My_Bucket")
    predict = line_col(demo, "'s3://ok-bucket")
    assert validate(capsys, demo) == [
        f"{demo}:{bucket[0]}:{bucket[1]}: defaults.bucket: bucket name '..' must be 3 to 63 characters long (it has "
        "2); name a bucket by S3's naming rules (got '..')",
        f"{demo}:{raw[0]}:{raw[1]}: models.regressor.steps[0].inputs.raw: 's3://My_Bucket/raw/diabetes.csv': bucket "
        "name 'My_Bucket' may only contain lowercase letters, digits, dots (.) and hyphens (-); name a bucket by "
        "S3's naming rules",
        f"{demo}:{predict[0]}:{predict[1]}: models.regressor.steps[3].input: 's3://ok-bucket/a/../b': '.' and '..' "
        "are not allowed in keys (as folders they would name another object)"]


def test_seed_bucket_names_are_checked(lgbm: Path, capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    edit(lgbm, "fileName: s3://SMP_S3BUCKETNAME/lightGBM/train", "fileName: s3://a/lightGBM/train")
    line, _ = line_col(lgbm, "- sourceName: online_shoppers_intention_train")
    out = validate(capsys, lgbm)
    assert any(o.startswith(f"{lgbm}:{line}:") and "bucket name 'a' must be 3 to 63 characters long" in o for o in out)
    monkeypatch.setenv("SMP_S3BUCKETNAME", "UPPER")
    assert any("bucket name 'UPPER' may only contain lowercase letters" in o for o in validate(capsys, lgbm))
