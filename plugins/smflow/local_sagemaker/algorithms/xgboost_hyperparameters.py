"""The SageMaker XGBoost algorithm's hyperparameter rules, as its container checks them before training.

The open-source container (aws/sagemaker-xgboost-container, `algorithm_mode/hyperparameter_validation.py`
on the SageMaker algorithm toolkit) accepts only the hyperparameters it declares: `num_round` is required,
unknown names are errors ("Extraneous hyperparameter found"), each value is parsed by its type (integer,
continuous, categorical, comma-separated list, tuple, nested list) and checked against its range, then a
few rules that tie parameters together (a multi-class objective needs `num_class`, `auc` needs a
classification or ranking objective, constraints need a tree method that supports them). The public list
is in the SageMaker developer guide, "XGBoost hyperparameters".

Values arrive as the strings CreateTrainingJob carries. `check` returns every problem at once (the spec
reports them all at validate time, each at its key); the training program fails on the first, with the
container's wording.

Pure Python (no numpy; smflow.errors only): it runs under the spec (smflow's venv) and in an image environment.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from smflow.errors import SmflowError

MAXIMIZE_METRICS = ("accuracy", "auc", "aucpr", "balanced_accuracy", "f1", "f1_binary", "f1_macro", "map", "ndcg",
                    "precision", "r2", "recall", "precision_macro", "precision_micro", "recall_macro", "recall_micro")
MINIMIZE_METRICS = ("aft-nloglik", "cox-nloglik", "error", "gamma-deviance", "gamma-nloglik",
                    "interval-regression-accuracy", "logloss", "mae", "mape", "merror", "mlogloss", "mphe", "mse",
                    "poisson-nloglik", "rmse", "rmsle", "tweedie-nloglik")
# Metrics the container computes itself (XGBoost has no such eval_metric): passed as a custom metric.
CONTAINER_METRICS = ("accuracy", "balanced_accuracy", "f1", "f1_binary", "f1_macro", "mse", "precision",
                     "precision_macro", "precision_micro", "r2", "recall", "recall_macro", "recall_micro")
OBJECTIVES = ("binary:logistic", "binary:logitraw", "binary:hinge", "count:poisson", "multi:softmax",
              "multi:softprob", "rank:pairwise", "rank:ndcg", "rank:map", "reg:linear", "reg:squarederror",
              "reg:logistic", "reg:gamma", "reg:squaredlogerror", "reg:tweedie", "reg:pseudohubererror",
              "reg:absoluteerror", "reg:quantileerror", "survival:cox", "survival:aft")
TREE_UPDATERS = ("grow_colmaker", "distcol", "grow_histmaker", "grow_local_histmaker", "grow_skmaker", "sync",
                 "refresh", "prune", "grow_quantile_histmaker")
TREE_BUILDERS = ("grow_colmaker", "distcol", "grow_histmaker", "grow_local_histmaker", "grow_skmaker",
                 "grow_quantile_histmaker")
LINEAR_UPDATERS = ("shotgun", "coord_descent")
ALIASES = {"learning_rate": "eta", "min_split_loss": "gamma", "reg_lambda": "lambda", "reg_alpha": "alpha"}
INT32 = 2**31


class HyperparameterProblem(SmflowError, ValueError):
    """One rule a hyperparameter breaks. `name` is the offending key (None for a missing required one)."""

    def __init__(self, name: str | None, message: str):
        super().__init__(message)
        self.name = name
        self.message = message


@dataclass(frozen=True)
class Interval:
    """A numeric range; `None` bounds are open to infinity. Printed as the toolkit prints it: `[0, 1]`."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def __contains__(self, value: float) -> bool:
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return not (self.high is not None and (value >= self.high if self.high_open else value > self.high))

    def __str__(self) -> str:
        left = "(-inf" if self.low is None else f"{'(' if self.low_open else '['}{self.low:g}"
        right = "+inf)" if self.high is None else f"{self.high:g}{')' if self.high_open else ']'}"
        return f"{left}, {right}"


@dataclass(frozen=True)
class Rule:
    """How one hyperparameter is parsed and what values it may take."""

    kind: str  # integer | continuous | categorical | list | tuple | nested
    allowed: Interval | Sequence[Any] | Callable[[Any], bool] | None = None
    required: bool = False
    shown: str = ""  # how `allowed` is described in messages, when it is a function

    def parse(self, name: str, raw: str) -> Any:
        try:
            if self.kind == "integer":
                return int(str(raw).strip())
            if self.kind == "continuous":
                return float(str(raw).strip())
            if self.kind == "list":
                return str(raw).split(",")
            if self.kind in ("tuple", "nested"):
                value = ast.literal_eval(str(raw))
                if self.kind == "tuple" and not isinstance(value, tuple | list):
                    raise ValueError(raw)
                if self.kind == "nested" and not all(isinstance(v, list | tuple) for v in value):
                    raise ValueError(raw)
                return tuple(value) if self.kind == "tuple" else [list(v) for v in value]
        except (ValueError, SyntaxError, TypeError):
            raise HyperparameterProblem(name, f"Hyperparameter {name}: could not parse value {raw!r} as "
                                              f"{_KIND_NAMES[self.kind]}") from None
        return str(raw)

    def check_range(self, name: str, value: Any) -> None:
        if self.allowed is None:
            return
        values = value if self.kind == "list" else [v for row in value for v in row] if self.kind == "nested" \
            else list(value) if self.kind == "tuple" else [value]
        ok = (lambda v: self.allowed(v)) if callable(self.allowed) else (lambda v: v in self.allowed)  # type: ignore
        if not all(ok(v) for v in values):
            shown = self.shown or (str(self.allowed) if isinstance(self.allowed, Interval)
                                   else ", ".join(map(str, self.allowed)))  # type: ignore[arg-type]
            raise HyperparameterProblem(name, f"Hyperparameter {name}: {_show(value)} is not in {shown}")


_KIND_NAMES = {"integer": "an integer", "continuous": "a number", "categorical": "text", "list": "a list",
               "tuple": "a tuple like (1,-1,0)", "nested": "a nested list like [[0,1],[2,3]]"}


def _show(value: Any) -> str:
    return ",".join(value) if isinstance(value, list) and all(isinstance(v, str) for v in value) else str(value)


def _eval_metric_ok(metric: str) -> bool:
    if "@" in metric:
        base, _, threshold = metric.partition("@")
        if base.strip() not in ("error", "ndcg", "map", "pre"):
            return False
        try:
            float(threshold.strip().rstrip("-"))
        except ValueError:
            return False
        return True
    return metric in MAXIMIZE_METRICS or metric in MINIMIZE_METRICS


def _no_gpu(categories: Sequence[str]) -> Callable[[str], bool]:
    return lambda value: "gpu" not in value and value in categories


def _integer(low: float | None = None, high: float | None = None, **kw: Any) -> Rule:
    return Rule("integer", Interval(low, high), **kw)


def _number(low: float | None = None, high: float | None = None, *, low_open: bool = False,
            high_open: bool = False) -> Rule:
    return Rule("continuous", Interval(low, high, low_open, high_open))


def _choice(*values: str) -> Rule:
    return Rule("categorical", values)


RULES: dict[str, Rule] = {
    "num_round": _integer(1, required=True),
    "csv_weights": _integer(0, 1),
    "early_stopping_rounds": _integer(1),
    "booster": _choice("gbtree", "gblinear", "dart"),
    "silent": _integer(0, 1),
    "verbosity": _integer(0, 3),
    "nthread": _integer(1),
    "eta": _number(0, 1),
    "gamma": _number(0),
    "max_depth": _integer(0),
    "min_child_weight": _number(0),
    "max_delta_step": _number(0),
    "subsample": _number(0, 1, low_open=True),
    "colsample_bytree": _number(0, 1, low_open=True),
    "colsample_bylevel": _number(0, 1, low_open=True),
    "colsample_bynode": _number(0, 1, low_open=True),
    "lambda": _number(0),
    "alpha": _number(0),
    "tree_method": Rule("categorical", _no_gpu(("auto", "exact", "approx", "hist")),
                        shown="auto, exact, approx, hist (GPU training is not supported)"),
    "sketch_eps": _number(0, 1, low_open=True, high_open=True),
    "scale_pos_weight": _number(0, low_open=True),
    "updater": Rule("list", TREE_UPDATERS + LINEAR_UPDATERS),
    "dsplit": _choice("row", "col"),
    "refresh_leaf": _integer(0, 1),
    "process_type": _choice("default", "update"),
    "grow_policy": _choice("depthwise", "lossguide"),
    "max_leaves": _integer(0),
    "max_bin": _integer(0),
    "predictor": Rule("categorical", _no_gpu(("cpu_predictor",)),
                      shown="cpu_predictor (GPU prediction is not supported)"),
    "monotone_constraints": Rule("tuple", (-1, 0, 1)),
    "interaction_constraints": Rule("nested", Interval(0)),
    "sample_type": _choice("uniform", "weighted"),
    "normalize_type": _choice("tree", "forest"),
    "rate_drop": _number(0, 1),
    "one_drop": _integer(0, 1),
    "skip_drop": _number(0, 1),
    "lambda_bias": _number(0, 1),
    "tweedie_variance_power": _number(1, 2, low_open=True, high_open=True),
    "huber_slope": _number(0, low_open=True),
    "quantile_alpha": _number(0, 1, low_open=True, high_open=True),
    "aft_loss_distribution": _choice("normal", "logistic", "extreme"),
    "aft_loss_distribution_scale": _number(0, low_open=True),
    "objective": Rule("categorical", OBJECTIVES),
    "num_class": _integer(2),
    "base_score": _number(),
    "_tuning_objective_metric": Rule("categorical", lambda v: v.partition(":")[2] in MAXIMIZE_METRICS
                                     + MINIMIZE_METRICS, shown="<channel>:<metric>, e.g. validation:rmse"),
    "eval_metric": Rule("list", _eval_metric_ok, shown=", ".join(MAXIMIZE_METRICS + MINIMIZE_METRICS)
                        + " (error@t, ndcg@n, map@n with a threshold)"),
    "seed": _integer(-INT32, INT32 - 1),
    "deterministic_histogram": _choice("true", "false"),
    "sampling_method": _choice("uniform", "gradient_based"),
    "max_cat_to_onehot": _integer(1),
    "save_model_on_termination": _choice("true", "false"),
    "single_precision_histogram": _choice("true", "false"),
}


def _dependency_problems(values: Mapping[str, Any]) -> list[HyperparameterProblem]:
    """The container's cross-parameter rules, given parsed values (aliases already folded in)."""
    problems: list[HyperparameterProblem] = []
    objective = values.get("objective")
    if objective in ("multi:softmax", "multi:softprob") and "num_class" not in values:
        problems.append(HyperparameterProblem("objective", "Require input for parameter 'num_class' for "
                                                           f"multi-classification (objective {objective})"))
    metrics = values.get("eval_metric") or []
    if "auc" in metrics and not str(objective or "reg:squarederror").startswith(("binary:", "rank:")):
        problems.append(HyperparameterProblem("eval_metric", "Metric 'auc' can only be applied for classification "
                                                             "and ranking problems."))
    tree_method = values.get("tree_method")
    if "monotone_constraints" in values and tree_method not in ("exact", "hist"):
        problems.append(HyperparameterProblem("monotone_constraints", "monotone_constraints can be used only when "
                                              "the tree_method parameter is set to either 'exact' or 'hist'."))
    if "interaction_constraints" in values and tree_method not in ("exact", "hist", "approx"):
        problems.append(HyperparameterProblem("interaction_constraints", "interaction_constraints can be used only "
                                              "when the tree_method parameter is set to either 'exact', 'hist' or "
                                              "'approx'."))
    updater = values.get("updater")
    if updater:
        problems.extend(_updater_problems(updater, values))
    return problems


def _updater_problems(updater: list[str], values: Mapping[str, Any]) -> list[HyperparameterProblem]:
    if values.get("booster") == "gblinear":
        if not (len(updater) == 1 and updater[0] in LINEAR_UPDATERS):
            return [HyperparameterProblem("updater", "Linear updater should be one of these options: "
                                                     "'shotgun', 'coord_descent'.")]
        return []
    if values.get("process_type") == "update":
        if not all(u in ("refresh", "prune") for u in updater):
            return [HyperparameterProblem("updater", "process_type 'update' can only be used with updater "
                                                     "'refresh' and 'prune'")]
        return []
    if not all(u in TREE_UPDATERS for u in updater):
        return [HyperparameterProblem("updater", "Tree updater should be selected from these options: "
                                                 + ", ".join(f"'{u}'" for u in TREE_UPDATERS) + ".")]
    if sum(u in TREE_BUILDERS for u in updater) > 1:
        return [HyperparameterProblem("updater", "Only one tree grow plugin can be selected. Choose one from the "
                                                 "following: " + ", ".join(f"'{u}'" for u in TREE_BUILDERS))]
    return []


def check(raw: Mapping[str, Any]) -> tuple[dict[str, Any], list[HyperparameterProblem]]:
    """Parse and validate string hyperparameters; returns (the parsed values under their XGBoost names,
    every problem found). Aliases (`learning_rate` for `eta`, …) are accepted as the container does."""
    problems: list[HyperparameterProblem] = []
    parsed: dict[str, Any] = {}
    for key, value in raw.items():
        name = ALIASES.get(key, key)
        rule = RULES.get(name)
        if rule is None:
            problems.append(HyperparameterProblem(key, f"Extraneous hyperparameter found: {key}"))
            continue
        if name in parsed:
            problems.append(HyperparameterProblem(key, f"Hyperparameter {key} is {name} under another name; "
                                                       "give it once"))
            continue
        try:
            parsed[name] = rule.parse(key, value)
            rule.check_range(key, parsed[name])
        except HyperparameterProblem as problem:
            parsed.pop(name, None)
            problems.append(problem)
    for name, rule in RULES.items():
        if rule.required and name not in parsed and not any(p.name == name for p in problems):
            problems.append(HyperparameterProblem(None, f"Missing required hyperparameter: {name}"))
    if not problems:
        problems.extend(_dependency_problems(parsed))
    return parsed, problems


def validate(raw: Mapping[str, Any]) -> dict[str, Any]:
    """`check`, raising the first problem (what the container does at job start)."""
    parsed, problems = check(raw)
    if problems:
        raise problems[0]
    return parsed
