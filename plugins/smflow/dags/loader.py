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

import gc
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
from smflow import settings
from smflow.atomic_files import replacing
from smflow.compile.graph import FORMAT_VERSION, CompiledPipeline, compile_pipeline
from smflow.compile.kinds import upload_sources
from smflow.errors import SmflowError
from smflow.settings import smflow_home
from smflow.spec.discovery import PipelineSource, discover
from smflow.spec.errors import SpecError

log = logging.getLogger(__name__)

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)|\b(SMP_[A-Z0-9_]+)\b")
SEED_ENV = ("SMP_ROLE", "SMP_S3BUCKETNAME", "SMP_REGION", "SMP_ACCOUNTID", "SMP_SOURCE_DIR_PATH")
ERROR_DAG_ID = "smflow__invalid_pipelines"


def cache_key(source: PipelineSource, contents: Iterable[bytes]) -> str:
    digest = hashlib.sha256(f"{smflow.__version__}/{FORMAT_VERSION}".encode())
    # Validity depends on it: built-in algorithms other than XGBoost are valid for the sagemaker executor only.
    digest.update(f"executor={settings.get('executor')}\0".encode())
    for file, data in zip(source.files, contents, strict=True):
        digest.update(os.path.abspath(file).encode() + b"\0" + data + b"\0")
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
    return _compile_source(source, [f.read_bytes() for f in source.files], use_cache=use_cache)


def _compile_source(source: PipelineSource, contents: list[bytes], *, use_cache: bool,
                    cache_dir: Path | None = None) -> CompiledPipeline:
    key = cache_key(source, contents)
    cached = (cache_dir or _cache_dir()) / f"{key}.json"
    if use_cache:
        try:
            hit = CompiledPipeline.from_json(json.loads(cached.read_bytes()))
            # The key covers the YAML; a script or data file deleted since must still be reported.
            if all(os.path.exists(u) for d in hit.dags for t in d.tasks for u in upload_sources(t.uploads)):
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


_swept: set[Path] = set()  # cache folders whose leftover temp files this process has already removed


def _write_atomic(path: Path, text: str) -> None:
    """Write a cache file atomically; killed writers' temp files are swept once per folder and process, not
    once per file (one listing of a folder of 500 entries per write made a cold parse quadratic)."""
    try:
        sweep = path.parent not in _swept
        with replacing(path, sweep=sweep) as tmp:
            tmp.write_text(text, encoding="utf-8")
        _swept.add(path.parent)
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


class PipelineSpecImportError(SmflowError, ValueError):
    """Raised by the error-report loader file; Airflow shows its message as that file's import error."""


def error_report(errors: dict[str, list[str]]) -> str:
    """The import error a user reads in the UI: one heading, then every `file:line:col: …` line."""
    lines = [line for label in sorted(errors) for line in errors[label]]
    files = ", ".join(sorted(errors))
    return (f"{len(errors)} smflow pipeline spec(s) could not be loaded: {files}\n"
            "Their DAGs are not available until the spec is fixed; every other pipeline loaded normally.\n"
            + "\n".join(lines))


@dataclass
class LoadResult:
    dags: dict[str, DAG]
    errors: dict[str, list[str]]  # source label → error lines
    seconds: float


def spec_text(source: PipelineSource, contents: list[bytes] | None = None) -> str:
    """The spec files as the DAG's docs show them, so the UI shows the pipeline and not the loader."""
    parts = []
    for index, file in enumerate(source.files):
        if contents is not None:
            text = contents[index].decode("utf-8", errors="replace")
        else:
            try:
                text = file.read_text(encoding="utf-8", errors="replace")
            except OSError as e:
                text = f"(could not read: {e.strerror})"
        parts.append(f"`{file}`\n\n```yaml\n{text.rstrip()}\n```")
    return "\n\n".join(parts)


def build_dags(root: Path, *, only_dag_id: str | None = None, executor: str | None = None,
               use_cache: bool = True, validate_only: bool = False) -> LoadResult:
    """Build every pipeline's DAGs under `root`; errors are collected per source, never raised.

    `validate_only` compiles (through the cache) without building Airflow objects: what the error-report
    loader needs.
    """
    started = time.perf_counter()
    # Building makes many small objects and few cycles; Airflow's own objects already fill the heap, so each
    # automatic collection walks all of it; deferring collection until the build is done saves ~30% warm.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _build_dags(root, only_dag_id=only_dag_id, executor=executor, use_cache=use_cache,
                           validate_only=validate_only, started=started)
    finally:
        if collecting:
            gc.enable()


def _build_dags(root: Path, *, only_dag_id: str | None, executor: str | None, use_cache: bool,
                validate_only: bool, started: float) -> LoadResult:
    from smflow.dags.factory import build_dag

    sources = discover(root)
    if only_dag_id:
        wanted = _read_index().get(only_dag_id.split("__", 1)[0])
        if wanted:
            narrowed = [s for s in sources if [str(f) for f in s.files] == wanted]
            sources = narrowed or sources
    dags: dict[str, DAG] = {}
    errors: dict[str, list[str]] = {}
    index: dict[str, list[str]] = {}
    owners: dict[str, str] = {}  # dag_id → the source that defines it
    cache_dir = _cache_dir()  # settings are read once per build, not once per pipeline
    for source in sources:
        try:
            contents = [f.read_bytes() for f in source.files]
            compiled = _compile_source(source, contents, use_cache=use_cache, cache_dir=cache_dir)
        except SpecError as e:
            errors[source.label] = [str(i) for i in e.issues] or [str(e)]
            continue
        except Exception as e:  # noqa: BLE001 - any failure of one spec must not hide the others
            log.exception("smflow could not compile %s", source.label)
            errors[source.label] = [f"{source.label}:1:1: <internal>: {type(e).__name__}: {e}"]
            continue
        # The first source of a name owns it (a later duplicate is rejected below), so a worker parsing for one
        # DAG narrows to the spec the dag-processor built it from.
        index.setdefault(compiled.name, [str(f) for f in source.files])
        docs = None
        for compiled_dag in compiled.dags:
            if only_dag_id and compiled_dag.dag_id != only_dag_id:
                continue
            if compiled_dag.dag_id in owners:
                errors.setdefault(source.label, []).append(
                    f"{source.label}:1:1: pipeline: DAG id {compiled_dag.dag_id} is already defined by "
                    f"{owners[compiled_dag.dag_id]}; give this pipeline another name")
                continue
            owners[compiled_dag.dag_id] = source.label
            if validate_only:
                continue
            try:
                docs = docs if docs is not None else spec_text(source, contents)
                dags[compiled_dag.dag_id] = build_dag(compiled_dag, fileloc=source.label, executor=executor,
                                                      spec_docs=docs)
            except Exception as e:  # noqa: BLE001 - e.g. Airflow rejecting a schedule; never hide the others
                log.exception("smflow could not build %s from %s", compiled_dag.dag_id, source.label)
                errors.setdefault(source.label, []).append(
                    f"{source.label}:1:1: <dag>: Airflow rejected DAG {compiled_dag.dag_id}: {type(e).__name__}: {e}")
    if not only_dag_id and use_cache:
        _write_atomic(_index_path(), json.dumps(index, sort_keys=True))
    return LoadResult(dags, errors, time.perf_counter() - started)


def pipelines_root(loader_file: str | None = None) -> Path:
    """`$SMFLOW_PIPELINES_DIR`, else `include/pipelines` beside the dags folder (the Astro project layout).

    The dags folder is the loader file's own folder, so this holds however smflow itself was installed.
    """
    override = settings.get("pipelines_dir")
    if override:
        return Path(override)
    if loader_file:
        return Path(loader_file).resolve().parent.parent / "include" / "pipelines"
    return Path.cwd() / "include" / "pipelines"


def _parsing_dag_id() -> str | None:
    """Set when a worker parses the file for one task: then only that DAG is built (Airflow docs,
    "Dynamic DAG generation": optimizing DAG parsing delays during execution)."""
    from airflow.sdk import get_parsing_context

    return get_parsing_context().dag_id


def register_dags(namespace: MutableMapping[str, Any], root: Path | None = None) -> LoadResult:
    """Put every *valid* pipeline's DAGs into a loader module's globals (what Airflow's parser collects).

    Invalid specs are only logged here: an import error belongs to a *file*, and Airflow's dag-processor
    marks every DAG of a file with an import error stale (hidden, not scheduled). So broken specs are
    reported by a second loader file that defines no DAG (`report_pipeline_errors`), and one broken YAML
    never takes the good pipelines with it.
    """
    root = root or pipelines_root(namespace.get("__file__"))
    result = build_dags(root, only_dag_id=_parsing_dag_id())
    for dag_id, dag in result.dags.items():
        namespace[f"dag__{dag_id}"] = dag
    for line in (line for label in sorted(result.errors) for line in result.errors[label]):
        log.warning("skipped invalid pipeline spec: %s", line)
    log.info("smflow built %d DAG(s) from %s in %.3fs (%d invalid spec(s), reported by the error loader)",
             len(result.dags), root, result.seconds, len(result.errors))
    return result


def report_pipeline_errors(loader_file: str, root: Path | None = None) -> None:
    """Raise one import error listing every invalid spec under the pipelines folder, or return quietly.

    Called from a loader file that defines no DAG, so the import error Airflow records for it (shown in the
    UI's "DAG Import Errors" with every `file:line:col` line) deactivates nothing. Fixing the YAML clears
    it at the next parse. A worker parsing for one task skips the work.
    """
    if _parsing_dag_id():
        return
    result = build_dags(root or pipelines_root(loader_file), validate_only=True)
    if result.errors:
        raise PipelineSpecImportError(error_report(result.errors))
