"""Seed-framework confs load unchanged: exact task ids and edges, faithful settings, errors in the seed files.

The projects under tests/fixtures/seed repeat the confs of aws-samples/dynamic-sagemaker-pipelines-framework's
examples/lgbm, examples/tf and examples/multi-model-example as they are (the multi-model files named conf.yaml, as
the framework README's `*/conf/conf.yaml` glob expects), with small stand-in scripts for their entry points.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from smflow.spec import load_pipeline
from smflow.spec.errors import SpecError, SpecIssue
from smflow.spec.load import SourceMap
from smflow.spec.model import (
    CreateModelStep,
    EvaluationStep,
    InputSpec,
    ProcessingStep,
    RegisterStep,
    TrainingStep,
    TransformStep,
)
from smflow.spec.resolve import OutputRef, PipelineDocument, ResolvedInput
from smflow.spec.seedconf import load_seed_documents, seed_files, to_native_yaml

SEED = Path(__file__).resolve().parents[2] / "fixtures" / "seed"
LGBM = SEED / "lgbm" / "examples"
TF = SEED / "tf" / "examples"
MULTI = SEED / "multi" / "examples" / "multi-model-example"
ENV = {"SMP_ACCOUNTID": "111122223333", "SMP_REGION": "eu-west-1", "SMP_S3BUCKETNAME": "seed-bucket",
       "SMP_ROLE": "arn:aws:iam::111122223333:role/SeedRole"}


def load(root: Path, env: dict[str, str] | None = None) -> PipelineDocument:
    return load_seed_documents(seed_files(str(root / "*" / "conf" / "conf.yaml")), ENV if env is None else env)


def errors(root: Path, env: dict[str, str] | None = None) -> list[SpecIssue]:
    with pytest.raises(SpecError) as info:
        load(root, env)
    return info.value.issues


def line_of(file: Path, text: str, occurrence: int = 1) -> int:
    lines = [n for n, line in enumerate(file.read_text().splitlines(), 1) if text in line]
    return lines[occurrence - 1]


def copy(root: Path, tmp_path: Path) -> Path:
    """A writable copy of a whole fixture project (source_directory is relative to the project's top folder)."""
    relative = root.relative_to(SEED)
    shutil.copytree(SEED / relative.parts[0], tmp_path / relative.parts[0])
    return tmp_path / relative


def edit(file: Path, old: str, new: str) -> None:
    text = file.read_text()
    assert old in text
    file.write_text(text.replace(old, new, 1))


# ---- (a) single model: the framework's lgbm example ----------------------------------------------------

LGBM_TASKS = {"lgbm-Training", "lgbm-CreateModel", "lgbm-Transform", "lgbm-Metrics", "lgbm-Register"}
LGBM_EDGES = {
    ("lgbm-Training", "lgbm-CreateModel"),  # dependency line (and the model artifact)
    ("lgbm-CreateModel", "lgbm-Transform"),  # dependency line (and the model)
    ("lgbm-Transform", "lgbm-Metrics"),  # dependency line and chain_input_source_step
    ("lgbm-Metrics", "lgbm-Register"),  # dependency line (and the report)
    ("lgbm-Training", "lgbm-Register"),  # the registered model artifact
}


def test_single_model_task_ids_and_edges() -> None:
    doc = load(LGBM)
    assert set(doc.nodes) == LGBM_TASKS
    assert set(doc.edges) == LGBM_EDGES
    assert doc.spec.pipeline == "lgbm-test"
    assert doc.spec.options.task_ids == "step"
    assert list(doc.spec.models) == ["lgbm"]
    assert doc.sources == [LGBM / "lgbm" / "conf" / "conf.yaml"]


def test_single_model_settings_and_placeholders() -> None:
    doc = load(LGBM)
    train = doc.nodes["lgbm-Training"].step
    assert isinstance(train, TrainingStep)
    assert train.entry_point == "training/training.py"
    assert train.instance_type == "ml.c5.xlarge"
    assert train.image is not None
    assert train.image.uri == "111122223333.dkr.ecr.eu-west-1.amazonaws.com/pytorch-training:1.9.0-cpu-py38"
    assert train.inputs == {"train": "s3://seed-bucket/lightGBM/train", "test": "s3://seed-bucket/lightGBM/test"}
    assert doc.nodes["lgbm-Training"].source_dir == LGBM / "lgbm"

    create = doc.nodes["lgbm-CreateModel"].step
    assert isinstance(create, CreateModelStep)
    assert (create.model, create.entry_point) == ("lgbm-Training", "transform/transform.py")
    assert create.image is not None
    assert create.image.uri == "111122223333.dkr.ecr.eu-west-1.amazonaws.com/lightgbm-inference:lightgbm-i0.0"

    transform = doc.nodes["lgbm-Transform"].step
    assert isinstance(transform, TransformStep)
    assert transform.input == "s3://seed-bucket/lightGBM/test/x_test.npy"
    assert (transform.content_type, transform.accept) == ("application/x-npy", "application/x-npy")
    assert (transform.split_type, transform.assemble_with) == ("None", "None")  # the framework leaves them unset
    assert transform.image is None  # the framework's Transformer runs the CreateModel model, not transform.image_uri

    metrics = doc.nodes["lgbm-Metrics"].step
    assert isinstance(metrics, EvaluationStep)
    assert metrics.report == "model_evaluation_metrics.json"
    assert metrics.max_runtime_seconds == 3600
    assert metrics.inputs == {"online_shoppers_intention_ytest": "s3://seed-bucket/lightGBM/test/y_test.npy",
                              "lgbm-Transform-test": "lgbm-Transform.predictions"}

    register = doc.nodes["lgbm-Register"].step
    assert isinstance(register, RegisterStep)
    assert (register.model, register.report, register.approval) == ("lgbm-Training", "lgbm-Metrics",
                                                                    "PendingManualApproval")
    assert register.content_types == register.response_types == ["application/json"]

    defaults = doc.spec.defaults
    assert (defaults.instance_type, defaults.max_runtime_seconds, defaults.volume_size_gb) == ("ml.m5.2xlarge", 3000,
                                                                                               32)
    # per step, as the framework sizes them: 50 GB for its Metrics step, 32 GB elsewhere
    metrics = next(n.step for n in doc.nodes.values() if n.step.type == "evaluation")
    assert metrics.volume_size_gb == 50  # type: ignore[union-attr]
    assert (defaults.role, defaults.bucket, defaults.region) == (ENV["SMP_ROLE"], "seed-bucket", "eu-west-1")


# ---- (b) two models in two files, sagemakerPipeline in one of them ----------------------------------------

MULTI_TASKS = {
    "calhousing-pca-Preprocessing", "calhousing-pca-Training", "calhousing-pca-Register",
    "calhousing-tf-Preprocessing", "calhousing-tf-Training", "calhousing-tf-CreateModel", "calhousing-tf-Transform",
    "calhousing-tf-Metrics", "calhousing-tf-Register",
}
MULTI_EDGES = {
    ("calhousing-pca-Preprocessing", "calhousing-pca-Training"),
    ("calhousing-pca-Training", "calhousing-pca-Register"),
    ("calhousing-pca-Training", "calhousing-tf-Preprocessing"),  # chain across models
    ("calhousing-pca-Register", "calhousing-tf-Register"),  # the cross-model dependency line
    ("calhousing-tf-Preprocessing", "calhousing-tf-Training"),
    ("calhousing-tf-Preprocessing", "calhousing-tf-Transform"),
    ("calhousing-tf-Preprocessing", "calhousing-tf-Metrics"),
    ("calhousing-tf-Training", "calhousing-tf-CreateModel"),
    ("calhousing-tf-Training", "calhousing-tf-Register"),
    ("calhousing-tf-CreateModel", "calhousing-tf-Transform"),
    ("calhousing-tf-Transform", "calhousing-tf-Metrics"),
    ("calhousing-tf-Metrics", "calhousing-tf-Register"),
}


def test_multi_model_across_two_files() -> None:
    files = seed_files(str(MULTI / "*" / "conf" / "conf.yaml"))
    assert [f.parent.parent.name for f in files] == ["cal_housing_pca", "cal_housing_tf"]
    assert "sagemakerPipeline" not in files[0].read_text()
    doc = load_seed_documents(files, ENV)
    assert set(doc.nodes) == MULTI_TASKS
    assert set(doc.edges) == MULTI_EDGES
    assert list(doc.spec.models) == ["calhousingpca", "calhousingtf"]
    assert doc.file == files[1]  # the file with sagemakerPipeline
    assert doc.sources == files
    assert doc.nodes["calhousing-pca-Training"].source_dir == MULTI / "cal_housing_pca" / "modelscripts"
    assert doc.nodes["calhousing-tf-Training"].source_dir == MULTI / "cal_housing_tf" / "modelscripts"

    tf_prep = doc.nodes["calhousing-tf-Preprocessing"].step
    assert isinstance(tf_prep, ProcessingStep)
    assert tf_prep.inputs == {
        "raw_data": "s3://seed-bucket/tf2-california-housing-pipelines/traindata/cal_housing.data",
        "calhousing-pca-Training-input-train": "calhousingpca.calhousing-pca-Training.model",
    }
    assert doc.inputs[("calhousing-tf-Preprocessing", "calhousing-pca-Training-input-train")] == ResolvedInput(
        OutputRef("calhousing-pca-Training", "model"))
    pca_register = doc.nodes["calhousing-pca-Register"].step
    assert isinstance(pca_register, RegisterStep)
    assert pca_register.report is None  # no Metrics step in that model
    assert doc.spec.dependencies[-1] == "calhousingpca.calhousing-pca-Register >> calhousingtf.calhousing-tf-Register"


# ---- (c) a Transform chained from a processing output with chain_input_additional_prefix ----------------

TF_TASKS = {"calhousing-Preprocessing", "calhousing-Training", "calhousing-CreateModel", "calhousing-Transform",
            "calhousing-Metrics", "calhousing-Register"}
TF_EDGES = {
    ("calhousing-Preprocessing", "calhousing-Training"),
    ("calhousing-Preprocessing", "calhousing-Transform"),
    ("calhousing-Preprocessing", "calhousing-Metrics"),
    ("calhousing-Training", "calhousing-CreateModel"),
    ("calhousing-Training", "calhousing-Register"),
    ("calhousing-CreateModel", "calhousing-Transform"),
    ("calhousing-Transform", "calhousing-Metrics"),
    ("calhousing-Metrics", "calhousing-Register"),
}


def test_transform_with_chain_input_additional_prefix() -> None:
    doc = load(TF)
    assert set(doc.nodes) == TF_TASKS
    assert set(doc.edges) == TF_EDGES
    transform = doc.nodes["calhousing-Transform"].step
    assert isinstance(transform, TransformStep)
    assert transform.input == InputSpec(source="calhousing-Preprocessing.train", prefix="test/x_test.csv")
    assert transform.model == "calhousing-CreateModel"
    assert doc.inputs[("calhousing-Transform", "input")] == ResolvedInput(
        OutputRef("calhousing-Preprocessing", "train"), "test/x_test.csv")

    prep = doc.nodes["calhousing-Preprocessing"].step
    assert isinstance(prep, ProcessingStep)
    assert prep.outputs == ["train"]
    train = doc.nodes["calhousing-Training"].step
    assert isinstance(train, TrainingStep)
    assert train.inputs == {"calhousing-Preprocessing-train": "calhousing-Preprocessing.train"}
    metrics = doc.nodes["calhousing-Metrics"].step
    assert isinstance(metrics, EvaluationStep)  # `channels: train` (a bare name) names the chained folders
    assert metrics.inputs == {"calhousing-Preprocessing-train": "calhousing-Preprocessing.train",
                              "calhousing-Transform-train": "calhousing-Transform.predictions"}


def test_a_seed_file_loads_through_load_pipeline() -> None:
    doc = load_pipeline(TF / "tf" / "conf" / "conf.yaml", ENV)
    assert set(doc.nodes) == TF_TASKS
    assert set(doc.edges) == TF_EDGES


# ---- convert ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("root", [LGBM, TF, MULTI], ids=["lgbm", "tf", "multi"])
@pytest.mark.parametrize("relative", [True, False], ids=["relative", "absolute"])
def test_convert_round_trip(root: Path, relative: bool, tmp_path: Path) -> None:
    doc = load(root)
    out = tmp_path / "converted" / "pipeline.yaml"
    out.parent.mkdir()
    text = to_native_yaml(doc, out.parent if relative else None)
    assert text.startswith("# Native smflow pipeline converted")
    assert "conf:" not in text and "SMP_" not in text
    out.write_text(text)
    native = load_pipeline(out, {})
    assert list(native.nodes) == list(doc.nodes)
    assert native.edges == doc.edges
    assert native.inputs == doc.inputs
    assert {t: n.source_dir for t, n in native.nodes.items()} == {t: n.source_dir for t, n in doc.nodes.items()}
    assert native.spec.dependencies == doc.spec.dependencies
    assert native.spec.defaults == doc.spec.defaults
    if relative:
        assert "source_dir: ../" in text and "source_dir: /" not in text
    else:
        assert native.spec.models == doc.spec.models


# ---- errors point into the seed files -----------------------------------------------------------------------

def test_unset_placeholder_points_at_the_seed_line() -> None:
    issues = errors(LGBM, {k: v for k, v in ENV.items() if k != "SMP_ACCOUNTID"})
    conf = LGBM / "lgbm" / "conf" / "conf.yaml"
    first = issues[0]
    assert first.file == str(conf)
    assert first.line == line_of(conf, "image_uri: SMP_ACCOUNTID")
    assert first.key_path == "conf.models.lgbm.train.image_uri"
    assert "SMP_ACCOUNTID is not set" in first.message
    assert {i.line for i in issues} == {line_of(conf, "SMP_ACCOUNTID", n) for n in (1, 2, 3)}

    missing_bucket = errors(LGBM, {k: v for k, v in ENV.items() if k != "SMP_S3BUCKETNAME"})
    assert {i.line for i in missing_bucket} == {line_of(conf, "SMP_S3BUCKETNAME", n) for n in range(1, 7)}


def test_unknown_step_class(tmp_path: Path) -> None:
    root = copy(TF, tmp_path)
    conf = root / "tf" / "conf" / "conf.yaml"
    edit(conf, "step_class: Metrics", "step_class: Metric")
    [issue] = errors(root)
    assert (issue.file, issue.line) == (str(conf), line_of(conf, "step_class: Metric"))
    assert issue.key_path == "conf.sagemakerPipeline.models.calhousing.steps[4].step_class"
    assert "unknown step_class 'Metric'" in issue.message and "Metrics" in issue.message


def test_dependency_line_with_unknown_step_is_reported_in_its_file(tmp_path: Path) -> None:
    root = copy(MULTI, tmp_path)
    conf = root / "cal_housing_tf" / "conf" / "conf.yaml"
    edit(conf, "- calhousing-pca-Register >> calhousing-tf-Register",
         "- calhousing-pca-Registr >> calhousing-tf-Register")
    [issue] = errors(root)
    assert (issue.file, issue.line, issue.col) == (str(conf), line_of(conf, "calhousing-pca-Registr >>"), 15)
    assert issue.key_path == "conf.sagemakerPipeline.dependencies[2]"
    assert "unknown step 'calhousing-pca-Registr'" in issue.message


def test_resolution_errors_are_positioned_in_the_seed_file(tmp_path: Path) -> None:
    root = copy(MULTI, tmp_path)
    pca = root / "cal_housing_pca" / "conf" / "conf.yaml"
    edit(pca, "entry_point: train.py", "entry_point: missing.py")
    [issue] = errors(root)
    assert (issue.file, issue.line, issue.col) == (str(pca), line_of(pca, "entry_point: missing.py"), 30)
    assert issue.key_path == "conf.models.calhousingpca.train.entry_point"
    assert "missing.py does not exist" in issue.message


def test_schema_errors_are_positioned_in_the_seed_file(tmp_path: Path) -> None:
    root = copy(MULTI, tmp_path)
    tf = root / "cal_housing_tf" / "conf" / "conf.yaml"
    edit(tf, "step_name: calhousing-tf-CreateModel", "step_name: 9-CreateModel")
    edit(tf, "calhousing-tf-Training >> calhousing-tf-CreateModel", "calhousing-tf-Training >> 9-CreateModel")
    [issue] = errors(root)
    assert (issue.file, issue.line) == (str(tf), line_of(tf, "step_name: 9-CreateModel"))
    assert issue.key_path == "conf.sagemakerPipeline.models.calhousingtf.steps[2].step_name"
    assert "'9-CreateModel' is not a valid name" in issue.message


def test_structural_errors(tmp_path: Path) -> None:
    root = copy(MULTI, tmp_path)
    pca = root / "cal_housing_pca" / "conf" / "conf.yaml"
    tf = root / "cal_housing_tf" / "conf" / "conf.yaml"
    pipeline = tf.read_text()[tf.read_text().index("    sagemakerPipeline:"):]
    pca.write_text(pca.read_text() + "\n" + pipeline)  # a second sagemakerPipeline
    edit(tf, "source_directory: examples/multi-model-example/cal_housing_tf/modelscripts",
         "source_directory: examples/nowhere")
    issues = errors(root)
    messages = {(i.file, i.line): i.message for i in issues}
    assert "a second `sagemakerPipeline` section" in messages[(str(tf), line_of(tf, "sagemakerPipeline:"))]
    assert "directory 'examples/nowhere' not found" in messages[(str(tf), line_of(tf, "source_directory:"))]


def test_model_section_defined_in_two_files(tmp_path: Path) -> None:
    root = copy(MULTI, tmp_path)
    pca = root / "cal_housing_pca" / "conf" / "conf.yaml"
    edit(pca, "        calhousingpca:\n", "        calhousingtf:\n            train: {entry_point: x.py}\n"
                                         "        calhousingpca:\n")
    issues = errors(root)
    assert len(issues) == 1
    assert "`train` of model 'calhousingtf' is also defined in" in issues[0].message


def test_missing_sagemaker_pipeline(tmp_path: Path) -> None:
    root = copy(MULTI, tmp_path)
    (root / "cal_housing_tf" / "conf" / "conf.yaml").unlink()
    [issue] = errors(root)
    assert "no `conf.sagemakerPipeline` section" in issue.message


def test_seed_files(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="no seed-framework conf files match"):
        seed_files(str(tmp_path / "*" / "conf" / "conf.yaml"))
    framework = tmp_path / "framework" / "conf"
    framework.mkdir(parents=True)
    (framework / "conf.yaml").write_text("conf:\n  s3Bucket: SMP_S3BUCKETNAME\n")
    model = tmp_path / "m" / "conf"
    model.mkdir(parents=True)
    (model / "conf.yaml").write_text("conf: {}\n")
    assert seed_files(str(tmp_path / "*" / "conf" / "conf.yaml")) == [model / "conf.yaml"]


# ---- every seed setting with a native equivalent ----------------------------------------------------------

FULL = """\
conf:
  models:
    churn:
      source_directory: project/scripts
      prep:
        image_uri: SMP_ACCOUNTID.dkr.ecr.SMP_REGION.amazonaws.com/prep:1
        entry_point: prep.py
        instance_type: ml.m5.xlarge
        instance_count: 2
        max_runtime_seconds: 600
        volume_size_in_gb: 100
        env: {MODE: full, LIMIT: 10, DEBUG: true}
        channels:
          train:
            dataFiles:
              - sourceName: raw
                fileName: data/raw.csv
          test:
            dataFiles:
              - sourceName: holdout
                fileName: s3://SMP_S3BUCKETNAME/holdout
      train:
        entry_point: train.py
        hyperparams: {epochs: 3, lr: 0.1}
        content_type: text/csv
        input_mode: FastFile
        model_data_uri: s3://warm/model.tar.gz
      transform:
        entry_point: serve.py
        instance_count: 3
        strategy: SingleRecord
        max_payload: 2
        split_type: Line
        assemble_with: Line
        join_source: Input
        input_filter: "$[1:]"
        output_filter: "$[0,-1]"
        env: {TS_WORKERS: 2}
        channels: {test: {}}
      evaluate:
        entry_point: eval.py
        max_runtime_in_seconds: 900
        channels: test
      registry:
        InferenceSpecification:
          image_uri: serve-image:1
          supported_content_types: [text/csv]
          supported_response_MIME_types: [application/json]
          approval_status: Approved
  sagemakerPipeline:
    pipelineName: churn
    models:
      churn:
        steps:
          - {step_name: prep, step_class: Processing, step_type: prep}
          - {step_name: fit, step_class: Training, chain_input_source_step: [prep]}
          - {step_name: model, step_class: CreateModel}
          - {step_name: score, step_class: Transform, chain_input_source_step: [prep]}
          - {step_name: metrics, step_class: Metrics, chain_input_source_step: [prep, score]}
          - {step_name: register, step_class: RegisterModel}
"""


def full_project(tmp_path: Path, text: str = FULL) -> Path:
    scripts = tmp_path / "project" / "scripts"
    scripts.mkdir(parents=True)
    for name in ("prep.py", "train.py", "serve.py", "eval.py"):
        (scripts / name).write_text('"""fixture script"""\n')
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "raw.csv").write_text("a,b\n")
    conf = tmp_path / "project" / "churn" / "conf" / "conf.yaml"
    conf.parent.mkdir(parents=True)
    conf.write_text(text)
    return conf


def test_settings_map_to_native_fields(tmp_path: Path) -> None:
    conf = full_project(tmp_path)
    doc = load_seed_documents([conf], ENV)
    assert set(doc.edges) == {("prep", "fit"), ("prep", "score"), ("prep", "metrics"), ("fit", "model"),
                              ("model", "score"), ("score", "metrics"), ("fit", "register"),
                              ("metrics", "register")}
    prep = doc.nodes["prep"].step
    assert isinstance(prep, ProcessingStep)
    assert (prep.instance_type, prep.instance_count, prep.max_runtime_seconds) == ("ml.m5.xlarge", 2, 600)
    assert prep.image is not None and prep.image.uri == "111122223333.dkr.ecr.eu-west-1.amazonaws.com/prep:1"
    assert prep.environment == {"MODE": "full", "LIMIT": "10", "DEBUG": "true"}
    assert prep.outputs == ["train", "test"]
    # a local fileName is relative to the project root (where the framework runs), like source_directory
    assert prep.inputs == {"raw": str(tmp_path / "data" / "raw.csv"), "holdout": "s3://seed-bucket/holdout"}
    assert prep.volume_size_gb == 100 and doc.spec.defaults.volume_size_gb == 32

    fit = doc.nodes["fit"].step
    assert isinstance(fit, TrainingStep)
    assert fit.hyperparameters == {"epochs": 3, "lr": 0.1}
    assert fit.input_mode == "FastFile"
    assert fit.inputs == {"model": "s3://warm/model.tar.gz",
                          "prep-train": InputSpec(source="prep.train", content_type="text/csv"),
                          "prep-test": InputSpec(source="prep.test", content_type="text/csv")}

    score = doc.nodes["score"].step
    assert isinstance(score, TransformStep)
    assert score.input == "prep.test"  # the transform's one channel picks the processing output
    assert (score.instance_count, score.batch_strategy, score.max_payload_mb) == (3, "SingleRecord", 2)
    assert (score.split_type, score.assemble_with, score.join_source) == ("Line", "Line", "Input")
    assert (score.input_filter, score.output_filter) == ("$[1:]", "$[0,-1]")
    assert score.environment == {"TS_WORKERS": "2"}

    metrics = doc.nodes["metrics"].step
    assert isinstance(metrics, EvaluationStep)
    assert metrics.max_runtime_seconds == 900
    assert metrics.inputs == {"prep-test": "prep.test", "score-test": "score.predictions"}

    register = doc.nodes["register"].step
    assert isinstance(register, RegisterStep)
    assert (register.approval, register.content_types, register.response_types) == (
        "Approved", ["text/csv"], ["application/json"])
    assert register.entry_point == "serve.py"
    assert register.image is not None and register.image.uri == "serve-image:1"


@pytest.mark.parametrize(("old", "new", "key_path", "message"), [
    ("input_mode: FastFile", "input_mode: Pipe", "conf.models.churn.train.input_mode", "Pipe"),
    ("{step_name: prep, step_class: Processing, step_type: prep}", "{step_name: prep, step_class: Processing}",
     "conf.sagemakerPipeline.models.churn.steps[0]", "needs `step_type`"),
    ("chain_input_source_step: [prep, score]}", "chain_input_source_step: [prep, model]}",
     "conf.sagemakerPipeline.models.churn.steps[4].chain_input_source_step[1]", "only Processing, Training"),
    ("chain_input_source_step: [prep]}\n          - {step_name: model",
     "chain_input_source_step: [nope]}\n          - {step_name: model",
     "conf.sagemakerPipeline.models.churn.steps[1].chain_input_source_step[0]", "unknown step 'nope'"),
    ("          - {step_name: model, step_class: CreateModel}\n", "",
     "conf.sagemakerPipeline.models.churn.steps[2].step_class", "needs a CreateModel step listed before it"),
    ("        instance_count: 2\n", "        instance_count: 2\n        s3_data_distribution_type: ShardedByS3Key\n",
     "conf.models.churn.prep.s3_data_distribution_type", "ShardedByS3Key"),
    ("channels: test\n", "channels: {test: {OuputLocalFilepath: /tmp/out}}\n",
     "conf.models.churn.evaluate.channels.test.OuputLocalFilepath", "/opt/ml/processing/output"),
    ("{step_name: fit, step_class: Training", "{step_name: fit, step_class: Training, enable_cache: yes please",
     "conf.sagemakerPipeline.models.churn.steps[1].enable_cache", "True or False"),
    ("instance_count: 3", "instance_count: three", "conf.models.churn.transform.instance_count",
     "valid integer"),
])
def test_settings_errors(tmp_path: Path, old: str, new: str, key_path: str, message: str) -> None:
    assert old in FULL
    conf = full_project(tmp_path, FULL.replace(old, new, 1))
    with pytest.raises(SpecError) as info:
        load_seed_documents([conf], ENV)
    found = [i for i in info.value.issues if i.key_path == key_path]
    assert found, [str(i) for i in info.value.issues]
    assert message in found[0].message
    assert found[0].file == str(conf)


def test_source_map_names_the_file_of_each_path() -> None:
    source = SourceMap("main.yaml", values={("a",): (2, 3), ("a", "b"): (7, 9)}, files={("a", "b"): "other.yaml"})
    assert source.issue(("a", "b", "c"), "m") == SpecIssue("other.yaml", 7, 9, "a.b.c", "m")
    assert source.issue(("a", "x"), "m") == SpecIssue("main.yaml", 2, 3, "a.x", "m")
    assert source.position(("a", "b")) == (7, 9)


def test_duplicate_step_name_is_reported_as_such(tmp_path: Path) -> None:
    root = copy(TF, tmp_path)
    conf = root / "tf" / "conf" / "conf.yaml"
    edit(conf, "step_name: calhousing-Metrics", "step_name: calhousing-Transform")
    issues = errors(root)
    assert any(i.file == str(conf) and "duplicate step_name 'calhousing-Transform'" in i.message
               and i.key_path.endswith("step_name") for i in issues), issues
    assert not any("unknown step 'calhousing-Transform'" in i.message for i in issues), issues
