"""The metrics the SageMaker XGBoost algorithm publishes by itself, without MetricDefinitions in the request
(the SageMaker developer guide, "Tune an XGBoost model": validation:accuracy, validation:auc, …; the
container's `algorithm_mode/metrics.py`).

Each is read from the round lines the algorithm logs (`[i]#011validation-rmse:0.51#011…`). The container's
own patterns capture `\\S+`, which would swallow the next `#011metric` of a line with several metrics, so
these capture the number only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

ALGORITHM_METRICS = ("accuracy", "auc", "error", "f1", "logloss", "mae", "map", "merror", "mlogloss", "mse", "ndcg",
                     "rmse")
_NUMBER = r"([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"


def metric_definitions(requested: Sequence[Mapping[str, str]]) -> list[dict[str, str]]:
    """The request's MetricDefinitions, plus the algorithm's `validation:<metric>` ones it does not name."""
    given = [dict(d) for d in requested]
    names = {d.get("Name") for d in given}
    builtin = [{"Name": f"validation:{m}", "Regex": rf".*\[[0-9]+\].*#011validation-{m}:{_NUMBER}.*"}
               for m in ALGORITHM_METRICS if f"validation:{m}" not in names]
    return given + builtin
