"""Each step → the exact SageMaker API request that runs it, with every default filled in.

Requests carry a few Jinja placeholders rendered per DAG run by the operator (`smflow.job_name`,
`smflow.run_key`, `smflow.output(task, name)`), because job names and upstream artifacts are only known
at run time. Everything else is final here, and `smflow compile --json` shows it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smflow.compile.distribution import PYTORCH_ONLY, distribution_hyperparameters
from smflow.compile.images import ImageResolutionError, resolve_image
from smflow.compile.kinds import PreCall, StepKind, Upload
from smflow.compile.naming import bounded_name, slug
from smflow.compile.render import render_params
from smflow.spec.algorithm_mode import hyperparameter_strings, inference_entry_point, training_algorithm
from smflow.spec.dependencies import dependency_paths
from smflow.spec.errors import Path_, SpecError
from smflow.spec.model import (
    ConditionStep,
    CreateModelStep,
    DeployGuardrails,
    DeployStep,
    DistributionSpec,
    EvaluationStep,
    ImageSpec,
    ProcessingStep,
    RegisterStep,
    StepBase,
    TrainingStep,
    TransformStep,
)
from smflow.spec.parameter_slots import EXACT_REFERENCE, referenced_names
from smflow.spec.processing_paths import CODE_DIR, ENTRYPOINT_DIR, input_destination, output_paths
from smflow.spec.resolve import OutputRef, PipelineDocument, ResolvedInput, StepNode

JOB_NAME = "{{ smflow.job_name }}"
REQUIREMENTS_FILE = "requirements.txt"
LAUNCHER = Path(__file__).with_name("runproc.sh")  # FrameworkProcessor's runproc.sh, shipped with smflow


@dataclass
class CompiledTask:
    """One Airflow task as plain data: what to call, with which request, and what it hands downstream."""

    task_id: str
    kind: StepKind
    operation: str | None
    request: dict[str, Any]
    outputs: dict[str, str] = field(default_factory=dict)
    uploads: list[Upload] = field(default_factory=list)
    pre: list[PreCall] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    retries: int | None = None  # None: the pipeline's `airflow.retries`

    def as_json(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id, "kind": self.kind, "operation": self.operation, "request": self.request,
            "outputs": self.outputs, "uploads": self.uploads, "pre": self.pre, "params": self.params,
            "retries": self.retries,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CompiledTask:
        return cls(**data)


class RequestCompiler:
    """Builds requests for one pipeline document; image lookups are memoised by images.resolve_image."""

    def __init__(self, doc: PipelineDocument):
        self.doc = doc
        self.spec = doc.spec
        self.defaults = doc.spec.defaults
        self.root = f"s3://{self.defaults.bucket}/{doc.spec.prefix}"
        self.derived_groups: dict[str, str] = {}
        self.parameter_defaults = {name: schema["default"] for name, schema in doc.parameters.items()}

    def sample(self, value: Any) -> Any:
        """`value` with pipeline parameters at their defaults: for what compile itself must decide (the image
        for an instance type); a run's own values reach the request through its placeholders."""
        return render_params(value, self.parameter_defaults)

    # ---- shared pieces ------------------------------------------------------------------------

    def run_prefix(self, node: StepNode) -> str:
        return f"{self.root}/runs/{{{{ smflow.run_key }}}}/{slug(node.task_id)}"

    def image(self, node: StepNode, scope: str) -> str:
        step = node.step
        spec: ImageSpec = (step.image if isinstance(step, StepBase) and step.image else None) or self.defaults.image
        if spec.uri:
            return spec.uri
        assert spec.framework and spec.version
        try:
            return resolve_image(spec.framework, spec.version, self.defaults.region,
                                 self.sample(self.instance_type(node)), scope, spec.py_version)
        except ImageResolutionError as e:
            if self.doc.source is None:
                raise SpecError([]) from e
            path, message = self.image_error_at(node, str(e))
            raise SpecError([self.doc.source.issue(path, message)]) from e

    def image_error_at(self, node: StepNode, text: str) -> tuple[Path_, str]:
        """Point an image lookup failure at the setting that caused it: region, instance type, or image."""
        step = node.step if isinstance(node.step, StepBase) else None
        if "Unsupported region" in text:
            return ("defaults", "region"), f"{text.split('. You may')[0]}; use an AWS region name like us-east-1"
        if "instance type" in text or "Unsupported processor" in text:
            path = (*node.path, "instance_type") if step and step.instance_type else ("defaults", "instance_type")
            return path, f"{text}; use a SageMaker instance type like ml.m5.large that this framework image supports"
        path = (*node.path, "image") if step and step.image else ("defaults", "image")
        return path, f"{text}; fix `framework`/`version` or give `uri`"

    def instance_type(self, node: StepNode) -> str:
        step = node.step
        return (step.instance_type if isinstance(step, StepBase) else None) or self.defaults.instance_type

    def instance_count(self, node: StepNode) -> int | str:
        step = node.step
        return (step.instance_count if isinstance(step, StepBase) else None) or self.defaults.instance_count

    def volume(self, node: StepNode) -> int | str:
        step = node.step
        return (step.volume_size_gb if isinstance(step, StepBase) else None) or self.defaults.volume_size_gb

    def environment(self, node: StepNode) -> dict[str, str]:
        env = dict(self.defaults.environment)
        if isinstance(node.step, StepBase):
            env.update(node.step.environment)
        return {key: parameter_as_text(value) for key, value in env.items()}

    def stopping(self, node: StepNode) -> dict[str, int | str]:
        step = node.step
        seconds = (step.max_runtime_seconds if isinstance(step, StepBase) else None)
        return {"MaxRuntimeInSeconds": seconds or self.defaults.max_runtime_seconds}

    def tags(self, node: StepNode) -> list[dict[str, str]]:
        tags = {"smflow:pipeline": self.spec.pipeline, "smflow:task": node.task_id, **self.defaults.tags}
        return [{"Key": k, "Value": v} for k, v in tags.items()]

    def input_uri(self, node: StepNode, name: str, uploads: list[Upload]) -> str:
        resolved: ResolvedInput = self.doc.inputs[(node.task_id, name)]
        source = resolved.source
        if isinstance(source, OutputRef):
            uri = f"{{{{ smflow.output('{source.task_id}', '{source.output}') }}}}"
        elif resolved.is_local:
            local = Path(source)
            target = f"{self.run_prefix(node)}/inputs/{name}/"
            uploads.append({"source": str(local), "uri": target + ("" if local.is_dir() else local.name),
                            "tar": False})
            uri = target
        else:
            uri = source
        return f"{uri.rstrip('/')}/{resolved.prefix}" if resolved.prefix else uri

    def source_tarball(self, node: StepNode, uploads: list[Upload]) -> str:
        """sourcedir.tar.gz: source_dir's contents, plus a training step's `dependencies` folders by name."""
        uri = f"{self.run_prefix(node)}/source/sourcedir.tar.gz"
        upload: Upload = {"source": str(node.source_dir), "uri": uri, "tar": True}
        if isinstance(node.step, TrainingStep) and node.step.dependencies:
            upload["dependencies"] = [str(p) for p in dependency_paths(node.source_dir, node.step.dependencies)]
        uploads.append(upload)
        return uri

    # ---- processing and evaluation -------------------------------------------------------------

    def processing(self, node: StepNode) -> CompiledTask:
        """CreateProcessingJob as the SDK's ScriptProcessor sends it (code staged at input/code, run with
        `command`), or as its FrameworkProcessor does when source_dir has a requirements.txt or the step has
        `dependencies` (sourcedir.tar.gz plus a launcher that unpacks it and installs the requirements first)."""
        step = node.step
        assert isinstance(step, ProcessingStep | EvaluationStep)
        uploads: list[Upload] = []
        code_uri = f"{self.run_prefix(node)}/code/"
        script = f"{CODE_DIR}/{step.entry_point}"
        if (node.source_dir / REQUIREMENTS_FILE).is_file() or step.dependencies:
            tarball: Upload = {"source": str(node.source_dir), "uri": f"{code_uri}sourcedir.tar.gz", "tar": True}
            if step.dependencies:
                tarball["dependencies"] = [str(p) for p in dependency_paths(node.source_dir, step.dependencies)]
            uploads.append(tarball)
            launcher_uri = f"{self.run_prefix(node)}/entrypoint/"
            uploads.append({"source": str(LAUNCHER), "uri": launcher_uri + LAUNCHER.name, "tar": False})
            inputs = [_processing_input("code", code_uri, CODE_DIR),
                      _processing_input("entrypoint", launcher_uri, ENTRYPOINT_DIR)]
            entrypoint = ["/bin/bash", f"{ENTRYPOINT_DIR}/{LAUNCHER.name}", *step.command, step.entry_point]
        else:
            uploads.append({"source": str(node.source_dir), "uri": code_uri, "tar": False})
            inputs = [_processing_input("code", code_uri, CODE_DIR)]
            entrypoint = [*step.command, script]
        for name, given in step.inputs.items():
            inputs.append(_processing_input(name, self.input_uri(node, name, uploads),
                                            input_destination(name, given)))
        local_outputs = output_paths(step)
        # Per job (a retry never mixes with a killed try's files), and ending in '/': S3Prefix matches key
        # prefixes, so without it an input `prep.test` would also read `test_labels/`.
        output_uris = {o.name: f"{self.run_prefix(node)}/{JOB_NAME}/output/{o.name}/" for o in local_outputs}
        request: dict[str, Any] = {
            "ProcessingJobName": JOB_NAME,
            "RoleArn": self.defaults.role,
            "AppSpecification": {
                "ImageUri": self.image(node, "training"),
                "ContainerEntrypoint": entrypoint,
                **({"ContainerArguments": [parameter_as_text(a) for a in step.arguments]} if step.arguments
                   else {}),
            },
            "ProcessingInputs": inputs,
            "ProcessingResources": {"ClusterConfig": {
                "InstanceCount": self.instance_count(node), "InstanceType": self.instance_type(node),
                "VolumeSizeInGB": self.volume(node)}},
            "StoppingCondition": self.stopping(node),
            "Environment": self.environment(node),
            "Tags": self.tags(node),
        }
        if local_outputs:
            request["ProcessingOutputConfig"] = {"Outputs": [
                {"OutputName": o.name, "S3Output": {"S3Uri": output_uris[o.name], "LocalPath": o.local_path,
                                                    "S3UploadMode": o.upload_mode}}
                for o in local_outputs]}
        outputs = dict(output_uris)
        if isinstance(step, EvaluationStep):
            outputs["report"] = f"{output_uris['evaluation']}{step.report}"
        kind: StepKind = "evaluation" if isinstance(step, EvaluationStep) else "processing"
        return CompiledTask(node.task_id, kind, "CreateProcessingJob", request, outputs, uploads,
                            retries=step.retries)

    # ---- training --------------------------------------------------------------------------------

    def training(self, node: StepNode) -> CompiledTask:
        step = node.step
        assert isinstance(step, TrainingStep)
        uploads: list[Upload] = []
        if step.entry_point is None:  # a built-in algorithm: plain strings, no code (the SDK's generic Estimator)
            hyperparameters = {k: parameter_as_text(v) for k, v in hyperparameter_strings(step).items()}
        else:
            hyperparameters = {k: hyperparameter_json(v) for k, v in step.hyperparameters.items()}
            hyperparameters.update({
                "sagemaker_program": json.dumps(step.entry_point),
                "sagemaker_submit_directory": json.dumps(self.source_tarball(node, uploads)),
                "sagemaker_region": json.dumps(self.defaults.region),
                "sagemaker_container_log_level": "20",
                "sagemaker_job_name": json.dumps(JOB_NAME),
            })
        channels = []
        for name in step.inputs:
            channel: dict[str, Any] = {"ChannelName": name, "DataSource": {"S3DataSource": {
                "S3DataType": "S3Prefix", "S3Uri": self.input_uri(node, name, uploads),
                "S3DataDistributionType": "FullyReplicated"}}}
            content_type = self.doc.inputs[(node.task_id, name)].content_type
            if content_type:
                channel["ContentType"] = content_type
            channels.append(channel)
        output_path = step.output_path or f"{self.run_prefix(node)}/output"
        algorithm: dict[str, Any] = {"TrainingImage": self.image(node, "training"),
                                     "TrainingInputMode": step.input_mode}
        if step.metrics:
            algorithm["MetricDefinitions"] = [{"Name": k, "Regex": v} for k, v in step.metrics.items()]
        request: dict[str, Any] = {
            "TrainingJobName": JOB_NAME,
            "RoleArn": self.defaults.role,
            "AlgorithmSpecification": algorithm,
            "HyperParameters": hyperparameters,
            "OutputDataConfig": {"S3OutputPath": output_path},
            "ResourceConfig": {"InstanceType": self.instance_type(node), "InstanceCount": self.instance_count(node),
                               "VolumeSizeInGB": self.volume(node)},
            "StoppingCondition": self.stopping(node),
            "Environment": self.environment(node),
            "Tags": self.tags(node),
        }
        if channels:
            request["InputDataConfig"] = channels
        self.estimator_options(node, request)
        artifacts = f"{output_path.rstrip('/')}/{JOB_NAME}/output"
        outputs = {"model": f"{artifacts}/model.tar.gz", "output": f"{artifacts}/output.tar.gz"}
        return CompiledTask(node.task_id, "training", "CreateTrainingJob", request, outputs, uploads,
                            retries=step.retries)

    def estimator_options(self, node: StepNode, request: dict[str, Any]) -> None:
        """The SDK estimator options beyond script mode, as the SDK puts them in CreateTrainingJob: KMS keys,
        warm pool, checkpoints, managed spot (with the API's MaxWaitTimeInSeconds rules) and `distribution`."""
        step = node.step
        assert isinstance(step, TrainingStep)
        issues: list[tuple[Path_, str]] = []
        if step.output_kms_key:
            request["OutputDataConfig"]["KmsKeyId"] = step.output_kms_key
        if step.volume_kms_key:
            request["ResourceConfig"]["VolumeKmsKeyId"] = step.volume_kms_key
        if step.keep_alive_period is not None:
            request["ResourceConfig"]["KeepAlivePeriodInSeconds"] = step.keep_alive_period
        if step.checkpoints is not None:
            request["CheckpointConfig"] = {
                "S3Uri": step.checkpoints.s3_uri or f"{self.run_prefix(node)}/checkpoints/",
                "LocalPath": step.checkpoints.local_path}
        if step.use_spot_instances:
            request["EnableManagedSpotTraining"] = True
            runtime = self.sample(request["StoppingCondition"]["MaxRuntimeInSeconds"])  # a parameter: its default
            if step.max_wait is None:
                issues.append(((*node.path, "use_spot_instances"),
                               f"managed spot training needs `max_wait` (seconds, at least max_runtime_seconds = "
                               f"{runtime}): SageMaker refuses a spot job without MaxWaitTimeInSeconds"))
            elif step.max_wait < runtime:
                issues.append(((*node.path, "max_wait"),
                               f"max_wait {step.max_wait} is less than max_runtime_seconds {runtime}; SageMaker "
                               "requires MaxWaitTimeInSeconds >= MaxRuntimeInSeconds, so raise max_wait or lower "
                               "max_runtime_seconds"))
            else:
                request["StoppingCondition"]["MaxWaitTimeInSeconds"] = step.max_wait
        if step.distribution is not None:
            issues += self.distribution(node, step.distribution, request["HyperParameters"])
        if issues:
            if self.doc.source is None:
                raise SpecError([])
            raise SpecError([self.doc.source.issue(path, message) for path, message in issues])

    def distribution(self, node: StepNode, spec: DistributionSpec, hyperparameters: dict[str, str]
                     ) -> list[tuple[Path_, str]]:
        """`distribution` → the SDK's hyperparameters for it, JSON-encoded as the SDK encodes them."""
        step = node.step
        image = (step.image if isinstance(step, StepBase) and step.image else None) or self.defaults.image
        pytorch_only = [key for key in PYTORCH_ONLY if getattr(spec, key) is not None]
        if pytorch_only and image.uri is None and image.framework != "pytorch":
            return [((*node.path, "distribution", pytorch_only[0]),
                     f"{pytorch_only[0]} is an option of the SDK's PyTorch estimator, but this step's image is "
                     f"{image.framework}; use a pytorch image or another strategy (mpi, smdistributed, …)")]
        extra = distribution_hyperparameters(spec, self.instance_type(node),
                                             pytorch=image.uri is not None or image.framework == "pytorch")
        taken = sorted(set(extra) & set(hyperparameters))
        if taken:
            return [((*node.path, "hyperparameters", taken[0]),
                     f"hyperparameter {taken[0]!r} is set by `distribution`; rename it")]
        hyperparameters.update({k: json.dumps(v) for k, v in extra.items()})
        return []

    # ---- models, transform, registry, endpoints -----------------------------------------------------

    def serving_container(self, node: StepNode, training_task: str, entry_point: str | None,
                          uploads: list[Upload]) -> dict[str, Any]:
        """Image + model artifact + the framework containers' SAGEMAKER_PROGRAM/SUBMIT_DIRECTORY contract."""
        code = {"SAGEMAKER_PROGRAM": entry_point,
                "SAGEMAKER_SUBMIT_DIRECTORY": self.source_tarball(node, uploads)} if entry_point else {}
        return {
            "Image": self.image(self.model_image_node(node, training_task), "inference"),
            "ModelDataUrl": f"{{{{ smflow.output('{training_task}', 'model') }}}}",
            "Environment": {
                **code,
                "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
                "SAGEMAKER_REGION": self.defaults.region,
                **self.environment(node),
            },
        }

    def model_entry_point(self, node: StepNode, step: CreateModelStep | RegisterStep) -> str | None:
        """The step's inference script; none by default for a model of the built-in XGBoost algorithm."""
        training = self.doc.nodes[self.upstream_task(node, step.model)].step
        assert isinstance(training, TrainingStep)
        return inference_entry_point(step, training, self.defaults)

    def model_image_node(self, node: StepNode, training_task: str) -> StepNode:
        """Whose image a model serves with: its own, or else, for a built-in algorithm's model, the training
        step's (the SDK's `estimator.create_model()` serves with the image it trained with)."""
        training = self.doc.nodes[training_task]
        own = node.step.image if isinstance(node.step, StepBase) else None
        if own is None and isinstance(training.step, TrainingStep) and \
                training_algorithm(training.step, self.defaults) is not None:
            return training
        return node

    def upstream_task(self, node: StepNode, name: str) -> str:
        unit, _, step = name.rpartition(".")
        for task_id, other in self.doc.nodes.items():
            if other.unit == (unit or node.unit) and other.step.name == step:
                return task_id
        raise KeyError(name)  # resolve() has already reported unknown names

    def create_model(self, node: StepNode) -> CompiledTask:
        step = node.step
        assert isinstance(step, CreateModelStep)
        uploads: list[Upload] = []
        request = {
            "ModelName": JOB_NAME,
            "PrimaryContainer": self.serving_container(node, self.upstream_task(node, step.model),
                                                       self.model_entry_point(node, step),
                                                       uploads),
            "ExecutionRoleArn": self.defaults.role,
            "Tags": self.tags(node),
        }
        return CompiledTask(node.task_id, "create_model", "CreateModel", request, {"model_name": JOB_NAME}, uploads,
                            retries=step.retries)

    def transform(self, node: StepNode) -> CompiledTask:
        step = node.step
        assert isinstance(step, TransformStep)
        uploads: list[Upload] = []
        output_path = f"{self.run_prefix(node)}/{JOB_NAME}/output/"
        model_task = self.upstream_task(node, step.model)
        # Only what the YAML says, as the SDK's Transformer sends it: S3DataType always; ContentType, SplitType,
        # Accept, AssembleWith, BatchStrategy, MaxPayloadInMB, MaxConcurrentTransforms (and CompressionType,
        # which the spec has no field for) only when given, so SageMaker's and the container's defaults apply.
        # `input: {source, content_type}` is the same setting written on the input, as on training channels.
        content_type = step.content_type or self.doc.inputs[(node.task_id, "input")].content_type
        given: dict[str, dict[str, Any]] = {
            "": {"BatchStrategy": step.batch_strategy, "MaxPayloadInMB": step.max_payload_mb,
                 "MaxConcurrentTransforms": step.max_concurrent_transforms},
            "TransformInput": {"ContentType": content_type, "SplitType": step.split_type},
            "TransformOutput": {"Accept": step.accept, "AssembleWith": step.assemble_with},
        }
        request: dict[str, Any] = {
            "TransformJobName": JOB_NAME,
            "ModelName": f"{{{{ smflow.output('{model_task}', 'model_name') }}}}",
            "TransformInput": {
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                                                "S3Uri": self.input_uri(node, "input", uploads)}}},
            "TransformOutput": {"S3OutputPath": output_path},
            "TransformResources": {"InstanceType": self.instance_type(node),
                                   "InstanceCount": self.instance_count(node)},
            "Environment": self.environment(node),
            "Tags": self.tags(node),
        }
        for section, fields in given.items():
            (request[section] if section else request).update({k: v for k, v in fields.items() if v is not None})
        processing = {k: v for k, v in {"InputFilter": step.input_filter, "JoinSource": step.join_source,
                                        "OutputFilter": step.output_filter}.items() if v is not None}
        if processing:
            request["DataProcessing"] = processing
        return CompiledTask(node.task_id, "transform", "CreateTransformJob", request, {"predictions": output_path},
                            uploads, retries=step.retries)

    def group_name(self, node: StepNode, explicit: str | None) -> str:
        """The model package group: explicit, or `<pipeline>-<unit>` — which must not merge two units' models
        (`a_b` and `a-b` slug alike), or their versions would mix and gates compare the wrong models."""
        if explicit:
            return explicit
        name = bounded_name(f"{self.spec.pipeline}-{node.unit}")
        other = self.derived_groups.setdefault(name, node.unit)
        if other != node.unit and self.doc.source is not None:
            raise SpecError([self.doc.source.issue(
                (*node.path, "name"), f"model units '{other}' and '{node.unit}' would share the model package "
                                      f"group '{name}'; set `group:` on one of their register steps")])
        return name

    def register(self, node: StepNode) -> CompiledTask:
        step = node.step
        assert isinstance(step, RegisterStep)
        uploads: list[Upload] = []
        group = self.group_name(node, step.group)
        training_task = self.upstream_task(node, step.model)
        request: dict[str, Any] = {
            "ModelPackageGroupName": group,
            "ModelPackageDescription": f"{self.spec.pipeline} {node.unit}, run {{{{ run_id }}}}",
            "InferenceSpecification": {
                "Containers": [self.serving_container(node, training_task, self.model_entry_point(node, step),
                                                      uploads)],
                "SupportedContentTypes": list(step.content_types),
                "SupportedResponseMIMETypes": list(step.response_types),
            },
            "ModelApprovalStatus": step.approval,
            "ClientToken": "{{ smflow.client_token }}",
            "CustomerMetadataProperties": {
                "smflow:dag_id": "{{ dag.dag_id }}", "smflow:run_id": "{{ run_id }}",
                "smflow:training_job": f"{{{{ smflow.output('{training_task}', 'job_name') }}}}",
            },
            "Tags": self.tags(node),
        }
        if step.report:
            report_task = self.upstream_task(node, step.report)
            request["ModelMetrics"] = {"ModelQuality": {"Statistics": {
                "ContentType": "application/json",
                "S3Uri": f"{{{{ smflow.output('{report_task}', 'report') }}}}"}}}
        from smflow.compile.monitor import (
            PREDICTIONS_METADATA,
            drift_check_baselines,
            predictions_baseline,
            retrain_trigger,
        )

        baselines, trigger = drift_check_baselines(self.doc, node.unit), retrain_trigger(self.doc, node.unit)
        if baselines and trigger:
            request["DriftCheckBaselines"] = baselines
            request["CustomerMetadataProperties"]["smflow:retrain_trigger"] = trigger
            predictions = predictions_baseline(self.doc, node.unit)
            if predictions:
                request["CustomerMetadataProperties"][PREDICTIONS_METADATA] = predictions
        pre: list[PreCall] = [{"operation": "CreateModelPackageGroup", "if_missing": True, "request": {
            "ModelPackageGroupName": group,
            "ModelPackageGroupDescription": f"smflow pipeline {self.spec.pipeline}, model {node.unit}"}}]
        return CompiledTask(node.task_id, "register", "CreateModelPackage", request,
                            {"model_package_group": group}, uploads, pre, retries=step.retries)

    def deploy(self, node: StepNode) -> CompiledTask:
        """CreateEndpoint's shape (the endpoint config's name is made at run time from the version deployed);
        the version comes from the register step's output or the group's latest Approved, in `params`."""
        step = node.step
        assert isinstance(step, DeployStep)
        endpoint = step.endpoint_name or bounded_name(f"{self.spec.pipeline}-{node.unit}")
        params: dict[str, Any] = {
            "role": self.defaults.role, "model_prefix": bounded_name(f"{self.spec.pipeline}-{node.unit}", 40),
            "instance_type": self.instance_type(node), "instance_count": self.instance_count(node),
            "timeout_seconds": step.timeout_minutes * 60,
        }
        if step.model is not None:
            register_task = self.upstream_task(node, step.model)
            params["model_package_arn"] = f"{{{{ smflow.output('{register_task}', 'model_package_arn') }}}}"
        else:
            params["group"] = step.group
        if step.guardrails is not None:
            params["deployment_config"] = deployment_config(step.guardrails)
        request = {"EndpointName": endpoint, "EndpointConfigName": JOB_NAME, "Tags": self.tags(node)}
        return CompiledTask(node.task_id, "deploy", "CreateEndpoint", request, {"endpoint_name": endpoint},
                            params=params, retries=step.retries)

    def condition(self, node: StepNode) -> CompiledTask:
        step = node.step
        assert isinstance(step, ConditionStep)
        report_task = self.upstream_task(node, step.report)
        params: dict[str, Any] = {
            "report": f"{{{{ smflow.output('{report_task}', 'report') }}}}",
            "checks": [c.model_dump(exclude_none=True) for c in step.checks],
            "on_fail": step.on_fail,
        }
        if step.beat_approved:
            group = step.beat_approved.group or next(
                self.group_name(other, other.step.group) for other in self.doc.nodes.values()
                if other.unit == node.unit and isinstance(other.step, RegisterStep))
            params["beat_approved"] = {**step.beat_approved.model_dump(), "group": group}
        return CompiledTask(node.task_id, "condition", None, {}, {}, params=params)

    def compile(self, node: StepNode) -> CompiledTask:
        """One builder per step kind: adding a kind is a spec model, a builder here and an operator."""
        builders: dict[StepKind, Callable[[StepNode], CompiledTask]] = {
            "processing": self.processing, "evaluation": self.processing, "training": self.training,
            "create_model": self.create_model, "transform": self.transform, "register": self.register,
            "deploy": self.deploy, "condition": self.condition, "baseline": self.baseline,
        }
        return builders[node.step.type](node)

    def baseline(self, node: StepNode) -> CompiledTask:
        from smflow.compile.monitor import baseline_task

        return baseline_task(self, node)


def deployment_config(guardrails: DeployGuardrails) -> dict[str, Any]:
    """UpdateEndpoint's DeploymentConfig: a blue/green update with its traffic routing, and auto-rollback alarms.
    https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DeploymentConfig.html"""
    routing: dict[str, Any] = {"Type": guardrails.traffic.upper(), "WaitIntervalInSeconds": guardrails.wait_seconds}
    if guardrails.traffic != "all_at_once":
        size_key = "CanarySize" if guardrails.traffic == "canary" else "LinearStepSize"
        routing[size_key] = {"Type": "CAPACITY_PERCENT", "Value": guardrails.step_percent}
    config: dict[str, Any] = {"BlueGreenUpdatePolicy": {
        "TrafficRoutingConfiguration": routing, "TerminationWaitInSeconds": guardrails.termination_wait_seconds}}
    if guardrails.alarms:
        config["AutoRollbackConfiguration"] = {"Alarms": [{"AlarmName": a} for a in guardrails.alarms]}
    return config


def parameter_as_text(value: str) -> str:
    """A string API field (an environment value, an argument) that is exactly one `{{ params.NAME }}`: written
    `{{ params.NAME | string }}`, so it renders to the value's text and not to a native number or boolean."""
    whole = EXACT_REFERENCE.fullmatch(value)
    return f"{{{{ params.{whole.group(1)} | string }}}}" if whole else value


def hyperparameter_json(value: Any) -> str:
    """A script-mode hyperparameter as SDK estimators send it: JSON-encoded (`json.dumps`), except a value
    with a pipeline parameter, which the SDK sends as the variable's text (`to_string()`, see the SDK's
    `EstimatorBase._json_encode_hyperparameters`); the training toolkit JSON-decodes each value and keeps
    the raw string where that fails, so `0.3` arrives as a float and `abc` as a string."""
    if isinstance(value, str) and referenced_names(value)[0]:
        return parameter_as_text(value)
    return json.dumps(value)


def _processing_input(name: str, uri: str, local_path: str) -> dict[str, Any]:
    return {"InputName": name, "AppManaged": False, "S3Input": {
        "S3Uri": uri, "LocalPath": local_path, "S3DataType": "S3Prefix", "S3InputMode": "File",
        "S3DataDistributionType": "FullyReplicated", "S3CompressionType": "None"}}
