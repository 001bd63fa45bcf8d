"""YAML → validated `PipelineDocument`. Pure data: never imports Airflow or boto3."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from smflow.spec.errors import SpecError, SpecIssue
from smflow.spec.load import load_yaml_file, load_yaml_text
from smflow.spec.model import PipelineSpec
from smflow.spec.resolve import PipelineDocument, resolve
from smflow.spec.validate import validate_model

__all__ = ["PipelineDocument", "PipelineSpec", "SpecError", "SpecIssue", "load_pipeline", "load_pipeline_text"]


def load_pipeline_text(text: str, file: Path, env: Mapping[str, str] | None = None) -> PipelineDocument:
    """Validate YAML text as if read from `file` (relative paths resolve against its directory)."""
    loaded = load_yaml_text(text, str(file), env)
    if isinstance(loaded.data, dict) and "conf" in loaded.data and "pipeline" not in loaded.data:
        from smflow.spec.seedconf import load_seed_documents

        return load_seed_documents([file], env)
    spec = validate_model(loaded, PipelineSpec)
    return resolve(spec, loaded.source, file)


def load_pipeline(path: Path | str, env: Mapping[str, str] | None = None) -> PipelineDocument:
    """Load one native pipeline YAML (or a seed-framework conf) and validate it completely."""
    file = Path(path)
    loaded = load_yaml_file(file, env)
    if isinstance(loaded.data, dict) and "conf" in loaded.data and "pipeline" not in loaded.data:
        from smflow.spec.seedconf import load_seed_documents

        return load_seed_documents([file], env)
    spec = validate_model(loaded, PipelineSpec)
    return resolve(spec, loaded.source, file)
