"""Find pipeline specs, compile them (cached by content hash), and build their DAGs for Airflow's parser.

Three rules from the lessons of dag-factory and cosmos:
- one bad YAML never hides the others: each source is compiled on its own, and the bad ones become one
  placeholder DAG whose validation fails, which Airflow records as an *import error* for the loader file
  (visible in the UI) while every good DAG of the same file still loads;
- compiled pipelines are cached on disk by a hash of the YAML bytes (+ the environment values they use),
  because the DAG processor parses each file in a fresh process;
- with `get_parsing_context().dag_id` set (a worker running one task), only that pipeline is built.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from airflow.sdk import DAG

import smflow
from smflow.atomic_files import write_text_atomic
from smflow.compile.graph import CompiledPipeline, compile_pipeline
from smflow.settings import smflow_home
from smflow.spec.discovery import PipelineSource, discover
from smflow.spec.errors import SpecError

log = logging.getLogger(__name__)

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)|\b(SMP_[A-Z0-9_]+)\b")
SEED_ENV = ("SMP_ROLE", "SMP_S3BUCKETNAME", "SMP_REGION", "SMP_ACCOUNTID", "SMP_SOURCE_DIR_PATH")
ERROR_DAG_ID = "smflow__invalid_pipelines"


def cache_key(source: PipelineSource, contents: Iterable[bytes]) -> str:
    digest = hashlib.sha256(smflow.__version__.encode())
    for file, data in zip(source.files, contents, strict=True):
        digest.update(str(file.resolve()).encode() + b"\0" + data + b"\0")
        for match in _ENV_REF.finditer(data.decode("utf-8", "replace")):
            name = match.group(1) or match.group(2)
            digest.update(f"{name}={os.environ.get(name)}\0".encode())
    if source.seed:  # the seed loader reads these even where the files do not name them
        for name in SEED_ENV:
            digest.update(f"{name}={os.environ.get(name)}\0".encode())
    return digest.hexdigest()


def _cache_dir() -> Path:
    return smflow_home() / "cache" / "compiled"


def compile_source(source: PipelineSource, *, use_cache: bool = True) -> CompiledPipeline:
    """Load, validate and compile one source; `SpecError` carries every positioned problem."""
    contents = [f.read_bytes() for f in source.files]
    key = cache_key(source, contents)
    cached = _cache_dir() / f"{key}.json"
    if use_cache:
        try:
            hit = CompiledPipeline.from_json(json.loads(cached.read_text()))
            # The key covers the YAML; a script or data file deleted since must still be reported.
            if all(Path(u["source"]).exists() for d in hit.dags for t in d.tasks for u in t.uploads):
                return hit
        except (OSError, ValueError, KeyError, TypeError):
            pass
    if source.seed:
        from smflow.spec.seedconf import load_seed_documents

        doc = load_seed_documents(list(source.files))
    else:
        from smflow.spec import load_pipeline_text

        doc = load_pipeline_text(contents[0].decode("utf-8"), source.files[0])
    compiled = compile_pipeline(doc)
    if use_cache:
        _write_atomic(cached, json.dumps(compiled.as_json()))
    return compiled


def _write_atomic(path: Path, text: str) -> None:
    try:
        write_text_atomic(path, text)
    except OSError as e:  # a read-only home only costs speed
        log.debug("could not write smflow cache %s: %s", path, e)


def _index_path() -> Path:
    return smflow_home() / "cache" / "pipeline-index.json"


def _read_index() -> dict[str, list[str]]:
    try:
        data = json.loads(_index_path().read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


class PipelineSpecImportError(ValueError):
    """The message Airflow shows as the loader file's import error: one `file:line:col: …` line per problem."""


class InvalidPipelinesDag(DAG):
    """Stands in for invalid specs: its validation fails, so Airflow records an import error for the loader
    file (shown in the UI) while the file's other DAGs, validated one by one, still load."""

    def validate(self) -> None:
        raise PipelineSpecImportError(self.description or "invalid smflow pipeline spec")


def _error_dag(messages: list[str]) -> DAG:
    text = "invalid smflow pipeline spec(s); the other pipelines loaded normally:\n" + "\n".join(messages)
    return InvalidPipelinesDag(dag_id=ERROR_DAG_ID, schedule=None, description=text)


@dataclass
class LoadResult:
    dags: dict[str, DAG]
    errors: dict[str, list[str]]  # source label → error lines
    seconds: float


def build_dags(root: Path, *, only_dag_id: str | None = None, executor: str | None = None,
               use_cache: bool = True) -> LoadResult:
    """Build every pipeline's DAGs under `root`; errors are collected per source, never raised."""
    from smflow.dags.factory import build_dag

    started = time.perf_counter()
    sources = discover(root)
    if only_dag_id:
        wanted = _read_index().get(only_dag_id.split("__", 1)[0])
        if wanted:
            narrowed = [s for s in sources if [str(f) for f in s.files] == wanted]
            sources = narrowed or sources
    dags: dict[str, DAG] = {}
    errors: dict[str, list[str]] = {}
    index: dict[str, list[str]] = {}
    for source in sources:
        try:
            compiled = compile_source(source, use_cache=use_cache)
        except SpecError as e:
            errors[source.label] = [str(i) for i in e.issues] or [str(e)]
            continue
        except Exception as e:  # noqa: BLE001 - any failure of one spec must not hide the others
            log.exception("smflow could not compile %s", source.label)
            errors[source.label] = [f"{source.label}:1:1: <internal>: {type(e).__name__}: {e}"]
            continue
        index[compiled.name] = [str(f) for f in source.files]
        for compiled_dag in compiled.dags:
            if only_dag_id and compiled_dag.dag_id != only_dag_id:
                continue
            if compiled_dag.dag_id in dags:
                errors[source.label] = [f"{source.label}:1:1: pipeline: DAG id {compiled_dag.dag_id} is already "
                                        "defined by another pipeline; give this pipeline another name"]
                continue
            try:
                dags[compiled_dag.dag_id] = build_dag(compiled_dag, fileloc=source.label, executor=executor)
            except Exception as e:  # noqa: BLE001 - e.g. Airflow rejecting a schedule; never hide the others
                log.exception("smflow could not build %s from %s", compiled_dag.dag_id, source.label)
                errors[source.label] = [f"{source.label}:1:1: <dag>: Airflow rejected DAG {compiled_dag.dag_id}: "
                                        f"{type(e).__name__}: {e}"]
    if not only_dag_id and use_cache:
        _write_atomic(_index_path(), json.dumps(index, sort_keys=True))
    return LoadResult(dags, errors, time.perf_counter() - started)


def pipelines_root() -> Path:
    """`$SMFLOW_PIPELINES_DIR`, else `include/pipelines` beside the dags folder (the Astro project layout)."""
    override = os.environ.get("SMFLOW_PIPELINES_DIR")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[3] / "include" / "pipelines"


def register_dags(namespace: MutableMapping[str, Any], root: Path | None = None) -> LoadResult:
    """Put the DAGs into a loader module's globals (what Airflow's parser collects) and surface errors."""
    only: str | None = None
    try:
        from airflow.sdk import get_parsing_context

        only = get_parsing_context().dag_id
    except ImportError:  # pragma: no cover - Airflow < 2.4
        pass
    result = build_dags(root or pipelines_root(), only_dag_id=only)
    for dag_id, dag in result.dags.items():
        namespace[f"dag__{dag_id}"] = dag
    if result.errors:
        lines = [line for label in sorted(result.errors) for line in result.errors[label]]
        for line in lines:
            log.error("%s", line)
        namespace["smflow__invalid_pipelines"] = _error_dag(lines)
    log.info("smflow built %d DAG(s) from %s in %.3fs (%d invalid spec(s))", len(result.dags),
             root or pipelines_root(), result.seconds, len(result.errors))
    return result
