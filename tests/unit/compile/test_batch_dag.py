"""The `<pipeline>__batch` DAG as compiled data: its tasks per unit, the transform request (the training side's
settings unless the batch overrides them) and botocore's verdict on it once a batch fills the tokens."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from smflow.compile.batch import BATCH_TOKEN, VERSION_TOKEN
from smflow.compile.graph import CompiledPipeline, compile_pipeline
from smflow.compile.render import RunTemplateContext, render_value, replace_strings
from smflow.service_model import constraint_problems, validate_request
from smflow.spec import load_pipeline

SOURCE = """\
pipeline: scoring
defaults: {bucket: ml-bucket, instance_type: ml.m5.xlarge}
schedule: {batch: "0 6 * * *"}
airflow: {max_active_runs: 3}
models:
  m:
    source_dir: code
    steps:
      - {name: train, type: training, entry_point: train.py, inputs: {train: s3://ml-bucket/data/train/}}
      - {name: model, type: create_model, model: train}
      - {name: predict, type: transform, model: model, input: s3://ml-bucket/data/test/, content_type: text/csv,
         split_type: Line, accept: text/csv, assemble_with: Line, instance_type: ml.c5.xlarge}
      - {name: register, type: register, model: train, group: scoring-models}
    batch:
      input: s3://ml-bucket/incoming/
      marker: _SUCCESS
      transform: {accept: application/json, max_payload_mb: 2}
"""


def compiled(tmp_path: Path, text: str = SOURCE) -> CompiledPipeline:
    (tmp_path / "code").mkdir(exist_ok=True)
    (tmp_path / "code" / "train.py").write_text("print('train')\n")
    (tmp_path / "code" / "inference.py").write_text("def model_fn(model_dir):\n    return None\n")
    file = tmp_path / "pipeline.yaml"
    file.write_text(text)
    return compile_pipeline(load_pipeline(file))


def test_one_resolve_find_predict_chain_per_unit_one_run_at_a_time(tmp_path: Path) -> None:
    pipeline = compiled(tmp_path)
    assert [d.dag_id for d in pipeline.dags] == ["scoring__train", "scoring__batch"]
    dag = pipeline.dag("batch")
    assert [(t.task_id, t.kind) for t in dag.tasks] == [
        ("m.resolve_model", "resolve_model"), ("m.find_batches", "find_batches"), ("m.predict", "batch_predict")]
    assert dag.edges == [("m.resolve_model", "m.find_batches"), ("m.find_batches", "m.predict")]
    assert dag.schedule == "0 6 * * *" and dag.settings["max_active_runs"] == 1 and "batch" in dag.tags
    assert dag.task("m.resolve_model").params == {"group": "scoring-models", "version": None,
                                                  "model_prefix": "scoring-m"}
    assert dag.task("m.find_batches").params == {
        "input": "s3://ml-bucket/incoming/", "pattern": "*.csv", "marker": "_SUCCESS",
        "output": "s3://ml-bucket/scoring/predictions/m/", "resolve_task": "m.resolve_model"}
    assert dag.task("m.predict").params["outlets"] == ["smflow://scoring/predictions"]


def test_no_batch_section_no_batch_dag(tmp_path: Path) -> None:
    text = SOURCE.split("    batch:")[0].replace('schedule: {batch: "0 6 * * *"}\n', "")
    assert [d.dag_id for d in compiled(tmp_path, text).dags] == ["scoring__train"]


def render(request: dict[str, Any], batch_id: str) -> dict[str, Any]:
    context = RunTemplateContext("scoring__batch", "manual__2026-12-02T00:00:00+00:00", "m.predict", 1,
                                 lambda t, n: "scoring-m-v3-0a1b2c3d")
    rendered: dict[str, Any] = render_value(request, {"smflow": context, "run_id": "r",
                                                      "dag": {"dag_id": "scoring__batch"}})
    return dict(replace_strings(rendered, {BATCH_TOKEN: batch_id, VERSION_TOKEN: "v3"}))


def test_the_transform_takes_the_training_sides_settings_unless_the_batch_sets_them(tmp_path: Path) -> None:
    request = render(compiled(tmp_path).dag("batch").task("m.predict").request, "2026-12-01")
    folder = "s3://ml-bucket/scoring/predictions/m/2026-12-01/v3/"
    assert request["TransformInput"] == {
        "DataSource": {"S3DataSource": {"S3DataType": "ManifestFile", "S3Uri": folder + "_input.manifest"}},
        "ContentType": "text/csv", "SplitType": "Line"}
    assert request["TransformOutput"] == {"S3OutputPath": folder, "Accept": "application/json",
                                          "AssembleWith": "Line"}
    assert request["TransformResources"] == {"InstanceType": "ml.c5.xlarge", "InstanceCount": 1}
    assert request["MaxPayloadInMB"] == 2 and request["ModelName"] == "scoring-m-v3-0a1b2c3d"
    validate_request("CreateTransformJob", request)
    assert constraint_problems("CreateTransformJob", request) == []


def test_without_a_training_side_transform_only_the_batch_settings_are_sent(tmp_path: Path) -> None:
    text = "\n".join(line for line in SOURCE.splitlines() if "predict" not in line and "split_type" not in line)
    request = render(compiled(tmp_path, text + "\n").dag("batch").task("m.predict").request, "day1.csv")
    assert request["TransformInput"].keys() == {"DataSource"}
    assert request["TransformOutput"] == {"S3OutputPath": "s3://ml-bucket/scoring/predictions/m/day1.csv/v3/",
                                          "Accept": "application/json"}
    assert request["TransformResources"]["InstanceType"] == "ml.m5.xlarge"
    validate_request("CreateTransformJob", request)


def test_on_data_and_asset_schedules_compile_to_plain_data(tmp_path: Path) -> None:
    on_data = compiled(tmp_path, SOURCE.replace('"0 6 * * *"', "{on_data: true, poke_seconds: 5}"))
    assert on_data.dag("batch").schedule == {"on_data": True, "poke_seconds": 5}
    assets = compiled(tmp_path, SOURCE.replace('"0 6 * * *"', "{assets: ['smflow://scoring/batch-input']}"))
    assert assets.dag("batch").schedule == {"assets": ["smflow://scoring/batch-input"]}


PREPROCESS = SOURCE.replace("      transform: {accept",
                            "      preprocess: {entry_point: featurize.py, arguments: [--drop, target]}\n"
                            "      transform: {accept")


def test_a_preprocess_is_a_processing_job_on_the_batch_feeding_the_transform(tmp_path: Path) -> None:
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "featurize.py").write_text("print('features')\n")
    dag = compiled(tmp_path, PREPROCESS).dag("batch")
    assert [t.task_id for t in dag.tasks] == ["m.resolve_model", "m.find_batches", "m.preprocess", "m.predict"]
    assert ("m.find_batches", "m.preprocess") in dag.edges and ("m.preprocess", "m.predict") in dag.edges
    task = dag.task("m.preprocess")
    assert task.kind == "batch_preprocess" and dag.task("m.predict").params["preprocess_task"] == "m.preprocess"
    request = render(task.request, "2026-12-01")
    folder = "s3://ml-bucket/scoring/predictions/m/2026-12-01/v3/"
    (batch_input,) = [i for i in request["ProcessingInputs"] if i["InputName"] == "batch"]
    assert batch_input["S3Input"]["S3DataType"] == "ManifestFile"
    assert batch_input["S3Input"]["S3Uri"] == folder + "_input.manifest"
    assert batch_input["S3Input"]["LocalPath"] == "/opt/ml/processing/input/batch"
    (output,) = request["ProcessingOutputConfig"]["Outputs"]
    assert output["S3Output"] == {"S3Uri": folder + "preprocessed/", "LocalPath": "/opt/ml/processing/output",
                                  "S3UploadMode": "EndOfJob"}
    assert request["AppSpecification"]["ContainerArguments"] == ["--drop", "target"]
    assert request["AppSpecification"]["ContainerEntrypoint"][-1] == "/opt/ml/processing/input/code/featurize.py"
    validate_request("CreateProcessingJob", request)
    assert constraint_problems("CreateProcessingJob", request) == []
