"""Drift monitoring as compiled data: the train DAG's baseline task and the version's DriftCheckBaselines, the
train DAG listening to the retrain Asset, and the `<pipeline>__monitor` DAG's tasks per unit."""

from __future__ import annotations

from pathlib import Path

from smflow.compile.graph import CompiledPipeline, compile_pipeline
from smflow.compile.render import RunTemplateContext, render_value
from smflow.service_model import validate_request
from smflow.spec import load_pipeline

SOURCE = """\
pipeline: scoring
defaults: {bucket: ml-bucket}
schedule: {train: "0 3 * * 1", monitor: {on_data: true, poke_seconds: 5}}
models:
  m:
    source_dir: code
    steps:
      - {name: prep, type: processing, entry_point: train.py, outputs: [train]}
      - {name: train, type: training, entry_point: train.py, inputs: {train: prep.train}}
      - {name: register, type: register, model: train, group: scoring-models}
    batch: {input: s3://ml-bucket/incoming/}
    monitor:
      columns: [a, b]
      exclude: [b]
      baseline: {data: prep.train, columns: [y, a, b], predictions: prep.train}
      features: {a: {statistic: psi, threshold: 0.2}}
      drift_share: 0.3
      cooldown: 90m
"""


def compiled(tmp_path: Path, text: str = SOURCE) -> CompiledPipeline:
    (tmp_path / "code").mkdir(exist_ok=True)
    (tmp_path / "code" / "train.py").write_text("print('train')\n")
    (tmp_path / "code" / "inference.py").write_text("def model_fn(model_dir):\n    return None\n")
    file = tmp_path / "pipeline.yaml"
    file.write_text(text)
    return compile_pipeline(load_pipeline(file))


def test_the_baseline_is_sketched_and_recorded_with_the_version(tmp_path: Path) -> None:
    train = compiled(tmp_path).dag("train")
    baseline = train.task("m.baseline")
    assert baseline.kind == "baseline" and baseline.operation is None
    assert baseline.params == {"data": "{{ smflow.output('m.prep', 'train') }}", "columns": ["y", "a", "b"],
                               "features": ["a", "b"], "exclude": ["b"], "categorical": None,
                               "predictions": "{{ smflow.output('m.prep', 'train') }}"}
    assert baseline.outputs["predictions_baseline"].endswith("/m-baseline/predictions_baseline.json")
    assert baseline.outputs["baseline"].endswith("/m-baseline/baseline.json")
    assert ("m.baseline", "m.register") in train.edges
    register = train.task("m.register").request
    assert register["DriftCheckBaselines"] == {"ModelDataQuality": {"Statistics": {
        "ContentType": "application/json", "S3Uri": "{{ smflow.output('m.baseline', 'baseline') }}"}}}
    context = RunTemplateContext("scoring__train", "manual__1", "m.register", 1,
                                 lambda task, name: f"s3://ml-bucket/{task}/{name}.json")
    rendered = render_value(register, {"smflow": context, "run_id": "manual__1", "dag": {"dag_id": "x"}})
    validate_request("CreateModelPackage", rendered)  # botocore's shape: DriftCheckBaselines is a real field
    assert rendered["CustomerMetadataProperties"]["smflow:retrain_trigger"] == \
        "s3://ml-bucket/m.baseline/trigger.json"
    assert rendered["CustomerMetadataProperties"]["smflow:predictions_baseline"] == \
        "s3://ml-bucket/m.baseline/predictions_baseline.json"


def test_the_train_dag_also_listens_to_the_retrain_asset(tmp_path: Path) -> None:
    assert compiled(tmp_path).dag("train").schedule == {"cron": "0 3 * * 1", "assets": ["smflow://scoring/retrain"]}
    manual = compiled(tmp_path, SOURCE.replace('train: "0 3 * * 1", ', ""))
    assert manual.dag("train").schedule == {"assets": ["smflow://scoring/retrain"]}
    no_retrain = compiled(tmp_path, SOURCE.replace("cooldown: 90m", "retrain: false"))
    assert no_retrain.dag("train").schedule == "0 3 * * 1"
    assert [t.task_id for t in no_retrain.dag("monitor").tasks] == ["m.resolve_baseline", "m.check_drift"]


def test_the_monitor_dag_resolves_checks_and_signals(tmp_path: Path) -> None:
    pipeline = compiled(tmp_path)
    assert [d.dag_id for d in pipeline.dags] == ["scoring__train", "scoring__batch", "scoring__monitor"]
    dag = pipeline.dag("monitor")
    assert dag.schedule == {"on_data": True, "poke_seconds": 5} and dag.settings["max_active_runs"] == 1
    assert [(t.task_id, t.kind) for t in dag.tasks] == [
        ("m.resolve_baseline", "monitor_resolve"), ("m.check_drift", "drift_check"), ("m.retrain", "retrain_signal")]
    assert dag.edges == [("m.resolve_baseline", "m.check_drift"), ("m.check_drift", "m.retrain")]
    assert dag.task("m.resolve_baseline").params == {"group": "scoring-models", "version": None}
    check = dag.task("m.check_drift").params
    assert check["input"] == "s3://ml-bucket/incoming/" and check["pattern"] == "*.csv"
    assert check["output"] == "s3://ml-bucket/scoring/monitoring/m/"
    assert check["predictions_output"] == "s3://ml-bucket/scoring/predictions/m/"
    assert check["drift"] == {"drift_share": 0.3, "features": {"a": {"statistic": "psi", "threshold": 0.2}}}
    retrain = dag.task("m.retrain").params
    assert retrain["outlets"] == ["smflow://scoring/retrain"] and retrain["cooldown_seconds"] == 5400
    assert retrain["cooldown_record"] == "s3://ml-bucket/scoring/monitoring/m/_retrain.json"
    assert pipeline.as_json() == CompiledPipeline.from_json(pipeline.as_json()).as_json()
