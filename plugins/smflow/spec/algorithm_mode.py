"""Training steps without an `entry_point`: SageMaker's built-in algorithms, checked at validate time.

A training step with an XGBoost image and no entry point is the built-in XGBoost algorithm, as the SDK's
generic `Estimator(image_uri=…)` runs it: hyperparameters such as `num_round` and `objective`, channels
`train` / `validation`. Its hyperparameters are checked here by the container's own rules
(local_sagemaker.algorithms.xgboost_hyperparameters), each problem at its key. Any other built-in
algorithm image (linear-learner, kmeans, …) is valid only for the sagemaker executor, and a framework image
(sklearn, pytorch, …) runs nothing without a script.

The models and registrations of such a step default to no inference script: a built-in algorithm's
container serves its own model (XGBoost: `xgboost-model`).
"""

from __future__ import annotations

from collections.abc import Iterator

from smflow.local_sagemaker.algorithms import xgboost_hyperparameters
from smflow.local_sagemaker.algorithms.images import XGBOOST, algorithm_of
from smflow.spec.errors import Path_
from smflow.spec.model import CreateModelStep, Defaults, ImageSpec, InputSpec, RegisterStep, TrainingStep

Problem = tuple[Path_, str, bool]  # (where, message, whether it is about the key rather than its value)


def step_image(step: TrainingStep | CreateModelStep | RegisterStep, defaults: Defaults) -> ImageSpec:
    return step.image or defaults.image


def training_algorithm(step: TrainingStep, defaults: Defaults) -> str | None:
    """The built-in algorithm a training step runs (SDK framework name, e.g. `xgboost`), or None for a
    script-mode step or one whose image is no algorithm."""
    if step.entry_point is not None:
        return None
    image = step_image(step, defaults)
    return algorithm_of(image.framework, image.uri)


def is_xgboost_algorithm(step: TrainingStep, defaults: Defaults) -> bool:
    return training_algorithm(step, defaults) == XGBOOST


def hyperparameter_strings(step: TrainingStep) -> dict[str, str]:
    """Hyperparameters as CreateTrainingJob carries them for an algorithm: `str(value)`, as the SDK's
    generic Estimator sends them (no JSON encoding)."""
    return {key: str(value) for key, value in step.hyperparameters.items()}


def algorithm_problems(step: TrainingStep, path: Path_, defaults: Defaults, executor: str) -> Iterator[Problem]:
    """What is wrong with a training step that has no entry_point, each at the key to fix."""
    image = step_image(step, defaults)
    image_path: Path_ = (*path, "image") if step.image else ("defaults", "image")
    algorithm = training_algorithm(step, defaults)
    shown = image.uri or f"{image.framework} {image.version}"
    if algorithm is None:
        yield (*path, "entry_point"), (f"required key 'entry_point' is missing: this training step's image "
                                       f"({shown}) is not a built-in algorithm; add `entry_point: train.py` (a "
                                       "script in source_dir), or use a built-in algorithm image such as "
                                       "`image: {framework: xgboost, version: 1.7-1}`"), True
        return
    if step.dependencies:
        yield (*path, "dependencies"), ("`dependencies` are packed beside an entry_point script; the built-in "
                                        f"{algorithm} algorithm runs none, so remove them"), True
    if step.distribution is not None:  # the SDK's generic Estimator has no `distribution` (framework estimators)
        yield (*path, "distribution"), ("`distribution` configures a framework container's launcher for an "
                                        f"entry_point script; the built-in {algorithm} algorithm has none, so "
                                        "remove it (more instances: instance_count)"), True
    if algorithm != XGBOOST:
        if executor != "sagemaker":
            yield image_path, (f"the built-in {algorithm} algorithm runs only on SageMaker: the {executor} "
                               "executor emulates the XGBoost algorithm alone. Run this pipeline with the "
                               "sagemaker executor (SMFLOW_EXECUTOR=sagemaker, or `smflow run --executor "
                               "sagemaker`), or train with an entry_point script"), False
        return
    yield from _xgboost_problems(step, path)


def _xgboost_problems(step: TrainingStep, path: Path_) -> Iterator[Problem]:
    given = hyperparameter_strings(step)
    # A `{{ params.X }}` value is known per run only: checked by the container then, not here.
    templated = {key for key, value in given.items() if "{{" in value}
    _, problems = xgboost_hyperparameters.check({k: v for k, v in given.items() if k not in templated})
    for problem in problems:
        if problem.name is None and any(xgboost_hyperparameters.ALIASES.get(k, k) == "num_round"
                                        for k in templated):
            continue
        where: Path_ = (*path, "hyperparameters", problem.name) if problem.name else \
            ((*path, "hyperparameters") if step.hyperparameters else path)
        about_key = problem.name is None or problem.message.startswith("Extraneous")
        yield where, f"{problem.message} (SageMaker XGBoost algorithm hyperparameters){_hint(problem.message)}", \
            about_key
    for name, value in step.inputs.items():
        if name not in ("train", "validation"):
            yield (*path, "inputs", name), (f"channel {name!r}: the XGBoost algorithm reads the channels `train` "
                                            "and `validation` only"), True
        elif isinstance(value, InputSpec) and value.content_type is not None:
            # The container's own check (numpy is imported by that module, so only when a type is given).
            from smflow.local_sagemaker.algorithms.xgboost_data import DataError, content_type

            try:
                content_type(value.content_type)
            except DataError as e:
                reason = str(e).rstrip(".")
                yield (*path, "inputs", name, "content_type"), f"{reason} (the SageMaker XGBoost algorithm)", False
    if "train" not in step.inputs:
        yield ((*path, "inputs") if step.inputs else path), ("the XGBoost algorithm needs a `train` input "
                                                             "(CSV with the label first, or libsvm)"), True


def _hint(message: str) -> str:
    if message.startswith("Missing required hyperparameter: num_round"):
        return "; add `num_round:` (the number of boosting rounds)"
    if message.startswith("Extraneous hyperparameter"):
        return "; remove it or fix its name"
    return ""


def inference_entry_point(step: CreateModelStep | RegisterStep, training: TrainingStep,
                          defaults: Defaults) -> str | None:
    """The inference script a model of `training` uses: as written, except that an unset `entry_point` on
    a model of a built-in algorithm means none (its container serves its own model, e.g. `xgboost-model`)."""
    if "entry_point" not in step.model_fields_set and training_algorithm(training, defaults) is not None:
        return None
    return step.entry_point
