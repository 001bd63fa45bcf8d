"""The CLI under faults: each ends in one clear message and the right exit code, and leaves the state as it was.

Exit codes: 1 user error, 2 usage error, 3 internal error (never a raw traceback unless --verbose).
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from smflow import cli
from smflow.cli import main
from tests.conftest import FIXTURES, PIPELINES

DEMO = PIPELINES / "diabetes" / "pipeline.yaml"
LGBM = FIXTURES / "seed" / "lgbm"
AIRFLOW_VARS = ("AIRFLOW_HOME", "AIRFLOW__CORE__LOAD_EXAMPLES", "AIRFLOW__CORE__DAGS_FOLDER",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__LOGGING__LOGGING_LEVEL",
                "AIRFLOW__LOGGING__NAMESPACE_LEVELS", "SMFLOW_EXECUTOR")


@pytest.fixture(autouse=True)
def restore_airflow_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """`smflow run` points Airflow at the smflow home through os.environ; undo that after each test."""
    for name in AIRFLOW_VARS:
        monkeypatch.setenv(name, "placeholder")
        monkeypatch.delenv(name)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---- smflow run arguments -----------------------------------------------------------------------------

@pytest.mark.parametrize("conf, kind", [("[1,2]", "array"), ('"x"', "string"), ("3", "number"), ("null", "null")])
def test_conf_must_be_a_json_object(smflow_home: Path, capsys: pytest.CaptureFixture[str], conf: str,
                                    kind: str) -> None:
    assert run(capsys, "run", str(DEMO), "--conf", conf) == (
        2, "", f"smflow run: --conf must be a JSON object like '{{\"key\": \"value\"}}', not a JSON {kind}\n")


def test_conf_that_is_not_json(smflow_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "run", str(DEMO), "--conf", "{a: 1}")
    assert code == 2 and err.startswith("smflow run: --conf is not valid JSON (Expecting property name")


@pytest.mark.parametrize("value, message", [
    ("", "--logical-date is empty; give an ISO date-time (e.g. 2026-11-23T03:00:00+00:00) or leave the option out"),
    ("  ", "--logical-date is empty"),
    ("yesterday", "--logical-date 'yesterday' is not an ISO date-time"),
    ("0001-01-01T00:00:00+00:00", "--logical-date '0001-01-01T00:00:00+00:00' is out of range: Airflow schedules "
                                  "between the years 1970 and 9000"),
    ("9999-12-31T23:59:59-05:00", "is out of range"),
])
def test_bad_logical_dates_are_usage_errors(smflow_home: Path, capsys: pytest.CaptureFixture[str], value: str,
                                            message: str) -> None:
    code, out, err = run(capsys, "run", str(DEMO), "--logical-date", value)
    assert code == 2 and out == "" and message in err and "SUCCESS" not in out + err
    assert list(smflow_home.iterdir()) == [], "a refused run creates nothing"


def test_logical_date_before_the_dags_start_date(smflow_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "run", str(DEMO), "--logical-date", "2023-06-01T00:00:00+00:00")
    assert code == 2 and "SUCCESS" not in out
    assert err == (f"smflow run: --logical-date 2023-06-01T00:00:00+00:00 is before the start date of "
                   f"diabetes__train (2024-01-01T00:00:00+00:00, `airflow.start_date` in {DEMO}), so Airflow would "
                   "run no task; give a later date, or set an earlier airflow.start_date\n")
    assert not (smflow_home / "airflow" / "airflow.db").exists()


def test_a_run_that_ran_no_task_is_not_a_success() -> None:
    from smflow.dags.runner import RunSummary, format_summary

    empty = RunSummary("p__train", "manual__x", "success", 0.1)
    assert not empty.ok
    assert format_summary(empty).startswith("p__train  run manual__x: SUCCESS BUT NO TASK RAN")


def test_unknown_dag_kind_is_a_user_error(smflow_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = FIXTURES / "pipelines" / "batch" / "pipeline.yaml"  # no `monitor:` section
    code, _, err = run(capsys, "run", str(spec), "--dag", "monitor")
    assert code == 1 and err == f"smflow run: {spec}: pipeline batchdemo has no 'monitor' DAG; it has: train, batch\n"


# ---- the smflow home ----------------------------------------------------------------------------------

def test_smflow_home_that_is_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    home.write_text("not a folder")
    monkeypatch.setenv("SMFLOW_HOME", str(home))
    message = (f"SMFLOW_HOME is {home}, which is a file, not a directory; point SMFLOW_HOME at a directory (it is "
               "created when missing) or move the file away\n")
    assert run(capsys, "run", str(DEMO)) == (1, "", f"smflow run: {message}")
    assert run(capsys, "registry", "list") == (1, "", f"smflow registry: {message}")
    assert home.read_text() == "not a folder"
    code, out, _ = run(capsys, "validate", str(DEMO))  # validating needs no home (its image cache is optional)
    assert code == 0 and out.startswith("ok:")


def test_registry_list_on_a_missing_home_creates_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "not-yet"
    monkeypatch.setenv("SMFLOW_HOME", str(home))
    assert run(capsys, "registry", "list") == (
        0, f"no model registry yet ({home / 'registry.sqlite'} does not exist); a pipeline's register step "
           "creates it\n", "")
    assert run(capsys, "registry", "list", "--json") == (0, "[]\n", "")
    code, _, err = run(capsys, "registry", "approve", "group", "1")
    assert code == 1 and "no model registry at" in err
    assert not home.exists()


# ---- a damaged registry -------------------------------------------------------------------------------

def make_registry(home: Path) -> Path:
    from smflow.local_sagemaker.registry import ModelRegistry

    registry = ModelRegistry(home / "registry.sqlite")
    registry.call("CreateModelPackageGroup", {"ModelPackageGroupName": "g"})
    for _ in range(30):  # enough pages that a cut file loses some
        registry.call("CreateModelPackage", {
            "ModelPackageGroupName": "g", "ModelApprovalStatus": "PendingManualApproval",
            "InferenceSpecification": {"Containers": [{"Image": "img", "ModelDataUrl": "s3://bkt/m.tar.gz"}],
                                       "SupportedContentTypes": ["text/csv"],
                                       "SupportedResponseMIMETypes": ["text/csv"]},
            "CustomerMetadataProperties": {"padding": "x" * 200}})
    with sqlite3.connect(home / "registry.sqlite") as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return home / "registry.sqlite"


@pytest.mark.parametrize("damage", ["truncate", "garbage", "overwrite-middle"])
def test_damaged_registry_gives_one_message_and_stays_as_it_is(smflow_home: Path, capsys: pytest.CaptureFixture[str],
                                                               damage: str) -> None:
    path = make_registry(smflow_home)
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        path.write_bytes(b"this is not a database" * 100)
    else:
        path.write_bytes(data[:4096] + b"\xff" * 8192 + data[4096 + 8192:])
    before = digest(path)
    for argv in (["registry", "list"], ["registry", "approve", "g", "1"]):
        code, out, err = run(capsys, *argv)
        assert code == 1 and out == ""
        assert err.startswith(f"smflow registry: the model registry {path} is damaged (")
        assert err.rstrip().endswith(f"(mv {path} {path}.damaged) to start an empty registry — the versions it "
                                     "held are then no longer known to smflow")
    assert digest(path) == before, "nothing further was written to the damaged file"


def test_a_moved_aside_registry_starts_empty(smflow_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = make_registry(smflow_home)
    path.write_bytes(b"garbage")
    shutil.move(path, path.with_name("registry.sqlite.damaged"))
    assert run(capsys, "registry", "list")[0] == 0


# ---- a full disk ---------------------------------------------------------------------------------------

def no_space(*_args: object, **_kwargs: object) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/data/out/pipeline.yaml")


def test_full_disk_while_converting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    import smflow.atomic_files

    monkeypatch.chdir(LGBM)
    for name, value in {"SMP_ACCOUNTID": "111122223333", "SMP_REGION": "eu-west-1",
                        "SMP_S3BUCKETNAME": "seed-bucket", "SMP_ROLE": "arn:aws:iam::1:role/R"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(smflow.atomic_files, "write_text_atomic", no_space)
    code, out, err = run(capsys, "convert", "examples/*/conf/conf.yaml", "-o", str(tmp_path / "out.yaml"))
    assert code == 1 and out == ""
    assert err == ("smflow convert: no space left on device writing /data/out/pipeline.yaml; free some disk space "
                   "(or point SMFLOW_HOME at a larger disk) and run again — smflow writes atomically, so what was "
                   "written before is intact\n")
    assert not (tmp_path / "out.yaml").exists()


def test_full_disk_in_the_registry(smflow_home: Path, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    from smflow.local_sagemaker.registry import ModelRegistry

    path = make_registry(smflow_home)
    before = ModelRegistry(path).list_versions("g")

    def full(*_args: object, **_kwargs: object) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(ModelRegistry, "set_status", full)
    code, _, err = run(capsys, "registry", "approve", "g", "1")
    assert code == 1
    assert err == ("smflow registry: no space left on device for the SQLite database (database or disk is full); "
                   "free some disk space and run again\n")
    assert ModelRegistry(path).list_versions("g") == before


def test_full_disk_while_the_airflow_db_is_created(smflow_home: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    import smflow.dags.runner

    monkeypatch.setattr(smflow.dags.runner, "ensure_db", no_space)
    code, _, err = run(capsys, "run", str(DEMO))
    assert code == 1 and err.startswith("smflow run: no space left on device writing /data/out/pipeline.yaml")


def test_a_job_that_fills_the_disk_fails_saying_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from smflow.local_sagemaker.jobs import runner

    finished: list[tuple[str, str | None]] = []
    monkeypatch.setenv("SMFLOW_IMAGE_ENVIRONMENTS", "off")  # the stand-in run has no image to choose by
    monkeypatch.setattr(runner, "JobRun", lambda job, store, readonly: type("R", (), {
        "say": lambda self, text: None, "sandbox": type("S", (), {"notice": lambda self: ""})(),
        "on_sigterm": None, "user_stop_reason": lambda self: "", "stop_signal": None})())
    monkeypatch.setattr(runner, "_kind_runner", lambda kind: no_space)
    monkeypatch.setattr(runner, "finish", lambda run, status, reason, fields, secondary=None:
                        finished.append((status, reason)))
    monkeypatch.setattr(runner.signal, "signal", lambda *a: None)
    job = type("J", (), {"kind": "processing", "status_key": "ProcessingJobStatus",
                         "description": lambda self: {}, "set_fields": lambda self, **kw: None})()
    runner.execute(job, None)  # type: ignore[arg-type]
    assert finished == [("Failed", "InternalServerError: no space left on device writing /data/out/pipeline.yaml; "
                                   "free disk space and run the job again")]


# ---- convert -o -------------------------------------------------------------------------------------------

def test_convert_to_a_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "convert", "examples/*/conf/conf.yaml", "-o", str(tmp_path)) == (
        2, "", f"smflow convert: -o {tmp_path} is a directory; give the file to write, e.g. -o "
               f"{tmp_path / 'pipeline.yaml'}\n")
    assert list(tmp_path.iterdir()) == []


# ---- internal errors -----------------------------------------------------------------------------------

def boom(*_args: object, **_kwargs: object) -> None:
    raise RuntimeError("something smflow did not expect")


def test_an_internal_error_has_its_own_exit_code_and_a_log(smflow_home: Path, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(cli, "_load", boom)
    code, out, err = run(capsys, "validate", str(DEMO))
    assert code == 3 and out == ""
    prefix = ("smflow validate: internal error (a bug in smflow, not in your input): RuntimeError: something smflow "
              "did not expect; the traceback is in ")
    assert err.startswith(prefix) and err.endswith(" — please report it\n")
    log = Path(err[len(prefix):].split(" — ")[0])
    assert log.parent == smflow_home / "logs"
    assert "Traceback" in log.read_text() and "RuntimeError: something smflow did not expect" in log.read_text()


def test_verbose_shows_the_traceback(smflow_home: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(cli, "_load", boom)
    assert main(["validate", "--verbose", str(DEMO)]) == 3
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last):")
    assert err.endswith("smflow validate: internal error (a bug in smflow, not in your input): RuntimeError: "
                        "something smflow did not expect\n")


def test_a_user_error_is_not_an_internal_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    broken = tmp_path / "pipeline.yaml"
    broken.write_text("pipeline: x\nmodels: {}\n")
    code, out, _ = run(capsys, "validate", str(broken))
    assert code == 1 and out.startswith(f"{broken}:2:9: models:")
