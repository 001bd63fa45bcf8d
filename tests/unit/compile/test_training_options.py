"""The SDK estimator options compile to the CreateTrainingJob fields the SageMaker Python SDK sends for them,
and the compiled requests pass botocore's validation and SageMaker's documented limits."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

from smflow.compile.distribution import distribution_hyperparameters
from smflow.compile.fingerprint import request_fingerprint
from smflow.compile.graph import CompiledDag, compile_pipeline
from smflow.compile.kinds import upload_sources
from smflow.compile.render import RunTemplateContext, render_value
from smflow.executors.local import LocalExecutor
from smflow.local_sagemaker.containers.training_options import DISTRIBUTION_SWITCHES
from smflow.service_model import constraint_problems, validate_request
from smflow.spec import load_pipeline
from smflow.spec.model import DistributionSpec

SOURCE = """\
pipeline: opts
defaults: {bucket: ml-bucket}
models:
  m:
    source_dir: code
    steps:
      - name: train
        type: training
        entry_point: train.py
        hyperparameters: {epochs: 3}
"""


def compiled(tmp_path: Path, extra: str, image: str = "") -> CompiledDag:
    (tmp_path / "code").mkdir(exist_ok=True)
    (tmp_path / "code" / "train.py").write_text("print('train')\n")
    (tmp_path / "libs" / "mylib").mkdir(parents=True, exist_ok=True)
    (tmp_path / "libs" / "mylib" / "__init__.py").write_text("ANSWER = 42\n")
    file = tmp_path / "pipeline.yaml"
    file.write_text(SOURCE + extra + image)
    return compile_pipeline(load_pipeline(file)).dags[0]


def rendered(dag: CompiledDag) -> dict[str, Any]:
    task = dag.tasks[0]
    context = RunTemplateContext(dag.dag_id, "manual__2026-12-01T00:00:00+00:00", task.task_id, 1,
                                 lambda t, n: f"s3://b/{t}/{n}")
    request: dict[str, Any] = render_value(task.request, {"smflow": context, "run_id": "r", "dag": {"dag_id": "d"}})
    validate_request("CreateTrainingJob", request)
    assert constraint_problems("CreateTrainingJob", request) == []
    return request


def test_defaults_leave_the_request_as_before(tmp_path: Path) -> None:
    dag = compiled(tmp_path, "")
    request = dag.tasks[0].request
    for key in ("CheckpointConfig", "EnableManagedSpotTraining"):
        assert key not in request
    assert request["OutputDataConfig"] == {"S3OutputPath": "s3://ml-bucket/opts/runs/{{ smflow.run_key }}/m-train/"
                                                           "output"}
    assert request["ResourceConfig"] == {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30}
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 86400}
    assert dag.tasks[0].uploads == [{"source": str(tmp_path / "code"), "tar": True,
                                     "uri": "s3://ml-bucket/opts/runs/{{ smflow.run_key }}/m-train/source/"
                                            "sourcedir.tar.gz"}]
    rendered(dag)


def test_every_option_compiles_to_its_api_field(tmp_path: Path) -> None:
    dag = compiled(tmp_path, """\
        dependencies: [../libs/mylib]
        output_path: s3://ml-bucket/models/
        output_kms_key: arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab
        volume_kms_key: alias/training
        checkpoints: {}
        use_spot_instances: true
        max_wait: 90000
        keep_alive_period: 1800
""")
    task = dag.tasks[0]
    request = task.request
    assert request["OutputDataConfig"] == {
        "S3OutputPath": "s3://ml-bucket/models/",
        "KmsKeyId": "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"}
    assert request["ResourceConfig"] == {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30,
                                         "VolumeKmsKeyId": "alias/training", "KeepAlivePeriodInSeconds": 1800}
    assert request["CheckpointConfig"] == {"S3Uri": "s3://ml-bucket/opts/runs/{{ smflow.run_key }}/m-train/"
                                                    "checkpoints/", "LocalPath": "/opt/ml/checkpoints"}
    assert request["EnableManagedSpotTraining"] is True
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 86400, "MaxWaitTimeInSeconds": 90000}
    # the model and output artifacts follow output_path (one slash, whatever the user wrote)
    assert task.outputs == {"model": "s3://ml-bucket/models/{{ smflow.job_name }}/output/model.tar.gz",
                            "output": "s3://ml-bucket/models/{{ smflow.job_name }}/output/output.tar.gz"}
    assert task.uploads[0]["dependencies"] == [str(tmp_path / "libs" / "mylib")]
    final = rendered(dag)
    assert final["CheckpointConfig"]["S3Uri"].startswith("s3://ml-bucket/opts/runs/manual")


def test_explicit_checkpoint_location(tmp_path: Path) -> None:
    dag = compiled(tmp_path, "        checkpoints: {s3_uri: 's3://ml-bucket/ckpt/a', local_path: /opt/ml/ckpt}\n")
    assert dag.tasks[0].request["CheckpointConfig"] == {"S3Uri": "s3://ml-bucket/ckpt/a", "LocalPath": "/opt/ml/ckpt"}
    rendered(dag)


# What the SDK's Framework._distribution_configuration / PyTorch._pytorch_distribution_configuration return for
# these `distribution` dicts (read from sagemaker/estimator.py and sagemaker/pytorch/estimator.py), JSON-encoded
# as EstimatorBase._json_encode_hyperparameters encodes them.
PYTORCH = ("        image: {framework: pytorch, version: '2.1', py_version: py310}\n"
           "        instance_type: ml.g5.xlarge\n")
TENSORFLOW = "        image: {framework: tensorflow, version: '2.13', py_version: py310}\n"
SDK_CASES = [
    pytest.param(PYTORCH, "{torch_distributed: {enabled: true}}",
                 {"sagemaker_torch_distributed_enabled": "true", "sagemaker_instance_type": '"ml.g5.xlarge"'},
                 id="torch_distributed"),
    pytest.param(PYTORCH, "{pytorchddp: {enabled: true}}",
                 {"sagemaker_pytorch_ddp_enabled": "true", "sagemaker_instance_type": '"ml.g5.xlarge"'},
                 id="pytorchddp"),
    pytest.param(PYTORCH, "{pytorchddp: {enabled: false}, torch_distributed: {enabled: true}}", {},
                 id="pytorchddp-present-wins-even-disabled"),
    pytest.param(PYTORCH, "{torch_distributed: {enabled: true}, smdistributed: {dataparallel: {enabled: true}}}",
                 {"sagemaker_distributed_dataparallel_enabled": "true", "sagemaker_instance_type": '"ml.g5.xlarge"',
                  "sagemaker_distributed_dataparallel_custom_mpi_options": '""',
                  "sagemaker_torch_distributed_enabled": "true"}, id="torch_distributed+smddp"),
    pytest.param(PYTORCH, "{smdistributed: {dataparallel: {enabled: true, custom_mpi_options: '-verbose'}}}",
                 {"sagemaker_distributed_dataparallel_enabled": "true", "sagemaker_instance_type": '"ml.g5.xlarge"',
                  "sagemaker_distributed_dataparallel_custom_mpi_options": '"-verbose"'}, id="smddp"),
    pytest.param(PYTORCH, "{mpi: {enabled: true, processes_per_host: 4, custom_mpi_options: '-x NCCL_DEBUG=INFO'}, "
                          "smdistributed: {modelparallel: {enabled: true, parameters: {partitions: 2, ddp: true}}}}",
                 {"sagemaker_mpi_enabled": "true", "sagemaker_mpi_num_of_processes_per_host": "4",
                  "sagemaker_mpi_custom_mpi_options": '"-x NCCL_DEBUG=INFO"',
                  "mp_parameters": '{"partitions": 2, "ddp": true}',
                  "sagemaker_distributed_dataparallel_enabled": "false",
                  "sagemaker_instance_type": '"ml.g5.xlarge"'}, id="mpi+smp"),
    pytest.param(TENSORFLOW, "{parameter_server: {enabled: true}}",
                 {"sagemaker_parameter_server_enabled": "true"}, id="parameter_server"),
    pytest.param(TENSORFLOW, "{mpi: {enabled: true}}",
                 {"sagemaker_mpi_enabled": "true", "sagemaker_mpi_custom_mpi_options": '""'}, id="mpi"),
    pytest.param(TENSORFLOW, "{multi_worker_mirrored_strategy: {enabled: true}}",
                 {"sagemaker_multi_worker_mirrored_strategy_enabled": "true"}, id="mwms"),
]


@pytest.mark.parametrize("image,distribution,expected", SDK_CASES)
def test_distribution_sets_the_sdk_hyperparameters(tmp_path: Path, image: str, distribution: str,
                                                    expected: dict[str, str]) -> None:
    dag = compiled(tmp_path, f"        distribution: {distribution}\n", image)
    hyperparameters = dag.tasks[0].request["HyperParameters"]
    assert {k: v for k, v in hyperparameters.items() if k not in {
        "epochs", "sagemaker_program", "sagemaker_submit_directory", "sagemaker_region",
        "sagemaker_container_log_level", "sagemaker_job_name"}} == expected
    assert hyperparameters["epochs"] == "3"
    rendered(dag)


def test_the_launcher_switches_compile_sets_are_those_the_local_container_logs() -> None:
    # Every `*_enabled` hyperparameter any strategy compiles to is one the local training job names as "not
    # emulated locally" (training_options.DISTRIBUTION_SWITCHES), and no switch there is one compile never sets.
    on = {"enabled": True}
    others = DistributionSpec.model_validate({
        "parameter_server": on, "mpi": on, "multi_worker_mirrored_strategy": on,
        "smdistributed": {"dataparallel": on}})
    emitted = {key for spec, pytorch in ((DistributionSpec.model_validate({"pytorchddp": on}), True),
                                         (DistributionSpec.model_validate({"torch_distributed": on}), True),
                                         (others, False))
               for key in distribution_hyperparameters(spec, "ml.p4d.24xlarge", pytorch=pytorch)
               if key.endswith("_enabled")}
    assert emitted == set(DISTRIBUTION_SWITCHES)


def test_dependencies_are_packed_at_the_top_level_and_fingerprinted(tmp_path: Path) -> None:
    (tmp_path / "libs" / "mylib" / "sub").mkdir(parents=True)
    (tmp_path / "libs" / "mylib" / "sub" / "deep.py").write_text("X = 1\n")
    dag = compiled(tmp_path, "        dependencies: [../libs/mylib]\n")
    task = dag.tasks[0]
    (upload,) = task.uploads
    executor = LocalExecutor(home=tmp_path / "home")
    executor.upload(Path(upload["source"]), "s3://ml-bucket/src/sourcedir.tar.gz", tar=True,
                    dependencies=[Path(d) for d in upload["dependencies"]])
    with tarfile.open(fileobj=io.BytesIO(executor.read_bytes("s3://ml-bucket/src/sourcedir.tar.gz"))) as tar:
        files = sorted(m.name for m in tar.getmembers() if m.isfile())
    assert files == ["mylib/__init__.py", "mylib/sub/deep.py", "train.py"]  # as the SDK's tar_and_upload_dir

    def fingerprint() -> str:
        return request_fingerprint(task.request, outputs=task.outputs, upload_sources=upload_sources(task.uploads))

    before = fingerprint()
    (tmp_path / "libs" / "mylib" / "__init__.py").write_text("ANSWER = 43\n")
    assert fingerprint() != before  # an edited library is a new job, never the old job's result


def test_dependencies_need_an_archive(tmp_path: Path) -> None:
    executor = LocalExecutor(home=tmp_path / "home")
    (tmp_path / "src").mkdir()
    with pytest.raises(ValueError, match="tar=True"):
        executor.upload(tmp_path / "src", "s3://ml-bucket/src/", dependencies=[tmp_path])


def test_compile_json_shows_the_new_fields(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from smflow.cli import main

    compiled(tmp_path, "        checkpoints: {}\n        use_spot_instances: true\n        max_wait: 86400\n")
    assert main(["compile", "--json", str(tmp_path / "pipeline.yaml")]) == 0
    task = json.loads(capsys.readouterr().out)["pipelines"][0]["dags"][0]["tasks"][0]
    assert task["request"]["EnableManagedSpotTraining"] is True
    assert task["request"]["CheckpointConfig"]["LocalPath"] == "/opt/ml/checkpoints"
    assert task["request"]["StoppingCondition"]["MaxWaitTimeInSeconds"] == 86400
