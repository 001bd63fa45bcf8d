"""CreateProcessingJob on this machine, following the processing container contract
(https://docs.aws.amazon.com/sagemaker/latest/dg/build-your-own-processing-container.html).

Inputs are staged from the object store to their `LocalPath` (under `/opt/ml/processing/`) in the job's
private `/opt/ml`, `/opt/ml/config/processingjobconfig.json` and `resourceconfig.json` are written, the
request's ContainerEntrypoint + ContainerArguments run with its Environment, and when the container exits
0 every output's `LocalPath` is uploaded to its `S3Uri` (symlinks are not followed, as on SageMaker).

The image is not pulled: the command runs in the Python environment built for the image's framework
version (local_sagemaker/images), where `python3` is that environment's interpreter. So only jobs that give
ContainerEntrypoint can run locally (an image's own ENTRYPOINT is unknown here). Supported: S3Prefix and
ManifestFile inputs in File (or FastFile) mode, EndOfJob and Continuous uploads (continuous_upload.py), one
instance (InstanceCount > 1 runs once).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from smflow.local_sagemaker.containers.continuous_upload import ContinuousUploader
from smflow.local_sagemaker.jobs.records import JobFailure
from smflow.local_sagemaker.jobs.runner import JobRun, failure_tail, resource_config, write_config

PROCESSING_ROOT = "/opt/ml/processing/"
CONFIG_DIR = "/opt/ml/config"


def validate_processing_request(request: Mapping[str, Any]) -> list[str]:
    """Rules SageMaker enforces at CreateProcessingJob beyond the botocore shape; one message per problem."""
    problems = []
    names: set[str] = set()
    for i, item in enumerate(request.get("ProcessingInputs") or []):
        where = f"ProcessingInputs[{i}] ({item.get('InputName')!r})"
        if item.get("InputName") in names:
            problems.append(f"{where}: InputName is used twice; input names must be unique")
        names.add(item.get("InputName", ""))
        s3 = item.get("S3Input")
        if s3 is not None:
            local = s3.get("LocalPath")
            if not local or not str(local).startswith(PROCESSING_ROOT):
                problems.append(f"{where}: S3Input.LocalPath {local!r} must start with {PROCESSING_ROOT}")
    names = set()
    for i, item in enumerate((request.get("ProcessingOutputConfig") or {}).get("Outputs") or []):
        where = f"ProcessingOutputConfig.Outputs[{i}] ({item.get('OutputName')!r})"
        if item.get("OutputName") in names:
            problems.append(f"{where}: OutputName is used twice; output names must be unique")
        names.add(item.get("OutputName", ""))
        s3 = item.get("S3Output")
        if s3 is not None and not str(s3.get("LocalPath", "")).startswith(PROCESSING_ROOT):
            problems.append(f"{where}: S3Output.LocalPath {s3.get('LocalPath')!r} must start with {PROCESSING_ROOT}")
    return problems


def run_processing_job(run: JobRun) -> dict[str, Any]:
    request = run.request
    app = request["AppSpecification"]
    entrypoint = list(app.get("ContainerEntrypoint") or [])
    run.say(f"image {app.get('ImageUri')} is not pulled: the command runs with {run.interpreter}")
    if not entrypoint:
        raise JobFailure(
            f"ClientError: AppSpecification has no ContainerEntrypoint; the local executor cannot run the image's "
            f"own ENTRYPOINT ({app.get('ImageUri')}). Give AppSpecification.ContainerEntrypoint, e.g. "
            '["python3", "/opt/ml/processing/input/code/preprocess.py"]')
    cluster = request["ProcessingResources"]["ClusterConfig"]
    if int(cluster.get("InstanceCount", 1)) > 1:
        run.say(f"InstanceCount {cluster['InstanceCount']}: the local executor runs one instance (algo-1)")
    _stage_inputs(run)
    outputs = _prepare_outputs(run)
    write_config(run.sandbox.host_path(f"{CONFIG_DIR}/processingjobconfig.json"), _job_config(run))
    write_config(run.sandbox.host_path(f"{CONFIG_DIR}/resourceconfig.json"),
                 resource_config(cluster.get("InstanceType", "local")))
    command = entrypoint + list(app.get("ContainerArguments") or [])
    env = run.base_environment()
    env.update({key: run.sandbox.rewrite(value) for key, value in (request.get("Environment") or {}).items()})
    env.update(_package_target(run, env))
    run.sandbox.host_path(PROCESSING_ROOT).mkdir(parents=True, exist_ok=True)  # the working directory
    continuous = [(run.sandbox.host_path(local), uri) for _name, local, uri, mode in outputs if mode == "Continuous"]
    with ContinuousUploader(run.store, continuous, run.say):
        result = run.run_container(command, env, PROCESSING_ROOT.rstrip("/"))
    message_file = run.sandbox.host_path("/opt/ml/output/message")
    # A container's /opt/ml/output/message becomes ExitMessage (first 1 KB), on success and on failure.
    fields = {"ExitMessage": message_file.read_text(errors="replace")[:1024]} if message_file.is_file() else {}
    if result.stopped:
        raise run.stopped_error(result)
    if result.exit_code != 0:
        raise JobFailure(failure_tail(result, command), fields)
    for name, local_path, uri, _mode in outputs:
        written = run.store.upload_dir(run.sandbox.host_path(local_path), uri)
        run.say(f"output {name}: {len(written)} object(s) {local_path} → {uri}")
    return fields


def _stage_inputs(run: JobRun) -> None:
    for i, item in enumerate(run.request.get("ProcessingInputs") or []):
        where = f"ProcessingInputs[{i}] ({item.get('InputName')!r})"
        if item.get("DatasetDefinition") is not None:
            raise JobFailure(f"ClientError: {where}: DatasetDefinition (Athena/Redshift) inputs are not supported "
                             "by the local executor; export the data to S3 and use S3Input")
        s3 = item.get("S3Input")
        if s3 is None:
            continue
        mode = s3.get("S3InputMode", "File")
        if mode not in {"File", "FastFile"}:
            raise JobFailure(f"ClientError: {where}: S3InputMode {mode!r} is not supported by the local executor; "
                             "use File")
        if s3.get("S3CompressionType", "None") != "None":
            raise JobFailure(f"ClientError: {where}: S3CompressionType {s3['S3CompressionType']!r} applies to Pipe "
                             "mode only; use None")
        dest = run.sandbox.host_path(s3["LocalPath"])
        count = run.stage(s3["S3Uri"], s3.get("S3DataType", "S3Prefix"), dest, fast=mode == "FastFile",
                          where=where)
        run.say(f"input {item.get('InputName')}: {count} object(s) {s3['S3Uri']} → {s3['LocalPath']} ({mode})")


def _package_target(run: JobRun, env: dict[str, str]) -> dict[str, str]:
    """A per-job folder for what the job `pip install`s (the FrameworkProcessor launcher installs
    requirements.txt): on SageMaker the container is thrown away after the job, but here the Python
    environment is shared by every job, so installs go to PIP_TARGET, which is put on the job's PYTHONPATH."""
    target = run.job.path / "packages"
    target.mkdir(exist_ok=True)
    path = os.pathsep.join(p for p in (str(target), env.get("PYTHONPATH", "")) if p)
    return {"PIP_TARGET": str(target), "PYTHONPATH": path, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


def _prepare_outputs(run: JobRun) -> list[tuple[str, str, str, str]]:
    outputs = []
    for i, item in enumerate((run.request.get("ProcessingOutputConfig") or {}).get("Outputs") or []):
        where = f"ProcessingOutputConfig.Outputs[{i}] ({item.get('OutputName')!r})"
        s3 = item.get("S3Output")
        if s3 is None:
            raise JobFailure(f"ClientError: {where}: only S3Output outputs are supported by the local executor "
                             "(FeatureStoreOutput is not)")
        mode = s3.get("S3UploadMode", "EndOfJob")
        if mode not in {"EndOfJob", "Continuous"}:
            raise JobFailure(f"ClientError: {where}: S3UploadMode {mode!r} is not one of EndOfJob, Continuous")
        run.sandbox.host_path(s3["LocalPath"]).mkdir(parents=True, exist_ok=True)
        outputs.append((item["OutputName"], s3["LocalPath"], s3["S3Uri"], mode))
    return outputs


def _job_config(run: JobRun) -> dict[str, Any]:
    """The full request, with the defaults SageMaker fills in, as the container finds it on AWS."""
    config = {key: value for key, value in run.request.items() if key != "Tags"}
    config["ProcessingJobArn"] = run.job.description()["ProcessingJobArn"]
    inputs = []
    for item in run.request.get("ProcessingInputs") or []:
        item = dict(item)
        if "S3Input" in item:
            item["S3Input"] = {"S3DataType": "S3Prefix", "S3InputMode": "File",
                               "S3DataDistributionType": "FullyReplicated", "S3CompressionType": "None",
                               "S3DownloadMode": "StartOfJob", **item["S3Input"]}
        inputs.append(item)
    config["ProcessingInputs"] = inputs
    if "ProcessingOutputConfig" in config:
        config["ProcessingOutputConfig"] = {**config["ProcessingOutputConfig"], "Outputs": [
            {**o, "S3Output": {"S3UploadMode": "EndOfJob", **o["S3Output"]}} if "S3Output" in o else o
            for o in config["ProcessingOutputConfig"].get("Outputs") or []]}
    return config
