"""Valid built-in XGBoost settings that will not read the data as meant, reported by `smflow validate` as
warnings (exit 0).

The XGBoost algorithm reads a channel that has no ContentType as libsvm (its container's rule, and the
SageMaker developer guide's: "the default content type is libsvm"), so CSV data given without
`content_type: text/csv` fails at the first line. Only local inputs can be looked at here.
"""

from __future__ import annotations

from pathlib import Path

from smflow.spec.algorithm_mode import is_xgboost_algorithm
from smflow.spec.errors import SpecIssue
from smflow.spec.model import InputSpec, TrainingStep
from smflow.spec.resolve import PipelineDocument


def _looks_like_csv(path: Path) -> bool:
    if path.is_file():
        return path.suffix.lower() == ".csv"
    return path.is_dir() and any(p.suffix.lower() == ".csv" for p in path.rglob("*") if p.is_file())


def algorithm_warnings(doc: PipelineDocument) -> list[SpecIssue]:
    """One positioned warning per XGBoost algorithm channel of local CSV files without a content_type."""
    if doc.source is None:
        return []
    warnings = []
    for node in doc.nodes.values():
        step = node.step
        if not isinstance(step, TrainingStep) or not is_xgboost_algorithm(step, doc.spec.defaults):
            continue
        for name, given in step.inputs.items():
            resolved = doc.inputs.get((node.task_id, name))
            if resolved is None or resolved.content_type or not resolved.is_local:
                continue
            if _looks_like_csv(Path(str(resolved.source))):
                path = (*node.path, "inputs", name) + (("source",) if isinstance(given, InputSpec) else ())
                warnings.append(doc.source.issue(path, f"warning: channel {name!r} holds CSV files but has no "
                                                       "content_type, so the XGBoost algorithm reads it as libsvm "
                                                       f"and fails; write `{name}: {{source: …, content_type: "
                                                       "text/csv}`"))
    return warnings
