"""The compiled-pipeline cache key covers the executor setting, which decides whether a step with a built-in
algorithm other than XGBoost is valid (sagemaker) or a validate error (local)."""

from __future__ import annotations

from pathlib import Path

import pytest

from smflow.dags.loader import cache_key
from smflow.spec.discovery import PipelineSource


def test_the_executor_setting_is_part_of_the_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = tmp_path / "pipeline.yaml"
    spec.write_text("pipeline: p\n")
    source = PipelineSource((spec,))
    monkeypatch.setenv("SMFLOW_EXECUTOR", "local")
    local = cache_key(source, [spec.read_bytes()])
    assert cache_key(source, [spec.read_bytes()]) == local
    monkeypatch.setenv("SMFLOW_EXECUTOR", "sagemaker")
    assert cache_key(source, [spec.read_bytes()]) != local
