from __future__ import annotations

from pathlib import Path

import pytest

from smflow.spec import load_pipeline_text
from smflow.spec.errors import SpecError
from smflow.spec.load import interpolate, load_yaml_text

MINIMAL = """
pipeline: tiny
defaults:
  bucket: ${BUCKET:-fallback-bucket}
  tags: {owner: "${OWNER}"}
models:
  m:
    steps:
      - {name: prep, type: processing, entry_point: prep.py, outputs: [train]}
      - {name: fit, type: training, entry_point: prep.py, inputs: {train: prep.train}}
"""


def test_interpolation_forms() -> None:
    missing: list[str] = []
    env = {"A": "x", "EMPTY": ""}
    assert interpolate("${A}-${B:-d}-${EMPTY:-e}-${EMPTY-f}-$${A}", env, missing) == "x-d-e--${A}"
    assert missing == []
    interpolate("${NOPE}", env, missing)
    assert missing == ["NOPE"]


def test_positions_are_recorded_for_keys_and_values() -> None:
    loaded = load_yaml_text("a:\n  b: [1, 2]\n  c: {d: x}\n", "f.yaml")
    assert loaded.source.values[("a", "b", 1)] == (2, 10)
    assert loaded.source.keys[("a", "c")] == (3, 3)
    assert loaded.source.values[("a", "c", "d")] == (3, 10)


def test_duplicate_keys_are_errors() -> None:
    with pytest.raises(SpecError) as err:
        load_yaml_text("a: 1\nb: 2\na: 3\n", "f.yaml")
    assert "f.yaml:3:1: a: duplicate key 'a' (first defined at line 1)" in str(err.value)


def test_merge_keys_and_anchors_work() -> None:
    loaded = load_yaml_text("base: &b {x: 1}\nchild:\n  <<: *b\n  y: 2\n", "f.yaml")
    assert loaded.data["child"] == {"x": 1, "y": 2}


def test_env_values_fill_in_and_inference_edges(tmp_path: Path) -> None:
    (tmp_path / "prep.py").write_text("")
    doc = load_pipeline_text(MINIMAL, tmp_path / "p.yaml", env={"OWNER": "ml-team"})
    assert doc.spec.defaults.bucket == "fallback-bucket"
    assert doc.spec.defaults.tags == {"owner": "ml-team"}
    assert list(doc.nodes) == ["m.prep", "m.fit"]
    assert doc.edges == [("m.prep", "m.fit")]


def test_explicit_dependencies_add_edges_across_units(tmp_path: Path) -> None:
    (tmp_path / "s.py").write_text("")
    text = """
pipeline: two
models:
  a: {steps: [{name: p, type: processing, entry_point: s.py}]}
  b: {steps: [{name: q, type: processing, entry_point: s.py}, {name: r, type: processing, entry_point: s.py}]}
dependencies:
  - a.p >> b.q >> r
  - "a.p >> [b.q, b.r]"
"""
    doc = load_pipeline_text(text, tmp_path / "p.yaml", env={})
    assert set(doc.edges) == {("a.p", "b.q"), ("b.q", "b.r"), ("a.p", "b.r")}


def test_step_task_ids_option(tmp_path: Path) -> None:
    (tmp_path / "s.py").write_text("")
    text = """
pipeline: flat
options: {task_ids: step}
models:
  a: {steps: [{name: p, type: processing, entry_point: s.py}]}
  b: {steps: [{name: p, type: processing, entry_point: s.py}]}
"""
    with pytest.raises(SpecError) as err:
        load_pipeline_text(text, tmp_path / "p.yaml", env={})
    assert "across the pipeline" in str(err.value)


def test_schema_is_valid_json_schema() -> None:
    import jsonschema

    from smflow.spec.schema import pipeline_json_schema

    schema = pipeline_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    assert not list(validator.iter_errors({"pipeline": "x", "models": {"m": {"steps": [
        {"name": "p", "type": "processing", "entry_point": "p.py"}]}}}))
    assert list(validator.iter_errors({"pipeline": "x", "models": {}, "bogus": 1}))
