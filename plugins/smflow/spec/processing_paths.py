"""The container folders of a processing step's inputs and outputs, defaults included, and their rules.

SageMaker stages each ProcessingInput at its `LocalPath` and uploads each ProcessingOutput from its
`LocalPath`; both must lie under /opt/ml/processing/ (CreateProcessingJob API reference). The SDK calls
them `ProcessingInput(destination=…)` and `ProcessingOutput(source=…)`. Validation (resolve.py) and the
request builder (compile/requests.py) both read them from here, so the checked paths are the sent paths.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from smflow.spec.model import EvaluationStep, Input, InputSpec, OutputSpec, ProcessingStep

PROCESSING_ROOT = "/opt/ml/processing"
CODE_DIR = f"{PROCESSING_ROOT}/input/code"
ENTRYPOINT_DIR = f"{PROCESSING_ROOT}/input/entrypoint"
RESERVED = {CODE_DIR: "the step's code (source_dir)", ENTRYPOINT_DIR: "the step's launcher script"}


@dataclass(frozen=True)
class ProcessingOutputPath:
    name: str
    local_path: str
    upload_mode: str  # EndOfJob | Continuous
    key: tuple[str | int, ...]  # where in the step it was written, relative to the step, for positioned errors


def input_destination(name: str, given: Input) -> str:
    if isinstance(given, InputSpec) and given.destination is not None:
        return given.destination.rstrip("/") or given.destination
    return f"{PROCESSING_ROOT}/input/{name}"


def output_paths(step: ProcessingStep | EvaluationStep) -> list[ProcessingOutputPath]:
    if isinstance(step, EvaluationStep):
        return [ProcessingOutputPath("evaluation", step.output_dir.rstrip("/"), "EndOfJob", ("output_dir",))]
    if isinstance(step.outputs, list):
        return [ProcessingOutputPath(name, f"{PROCESSING_ROOT}/output/{name}", "EndOfJob", ("outputs", i))
                for i, name in enumerate(step.outputs)]
    paths = []
    for name, value in step.outputs.items():
        if isinstance(value, OutputSpec):
            paths.append(ProcessingOutputPath(name, value.source.rstrip("/") or value.source, value.s3_upload_mode,
                                              ("outputs", name, "source")))
        else:
            paths.append(ProcessingOutputPath(name, value.rstrip("/") or value, "EndOfJob", ("outputs", name)))
    return paths


def container_path_problem(path: str) -> str | None:
    """Why `path` cannot be a processing LocalPath: it must be a clean absolute folder under /opt/ml/processing/."""
    if not path.startswith(PROCESSING_ROOT + "/") or path.rstrip("/") == PROCESSING_ROOT:
        return f"{path!r} is not a folder under {PROCESSING_ROOT}/; processing inputs and outputs live there " \
               f"(e.g. {PROCESSING_ROOT}/train)"
    if any(ord(c) < 32 or c == "\\" for c in path):
        return f"{path!r} contains a control character or a backslash; use a plain folder path"
    if posixpath.normpath(path) != path or "//" in path:
        clean = posixpath.normpath(path)
        hint = f"; write {clean!r}" if clean.startswith(PROCESSING_ROOT + "/") else ""
        return f"{path!r} is not a normalised path (no '.', '..' or '//' segments){hint}"
    return None
