"""The native pipeline spec as pydantic models: strict (unknown keys are errors), terse (every default filled).

Pure data: this module never imports Airflow or boto3, so it can be validated, schema-exported and tested
anywhere. Semantics that need the whole document (references, cycles, files on disk) live in resolve.py.
"""

from __future__ import annotations

import math
import re
from datetime import date, timedelta
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from smflow.s3_names import bucket_name_problem, key_problem
from smflow.spec.parameter_slots import TEXT, Slot

NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_-]*$"
Name = Annotated[str, Field(pattern=NAME_PATTERN, min_length=1, max_length=64)]
Scalar = str | int | float | bool
# Fields a pipeline parameter can set (`{{ params.NAME }}`); spec/parameter_slots.py, README "Pipeline parameters".
Text = Annotated[str, TEXT]
InstanceType = Annotated[str, Slot("string")]
InstanceCount = Annotated[int | str, Slot("integer", minimum=1)]
VolumeGb = Annotated[int | str, Slot("integer", minimum=1)]
StepVolumeGb = Annotated[int | str, Slot("integer", minimum=1, maximum=16384)]
RuntimeSeconds = Annotated[int | str, Slot("integer", minimum=1, maximum=2419200)]

REFERENCE_HELP = (
    "an input is a step output reference `step.output` (or `model.step.output` across model units), "
    "an `s3://bucket/key` URI, or a local path containing '/' (e.g. `./data/train.csv`) that is uploaded"
)


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InputSpec(StrictModel):
    """The long form of an input: a source plus a sub-prefix under it (e.g. one folder of a step's output)."""

    source: str = Field(description=REFERENCE_HELP)
    prefix: str = Field("", description="appended under the source's S3 prefix, e.g. `test` → <source>/test")
    content_type: str | None = None
    destination: str | None = Field(
        None, description="processing and evaluation steps: the container folder the input is staged in, under "
                          "/opt/ml/processing/ (the SDK's ProcessingInput destination); default "
                          "/opt/ml/processing/input/<name>")


Input = str | InputSpec

PROCESSING_DEPENDENCIES_HELP = ("extra folders, relative to source_dir, packed beside the entry point under their "
                                "own names, as the SDK's FrameworkProcessor `dependencies`")
PROCESSING_COMMAND_HELP = ("the interpreter the entry point is run with, as the SDK's ScriptProcessor `command` "
                           "(e.g. [python3], [bash], [python3, -u])")


class OutputSpec(StrictModel):
    """The long form of a processing output, as the SDK's ProcessingOutput: where the script writes it and when
    it is uploaded."""

    source: str = Field(description="container folder under /opt/ml/processing/ the script writes the output to")
    s3_upload_mode: Literal["EndOfJob", "Continuous"] = Field(
        "EndOfJob", description="EndOfJob: uploaded when the script ends; Continuous: uploaded while it runs")


Outputs = list[Name] | dict[Name, str | OutputSpec]


class ImageSpec(StrictModel):
    """A container image: a framework + version resolved through the SageMaker SDK, or an explicit URI."""

    framework: str | None = Field(None, description="sklearn, xgboost, pytorch, tensorflow, …")
    version: str | None = Field(None, description="framework version as SageMaker names it, e.g. 1.2-1")
    py_version: str | None = None
    uri: str | None = Field(None, description="explicit ECR image URI; overrides framework/version")

    @model_validator(mode="after")
    def _one_way(self) -> ImageSpec:
        if self.uri is not None and not self.uri.strip():
            raise ValueError("the image URI is empty; give an ECR image URI like "
                             "123456789012.dkr.ecr.us-east-1.amazonaws.com/name:tag, or `framework` and `version`")
        if self.uri is None and not (self.framework and self.version):
            raise ValueError("give either `uri`, or both `framework` and `version` (e.g. sklearn / 1.2-1)")
        return self


class Defaults(StrictModel):
    """Settings every step inherits unless it overrides them."""

    role: str = Field("arn:aws:iam::000000000000:role/service-role/SmflowSageMakerRole",
                      description="IAM role ARN SageMaker jobs assume")
    bucket: str = Field("smflow", description="S3 bucket (the local store maps it to a directory)")
    prefix: str | None = Field(None, description="key prefix for everything the pipeline writes; default: name")
    region: str = "us-east-1"
    instance_type: InstanceType = "ml.m5.large"
    instance_count: InstanceCount = 1
    volume_size_gb: VolumeGb = 30
    max_runtime_seconds: RuntimeSeconds = 86400
    image: ImageSpec = ImageSpec(framework="sklearn", version="1.2-1")
    tags: dict[str, str] = {}
    environment: dict[str, Text] = {}

    @field_validator("bucket")
    @classmethod
    def _s3_bucket_name(cls, value: str) -> str:
        problem = bucket_name_problem(value)
        if problem:
            raise ValueError(f"{problem}; name a bucket by S3's naming rules")
        return value


class StepBase(StrictModel):
    name: Name
    depends_on: list[str] = Field([], description="extra upstream steps (`step` or `model.step`)")
    instance_type: InstanceType | None = None
    instance_count: InstanceCount | None = None
    image: ImageSpec | None = None
    environment: dict[str, Text] = {}
    max_runtime_seconds: RuntimeSeconds | None = None
    volume_size_gb: StepVolumeGb | None = None
    retries: Annotated[int, Field(ge=0, le=10)] | None = Field(None, description="default: airflow.retries")
    source_dir: str | None = Field(None, description="this step's scripts folder, relative to the YAML file; "
                                                     "default: the model unit's source_dir")


class ProcessingStep(StepBase):
    """A processing job running `entry_point` with inputs under /opt/ml/processing/input/<name>."""

    type: Literal["processing"]
    entry_point: str
    dependencies: list[Annotated[str, Field(min_length=1)]] = Field([], description=PROCESSING_DEPENDENCIES_HELP)
    command: Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)] = Field(
        ["python3"], description=PROCESSING_COMMAND_HELP)
    arguments: list[Text] = []
    inputs: dict[Name, Input] = Field({}, description=REFERENCE_HELP)
    outputs: Outputs = Field([], description="names (each written to /opt/ml/processing/output/<name>), or a "
                                             "mapping name → container folder (`train: /opt/ml/processing/train`) "
                                             "or name → {source, s3_upload_mode}")


def _s3_uri(value: str) -> str:
    """An `s3://bucket/key` location the spec names for SageMaker to write to (checked by S3's naming rules)."""
    bucket, _, key = value.removeprefix("s3://").partition("/")
    problem = ("write an S3 URI like s3://bucket/prefix" if not value.startswith("s3://") or not bucket
               else bucket_name_problem(bucket) or key_problem(key))
    if problem:
        raise ValueError(problem)
    return value


def _under_opt_ml(value: str) -> str:
    if not value.startswith("/opt/ml/") or value.rstrip("/") == "/opt/ml":
        raise ValueError("write a container folder under /opt/ml/, e.g. /opt/ml/checkpoints (the SDK's default)")
    return value


S3Uri = Annotated[str, AfterValidator(_s3_uri)]


def _kms_key(value: str) -> str:
    if not re.fullmatch(r"[a-zA-Z0-9:/_-]{1,2048}", value):
        raise ValueError("not a KMS key: give a key ID, key ARN or alias (letters, digits, ':', '/', '_', '-'), "
                         "e.g. alias/training or arn:aws:kms:us-east-1:111122223333:key/<id>")
    return value


KmsKey = Annotated[str, AfterValidator(_kms_key), Field(description="KMS key ID, key ARN or alias")]


class CheckpointSpec(StrictModel):
    """The SDK's checkpoint_s3_uri / checkpoint_local_path (CheckpointConfig): what the script writes to
    `local_path` is saved to `s3_uri`, and a later job of the step (a retry, a spot restart) starts with it."""

    s3_uri: S3Uri | None = Field(None, description="where checkpoints are kept; default: <run prefix>/checkpoints/, "
                                                   "shared by every try of the step in one DAG run")
    local_path: Annotated[str, Field(max_length=4096), AfterValidator(_under_opt_ml)] = Field(
        "/opt/ml/checkpoints", description="container folder the script writes checkpoints to")


class Enabled(StrictModel):
    enabled: bool


class MpiSpec(StrictModel):
    enabled: bool
    processes_per_host: Annotated[int, Field(ge=1)] | None = None
    custom_mpi_options: str = ""


class DataParallelSpec(StrictModel):
    enabled: bool
    custom_mpi_options: str = ""


class ModelParallelSpec(StrictModel):
    enabled: bool
    parameters: dict[str, Scalar | list[Scalar]] = {}


class SmdistributedSpec(StrictModel):
    dataparallel: DataParallelSpec | None = None
    modelparallel: ModelParallelSpec | None = None


class DistributionSpec(StrictModel):
    """The SDK's `distribution` dict of framework estimators; compiled to the `sagemaker_*` hyperparameters the
    SDK sets (see compile/distribution.py)."""

    torch_distributed: Enabled | None = Field(None, description="PyTorch: torchrun launcher")
    pytorchddp: Enabled | None = Field(None, description="PyTorch: DDP through mpirun")
    smdistributed: SmdistributedSpec | None = Field(None, description="SageMaker data / model parallel libraries")
    mpi: MpiSpec | None = None
    parameter_server: Enabled | None = Field(None, description="TensorFlow / MXNet parameter servers")
    multi_worker_mirrored_strategy: Enabled | None = Field(None, description="TensorFlow MultiWorkerMirrored")

    @model_validator(mode="after")
    def _model_parallel_needs_mpi(self) -> DistributionSpec:
        if self.smdistributed and self.smdistributed.modelparallel and self.mpi is None:
            raise ValueError("smdistributed.modelparallel runs through MPI; add `mpi: {enabled: true}` (the SDK "
                             "refuses model parallelism without MPI)")
        return self


class TrainingStep(StepBase):
    """A training job, script mode (`entry_point`) or the built-in XGBoost algorithm (no entry_point); outputs
    `model` (model.tar.gz) and `output` (output.tar.gz)."""

    @field_validator("hyperparameters")
    @classmethod
    def _no_framework_keys(cls, value: dict[str, Scalar]) -> dict[str, Scalar]:
        reserved = sorted(k for k in value if k.startswith("sagemaker_"))
        if reserved:
            raise ValueError(f"{', '.join(reserved)}: hyperparameters starting with `sagemaker_` are set by smflow "
                             "(entry_point, source_dir, region); rename them")
        return value

    type: Literal["training"]
    entry_point: str | None = Field(None, description="training script in source_dir (script mode); omit it for "
                                                      "the built-in XGBoost algorithm (an xgboost image, "
                                                      "hyperparameters such as num_round and objective)")
    hyperparameters: dict[str, Annotated[Scalar, TEXT]] = {}
    inputs: dict[Name, Input] = Field({}, description="channel name → " + REFERENCE_HELP)
    input_mode: Literal["File", "FastFile"] = "File"
    metrics: dict[str, Annotated[str, Field(min_length=1, max_length=500)]] = Field(
        {}, description="metric name → regex with one capture group, applied to the job's log")
    # The SDK estimator options below compile to CreateTrainingJob fields (compile/requests.py `training`).
    dependencies: list[Annotated[str, Field(min_length=1)]] = Field(
        [], description="extra folders, relative to source_dir, packed beside the entry point in sourcedir.tar.gz "
                        "under their own names (the SDK's `dependencies`), so `import mylib` works")
    output_path: S3Uri | None = Field(None, description="S3 URI the model artifacts are written under "
                                                        "(<output_path>/<job>/output/model.tar.gz); default: the "
                                                        "run's prefix")
    output_kms_key: KmsKey | None = None
    volume_kms_key: KmsKey | None = None
    checkpoints: CheckpointSpec | None = None
    use_spot_instances: bool = Field(False, description="managed spot training; needs max_wait")
    max_wait: Annotated[int, Field(ge=1, le=2419200)] | None = Field(
        None, description="seconds to wait for spot capacity plus run time; at least max_runtime_seconds")
    distribution: DistributionSpec | None = None
    keep_alive_period: Annotated[int, Field(ge=0, le=21600)] | None = Field(
        None, description="seconds a warm pool keeps the instances after the job (KeepAlivePeriodInSeconds)")

    @field_validator("max_wait")
    @classmethod
    def _spot_only(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value is not None and not info.data.get("use_spot_instances"):
            raise ValueError("max_wait applies to managed spot training only; set `use_spot_instances: true` or "
                             "remove max_wait")
        return value


class CreateModelStep(StepBase):
    """A SageMaker Model from a training step's artifact and an inference script (code/inference.py contract)."""

    type: Literal["create_model"]
    model: str = Field(description="training step (`train` or `model.train`) whose model.tar.gz to serve")
    entry_point: str | None = Field("inference.py", description="inference script in source_dir; null when "
                                                                "model.tar.gz carries its own code/")


class TransformStep(StepBase):
    """A batch transform job; output `predictions` holds one `<input>.out` per input object."""

    type: Literal["transform"]
    model: str = Field(description="create_model step to run")
    input: Input = Field(description=REFERENCE_HELP)
    # Like the SDK's Transformer / transform(): absent options are left out of the request, so SageMaker's
    # and the container's defaults apply (an SKLearn container then answers JSON, one response per object).
    content_type: str | None = Field(None, description="MIME type of the input, e.g. text/csv; absent: none sent")
    accept: str | None = Field(None, description="MIME type to answer in; absent: the container's default "
                                                 "(SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT, else application/json)")
    split_type: Literal["None", "Line"] | None = Field(None, description="Line: one record per line; "
                                                                         "absent: None (each object whole)")
    batch_strategy: Literal["SingleRecord", "MultiRecord"] | None = Field(
        None, description="absent: the container's execution-parameters, else MultiRecord")
    max_payload_mb: Annotated[int, Field(ge=0, le=100)] | None = Field(
        None, description="absent: the container's execution-parameters, else 6")
    max_concurrent_transforms: Annotated[int, Field(ge=0)] | None = Field(
        None, description="absent or 0: the container's execution-parameters, else 1")
    assemble_with: Literal["None", "Line"] | None = Field(None, description="Line: a newline after each response; "
                                                                            "absent: None (concatenated)")
    input_filter: str | None = None
    join_source: Literal["None", "Input"] | None = None
    output_filter: str | None = None

    @field_validator("max_concurrent_transforms")
    @classmethod
    def _payload_product(cls, value: int | None, info: ValidationInfo) -> int | None:
        """SageMaker's CreateTransformJob limit: MaxConcurrentTransforms × MaxPayloadInMB ≤ 100 MB."""
        payload = info.data.get("max_payload_mb")
        if value and payload and value * payload > 100:
            raise ValueError(f"max_concurrent_transforms × max_payload_mb = {value} × {payload} exceeds SageMaker's "
                             "limit of 100 MB; lower one of them")
        return value


class EvaluationStep(StepBase):
    """A processing job that writes a metrics report (`report`, JSON) to /opt/ml/processing/evaluation."""

    type: Literal["evaluation"]
    entry_point: str
    dependencies: list[Annotated[str, Field(min_length=1)]] = Field([], description=PROCESSING_DEPENDENCIES_HELP)
    command: Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)] = Field(
        ["python3"], description=PROCESSING_COMMAND_HELP)
    arguments: list[Text] = []
    inputs: dict[Name, Input] = Field({}, description=REFERENCE_HELP)
    report: str = Field("evaluation.json", description="file name of the metrics JSON the script writes")
    output_dir: Annotated[str, Field(pattern=r"^/opt/ml/processing/")] = Field(
        "/opt/ml/processing/evaluation", description="container folder the report is written to (uploaded)")


Comparison = Literal["lt", "le", "gt", "ge", "eq", "ne"]


Threshold = Annotated[float | str, Slot("number")]  # finite (a NaN threshold could never hold), or a parameter


class Check(StrictModel):
    metric: str = Field(description="dotted path into the report JSON, e.g. regression_metrics.mse.value")
    lt: Threshold | None = None
    le: Threshold | None = None
    gt: Threshold | None = None
    ge: Threshold | None = None
    eq: Threshold | None = None
    ne: Threshold | None = None

    @model_validator(mode="after")
    def _one_comparison(self) -> Check:
        given = [op for op in ("lt", "le", "gt", "ge", "eq", "ne") if getattr(self, op) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of lt, le, gt, ge, eq, ne (got {given or 'none'})")
        return self


class BeatApproved(StrictModel):
    """The new model must beat the currently approved version in `group` by `margin`."""

    metric: str
    direction: Literal["minimize", "maximize"]
    margin: Annotated[float | str, Slot("number", minimum=0)] = 0.0
    group: str | None = Field(None, description="model package group; default: the unit's register step group")


class ConditionStep(StrictModel):
    """A gate on an evaluation report: when it does not hold, downstream steps are skipped (or the run fails)."""

    name: Name
    type: Literal["condition"]
    report: str = Field(description="evaluation step whose report to read")
    checks: list[Check] = []
    beat_approved: BeatApproved | None = None
    on_fail: Literal["skip", "fail"] = "skip"
    depends_on: list[str] = []

    @model_validator(mode="after")
    def _something_to_check(self) -> ConditionStep:
        if not self.checks and self.beat_approved is None:
            raise ValueError("a condition needs `checks`, `beat_approved`, or both")
        return self


class RegisterStep(StepBase):
    """A model package version in the registry (SageMaker Model Registry, or the local SQLite one)."""

    type: Literal["register"]
    model: str = Field(description="training step whose model.tar.gz to register")
    group: str | None = Field(None, description="model package group; default `<pipeline>-<model unit>`")
    approval: Annotated[str, Slot("choice", choices=("Approved", "PendingManualApproval", "Rejected"))] = \
        "PendingManualApproval"
    report: str | None = Field(None, description="evaluation step whose report becomes the model metrics")
    entry_point: str | None = Field("inference.py", description="inference script in source_dir; null when "
                                                                "model.tar.gz carries its own code/")
    content_types: list[str] = ["text/csv"]
    response_types: list[str] = ["text/csv"]


class BaselineStep(StepBase):
    """A drift baseline: the training data sketched per feature (quantile bins, top-k categories), stored beside
    the run's artifacts and recorded with the registered version (DriftCheckBaselines); runs in the worker."""

    type: Literal["baseline"]
    data: Input = Field(description="the training data to sketch, e.g. `preprocess.train`; " + REFERENCE_HELP)
    columns: list[Annotated[str, Field(min_length=1)]] | None = Field(
        None, description="the data's column names when its CSV files have no header row (SageMaker's convention: "
                          "label first), e.g. [target, age, bmi]; default: monitor.columns; null: a header row")
    predictions: Input | None = Field(
        None, description="the model's predictions at training time (e.g. `predict.predictions`, one per line), "
                          "sketched too: the monitor then compares the batch DAG's predictions with them")


class DeployGuardrails(StrictModel):
    """SageMaker's deployment guardrails for an update (sagemaker executor): a blue/green traffic shift and the
    CloudWatch alarms that roll it back. https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails.html"""

    traffic: Literal["all_at_once", "canary", "linear"] = "all_at_once"
    step_percent: Annotated[int, Field(ge=1, le=100)] | None = Field(
        None, description="canary: the canary's share, linear: each step's, in % of capacity (required for both)")
    wait_seconds: Annotated[int, Field(ge=0, le=3600)] = Field(300, description="bake time between traffic shifts")
    termination_wait_seconds: Annotated[int, Field(ge=0, le=3600)] = Field(
        0, description="how long the old (blue) fleet is kept after the shift")
    alarms: list[Annotated[str, Field(min_length=1, max_length=255)]] = Field(
        [], max_length=10, description="CloudWatch alarms that roll the update back (AutoRollbackConfiguration)")

    @model_validator(mode="after")
    def _step_for_shifts(self) -> DeployGuardrails:
        if self.traffic != "all_at_once" and self.step_percent is None:
            raise ValueError(f"traffic: {self.traffic} shifts in steps; give step_percent (1-100)")
        return self


class DeployStep(StepBase):
    """A real-time endpoint serving an Approved registered version; each deployment gets a new endpoint config."""

    type: Literal["deploy"]
    model: str | None = Field(None, description="register step whose version to deploy (it must be Approved); "
                                                "or give `group`")
    group: str | None = Field(None, description="model package group whose latest Approved version to deploy")
    endpoint_name: str | None = Field(None, description="default `<pipeline>-<model unit>`")
    timeout_minutes: Annotated[int, Field(ge=1, le=600)] = Field(
        30, description="how long to wait for InService before the task fails (the endpoint keeps its state)")
    guardrails: DeployGuardrails | None = None

    @model_validator(mode="after")
    def _one_source(self) -> DeployStep:
        if (self.model is None) == (self.group is None):
            raise ValueError("give exactly one of `model` (a register step) or `group` (its latest Approved version)")
        return self


Step = Annotated[
    ProcessingStep | TrainingStep | CreateModelStep | TransformStep | EvaluationStep | ConditionStep
    | RegisterStep | DeployStep | BaselineStep,
    Field(discriminator="type"),
]


def _object_name(value: str) -> str:
    if not value or "/" in value or value in {".", ".."}:
        raise ValueError("write a file name without '/', e.g. _SUCCESS")
    return value


class BatchModelRef(StrictModel):
    """Which registered model scores the batches: a model package group and a version in it."""

    group: str | None = Field(None, description="model package group; default: the unit's register step's group")
    version: Annotated[int, Field(ge=1)] | None = Field(None, description="pinned version; null: the latest "
                                                                          "Approved one at each run")


class BatchTransformSpec(StrictModel):
    """The transform job's settings, as the SDK's Transformer / transform() take them; absent ones are the unit's
    training-side transform step's, else left out so SageMaker's and the container's defaults apply."""

    content_type: str | None = None
    accept: str | None = None
    split_type: Literal["None", "Line"] | None = None
    batch_strategy: Literal["SingleRecord", "MultiRecord"] | None = None
    max_payload_mb: Annotated[int, Field(ge=0, le=100)] | None = None
    max_concurrent_transforms: Annotated[int, Field(ge=0)] | None = None
    assemble_with: Literal["None", "Line"] | None = None
    instance_type: str | None = None
    instance_count: Annotated[int, Field(ge=1)] | None = None
    input_filter: str | None = None
    join_source: Literal["None", "Input"] | None = None
    output_filter: str | None = None
    environment: dict[str, str] = {}


class BatchPreprocess(StrictModel):
    """A processing job run on each batch before the transform (e.g. the featurizer the training side uses), as
    the SDK's ScriptProcessor / FrameworkProcessor run it; what it writes to `output` is what the model scores."""

    entry_point: str
    source_dir: str | None = Field(None, description="scripts folder, relative to the YAML file; default: the "
                                                     "model unit's source_dir")
    dependencies: list[Annotated[str, Field(min_length=1)]] = Field([], description=PROCESSING_DEPENDENCIES_HELP)
    command: Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)] = Field(
        ["python3"], description=PROCESSING_COMMAND_HELP)
    arguments: list[Text] = []
    destination: str = Field("/opt/ml/processing/input/batch",
                             description="container folder the batch's objects are staged in")
    output: str = Field("/opt/ml/processing/output", description="container folder the script writes the "
                                                                 "transform's input to")
    image: ImageSpec | None = None
    instance_type: InstanceType | None = None
    instance_count: InstanceCount | None = None
    volume_size_gb: StepVolumeGb | None = None
    max_runtime_seconds: RuntimeSeconds | None = None
    environment: dict[str, Text] = {}


class BatchSpec(StrictModel):
    """Batch prediction of this unit's registered model on data arriving under `input` (the `<pipeline>__batch`
    DAG): each batch is predicted once per model version, its predictions and a manifest written under `output`."""

    input: S3Uri = Field(description="s3:// prefix where batches arrive (on the local executor: the local store)")
    pattern: Annotated[str, Field(min_length=1)] = Field(
        "*.csv", description="fnmatch pattern on an object's key relative to `input` (e.g. `*.csv`, `*/part-*`)")
    marker: Annotated[str, AfterValidator(_object_name)] | None = Field(
        None, description="e.g. _SUCCESS: a batch is a folder under `input` holding this object, made of the "
                          "folder's objects matching `pattern`; without it every matching object is a batch")
    output: S3Uri | None = Field(None, description="where predictions go; default <bucket>/<prefix>/predictions/"
                                                   "<unit>/ (one folder per batch and model version)")
    model: BatchModelRef = BatchModelRef()
    preprocess: BatchPreprocess | None = Field(None, description="a processing job on each batch first; its "
                                                                 "output is what the transform scores")
    transform: BatchTransformSpec = BatchTransformSpec()


DURATION_PATTERN = r"^([0-9]+)\s*(s|m|h|d)$"
DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _duration(value: object) -> object:
    """`6h`, `30m`, `1d`, `90s` or a number of seconds → a timedelta."""
    if isinstance(value, str):
        found = re.fullmatch(DURATION_PATTERN, value.strip())
        if not found:
            raise ValueError(f"'{value}' is not a duration; write a number and a unit: 90s, 30m, 6h or 1d")
        try:
            return timedelta(seconds=int(found.group(1)) * DURATION_UNITS[found.group(2)])
        except OverflowError:
            raise ValueError(f"'{value}' is longer than a duration can be; write at most 999999999d") from None
    return value


class FeatureDrift(StrictModel):
    """One feature's drift test: the statistic and the threshold it is drifted at (default: by type and size)."""

    statistic: str | None = Field(None, description="psi, ks, jensenshannon, wasserstein, chisquare, …; default: "
                                                    "by the feature's type and the reference size")
    threshold: Annotated[float, Field(allow_inf_nan=False, ge=0)] | None = Field(
        None, description="default: the statistic's own")


class MonitorBaseline(StrictModel):
    """Where the baseline comes from: the unit gets a `baseline` step sketching `data` after the step writing it."""

    data: str = Field(description="training data to sketch, a step output reference like `preprocess.train`")
    columns: list[Annotated[str, Field(min_length=1)]] | None = Field(
        None, description="the training files' column names when they have no header row (e.g. [target, age, "
                          "bmi]: label first, as SageMaker's CSV convention); default: monitor.columns")
    predictions: str | None = Field(
        None, description="prediction drift: the predictions at training time to sketch, e.g. `predict.predictions`"
                          " (one per line); each batch's predictions by the batch DAG are compared with them")


class MonitorQuality(StrictModel):
    """Model-quality drift once labels arrive: the metric on a batch's labels and the batch DAG's predictions of
    it, against the version's evaluation value (its registered ModelMetrics report)."""

    labels: S3Uri = Field(description="s3:// prefix where labels arrive: batch B's are the objects under "
                                      "<labels>/B, one per line in the batch's row order")
    metric: Literal["rmse", "mae", "accuracy"] = Field(description="computed on labels vs predictions")
    report_metric: Annotated[str, Field(min_length=1)] = Field(
        description="the same metric in the version's evaluation report, e.g. regression_metrics.rmse.value")
    tolerance: Annotated[float, Field(ge=0, allow_inf_nan=False)] = Field(
        0.0, description="drifted when the metric is worse than at evaluation by more than this (its units)")


class MonitorSpec(StrictModel):
    """Data drift of arriving batches against the baseline of the version in production (`<pipeline>__monitor`);
    on dataset drift the Asset `smflow://<pipeline>/retrain` is updated, which the train DAG is scheduled on."""

    input: S3Uri | None = Field(None, description="s3:// prefix where batches to check arrive; default: "
                                                  "batch.input (the batches the batch DAG scores)")
    pattern: Annotated[str, Field(min_length=1)] | None = Field(None, description="default: batch.pattern, else "
                                                                                  "*.csv")
    marker: Annotated[str, AfterValidator(_object_name)] | None = Field(None, description="as batch.marker")
    output: S3Uri | None = Field(None, description="drift reports go to <output>/<batch>/drift.json|html; "
                                                   "default <bucket>/<prefix>/monitoring/<unit>/")
    columns: list[Annotated[str, Field(min_length=1)]] | None = Field(
        None, description="the batches' column names when their CSV files have no header row; null: a header row")
    exclude: list[Annotated[str, Field(min_length=1)]] = Field(
        [], description="columns never monitored (e.g. the label or an id)")
    categorical: list[Annotated[str, Field(min_length=1)]] | None = Field(
        None, description="columns to treat as categorical; default: by type (strings)")
    baseline: MonitorBaseline | None = Field(None, description="the training data to sketch; omit it when the "
                                                               "unit has a `baseline` step of its own")
    drift_share: Annotated[float, Field(gt=0, le=1)] = Field(
        0.5, description="dataset drift when at least this share of the features drifted")
    features: dict[Annotated[str, Field(min_length=1)], FeatureDrift] = Field(
        {}, description="per feature: {statistic, threshold}")
    cooldown: Annotated[timedelta, BeforeValidator(_duration)] = Field(
        timedelta(hours=24), description="after a drift triggered a retraining, later drifts within this time "
                                         "trigger none (one episode, one retraining): 90s, 30m, 6h, 1d")
    retrain: bool = Field(True, description="on dataset (or quality) drift, update smflow://<pipeline>/retrain "
                                            "(the train DAG listens to it by default)")
    quality: MonitorQuality | None = Field(None, description="model-quality drift when labels arrive (needs a "
                                                             "`batch:` section for the predictions)")
    model: BatchModelRef = BatchModelRef()


class ModelUnit(StrictModel):
    """One model's steps; scripts are found in `source_dir` (relative to the YAML file)."""

    source_dir: str = "."
    steps: Annotated[list[Step], Field(min_length=1)]
    batch: BatchSpec | None = Field(None, description="batch prediction with the approved model (`__batch` DAG)")
    monitor: MonitorSpec | None = Field(None, description="drift monitoring of arriving batches (`__monitor` DAG)")


class AssetSchedule(StrictModel):
    assets: Annotated[list[str], Field(min_length=1)] = Field(description="asset URIs; all must update (AND)")
    cron: Annotated[str, Field(min_length=1)] | None = Field(
        None, description="schedule.train only: also run on this cron or preset; either one starts a run "
                          "(Airflow's AssetOrTimeSchedule)")


ScheduleValue = str | AssetSchedule | None


class OnDataSchedule(StrictModel):
    """Run whenever a new batch arrives: a deferrable sensor waits for it (in the triggerer, not a worker slot)."""

    on_data: Literal[True] = Field(description="true: the batch DAG runs continuously, each run waiting for data")
    poke_seconds: Annotated[int, Field(ge=1, le=86400)] = Field(60, description="how often the input is listed")


class Schedules(StrictModel):
    train: ScheduleValue = Field(
        None, description="cron, preset (@daily), `{assets: [...]}`, both `{assets: [...], cron: ...}`, or null "
                          "(manual; with a monitor: the retrain asset)")
    batch: str | AssetSchedule | OnDataSchedule | None = Field(
        None, description="the batch DAG: cron, preset, `{assets: [...]}`, `{on_data: true}` or null (manual)")
    monitor: str | AssetSchedule | OnDataSchedule | None = Field(
        None, description="the monitor DAG: cron, preset, `{assets: [...]}`, `{on_data: true}` or null (manual)")


class DagSettings(StrictModel):
    """Airflow settings of every DAG of this pipeline, with the defaults a scheduled ML pipeline wants."""

    owner: Annotated[str, Field(min_length=1, max_length=100)] = "smflow"
    start_date: date = Field(date(2024, 1, 1), description="first date the schedule counts from (UTC)")
    catchup: bool = Field(False, description="create runs for every missed interval since start_date")
    max_active_runs: Annotated[int, Field(ge=1, le=100)] = Field(
        1, description="runs of one DAG at a time; 1 keeps retraining runs from racing to register")
    retries: Annotated[int, Field(ge=0, le=10)] = Field(0, description="task retries unless a step sets its own")
    retry_delay: timedelta = Field(timedelta(minutes=5), description="seconds, or an ISO 8601 duration (PT5M)")
    tags: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        [], description="extra tags besides smflow, the DAG kind and the pipeline name")

    @field_validator("retry_delay")
    @classmethod
    def _positive_delay(cls, value: timedelta) -> timedelta:
        if value.total_seconds() < 0 or value.days > 7:
            raise ValueError("retry_delay must be between 0 seconds and 7 days")
        return value


class Options(StrictModel):
    task_ids: Literal["qualified", "step"] = Field(
        "qualified", description="`qualified`: task ids are `<model>.<step>`; `step`: the bare step name")


ParameterType = Literal["string", "integer", "number", "boolean"]


def parameter_type_of(value: object) -> ParameterType | None:
    """The parameter type a short-form default (`threshold: 0.5`) implies; bool before int (bool is an int)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return None


def _fits_type(value: object, kind: ParameterType) -> bool:
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    return parameter_type_of(value) == kind


class Parameter(StrictModel):
    """A pipeline parameter set per run, as SageMaker Pipelines' ParameterString / ParameterInteger /
    ParameterFloat / ParameterBoolean: an Airflow param of the pipeline's DAGs (the Trigger form shows it),
    referenced as `{{ params.NAME }}` in the fields that take one. `name: <default>` is the short form."""

    type: ParameterType = Field(description="string, integer, number or boolean; default: the default's type")
    default: Scalar = Field(description="the value a run uses unless its conf (or the Trigger form) sets another")
    description: str = Field("", description="shown under the field in Airflow's Trigger form")
    enum: Annotated[list[Scalar], Field(min_length=1)] | None = Field(None, description="the allowed values")
    minimum: Annotated[float, Field(allow_inf_nan=False)] | None = Field(None, description="integer/number only")
    maximum: Annotated[float, Field(allow_inf_nan=False)] | None = Field(None, description="integer/number only")

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        """For editors: the mapping (whose `type` may be left out) or the short form, a bare default."""
        reference = handler(schema)
        mapping = handler.resolve_ref_schema(reference)
        mapping["required"] = [key for key in mapping.get("required", []) if key != "type"]
        return {"anyOf": [reference, {"type": ["string", "integer", "number", "boolean"]}]}

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, data: object) -> object:
        if isinstance(data, dict):
            if "type" not in data and parameter_type_of(data.get("default")):
                return {**data, "type": parameter_type_of(data["default"])}
            return data
        if parameter_type_of(data) is None:
            raise ValueError("a parameter is its default value (e.g. `threshold: 0.5`) or a mapping "
                             "{type, default, description, enum, minimum, maximum}")
        return {"type": parameter_type_of(data), "default": data}

    @model_validator(mode="after")
    def _consistent(self) -> Parameter:
        numeric = self.type in ("integer", "number")
        if not _fits_type(self.default, self.type):
            raise ValueError(f"default {self.default!r} is not a{'n' if self.type == 'integer' else ''} "
                             f"{self.type}{' (finite)' if self.type == 'number' else ''}; give a default of the "
                             "parameter's type, or change `type`")
        if not numeric and (self.minimum is not None or self.maximum is not None):
            raise ValueError(f"minimum and maximum apply to integer and number parameters, not {self.type}")
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise ValueError(f"minimum {self.minimum:g} is above maximum {self.maximum:g}")
        for value in [*(self.enum or []), self.default]:
            if not _fits_type(value, self.type):
                article = "an" if self.type == "integer" else "a"
                raise ValueError(f"enum value {value!r} is not {article} {self.type} like the parameter")
            if numeric and ((self.minimum is not None and float(value) < self.minimum)  # type: ignore[arg-type]
                            or (self.maximum is not None and float(value) > self.maximum)):  # type: ignore[arg-type]
                raise ValueError(f"{value!r} is outside minimum {self.minimum} / maximum {self.maximum}")
        if self.enum is not None and self.default not in self.enum:
            raise ValueError(f"default {self.default!r} is not one of enum {self.enum}")
        return self


class PipelineSpec(StrictModel):
    """One ML project: model units, their steps, schedules and extra dependencies."""

    pipeline: Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]*$", max_length=48)]
    description: str = ""
    defaults: Defaults = Defaults()
    schedule: Schedules = Schedules()
    options: Options = Options()
    airflow: DagSettings = Field(DagSettings(), description="owner, start_date, catchup, max_active_runs, "
                                                            "retries, retry_delay, tags of the DAGs")
    models: Annotated[dict[Name, ModelUnit], Field(min_length=1)]
    dependencies: list[str] = Field([], description="Airflow notation: `a >> b >> c` (step or model.step)")
    parameters: dict[str, Parameter] = Field(
        {}, description="name → default (`threshold: 0.5`) or {type, default, description, enum, minimum, "
                        "maximum}; set per run, referenced as `{{ params.NAME }}`")

    @property
    def prefix(self) -> str:
        return (self.defaults.prefix or self.pipeline).strip("/")
