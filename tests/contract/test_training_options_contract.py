"""The `sagemaker` executor with the training step's SDK options, against a moto server: sourcedir.tar.gz is
packed with the dependency folders at its top level, and the request with checkpoints, spot, KMS keys, warm
pool and distribution is accepted and described back as sent."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import boto3

from smflow.compile.graph import compile_pipeline
from smflow.compile.render import RunTemplateContext, render_value
from smflow.executors.sagemaker import SageMakerExecutor
from smflow.spec import load_pipeline

PIPELINE = """\
pipeline: opts
defaults: {bucket: contract-bucket, region: us-east-1}
models:
  m:
    source_dir: code
    steps:
      - name: train
        type: training
        entry_point: train.py
        dependencies: [../my_custom_library]
        output_path: s3://contract-bucket/models
        output_kms_key: alias/artifacts
        volume_kms_key: alias/volume
        checkpoints: {}
        use_spot_instances: true
        max_wait: 7200
        max_runtime_seconds: 3600
        keep_alive_period: 600
        instance_count: 2
        distribution: {mpi: {enabled: true, processes_per_host: 2}}
"""


def test_dependencies_and_estimator_options_through_the_sagemaker_executor(aws_env: str, tmp_path: Path) -> None:
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "train.py").write_text("import my_custom_library\n")
    (tmp_path / "my_custom_library").mkdir()
    (tmp_path / "my_custom_library" / "__init__.py").write_text("ANSWER = 42\n")
    (tmp_path / "pipeline.yaml").write_text(PIPELINE)
    (task,) = compile_pipeline(load_pipeline(tmp_path / "pipeline.yaml")).dags[0].tasks
    ctx = RunTemplateContext("opts__train", "manual__2026-12-01T00:00:00+00:00", task.task_id, 1,
                             lambda t, n: f"s3://contract-bucket/{t}/{n}")
    final = render_value({"request": task.request, "uploads": task.uploads},
                         {"smflow": ctx, "run_id": "r", "dag": {"dag_id": "opts__train"}})

    s3 = boto3.client("s3", endpoint_url=aws_env, region_name="us-east-1")
    s3.create_bucket(Bucket="contract-bucket")
    executor = SageMakerExecutor(aws_conn_id="smflow_moto", region_name="us-east-1")
    (upload,) = final["uploads"]
    executor.upload(Path(upload["source"]), upload["uri"], tar=True,
                    dependencies=[Path(d) for d in upload["dependencies"]])
    with tarfile.open(fileobj=io.BytesIO(executor.read_bytes(upload["uri"]))) as tar:
        assert sorted(m.name for m in tar.getmembers() if m.isfile()) == ["my_custom_library/__init__.py",
                                                                          "train.py"]

    request = final["request"]
    executor.call("CreateTrainingJob", request)
    described = executor.call("DescribeTrainingJob", {"TrainingJobName": request["TrainingJobName"]})
    assert described["HyperParameters"]["sagemaker_mpi_enabled"] == "true"
    assert described["HyperParameters"]["sagemaker_mpi_num_of_processes_per_host"] == "2"
    assert described["OutputDataConfig"]["S3OutputPath"] == "s3://contract-bucket/models"
    assert described["OutputDataConfig"]["KmsKeyId"] == "alias/artifacts"
    assert described["ResourceConfig"]["VolumeKmsKeyId"] == "alias/volume"
    assert described["StoppingCondition"]["MaxWaitTimeInSeconds"] == 7200
    assert described["CheckpointConfig"] == request["CheckpointConfig"]
    assert described["EnableManagedSpotTraining"] is True
