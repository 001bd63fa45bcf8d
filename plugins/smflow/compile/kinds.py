"""The seams between compile and the operators, typed: step kinds, uploads and pre-calls.

Plain JSON-compatible shapes (TypedDicts), because compiled pipelines are cached as JSON and printed by
`smflow compile --json`; the types make the contract visible to mypy on both sides of the seam.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal, NotRequired, TypedDict, get_args

# resolve_model … batch_predict are the batch DAG's (compile/batch.py), compiled from `batch:` rather than from
# steps; monitor_resolve, drift_check and retrain_signal the monitor DAG's (compile/monitor.py).
StepKind = Literal["processing", "evaluation", "training", "create_model", "transform", "register", "deploy",
                   "condition", "baseline", "resolve_model", "find_batches", "batch_preprocess", "batch_predict",
                   "monitor_resolve", "drift_check", "retrain_signal"]
STEP_KINDS: tuple[StepKind, ...] = get_args(StepKind)


class Upload(TypedDict):
    """A local file or folder the operator copies to `uri` before the job starts (`tar`: as .tar.gz; then
    `dependencies`: more folders packed at the top level of the archive under their own names)."""

    source: str
    uri: str
    tar: bool
    dependencies: NotRequired[list[str]]


def upload_sources(uploads: Iterable[Upload]) -> list[str]:
    """Every local path the uploads read (sources and packed dependencies), for fingerprints and cache checks."""
    return [path for upload in uploads for path in (str(upload["source"]), *upload.get("dependencies", []))]


class PreCall(TypedDict):
    """A SageMaker call a step makes before its main one (e.g. CreateModelPackageGroup, CreateEndpointConfig)."""

    operation: str
    request: dict[str, Any]
    if_missing: NotRequired[bool]  # only when the resource does not exist yet (describe first)
