"""The SDK estimator options of a training step: every bad value is one positioned `file:line:col: key.path:`
error saying what is wrong and how to fix it, collected with the others of the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from smflow.compile.graph import compile_pipeline
from smflow.spec import load_pipeline
from smflow.spec.errors import SpecError

HEAD = """\
pipeline: opts
models:
  m:
    source_dir: code
    steps:
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "code" / "bundled").mkdir(parents=True)
    (tmp_path / "code" / "train.py").write_text("print('train')\n")
    (tmp_path / "libs" / "mylib").mkdir(parents=True)
    (tmp_path / "libs" / "mylib" / "__init__.py").write_text("ANSWER = 42\n")
    (tmp_path / "libs" / "bundled").mkdir()
    (tmp_path / "other" / "mylib").mkdir(parents=True)
    return tmp_path


def issues(project: Path, steps: str, *, compile_too: bool = True) -> list[str]:
    """`key.path: message` of every issue (file, line and column checked separately), or [] if valid."""
    file = project / "pipeline.yaml"
    file.write_text(HEAD + steps)
    try:
        doc = load_pipeline(file)
        if compile_too:
            compile_pipeline(doc)
    except SpecError as e:
        for issue in e.issues:
            assert issue.file == str(file) and issue.line > 0 and issue.col > 0, issue
        return [f"{i.key_path}: {i.message}" for i in e.issues]
    return []


def position(project: Path, key_path: str) -> tuple[int, int]:
    file = project / "pipeline.yaml"
    try:
        compile_pipeline(load_pipeline(file))
    except SpecError as e:
        return next((i.line, i.col) for i in e.issues if i.key_path == key_path)
    raise AssertionError("no issues")


def train(extra: str) -> str:
    return "      - name: train\n        type: training\n        entry_point: train.py\n" + extra


def test_every_option_accepted_together(project: Path) -> None:
    assert issues(project, train("""\
        dependencies: [../libs/mylib]
        output_path: s3://my-bucket/models
        output_kms_key: arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab
        volume_kms_key: alias/training
        checkpoints: {s3_uri: "s3://my-bucket/checkpoints/train", local_path: /opt/ml/checkpoints}
        use_spot_instances: true
        max_wait: 172800
        keep_alive_period: 1800
        image: {framework: pytorch, version: "2.1", py_version: py310}
        instance_type: ml.g5.xlarge
        distribution: {torch_distributed: {enabled: true}}
""")) == []


def test_missing_and_clashing_dependencies_are_positioned(project: Path) -> None:
    found = issues(project, train(
        "        dependencies: [../libs/nope, ../libs/mylib, ../other/mylib, train.py, bundled, ../libs/bundled, .]\n"))
    assert found == [
        f"models.m.steps[0].dependencies[0]: folder {project}/libs/nope does not exist; dependencies are relative "
        f"to the step's source_dir ({project}/code)",
        "models.m.steps[0].dependencies[2]: dependencies[1] is also packed as 'mylib/' (each dependency lands at "
        "the top level by its folder name); rename one of them",
        f"models.m.steps[0].dependencies[3]: {project}/code/train.py is not a folder; dependencies are folders of "
        "modules (a single module belongs in source_dir itself)",
        "models.m.steps[0].dependencies[4]: bundled is already a top-level folder of source_dir and is packed with "
        "it; remove it from dependencies",
        "models.m.steps[0].dependencies[5]: source_dir already has a top-level 'bundled', which this dependency "
        "would replace in sourcedir.tar.gz; rename one of them",
        f"models.m.steps[0].dependencies[6]: {project}/code contains source_dir ({project}/code), which is packed "
        "anyway; name the library folder itself",
    ]
    line = HEAD.count("\n") + 4
    text = (project / "pipeline.yaml").read_text().splitlines()[line - 1]
    assert position(project, "models.m.steps[0].dependencies[0]") == (line, text.index("../libs/nope") + 1)
    assert position(project, "models.m.steps[0].dependencies[3]") == (line, text.index("train.py") + 1)


@pytest.mark.parametrize("extra,expected", [
    ("        output_path: models/\n",
     "models.m.steps[0].output_path: write an S3 URI like s3://bucket/prefix (got 'models/')"),
    ("        output_path: s3://My_Bucket/models\n",
     "models.m.steps[0].output_path: bucket name 'My_Bucket' may only contain lowercase letters, digits, dots (.) "
     "and hyphens (-) (got 's3://My_Bucket/models')"),
    ("        checkpoints: {s3_uri: 's3://'}\n",
     "models.m.steps[0].checkpoints.s3_uri: write an S3 URI like s3://bucket/prefix (got 's3://')"),
    ("        checkpoints: {local_path: /tmp/checkpoints}\n",
     "models.m.steps[0].checkpoints.local_path: write a container folder under /opt/ml/, e.g. /opt/ml/checkpoints "
     "(the SDK's default) (got '/tmp/checkpoints')"),
    ("        checkpoints: {s3uri: s3://b/c}\n",
     "models.m.steps[0].checkpoints.s3uri: unknown key 's3uri'; did you mean 's3_uri'? allowed keys: local_path, "
     "s3_uri"),
    ("        max_wait: 7200\n",
     "models.m.steps[0].max_wait: max_wait applies to managed spot training only; set `use_spot_instances: true` "
     "or remove max_wait (got 7200)"),
    ("        keep_alive_period: 99999\n",
     "models.m.steps[0].keep_alive_period: Input should be less than or equal to 21600 (got 99999)"),
    ("        volume_kms_key: 'my key'\n",
     "models.m.steps[0].volume_kms_key: not a KMS key: give a key ID, key ARN or alias (letters, digits, ':', "
     "'/', '_', '-'), e.g. alias/training or arn:aws:kms:us-east-1:111122223333:key/<id> (got 'my key')"),
    ("        distribution: {mpi: {processes_per_host: 2}}\n",
     "models.m.steps[0].distribution.mpi.enabled: required key 'enabled' is missing; add it here"),
    ("        distribution: {horovod: {enabled: true}}\n",
     "models.m.steps[0].distribution.horovod: unknown key 'horovod'; allowed keys: mpi, "
     "multi_worker_mirrored_strategy, parameter_server, pytorchddp, smdistributed, torch_distributed"),
    ("        distribution: {smdistributed: {modelparallel: {enabled: true}}}\n",
     "models.m.steps[0].distribution: smdistributed.modelparallel runs through MPI; add `mpi: {enabled: true}` "
     "(the SDK refuses model parallelism without MPI)"),
])
def test_bad_option_values(project: Path, extra: str, expected: str) -> None:
    assert issues(project, train(extra)) == [expected]


def test_spot_rules_need_the_defaults_and_are_reported_with_the_others(project: Path) -> None:
    found = issues(project, train("        use_spot_instances: true\n")
                   + train("        use_spot_instances: true\n        max_wait: 3600\n").replace("name: train",
                                                                                                 "name: train2")
                   + train("        use_spot_instances: true\n        max_wait: 3600\n        max_runtime_seconds: "
                           "3600\n").replace("name: train", "name: train3"))
    assert found == [
        "models.m.steps[0].use_spot_instances: managed spot training needs `max_wait` (seconds, at least "
        "max_runtime_seconds = 86400): SageMaker refuses a spot job without MaxWaitTimeInSeconds",
        "models.m.steps[1].max_wait: max_wait 3600 is less than max_runtime_seconds 86400; SageMaker requires "
        "MaxWaitTimeInSeconds >= MaxRuntimeInSeconds, so raise max_wait or lower max_runtime_seconds",
    ]


def test_pytorch_only_strategies_on_another_framework(project: Path) -> None:
    found = issues(project, train("        distribution: {pytorchddp: {enabled: true}}\n"))
    assert found == ["models.m.steps[0].distribution.pytorchddp: pytorchddp is an option of the SDK's PyTorch "
                     "estimator, but this step's image is sklearn; use a pytorch image or another strategy (mpi, "
                     "smdistributed, …)"]


def test_a_hyperparameter_distribution_sets(project: Path) -> None:
    found = issues(project, train("""\
        hyperparameters: {mp_parameters: 1}
        distribution:
          mpi: {enabled: true}
          smdistributed: {modelparallel: {enabled: true, parameters: {partitions: 2}}}
"""))
    assert found == ["models.m.steps[0].hyperparameters.mp_parameters: hyperparameter 'mp_parameters' is set by "
                     "`distribution`; rename it"]


def test_dependencies_follow_a_step_source_dir(project: Path) -> None:
    """With the per-step source_dir, dependencies are relative to that folder."""
    (project / "step_code").mkdir()
    (project / "step_code" / "train.py").write_text("print('train')\n")
    assert issues(project, train("        source_dir: step_code\n        dependencies: [../libs/mylib]\n")) == []
    found = issues(project, train("        source_dir: step_code\n        dependencies: [mylib]\n"))
    assert found == [f"models.m.steps[0].dependencies[0]: folder {project}/step_code/mylib does not exist; "
                     f"dependencies are relative to the step's source_dir ({project}/step_code)"]


def test_spot_without_checkpoints_is_a_warning(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from smflow.cli import main

    issues(project, train("        use_spot_instances: true\n        max_wait: 86400\n"))
    file = project / "pipeline.yaml"
    assert main(["validate", str(file)]) == 0
    captured = capsys.readouterr()
    line = HEAD.count("\n") + 4
    col = file.read_text().splitlines()[line - 1].index("true") + 1
    assert f"{file}:{line}:{col}: models.m.steps[0].use_spot_instances: warning: managed spot training without " \
           "`checkpoints`" in captured.err
    assert "ok: " in captured.out

    issues(project, train("        use_spot_instances: true\n        max_wait: 86400\n        checkpoints: {}\n"))
    assert main(["validate", str(file)]) == 0
    assert "managed spot training without" not in capsys.readouterr().err
