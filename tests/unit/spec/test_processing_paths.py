"""Processing inputs and outputs where the SDK lets a script put them: `destination`, output folders, upload
modes, per-step `source_dir` and `command` — and a positioned error for every path SageMaker would refuse."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from smflow.cli import main
from smflow.compile.graph import compile_pipeline
from smflow.spec import load_pipeline
from smflow.spec.errors import SpecError


def pipeline(tmp_path: Path, steps: str) -> Path:
    (tmp_path / "code").mkdir(exist_ok=True)
    for script in ("prep.py", "train.py", "evaluate.py"):
        (tmp_path / "code" / script).write_text("print('ok')\n")
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "data" / "raw.csv").write_text("1,2\n")
    file = tmp_path / "pipeline.yaml"
    file.write_text("pipeline: paths\nmodels:\n  m:\n    source_dir: code\n    steps:\n"
                    + textwrap.indent(textwrap.dedent(steps), "      "))
    return file


def errors(file: Path) -> list[str]:
    with pytest.raises(SpecError) as caught:
        load_pipeline(file)
    return [str(issue) for issue in caught.value.issues]


def processing_request(file: Path, task: str = "m.prep") -> dict:
    compiled = compile_pipeline(load_pipeline(file))
    return next(t for t in compiled.dags[0].tasks if t.task_id == task).request


def test_destination_and_output_folders_are_the_local_paths_sent(tmp_path: Path) -> None:
    file = pipeline(tmp_path, """\
        - name: prep
          type: processing
          entry_point: prep.py
          inputs:
            raw: {source: ./data/raw.csv, destination: /opt/ml/processing/input}
          outputs:
            train: /opt/ml/processing/train
            logs: {source: /opt/ml/processing/logs/, s3_upload_mode: Continuous}
    """)
    request = processing_request(file)
    inputs = {i["InputName"]: i["S3Input"]["LocalPath"] for i in request["ProcessingInputs"]}
    assert inputs == {"code": "/opt/ml/processing/input/code", "raw": "/opt/ml/processing/input"}
    outputs = {o["OutputName"]: (o["S3Output"]["LocalPath"], o["S3Output"]["S3UploadMode"])
               for o in request["ProcessingOutputConfig"]["Outputs"]}
    assert outputs == {"train": ("/opt/ml/processing/train", "EndOfJob"),
                       "logs": ("/opt/ml/processing/logs", "Continuous")}
    assert request["AppSpecification"]["ContainerEntrypoint"] == ["python3", "/opt/ml/processing/input/code/prep.py"]


def test_defaults_are_unchanged(tmp_path: Path) -> None:
    file = pipeline(tmp_path, """\
        - {name: prep, type: processing, entry_point: prep.py, inputs: {raw: ./data/raw.csv}, outputs: [train]}
    """)
    request = processing_request(file)
    assert request["ProcessingInputs"][1]["S3Input"]["LocalPath"] == "/opt/ml/processing/input/raw"
    assert request["ProcessingOutputConfig"]["Outputs"][0]["S3Output"] == {
        "S3Uri": request["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"],
        "LocalPath": "/opt/ml/processing/output/train", "S3UploadMode": "EndOfJob"}


def test_command_runs_the_entry_point_like_script_processor(tmp_path: Path) -> None:
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "run.sh").write_text("echo hi\n")
    file = pipeline(tmp_path, """\
        - {name: prep, type: processing, entry_point: run.sh, command: [bash], arguments: [--x, "1"]}
    """)
    app = processing_request(file)["AppSpecification"]
    assert app["ContainerEntrypoint"] == ["bash", "/opt/ml/processing/input/code/run.sh"]
    assert app["ContainerArguments"] == ["--x", "1"]


def test_requirements_txt_uses_the_framework_processor_launcher(tmp_path: Path) -> None:
    file = pipeline(tmp_path, """\
        - {name: prep, type: processing, entry_point: prep.py, arguments: [--n, "3"]}
    """)
    (tmp_path / "code" / "requirements.txt").write_text("six\n")
    compiled = compile_pipeline(load_pipeline(file))
    task = compiled.dags[0].tasks[0]
    request = task.request
    assert request["AppSpecification"]["ContainerEntrypoint"] == [
        "/bin/bash", "/opt/ml/processing/input/entrypoint/runproc.sh", "python3", "prep.py"]
    assert request["AppSpecification"]["ContainerArguments"] == ["--n", "3"]
    inputs = {i["InputName"]: i["S3Input"]["LocalPath"] for i in request["ProcessingInputs"]}
    assert inputs == {"code": "/opt/ml/processing/input/code", "entrypoint": "/opt/ml/processing/input/entrypoint"}
    uploads = {Path(u["source"]).name: (u["uri"].rsplit("/", 1)[-1], u["tar"]) for u in task.uploads}
    assert uploads == {"code": ("sourcedir.tar.gz", True), "runproc.sh": ("runproc.sh", False)}


def test_a_step_can_have_its_own_source_dir(tmp_path: Path) -> None:
    (tmp_path / "eval_code").mkdir()
    (tmp_path / "eval_code" / "score.py").write_text("print(1)\n")
    file = pipeline(tmp_path, """\
        - {name: prep, type: processing, entry_point: prep.py}
        - {name: score, type: processing, entry_point: score.py, source_dir: eval_code}
    """)
    compiled = compile_pipeline(load_pipeline(file))
    score = next(t for t in compiled.dags[0].tasks if t.task_id == "m.score")
    assert Path(score.uploads[0]["source"]) == (tmp_path / "eval_code").resolve()


@pytest.mark.parametrize(("yaml", "key", "message"), [
    ("inputs: {raw: {source: ./data/raw.csv, destination: /opt/ml/input/raw}}",
     "inputs.raw.destination", "is not a folder under /opt/ml/processing/"),
    ("inputs: {raw: {source: ./data/raw.csv, destination: /opt/ml/processing}}",
     "inputs.raw.destination", "is not a folder under /opt/ml/processing/"),
    ("inputs: {raw: {source: ./data/raw.csv, destination: /opt/ml/processing/a/../b}}",
     "inputs.raw.destination", "not a normalised path"),
    ("inputs: {raw: {source: ./data/raw.csv, destination: /opt/ml/processing/input/code}}",
     "inputs.raw.destination", "holds the step's code"),
    ("outputs: {a: /opt/ml/processing/input/code}", "outputs.a",
     "output 'a': /opt/ml/processing/input/code holds the step's code (source_dir); choose another folder"),
    ("inputs: {a: {source: ./data/raw.csv, destination: /opt/ml/processing/x}, "
     "b: {source: ./data/raw.csv, destination: /opt/ml/processing/x/}}",
     "inputs.b.destination", "inputs 'a' and 'b' both use /opt/ml/processing/x"),
    ("outputs: {a: /opt/ml/processing/out, b: {source: /opt/ml/processing/out}}",
     "outputs.b.source", "outputs 'a' and 'b' both use /opt/ml/processing/out"),
    ("outputs: {a: /tmp/out}", "outputs.a", "is not a folder under /opt/ml/processing/"),
    ("inputs: {raw: {source: ./data/raw.csv, destination: /opt/ml/processing/d}}\n  outputs: {o: /opt/ml/processing/d}",
     "outputs.o", "also an input's destination"),
    ("outputs: {a: {source: /opt/ml/processing/o, s3_upload_mode: Sometimes}}",
     "outputs", "EndOfJob"),
    ("command: []", "command", "at least 1"),
    ("source_dir: nowhere", "source_dir", "does not exist"),
])
def test_bad_paths_are_positioned_errors(tmp_path: Path, yaml: str, key: str, message: str) -> None:
    file = pipeline(tmp_path, "- name: prep\n  type: processing\n  entry_point: prep.py\n  " + yaml + "\n")
    found = errors(file)
    assert any(f"models.m.steps[0].{key}" in line and message in line for line in found), found
    assert all(line.startswith(str(file)) for line in found)


def test_destination_on_a_training_input_is_an_error(tmp_path: Path) -> None:
    file = pipeline(tmp_path, """\
        - name: train
          type: training
          entry_point: train.py
          inputs: {train: {source: ./data/raw.csv, destination: /opt/ml/processing/x}}
    """)
    found = errors(file)
    assert any("models.m.steps[0].inputs.train.destination" in line and "processing and evaluation inputs only" in line
               for line in found), found


def test_validate_cli_prints_positions_not_tracebacks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    file = pipeline(tmp_path, """\
        - {name: prep, type: processing, entry_point: prep.py, outputs: {a: /opt/ml/processing/../../etc}}
    """)
    assert main(["validate", str(file)]) == 1
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert f"{file}:" in out + err and "outputs.a" in out + err


def test_dependencies_are_packed_as_the_framework_processor_packs_them(tmp_path: Path) -> None:
    (tmp_path / "libs" / "featurelib").mkdir(parents=True)
    (tmp_path / "libs" / "featurelib" / "__init__.py").write_text("")
    file = pipeline(tmp_path, """\
        - {name: prep, type: processing, entry_point: prep.py, dependencies: [../libs/featurelib]}
    """)
    task = compile_pipeline(load_pipeline(file)).dags[0].tasks[0]
    assert task.request["AppSpecification"]["ContainerEntrypoint"][:2] == [
        "/bin/bash", "/opt/ml/processing/input/entrypoint/runproc.sh"]
    (tarball,) = [u for u in task.uploads if u["tar"]]
    assert tarball["uri"].endswith("/code/sourcedir.tar.gz")
    assert tarball.get("dependencies") == [str((tmp_path / "libs" / "featurelib").resolve())]


def test_a_missing_processing_dependency_is_positioned(tmp_path: Path) -> None:
    file = pipeline(tmp_path, """\
        - {name: prep, type: processing, entry_point: prep.py, dependencies: [../libs/nothing]}
    """)
    found = errors(file)
    assert any("models.m.steps[0].dependencies[0]" in line and "does not exist" in line for line in found), found


def test_source_dir_on_a_step_that_runs_no_code_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "inference.py").write_text("")
    file = pipeline(tmp_path, """\
        - {name: train, type: training, entry_point: train.py}
        - {name: model, type: create_model, model: train}
        - {name: predict, type: transform, model: model, input: ./data/raw.csv, source_dir: code}
    """)
    found = errors(file)
    assert any("models.m.steps[2].source_dir" in line and "has no effect" in line for line in found), found


def test_destination_on_a_transform_input_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "code").mkdir(exist_ok=True)
    (tmp_path / "code" / "inference.py").write_text("")
    file = pipeline(tmp_path, """\
        - {name: train, type: training, entry_point: train.py}
        - {name: model, type: create_model, model: train}
        - {name: predict, type: transform, model: model,
           input: {source: ./data/raw.csv, destination: /opt/ml/processing/x}}
    """)
    found = errors(file)
    assert any("models.m.steps[2].input.destination" in line and "processing and evaluation inputs only" in line
               for line in found), found
