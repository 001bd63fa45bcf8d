"""A transform step compiles to the CreateTransformJob request the SDK's Transformer sends: only what is written.

`Transformer(...).transform(data)` with nothing optional sends S3DataType and the required fields; each option
given appears under its API field; every request passes botocore's validation and SageMaker's limits.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from smflow.cli import main
from smflow.compile.graph import compile_pipeline
from smflow.compile.render import RunTemplateContext, render_value
from smflow.service_model import constraint_problems, validate_request
from smflow.spec import load_pipeline

SOURCE = """\
pipeline: batch
defaults: {bucket: ml-bucket}
models:
  m:
    source_dir: code
    steps:
      - {name: train, type: training, entry_point: train.py, inputs: {train: s3://ml-bucket/data/train/}}
      - {name: model, type: create_model, model: train}
      - name: predict
        type: transform
        model: model
        input: s3://ml-bucket/data/test/
"""
OPTIONAL = ("BatchStrategy", "MaxPayloadInMB", "MaxConcurrentTransforms")


def transform_request(tmp_path: Path, options: str = "", source: str = SOURCE) -> dict[str, Any]:
    (tmp_path / "code").mkdir(exist_ok=True)
    (tmp_path / "code" / "train.py").write_text("print('train')\n")
    (tmp_path / "code" / "inference.py").write_text("def model_fn(model_dir):\n    return None\n")
    file = tmp_path / "pipeline.yaml"
    file.write_text(source + options)
    dag = compile_pipeline(load_pipeline(file)).dags[0]
    task = dag.task("m.predict")
    outputs = {"model_name": "batch-m-model-1a2b3c"}
    context = RunTemplateContext(dag.dag_id, "manual__2026-12-02T00:00:00+00:00", task.task_id, 1,
                                 lambda t, n: outputs.get(n, f"s3://b/{t}/{n}"))
    request: dict[str, Any] = render_value(task.request, {"smflow": context, "run_id": "r",
                                                          "dag": {"dag_id": dag.dag_id}})
    validate_request("CreateTransformJob", request)
    assert constraint_problems("CreateTransformJob", request) == []
    return request


def test_a_bare_transform_step_sends_only_the_required_fields_and_s3_data_type(tmp_path: Path) -> None:
    request = transform_request(tmp_path)

    assert request["TransformInput"] == {
        "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://ml-bucket/data/test/"}}}
    assert set(request["TransformOutput"]) == {"S3OutputPath"}
    assert not any(key in request for key in (*OPTIONAL, "DataProcessing"))


def test_every_option_written_appears_under_its_api_field(tmp_path: Path) -> None:
    request = transform_request(tmp_path, """\
        content_type: text/csv
        split_type: Line
        accept: application/json
        assemble_with: Line
        batch_strategy: SingleRecord
        max_payload_mb: 0
        max_concurrent_transforms: 4
        input_filter: "$[1:]"
        join_source: Input
""")

    assert request["TransformInput"]["ContentType"] == "text/csv"
    assert request["TransformInput"]["SplitType"] == "Line"
    assert "CompressionType" not in request["TransformInput"]  # the SDK sends it only when asked
    assert {k: request["TransformOutput"][k] for k in ("Accept", "AssembleWith")} == {
        "Accept": "application/json", "AssembleWith": "Line"}
    assert {k: request[k] for k in OPTIONAL} == {"BatchStrategy": "SingleRecord", "MaxPayloadInMB": 0,
                                                 "MaxConcurrentTransforms": 4}  # 0 MB: no limit, as written
    assert request["DataProcessing"] == {"InputFilter": "$[1:]", "JoinSource": "Input"}


def test_content_type_alone_does_not_imply_an_accept(tmp_path: Path) -> None:
    request = transform_request(tmp_path, "        content_type: text/csv\n")
    assert request["TransformInput"]["ContentType"] == "text/csv"
    assert "Accept" not in request["TransformOutput"]  # the container's default accept answers


def test_compile_json_shows_the_absent_fields_absent(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    transform_request(tmp_path)
    assert main(["compile", "--json", str(tmp_path / "pipeline.yaml")]) == 0
    tasks = json.loads(capsys.readouterr().out)["pipelines"][0]["dags"][0]["tasks"]
    (predict,) = [t for t in tasks if t["kind"] == "transform"]
    assert "SplitType" not in predict["request"]["TransformInput"]
    assert "AssembleWith" not in predict["request"]["TransformOutput"]


def test_payload_times_concurrency_over_sagemakers_limit_is_a_positioned_error(tmp_path: Path) -> None:
    from smflow.spec import SpecError

    with pytest.raises(SpecError) as caught:
        transform_request(tmp_path, "        max_payload_mb: 50\n        max_concurrent_transforms: 4\n")
    (issue,) = caught.value.issues
    assert (issue.key_path, issue.line) == ("models.m.steps[2].max_concurrent_transforms", 14)
    assert issue.message.startswith("max_concurrent_transforms × max_payload_mb = 4 × 50 exceeds SageMaker's limit")
    assert transform_request(tmp_path, "        max_payload_mb: 25\n        max_concurrent_transforms: 4\n")[
        "MaxConcurrentTransforms"] == 4


def test_a_content_type_written_on_the_input_is_sent(tmp_path: Path) -> None:
    # As on training channels, `input: {source, content_type}` names the input's MIME type; the step's own
    # `content_type` wins when both are written.
    spec = SOURCE.replace("input: s3://ml-bucket/data/test/",
                          "input: {source: 's3://ml-bucket/data/test/', content_type: text/csv}")
    assert transform_request(tmp_path, source=spec)["TransformInput"]["ContentType"] == "text/csv"
    assert transform_request(tmp_path, "        content_type: application/json\n", spec)["TransformInput"][
        "ContentType"] == "application/json"
