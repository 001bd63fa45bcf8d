"""Pipeline parameters in the spec: both forms, the Param schema narrowed by the fields a parameter sets, and
every misuse as a positioned `file:line:col: key.path: message` line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from smflow.spec import SpecError, load_pipeline
from tests.conftest import FIXTURES

FIXTURE = FIXTURES / "pipelines" / "parameters"

SPEC = """pipeline: p
parameters:
  threshold: 0.5
  count: {type: integer, default: 2, description: instances, maximum: 8}
  status: PendingManualApproval
  flag: false
  size: ml.m5.xlarge
models:
  m:
    source_dir: code
    steps:
      - name: evaluate
        type: evaluation
        entry_point: evaluate.py
        instance_type: "{{ params.size }}"
        instance_count: "{{ params.count }}"
        arguments: ["--flag", "{{ params.flag }}", "--note=t{{ params.threshold }}"]
        environment: {THRESHOLD: "{{ params.threshold }}"}
        inputs: {scores: ./data/scores.csv}
      - name: gate
        type: condition
        report: evaluate
        checks: [{metric: regression_metrics.mse.value, le: "{{ params.threshold }}"}]
      - {name: publish, type: processing, entry_point: publish.py, depends_on: [gate]}
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    target = tmp_path / "p"
    shutil.copytree(FIXTURE, target)
    return target


def write(folder: Path, text: str) -> Path:
    file = folder / "pipeline.yaml"
    file.write_text(text)
    return file


def errors(file: Path) -> list[str]:
    with pytest.raises(SpecError) as caught:
        load_pipeline(file)
    return [str(issue) for issue in caught.value.issues]


def position(file: Path, needle: str, after: str = "") -> str:
    """`line:col` (1-based, as SpecIssue prints them) of the first `needle` in `file`, or of what follows
    `after` within it (a value after its key)."""
    for number, line in enumerate(file.read_text().splitlines(), 1):
        if needle in line:
            return f"{number}:{line.index(needle) + len(after) + 1}"
    raise AssertionError(f"{needle!r} not in {file}")


def test_short_and_long_forms_and_schemas_narrowed_by_use(folder: Path) -> None:
    file = write(folder, SPEC.replace("        checks:", "        checks:").replace(
        "      - {name: publish", "      - {name: register, type: register, model: train, depends_on: [gate], "
                                   "entry_point: null, approval: \"{{ params.status }}\"}\n      - {name: publish")
        .replace("steps:\n", "steps:\n      - {name: train, type: training, entry_point: evaluate.py}\n", 1))
    schemas = load_pipeline(file).parameters
    assert schemas["threshold"] == {"type": "number", "default": 0.5, "description": "",
                                    "used_in": ["models.m.steps[1].environment.THRESHOLD",
                                                "models.m.steps[1].arguments[2]",
                                                "models.m.steps[2].checks[0].le"]}
    # as instance_count it can be no less than 1; its own maximum stays
    assert schemas["count"]["minimum"] == 1 and schemas["count"]["maximum"] == 8
    assert schemas["count"]["description"] == "instances"
    assert schemas["status"]["enum"] == ["Approved", "PendingManualApproval", "Rejected"]
    assert schemas["flag"] == {"type": "boolean", "default": False, "description": "",
                               "used_in": ["models.m.steps[1].arguments[1]"]}
    assert schemas["size"]["type"] == "string" and "enum" not in schemas["size"]


def test_an_unknown_parameter_is_positioned_and_lists_the_declared_ones(folder: Path) -> None:
    file = write(folder, SPEC.replace('"{{ params.count }}"', '"{{ params.cuont }}"'))
    where = position(file, '"{{ params.cuont }}"')
    assert f"{file}:{where}: models.m.steps[0].instance_count: unknown parameter 'cuont'; declared parameters: " \
           "threshold, count, status, flag, size" in errors(file)


def test_a_reference_without_any_parameters_declared_says_how_to_declare_one(folder: Path) -> None:
    text = SPEC.split("models:")[1].replace('"{{ params.size }}"', "ml.m5.large")
    file = write(folder, "pipeline: p\nmodels:" + text.replace('"{{ params.count }}"', "1").replace(
        '"{{ params.flag }}"', "x").replace('t{{ params.threshold }}', "t").replace(
        'le: "{{ params.threshold }}"', "le: 1").replace('THRESHOLD: "{{ params.threshold }}"', "A: b")
        .replace('"--flag"', '"{{ params.x }}"'))
    (line,) = [e for e in errors(file) if "unknown parameter 'x'" in e]
    assert line.endswith("declare it at the top level, e.g. `parameters: {x: <default>}`")


def test_a_default_the_field_rejects_is_an_error_at_the_default(folder: Path) -> None:
    file = write(folder, SPEC.replace("{type: integer, default: 2,", "{type: integer, default: 0,"))
    where = position(file, "default: 0", after="default: ")
    use_line = position(file, '"{{ params.count }}"').split(":")[0]
    assert f"{file}:{where}: parameters.count.default: default 0 of parameter 'count' does not fit " \
           f"models.m.steps[0].instance_count (line {use_line}), which needs an integer ≥ 1: Input should be " \
           "greater than or equal to 1; change the default" in errors(file)


def test_a_short_form_default_is_reported_at_the_parameter(folder: Path) -> None:
    file = write(folder, SPEC.replace("  threshold: 0.5\n", "  threshold: 0.5\n  volume: 0\n").replace(
        "        instance_count:", "        volume_size_gb: \"{{ params.volume }}\"\n        instance_count:"))
    (line,) = [e for e in errors(file) if "parameter 'volume'" in e]
    where = position(file, "volume: 0", after="volume: ")
    assert line.startswith(f"{file}:{where}: parameters.volume: default 0 of parameter 'volume' does not fit "
                           "models.m.steps[0].volume_size_gb")
    assert "an integer ≥ 1 and ≤ 16384" in line


def test_a_parameter_of_the_wrong_type_for_the_field(folder: Path) -> None:
    file = write(folder, SPEC.replace('"{{ params.count }}"', '"{{ params.threshold }}"'))
    where = position(file, '"{{ params.threshold }}"')
    assert f"{file}:{where}: models.m.steps[0].instance_count: parameter 'threshold' is a number, but this field " \
           "needs an integer ≥ 1; use an integer parameter" in errors(file)


def test_an_approval_parameter_must_be_one_of_the_statuses(folder: Path) -> None:
    file = write(folder, SPEC.replace("  status: PendingManualApproval", "  status: {default: Approved, enum: "
                                                                         "[Approved, Maybe]}").replace(
        "      - {name: publish", "      - {name: register, type: register, model: train, depends_on: [gate], "
                                   "entry_point: null, approval: \"{{ params.status }}\"}\n      - {name: publish")
        .replace("steps:\n", "steps:\n      - {name: train, type: training, entry_point: evaluate.py}\n", 1))
    (line,) = [e for e in errors(file) if "parameter 'status'" in e]
    assert line.startswith(f"{file}:{position(file, '[Approved, Maybe]')}: parameters.status.enum: enum value "
                           "'Maybe' of parameter 'status' does not fit models.m.steps[3].approval")
    assert "one of Approved, PendingManualApproval, Rejected" in line


def test_text_around_a_reference_in_a_number_field(folder: Path) -> None:
    file = write(folder, SPEC.replace('le: "{{ params.threshold }}"', 'le: "{{ params.threshold }} "'))
    where = position(file, '"{{ params.threshold }} "')
    assert f"{file}:{where}: models.m.steps[1].checks[0].le: this field takes a number or exactly one parameter " \
           "reference \"{{ params.NAME }}\", not text around one (got '{{ params.threshold }} ')" in errors(file)


def test_a_field_that_takes_no_parameter(folder: Path) -> None:
    tags = 'defaults: {tags: {team: "{{ params.size }}"}}\n'
    file = write(folder, SPEC.replace("pipeline: p\n", "pipeline: p\n" + tags))
    where = position(file, '"{{ params.size }}"}}')
    (line,) = [e for e in errors(file) if "defaults.tags.team" in e]
    assert line.startswith(f"{file}:{where}: defaults.tags.team: this field cannot take a pipeline parameter; "
                           "parameters can set instance_type, instance_count")


def test_names_must_be_identifiers_and_not_the_run_options(folder: Path) -> None:
    file = write(folder, SPEC.replace("  flag: false\n", "  flag: false\n  max-depth: 3\n  fresh_jobs: true\n"))
    found = errors(file)
    assert f"{file}:{position(file, 'max-depth')}: parameters.max-depth: parameter name 'max-depth' cannot be " \
           "written as `{{ params.max-depth }}`; use letters, digits and '_', not starting with a digit" in found
    assert any(e.startswith(f"{file}:{position(file, 'fresh_jobs')}: parameters.fresh_jobs: 'fresh_jobs' is a run "
                            "option every smflow DAG already has") for e in found)


@pytest.mark.parametrize(("declaration", "message"), [
    ("{type: integer, default: 2.5}", "default 2.5 is not an integer"),
    ("{type: integer, default: true}", "default True is not an integer"),
    ("{type: number, default: .nan}", "default nan is not a number (finite)"),
    ("{type: string, default: x, minimum: 1}", "minimum and maximum apply to integer and number parameters"),
    ("{default: 3, enum: [1, 2]}", "default 3 is not one of enum [1, 2]"),
    ("{default: 3, minimum: 4}", "3 is outside minimum 4.0"),
    ("{type: integer, default: 3, minimum: 5, maximum: 4}", "minimum 5 is above maximum 4"),
    ("[1, 2]", "a parameter is its default value (e.g. `threshold: 0.5`) or a mapping"),
])
def test_a_declaration_that_contradicts_itself(folder: Path, declaration: str, message: str) -> None:
    file = write(folder, SPEC.replace("  flag: false\n", f"  extra: {declaration}\n  flag: false\n"))
    (line,) = [e for e in errors(file) if e.split(": ")[1].startswith("parameters.extra")]
    assert line.startswith(f"{file}:{position(file, 'extra:').split(':')[0]}:") and message in line


def test_the_fixture_pipeline_is_valid() -> None:
    doc = load_pipeline(FIXTURE / "pipeline.yaml")
    assert list(doc.parameters) == ["mse_threshold", "eval_instances", "digits"]


def test_a_template_that_is_no_parameter_is_an_error_not_a_crash(folder: Path) -> None:
    file = write(folder, SPEC.replace('"--flag", ', '"--date", "{{ ds }}", "--flag", '))
    where = position(file, '"{{ ds }}"')
    assert f"{file}:{where}: models.m.steps[0].arguments[1]: the only template a spec can hold is a pipeline " \
           "parameter `{{ params.NAME }}` (declared under `parameters:`); write the value itself" in errors(file)


def test_a_margin_parameter_must_not_default_below_zero(folder: Path) -> None:
    beat = ("        beat_approved: {metric: regression_metrics.mse.value, direction: minimize, group: g, "
            "margin: \"{{ params.margin }}\"}\n")
    file = write(folder, SPEC.replace("  flag: false\n", "  flag: false\n  margin: -0.5\n").replace(
        "        checks:", beat + "        checks:"))
    (line,) = [e for e in errors(file) if "parameter 'margin'" in e]
    assert "does not fit models.m.steps[1].beat_approved.margin" in line and "a number ≥ 0" in line


@pytest.mark.parametrize("template,reason", [
    ("{{ params.threshold | nofilter }}", "No filter named 'nofilter'"),
    ("{{ params.threshold + }}", "unexpected 'end of print statement'"),
    ("{{ params.threshold.digits }}", "'float object' has no attribute 'digits'"),
    ("{{ params.threshold }}{{ ds }}", "'ds' is undefined"),
    ("{% if params.flag %}on", "Unexpected end of template"),
])
def test_a_parameter_template_that_cannot_render_is_positioned_not_a_crash(folder: Path, template: str,
                                                                            reason: str) -> None:
    file = write(folder, SPEC.replace('{THRESHOLD: "{{ params.threshold }}"}', f"{{THRESHOLD: '{template}'}}"))
    where = position(file, f"'{template}'")
    (line,) = [e for e in errors(file) if "environment.THRESHOLD" in e]
    assert line.startswith(f"{file}:{where}: models.m.steps[0].environment.THRESHOLD: this template does not "
                           f"render with the parameters' defaults: {reason}")


def test_jinja_around_a_parameter_that_renders_is_valid(folder: Path) -> None:
    file = write(folder, SPEC.replace('{THRESHOLD: "{{ params.threshold }}"}',
                                      "{THRESHOLD: '{% if params.flag %}on{% else %}off{% endif %}'}"))
    assert load_pipeline(file).parameters["flag"]["used_in"] == [
        "models.m.steps[0].environment.THRESHOLD", "models.m.steps[0].arguments[1]"]
