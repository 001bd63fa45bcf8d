"""CreateTrainingJob on this machine, following the training container contract
(https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-training-algo.html).

What SageMaker and the sagemaker-training-toolkit (TTK) do inside a framework image is reproduced here:

- channels are staged under `/opt/ml/input/data/<channel>`. File mode copies the objects. FastFile mode
  makes one symlink per object pointing into the local store, so nothing is copied up front and bytes are
  read only when the script opens a file; under bubblewrap the store is also mounted read-only inside the
  job, so, as on SageMaker, the channel is a read-only view of S3;
- `/opt/ml/input/config/{hyperparameters,inputdataconfig,resourceconfig}.json` are written;
- the environment is the one TTK builds (`SM_MODEL_DIR`, `SM_CHANNELS`, `SM_CHANNEL_<NAME>`, `SM_HPS`,
  `SM_HP_<NAME>`, `SM_TRAINING_ENV`, ...; mapping and encoding as TTK's `mapping.to_env_vars`) plus
  `TRAINING_JOB_NAME`, `TRAINING_JOB_ARN` and the request's Environment. It is set for ContainerEntrypoint
  jobs too, so a script-mode script also runs that way;
- script mode (`sagemaker_program` + `sagemaker_submit_directory` hyperparameters, JSON-encoded as the SDK
  sends them): the source tarball is unpacked to `/opt/ml/code`, its requirements.txt is installed only if
  this environment does not already satisfy it (into `<jobdir>/deps`, put on PYTHONPATH), and
  `python <program> --key value ...` runs in `/opt/ml/code` with the user hyperparameters (TTK `to_cmd_args`);
- algorithm mode (an XGBoost image, no `sagemaker_program`, no ContainerEntrypoint): smflow's
  `algorithms.xgboost_train` runs in the image's place, training as the SageMaker XGBoost container does;
  other built-in algorithm images fail with a ClientError naming the sagemaker executor;
- after exit 0, `/opt/ml/model` is packed (from inside the directory) to
  `<S3OutputPath>/<job>/output/model.tar.gz` and `/opt/ml/output/data` to `output.tar.gz`; a non-zero exit
  fails the job with the first 1024 characters of `/opt/ml/output/failure`, or else `AlgorithmError` with
  the exit code and the end of stderr. A stopped job (StopTrainingJob or MaxRuntimeInSeconds) still has
  its model uploaded if it saved one, as SageMaker does after its stop grace period;
- MetricDefinitions regexes are applied to every stdout/stderr line; the last value of each metric is
  reported in FinalMetricDataList;
- CheckpointConfig (https://docs.aws.amazon.com/sagemaker/latest/dg/model-checkpoints.html): what is under
  `S3Uri` is copied to `LocalPath` before the script starts and `LocalPath` is saved to `S3Uri` when it
  ends, whatever the outcome, so a retry resumes (SageMaker also saves while the job runs);
- managed spot, KMS keys, warm pools and distributed launchers have no effect here: training_options.py
  checks SageMaker's rules for them and names each once in the job log as "not emulated locally".
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smflow.local_sagemaker.algorithms.images import algorithm_of, is_xgboost_image
from smflow.local_sagemaker.algorithms.xgboost_metrics import metric_definitions as xgboost_metric_definitions
from smflow.local_sagemaker.containers.staging import TarballError, extract_tarball
from smflow.local_sagemaker.containers.training_options import not_emulated, spot_problems
from smflow.local_sagemaker.jobs.records import JobFailure, now_iso
from smflow.local_sagemaker.jobs.runner import JobRun, failure_tail, resource_config, write_config
from smflow.local_sagemaker.jobs.sandbox import ContainerResult, SandboxError, compile_metrics
from smflow.local_sagemaker.requirements import RequirementsInstallError, satisfy_requirements

# TTK params.SAGEMAKER_HYPERPARAMETERS: split off from the user's hyperparameters.
SAGEMAKER_HYPERPARAMETERS = (
    "sagemaker_program", "sagemaker_submit_directory", "sagemaker_enable_cloudwatch_metrics", "sagemaker_region",
    "sagemaker_container_log_level", "sagemaker_job_name", "default_user_module_name",
    "_tuning_objective_metric", "sagemaker_s3_output",
)
FAILURE_FILE = "/opt/ml/output/failure"
XGBOOST_TRAIN_MODULE = "smflow.local_sagemaker.algorithms.xgboost_train"
CODE_DIR = "/opt/ml/code"
DEFAULT_LOG_LEVEL = 20


@dataclass(frozen=True)
class ChannelPlan:
    name: str
    uri: str
    data_type: str
    mode: str
    config: dict[str, str]  # this channel's entry in inputdataconfig.json


# ---- request checks --------------------------------------------------------------------------------


def validate_training_request(request: Mapping[str, Any]) -> list[str]:
    """Rules SageMaker enforces at CreateTrainingJob beyond the botocore shape; one message per problem."""
    problems = []
    names: set[str] = set()
    for i, channel in enumerate(request.get("InputDataConfig") or []):
        if channel.get("ChannelName") in names:
            problems.append(f"InputDataConfig[{i}]: ChannelName {channel.get('ChannelName')!r} is used twice; "
                            "channel names must be unique")
        names.add(channel.get("ChannelName", ""))
    algorithm = request.get("AlgorithmSpecification") or {}
    try:
        compile_metrics(algorithm.get("MetricDefinitions") or [])
    except SandboxError as e:
        problems.append(str(e))
    return problems + spot_problems(request)


# ---- the TTK environment ----------------------------------------------------------------------------


def decode_hyperparameters(raw: Mapping[str, str]) -> dict[str, Any]:
    """TTK `read_hyperparameters`: JSON-decode each value, keep the raw string when that fails."""
    decoded: dict[str, Any] = {}
    for key, value in raw.items():
        try:
            decoded[key] = json.loads(value)
        except (ValueError, TypeError):
            decoded[key] = value
    return decoded


def split_hyperparameters(decoded: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(framework parameters: the SageMaker keys and any `sagemaker_*`, user hyperparameters)."""
    framework = {k: v for k, v in decoded.items() if k in SAGEMAKER_HYPERPARAMETERS or k.startswith("sagemaker_")}
    user = {k: v for k, v in decoded.items() if k not in framework}
    return framework, user


def _decode(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("latin1")
    return str(value)


def to_cmd_args(mapping: Mapping[str, Any]) -> list[str]:
    """TTK `mapping.to_cmd_args`: sorted keys, `--key value` (`-k` for one letter), dicts as `a=1,b=2`."""
    args: list[str] = []
    for key in sorted(mapping):
        name = _decode(key)
        args.append(("--" if len(name) > 1 else "-") + name if name else "")
        value = mapping[key]
        if hasattr(value, "items"):
            args.append(",".join(f"{k}={v}" for k, v in sorted(value.items())))
        else:
            args.append(_decode(value))
    return args


def to_env_vars(mapping: Mapping[str, Any]) -> dict[str, str]:
    """TTK `mapping.to_env_vars`: `SM_<KEY>`, strings as is, everything else as compact sorted JSON."""

    def value(v: Any) -> str:
        if isinstance(v, bytes):
            return v.decode("latin1")
        if v is None:
            return ""
        if isinstance(v, str):
            return v
        return json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=True)

    return {f"SM_{str(k).upper()}": value(v) for k, v in mapping.items() if k}


def training_environment(
    request: Mapping[str, Any], job_name: str, framework: Mapping[str, Any], user: Mapping[str, Any],
    channels: Sequence[ChannelPlan], visible_path: Callable[[str], str] = str,
) -> dict[str, str]:
    """The SM_* variables TTK `Environment.to_env_vars` exports, with paths as the job sees them.

    A pure function of the CreateTrainingJob request, the job name, the decoded hyperparameters (framework
    `sagemaker_*` ones and the user's), the channels and how /opt/ml paths appear inside the sandbox.
    """
    p = visible_path
    instance_type = (request.get("ResourceConfig") or {}).get("InstanceType", "local")
    resources = resource_config(instance_type)
    program = framework.get("sagemaker_program")
    module_name = str(program)
    if module_name.endswith(".py"):
        module_name = module_name[:-3]
    channel_dirs = {c.name: p(f"/opt/ml/input/data/{c.name}") for c in channels}
    cmd_args = to_cmd_args(user)
    additional = {k: v for k, v in framework.items() if k not in SAGEMAKER_HYPERPARAMETERS}
    props: dict[str, Any] = {
        "additional_framework_parameters": additional,
        "channel_input_dirs": channel_dirs,
        "current_host": "algo-1",
        "current_instance_group": "homogeneousCluster",
        "current_instance_group_hosts": ["algo-1"],
        "current_instance_type": instance_type,
        "distribution_hosts": [],
        "distribution_instance_groups": [],
        "framework_module": None,
        "hosts": ["algo-1"],
        "hyperparameters": dict(user),
        "input_config_dir": p("/opt/ml/input/config"),
        "input_data_config": {c.name: c.config for c in channels},
        "input_dir": p("/opt/ml/input"),
        "instance_groups": ["homogeneousCluster"],
        "instance_groups_dict": {"homogeneousCluster": resources["instance_groups"][0]},
        "is_hetero": False,
        "is_master": True,
        "is_modelparallel_enabled": None,
        "job_name": job_name,
        "log_level": framework.get("sagemaker_container_log_level", DEFAULT_LOG_LEVEL),
        "master_hostname": "algo-1",
        "model_dir": p("/opt/ml/model"),
        "module_dir": str(framework.get("sagemaker_submit_directory", p(CODE_DIR))),
        "module_name": module_name,
        "network_interface_name": "eth0",
        "num_cpus": os.cpu_count() or 1,
        "num_gpus": 0,
        "num_neurons": 0,
        "output_data_dir": p("/opt/ml/output/data"),
        "output_dir": p("/opt/ml/output"),
        "output_intermediate_dir": p("/opt/ml/output/intermediate"),
        "resource_config": resources,
        "user_entry_point": program,
    }
    env = {key: props[key] for key in (
        "hosts", "network_interface_name", "user_entry_point", "resource_config", "input_data_config",
        "output_data_dir", "current_host", "current_instance_type", "current_instance_group",
        "current_instance_group_hosts", "instance_groups", "instance_groups_dict", "distribution_instance_groups",
        "is_hetero", "module_name", "log_level", "framework_module", "input_dir", "input_config_dir",
        "output_dir", "num_cpus", "num_gpus", "num_neurons", "model_dir", "module_dir",
        "output_intermediate_dir")}
    env.update({"hps": dict(user), "framework_params": additional, "channels": sorted(channel_dirs),
                "training_env": props, "user_args": cmd_args})
    env.update({f"channel_{name}": path for name, path in channel_dirs.items()})
    env.update({f"hp_{key}": value for key, value in user.items()})
    return to_env_vars(env)


# ---- requirements -----------------------------------------------------------------------------------


def _install_requirements(run: JobRun, code_dir: Path) -> Path | None:
    """The shared requirements policy (install what is not already satisfied), into the job's deps/."""
    deadline = run.deadline()
    timeout = None if deadline is None else max(1.0, deadline - time.monotonic())
    with run.job.log_file.open("a", encoding="utf-8") as log:
        try:
            return satisfy_requirements(code_dir, run.job.path / "deps", say=run.say, output=log, timeout=timeout,
                                        interpreter=run.interpreter)
        except subprocess.TimeoutExpired as e:
            raise run.stopped_error(ContainerResult(-9, run.deadline_reason(), [])) from e
        except RequirementsInstallError as e:
            raise JobFailure(f"ClientError: installing {CODE_DIR}/requirements.txt failed (pip exit code "
                             f"{e.exit_code}; see the job log). Not satisfied here: {', '.join(e.missing)}") from e


# ---- channels, code, command ----------------------------------------------------------------------


def _plan_channels(request: Mapping[str, Any]) -> list[ChannelPlan]:
    default_mode = (request.get("AlgorithmSpecification") or {}).get("TrainingInputMode", "File")
    plans = []
    for i, channel in enumerate(request.get("InputDataConfig") or []):
        name = channel["ChannelName"]
        where = f"InputDataConfig[{i}] ({name!r})"
        source = channel["DataSource"].get("S3DataSource")
        if source is None:
            raise JobFailure(f"ClientError: {where}: only S3DataSource channels are supported by the local "
                             "executor (not FileSystemDataSource or DatasetSource)")
        mode = channel.get("InputMode") or default_mode
        if mode not in {"File", "FastFile"}:
            raise JobFailure(f"ClientError: {where}: input mode {mode!r} is not supported by the local executor; "
                             "use File or FastFile")
        if channel.get("CompressionType", "None") != "None":
            raise JobFailure(f"ClientError: {where}: CompressionType {channel['CompressionType']!r} applies to "
                             "Pipe mode only; use None")
        if mode == "FastFile" and source["S3DataType"] != "S3Prefix":
            raise JobFailure(f"ClientError: {where}: FastFile mode needs S3DataType S3Prefix, not "
                             f"{source['S3DataType']!r}")
        config = {"TrainingInputMode": mode,
                  "S3DistributionType": source.get("S3DataDistributionType", "FullyReplicated"),
                  "RecordWrapperType": channel.get("RecordWrapperType", "None")}
        if channel.get("ContentType"):
            config = {"ContentType": channel["ContentType"], **config}
        plans.append(ChannelPlan(name, source["S3Uri"], source["S3DataType"], mode, config))
    return plans


def _fetch_code(run: JobRun, submit_dir: str, code_dir: Path) -> None:
    """Unpack `sagemaker_submit_directory` (an s3:// sourcedir.tar.gz, or file:// dir/tarball) to /opt/ml/code."""
    where = f"hyperparameter sagemaker_submit_directory {submit_dir!r}"
    if submit_dir.startswith("s3://"):
        try:
            source = run.store.path_for(submit_dir)
        except ValueError as e:
            raise JobFailure(f"ClientError: {where}: {e}") from e
    elif submit_dir.startswith("file://"):
        source = Path(submit_dir[len("file://"):])
    elif os.path.normpath(submit_dir) == CODE_DIR:
        return
    else:
        raise JobFailure(f"ClientError: {where} must be an s3:// URI of a sourcedir.tar.gz (or file://...)")
    if source.is_dir():
        shutil.copytree(source, code_dir, dirs_exist_ok=True)
        return
    if not source.is_file():
        raise JobFailure(f"ClientError: {where}: no such object in the local store ({source}); upload the "
                         "source tarball first")
    try:
        extract_tarball(source, code_dir)
    except TarballError as e:
        raise JobFailure(f"ClientError: {where}: cannot unpack {source}: {e}") from e


def _command(run: JobRun, framework: Mapping[str, Any], user: Mapping[str, Any]) -> tuple[list[str], str]:
    algorithm = run.request.get("AlgorithmSpecification") or {}
    program = framework.get("sagemaker_program")
    if program:
        submit_dir = framework.get("sagemaker_submit_directory")
        code_dir = run.sandbox.host_path(CODE_DIR)
        if submit_dir:
            _fetch_code(run, str(submit_dir), code_dir)
        if not (code_dir / str(program)).is_file():
            raise JobFailure(f"ClientError: sagemaker_program {program!r} is not in the source directory "
                             f"({submit_dir or CODE_DIR}); check the entry point name")
        args = to_cmd_args(user)
        if str(program).endswith(".py"):
            return [run.interpreter, str(program), *args], CODE_DIR
        return ["/bin/sh", "-c", " ".join([f"./{program}", *args])], CODE_DIR
    entrypoint = list(algorithm.get("ContainerEntrypoint") or [])
    if entrypoint:
        return entrypoint + list(algorithm.get("ContainerArguments") or []), CODE_DIR
    image = algorithm.get("TrainingImage")
    if is_xgboost_image(image):  # the XGBoost algorithm mode, as its container's `train` runs it
        return [run.interpreter, "-m", XGBOOST_TRAIN_MODULE], CODE_DIR
    builtin = algorithm_of(None, image)
    if builtin:
        raise JobFailure(f"ClientError: the built-in algorithm {builtin!r} ({image}) is not emulated by the local "
                         "executor (only XGBoost is); run this job with the sagemaker executor")
    raise JobFailure(
        "ClientError: nothing to run: the local executor cannot run the image's own `train` command "
        f"({algorithm.get('TrainingImage') or algorithm.get('AlgorithmName')}). Give script-mode hyperparameters "
        '(sagemaker_program = "\\"train.py\\"", sagemaker_submit_directory = "\\"s3://.../sourcedir.tar.gz\\"") '
        "or AlgorithmSpecification.ContainerEntrypoint")


def _secondary(run: JobRun, status: str, message: str) -> None:
    def change(description: dict[str, Any]) -> dict[str, Any]:
        transitions = [dict(t) for t in description.get("SecondaryStatusTransitions") or []]
        now = now_iso()
        if transitions and "EndTime" not in transitions[-1]:
            transitions[-1]["EndTime"] = now
        transitions.append({"Status": status, "StartTime": now, "StatusMessage": message})
        return {"SecondaryStatus": status, "SecondaryStatusTransitions": transitions}

    run.job.update(change)


def closing_fields(run: JobRun, secondary: str) -> dict[str, Any]:
    """Fields every ending sets: the final SecondaryStatus (closing the open transition) and the times."""
    now = now_iso()
    transitions = [dict(t) for t in run.job.description().get("SecondaryStatusTransitions") or []]
    if transitions and "EndTime" not in transitions[-1]:
        transitions[-1]["EndTime"] = now
    messages = {"Completed": "Training job completed", "Failed": "Training job failed",
                "Stopped": "Training job stopped", "MaxRuntimeExceeded": "Job stopped: MaxRuntimeInSeconds exceeded"}
    transitions.append({"Status": secondary, "StartTime": now, "EndTime": now,
                        "StatusMessage": messages.get(secondary, secondary)})
    seconds = max(1, int(round(time.monotonic() - run.started)))
    return {"SecondaryStatus": secondary, "SecondaryStatusTransitions": transitions,
            "TrainingTimeInSeconds": seconds, "BillableTimeInSeconds": seconds}


# ---- the job ----------------------------------------------------------------------------------------


def run_training_job(run: JobRun) -> dict[str, Any]:
    request = run.request
    algorithm = request.get("AlgorithmSpecification") or {}
    run.say(f"image {algorithm.get('TrainingImage') or algorithm.get('AlgorithmName')} is not pulled: the job "
            f"runs with {run.interpreter}")
    definitions = list(algorithm.get("MetricDefinitions") or [])
    raw_hps = dict(request.get("HyperParameters") or {})
    if is_xgboost_image(algorithm.get("TrainingImage")) and "sagemaker_program" not in raw_hps \
            and not algorithm.get("ContainerEntrypoint"):
        definitions = xgboost_metric_definitions(definitions)  # the algorithm publishes its own metrics
    try:
        metrics = compile_metrics(definitions)
    except SandboxError as e:
        raise JobFailure(f"ClientError: {e}") from e
    framework, user = split_hyperparameters(decode_hyperparameters(raw_hps))
    for line in not_emulated(request, framework):
        run.say(line)
    channels = _plan_channels(request)
    _secondary(run, "Downloading", "Downloading input data")
    _prepare_tree(run, raw_hps, channels)
    command, cwd = _command(run, framework, user)
    env = _environment(run, framework, user, channels)
    if command[1:] == ["-m", XGBOOST_TRAIN_MODULE]:  # smflow's own program: importable in an image environment
        env = run.internal_environment(env)
        env["SMFLOW_TRAINING_IMAGE"] = str(algorithm.get("TrainingImage"))
    _sync_checkpoints(run, download=True)
    _secondary(run, "Training", "Training image download completed. Training in progress.")
    result = run.run_container(command, env, cwd, metrics=metrics)
    if result.metrics:
        run.job.set_fields(FinalMetricDataList=[
            {"MetricName": m.name, "Value": result.metrics[m.name][0], "Timestamp": result.metrics[m.name][1]}
            for m in metrics if m.name in result.metrics])
    _sync_checkpoints(run, download=False)
    if result.stopped:
        if any(run.sandbox.host_path("/opt/ml/model").iterdir()):
            run.say("uploading the model the stopped job saved, as SageMaker does after a stop")
            run.job.set_fields(**_upload_artifacts(run, with_output=False))
        raise run.stopped_error(result)
    failure = _failure_file(run)
    if result.exit_code != 0:
        raise JobFailure(failure or failure_tail(result, command))
    if failure:
        run.say(f"{FAILURE_FILE} was written but the exit code is 0, so the job counts as Completed: {failure!r}")
    _secondary(run, "Uploading", "Uploading generated training model")
    return _upload_artifacts(run, with_output=True)


def _prepare_tree(run: JobRun, raw_hps: Mapping[str, str], channels: Sequence[ChannelPlan]) -> None:
    host = run.sandbox.host_path
    for directory in ("/opt/ml/model", "/opt/ml/output/data", "/opt/ml/output/intermediate", "/opt/ml/input/config",
                      CODE_DIR):
        host(directory).mkdir(parents=True, exist_ok=True)
    for channel in channels:
        count = run.stage(channel.uri, channel.data_type, host(f"/opt/ml/input/data/{channel.name}"),
                          fast=channel.mode == "FastFile", where=f"channel {channel.name!r}")
        run.say(f"channel {channel.name}: {count} object(s) from {channel.uri} ({channel.mode} mode)")
    instance_type = (run.request.get("ResourceConfig") or {}).get("InstanceType", "local")
    write_config(host("/opt/ml/input/config/hyperparameters.json"), dict(raw_hps))
    write_config(host("/opt/ml/input/config/inputdataconfig.json"), {c.name: c.config for c in channels})
    write_config(host("/opt/ml/input/config/resourceconfig.json"), resource_config(instance_type))
    checkpoint = run.request.get("CheckpointConfig")
    if checkpoint:  # as SageMaker writes it for a job with CheckpointConfig (the XGBoost algorithm reads it)
        local = run.sandbox.visible_path(checkpoint.get("LocalPath") or "/opt/ml/checkpoints")
        write_config(host("/opt/ml/input/config/checkpointconfig.json"),
                     {"LocalPath": local, "S3Uri": checkpoint.get("S3Uri", "")})


def _environment(run: JobRun, framework: Mapping[str, Any], user: Mapping[str, Any],
                 channels: Sequence[ChannelPlan]) -> dict[str, str]:
    from smflow.settings import region

    env = run.base_environment()
    env.update({k: run.sandbox.rewrite(v) for k, v in (run.request.get("Environment") or {}).items()})
    env.update(training_environment(run.request, run.job.name, framework, user, channels,
                                   run.sandbox.visible_path))
    description = run.job.description()
    env.update({
        "TRAINING_JOB_NAME": run.job.name,
        "TRAINING_JOB_ARN": description["TrainingJobArn"],
        "SAGEMAKER_JOB_NAME": str(framework.get("sagemaker_job_name", "")),
        "SAGEMAKER_REGION": str(framework.get("sagemaker_region") or region()),
        "CURRENT_HOST": "algo-1",
    })
    deps = _install_requirements(run, run.sandbox.host_path(CODE_DIR)) if framework.get("sagemaker_program") else None
    paths = [run.sandbox.visible_path(CODE_DIR), *([str(deps)] if deps else []), env.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    return env


def _failure_file(run: JobRun) -> str:
    path = run.sandbox.host_path(FAILURE_FILE)
    if not path.is_file():
        return ""
    return path.read_text(encoding="utf-8", errors="replace")[:1024].strip()


def _artifact_prefix(run: JobRun) -> str:
    return f"{run.request['OutputDataConfig']['S3OutputPath'].rstrip('/')}/{run.job.name}/output"


def _upload_artifacts(run: JobRun, *, with_output: bool) -> dict[str, Any]:
    """model.tar.gz (and output.tar.gz), each written atomically: a kill mid-upload leaves no half archive."""
    prefix = _artifact_prefix(run)
    model_dir = run.sandbox.host_path("/opt/ml/model")
    output_dir = run.sandbox.host_path("/opt/ml/output/data")
    uncompressed = run.request["OutputDataConfig"].get("CompressionType") == "NONE"
    if uncompressed:
        run.store.upload_dir(model_dir, f"{prefix}/model")
        artifacts = f"{prefix}/model/"
    else:
        artifacts = f"{prefix}/model.tar.gz"
        run.store.upload_tar(model_dir, artifacts)
    run.say(f"model artifacts → {artifacts}")
    if with_output:
        if uncompressed:
            run.store.upload_dir(output_dir, f"{prefix}/data")
        else:
            run.store.upload_tar(output_dir, f"{prefix}/output.tar.gz")
    return {"ModelArtifacts": {"S3ModelArtifacts": artifacts}}


def _sync_checkpoints(run: JobRun, *, download: bool) -> None:
    """CheckpointConfig: existing checkpoints are restored before training and saved after it."""
    config = run.request.get("CheckpointConfig")
    if not config:
        return
    try:
        local = run.sandbox.host_path(config.get("LocalPath") or "/opt/ml/checkpoints")
    except SandboxError as e:
        raise JobFailure(f"ClientError: CheckpointConfig.LocalPath: {e}; use a path under /opt/ml") from e
    local.mkdir(parents=True, exist_ok=True)
    uri = config["S3Uri"]
    if download:
        if run.store.list(uri.rstrip("/") + "/"):
            run.store.download(uri.rstrip("/"), local)
            run.say(f"checkpoints restored from {uri}")
    elif any(local.iterdir()):
        run.store.upload_dir(local, uri)
        run.say(f"checkpoints saved to {uri}")

