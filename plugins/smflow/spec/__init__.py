"""YAML → validated `PipelineDocument`. Pure data: never imports Airflow or boto3."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from smflow.spec.errors import Path_, SpecError, SpecIssue, format_key_path
from smflow.spec.load import LoadedYaml, SourceMap, load_yaml_file, load_yaml_text
from smflow.spec.model import PipelineSpec
from smflow.spec.resolve import PipelineDocument, resolve
from smflow.spec.validate import validate_model

__all__ = ["PipelineDocument", "PipelineSpec", "SpecError", "SpecIssue", "load_pipeline", "load_pipeline_text"]


Repaired = tuple[dict[str, Any], set[str], dict[str, list[int]]]


def _without_errors(data: dict[str, Any], error_paths: list[Path_]) -> Repaired | None:
    """A copy of the document with every schema error cut out — invalid steps dropped whole, other bad keys
    removed so their defaults apply — or None when a required top-level key itself is broken."""
    repaired = copy.deepcopy(data)
    dropped: set[str] = set()
    steps_to_drop: dict[tuple[str, str], set[int]] = {}
    for path in error_paths:
        if len(path) >= 4 and path[0] == "models" and path[2] == "steps" and isinstance(path[3], int):
            steps_to_drop.setdefault((str(path[0]), str(path[1])), set()).add(path[3])
            continue
        if len(path) < 2 or path[0] in {"pipeline", "models"}:
            return None
        parent: Any = repaired
        for part in path[:-1]:
            if isinstance(parent, dict) and part in parent:
                parent = parent[part]
            elif isinstance(parent, list) and isinstance(part, int) and part < len(parent):
                parent = parent[part]
            else:
                return None
        if isinstance(parent, dict):
            parent.pop(path[-1], None)
        else:
            return None
    for (_, unit), indexes in steps_to_drop.items():
        steps = repaired["models"][unit]["steps"]
        for index in sorted(indexes, reverse=True):
            if index < len(steps):
                assert isinstance(steps, list)
                name = steps[index].get("name") if isinstance(steps[index], dict) else None
                if isinstance(name, str):
                    dropped.add(name)
                del steps[index]
        if not steps:
            return None
    return repaired, dropped, {unit: sorted(indexes) for (_, unit), indexes in steps_to_drop.items()}


class _ShiftedSource(SourceMap):
    """The original positions, seen through the repaired document whose invalid steps were cut out."""

    def __init__(self, base: SourceMap, dropped: dict[str, list[int]]):
        super().__init__(base.file, base.values, base.keys, base.files)
        self.dropped = dropped

    def original(self, path: Path_) -> Path_:
        if len(path) >= 4 and path[0] == "models" and path[2] == "steps" and isinstance(path[3], int):
            index = path[3]
            for removed in self.dropped.get(str(path[1]), []):
                if removed <= index:
                    index += 1
            return (*path[:3], index, *path[4:])
        return path

    def locate(self, path: Path_, *, prefer_key: bool = False) -> tuple[str, int, int]:
        return super().locate(self.original(path), prefer_key=prefer_key)

    def issue(self, path: Path_, message: str, *, prefer_key: bool = False) -> SpecIssue:
        file, line, col = self.locate(path, prefer_key=prefer_key)
        return SpecIssue(file, line, col, format_key_path(self.original(path)), message)


def _validated(loaded: LoadedYaml, file: Path) -> PipelineDocument:
    """Schema, then whole-document checks; when the schema fails, the checks still run on what is valid,
    so every error of a file is reported in one go."""
    try:
        spec = validate_model(loaded, PipelineSpec)
    except SpecError as schema:
        attempt = _without_errors(loaded.data, schema.error_paths) if isinstance(loaded.data, dict) else None
        if attempt is None:
            raise
        repaired, dropped, dropped_indexes = attempt
        try:
            resolve(PipelineSpec.model_validate(repaired), _ShiftedSource(loaded.source, dropped_indexes), file)
        except SpecError as semantic:
            # References to the steps cut out above would only repeat the schema errors.
            extra = [i for i in semantic.issues
                     if not any(f"unknown step '{name}'" in i.message or f"no step '{name}'" in i.message
                                for name in dropped)]
            raise SpecError([*schema.issues, *extra]) from None
        except ValueError:
            pass  # the repaired document is still invalid: the schema errors are the whole story
        raise
    return resolve(spec, loaded.source, file)


def _document(loaded: LoadedYaml, file: Path, env: Mapping[str, str] | None) -> PipelineDocument:
    """A seed-framework conf (top-level `conf:`) goes to its translator; anything else is a native spec."""
    if isinstance(loaded.data, dict) and "conf" in loaded.data and "pipeline" not in loaded.data:
        from smflow.spec.seedconf import load_seed_documents

        return load_seed_documents([file], env)
    return _validated(loaded, file)


def load_pipeline_text(text: str, file: Path, env: Mapping[str, str] | None = None) -> PipelineDocument:
    """Validate YAML text as if read from `file` (relative paths resolve against its directory)."""
    return _document(load_yaml_text(text, str(file), env), file, env)


def load_pipeline(path: Path | str, env: Mapping[str, str] | None = None) -> PipelineDocument:
    """Load one native pipeline YAML (or a seed-framework conf) and validate it completely."""
    file = Path(path)
    return _document(load_yaml_file(file, env), file, env)
