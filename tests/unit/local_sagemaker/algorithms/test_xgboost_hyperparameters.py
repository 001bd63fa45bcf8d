"""The SageMaker XGBoost algorithm's hyperparameter rules, with the container's wording."""

from __future__ import annotations

import pytest

from smflow.local_sagemaker.algorithms.xgboost_hyperparameters import HyperparameterProblem, check, validate


def messages(raw: dict[str, str]) -> list[tuple[str | None, str]]:
    return [(p.name, p.message) for p in check(raw)[1]]


def test_the_sdk_examples_hyperparameters_parse_to_their_types() -> None:
    parsed = validate({"max_depth": "5", "eta": "0.2", "gamma": "4", "min_child_weight": "6", "subsample": "0.7",
                       "objective": "reg:squarederror", "num_round": "50", "verbosity": "1",
                       "eval_metric": "rmse,mae", "updater": "grow_colmaker,prune"})
    assert parsed == {"max_depth": 5, "eta": 0.2, "gamma": 4.0, "min_child_weight": 6.0, "subsample": 0.7,
                      "objective": "reg:squarederror", "num_round": 50, "verbosity": 1,
                      "eval_metric": ["rmse", "mae"], "updater": ["grow_colmaker", "prune"]}


def test_aliases_fold_into_the_xgboost_names() -> None:
    assert validate({"num_round": "3", "learning_rate": "0.1", "reg_lambda": "2"}) == \
        {"num_round": 3, "eta": 0.1, "lambda": 2.0}
    assert messages({"num_round": "3", "eta": "0.1", "learning_rate": "0.2"}) == \
        [("learning_rate", "Hyperparameter learning_rate is eta under another name; give it once")]


def test_num_round_is_required() -> None:
    assert messages({"objective": "reg:squarederror"}) == [(None, "Missing required hyperparameter: num_round")]


def test_unknown_names_are_extraneous() -> None:
    assert messages({"num_round": "10", "n_estimators": "100"}) == \
        [("n_estimators", "Extraneous hyperparameter found: n_estimators")]


@pytest.mark.parametrize(("raw", "expected"), [
    ({"num_round": "ten"}, ("num_round", "Hyperparameter num_round: could not parse value 'ten' as an integer")),
    ({"num_round": "0"}, ("num_round", "Hyperparameter num_round: 0 is not in [1, +inf)")),
    ({"num_round": "5", "eta": "1.5"}, ("eta", "Hyperparameter eta: 1.5 is not in [0, 1]")),
    ({"num_round": "5", "subsample": "0"}, ("subsample", "Hyperparameter subsample: 0.0 is not in (0, 1]")),
    ({"num_round": "5", "objective": "reg:nonsense"},
     ("objective", "Hyperparameter objective: reg:nonsense is not in binary:logistic, binary:logitraw, "
                   "binary:hinge, count:poisson, multi:softmax, multi:softprob, rank:pairwise, rank:ndcg, rank:map, "
                   "reg:linear, reg:squarederror, reg:logistic, reg:gamma, reg:squaredlogerror, reg:tweedie, "
                   "reg:pseudohubererror, reg:absoluteerror, reg:quantileerror, survival:cox, survival:aft")),
    ({"num_round": "5", "tree_method": "gpu_hist"},
     ("tree_method", "Hyperparameter tree_method: gpu_hist is not in auto, exact, approx, hist (GPU training is "
                     "not supported)")),
    ({"num_round": "5", "monotone_constraints": "(1,2)"},
     ("monotone_constraints", "Hyperparameter monotone_constraints: (1, 2) is not in -1, 0, 1")),
])
def test_values_are_parsed_and_range_checked(raw: dict[str, str], expected: tuple[str, str]) -> None:
    assert messages(raw) == [expected]


def test_every_bad_key_is_reported_at_once() -> None:
    names = [name for name, _ in messages({"eta": "2", "foo": "1", "max_depth": "-1"})]
    assert names == ["eta", "foo", "max_depth", None]


def test_rules_between_parameters() -> None:
    assert messages({"num_round": "5", "objective": "multi:softprob"}) == [
        ("objective", "Require input for parameter 'num_class' for multi-classification (objective multi:softprob)")]
    assert messages({"num_round": "5", "objective": "multi:softmax", "num_class": "3"}) == []
    assert messages({"num_round": "5", "objective": "reg:squarederror", "eval_metric": "auc"}) == [
        ("eval_metric", "Metric 'auc' can only be applied for classification and ranking problems.")]
    assert messages({"num_round": "5", "objective": "binary:logistic", "eval_metric": "auc,error@0.3"}) == []
    assert messages({"num_round": "5", "monotone_constraints": "(1,-1)"})[0][0] == "monotone_constraints"
    assert messages({"num_round": "5", "monotone_constraints": "(1,-1)", "tree_method": "hist"}) == []
    assert messages({"num_round": "5", "booster": "gblinear", "updater": "grow_colmaker"}) == [
        ("updater", "Linear updater should be one of these options: 'shotgun', 'coord_descent'.")]


def test_eval_metric_thresholds() -> None:
    assert messages({"num_round": "5", "eval_metric": "error@0.7"}) == []
    assert messages({"num_round": "5", "eval_metric": "rmse@0.7"})[0][0] == "eval_metric"
    assert messages({"num_round": "5", "eval_metric": "error@high"})[0][0] == "eval_metric"


def test_validate_raises_the_first_problem() -> None:
    with pytest.raises(HyperparameterProblem, match="Missing required hyperparameter: num_round"):
        validate({})
