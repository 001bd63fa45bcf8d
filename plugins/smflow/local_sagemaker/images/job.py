"""Choose the Python a local job runs in: its image's environment (built on first use), or smflow's own.

The image is the one SageMaker would run: processing `AppSpecification.ImageUri`, training
`AlgorithmSpecification.TrainingImage`, a transform's model container `Image` (the model is copied into the
job directory as `model.json` when the job is created). The choice is logged once at the start of the job,
with the versions that run and, where they must differ from the image's, the versions they replace.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from smflow import settings
from smflow.errors import SmflowError
from smflow.local_sagemaker.images.build import EnvironmentBuildError, EnvironmentBuildStopped, ensure_environment
from smflow.local_sagemaker.images.plan import EnvironmentPlan, plan_for_image, unknown_image_notice
from smflow.local_sagemaker.jobs.records import JobFailure, JobStopped, read_json
from smflow.sagemaker_api import JOB_KINDS_BY_DIRECTORY, model_images, request_image

if TYPE_CHECKING:
    from smflow.local_sagemaker.jobs.runner import JobRun

ON = {"on", "true", "1", "yes"}
OFF = {"off", "false", "0", "no"}


class ImageEnvironmentSettingError(SmflowError, ValueError):
    pass


def environments_enabled() -> bool:
    """`SMFLOW_IMAGE_ENVIRONMENTS`: on (the default) or off (every job runs in smflow's own environment)."""
    raw = settings.get("image_environments").strip().lower()
    if raw in ON:
        return True
    if raw in OFF:
        return False
    raise ImageEnvironmentSettingError(f"SMFLOW_IMAGE_ENVIRONMENTS={raw!r} is neither on nor off; set it to on "
                                       "(jobs run in their image's environment) or off (in smflow's own)")


def job_images(kind: str, request: dict[str, Any], model: dict[str, Any] | None) -> list[str]:
    """The image URIs a job of `kind` runs, in order (a serial inference pipeline has several)."""
    own = request_image(JOB_KINDS_BY_DIRECTORY[kind], request) if kind in JOB_KINDS_BY_DIRECTORY else None
    if own:
        return [own]
    if kind == "transform" and model:
        return model_images(model)
    return []


def _model_of(run: JobRun) -> dict[str, Any] | None:
    path = run.job.path / "model.json"
    if not path.is_file():
        return None
    value = read_json(path)
    return value if isinstance(value, dict) else None


def use_image_environment(run: JobRun) -> None:
    """Set `run.interpreter` to the environment of the job's image; raises JobFailure / JobStopped."""
    try:
        enabled = environments_enabled()
    except ImageEnvironmentSettingError as e:
        raise JobFailure(f"ClientError: {e}") from e
    if not enabled:
        run.say(f"SMFLOW_IMAGE_ENVIRONMENTS=off: the job runs in smflow's own Python environment ({sys.executable})")
        return
    images = job_images(run.job.kind, run.request, _model_of(run) if run.job.kind == "transform" else None)
    if not images:
        run.say(f"the request names no image; the job runs in smflow's own Python environment ({sys.executable})")
        return
    plan = plan_for_image(images[0])
    if plan is None:
        run.say(unknown_image_notice(images[0]))
        return
    if len(set(images)) > 1:
        run.say(f"the model's {len(images)} containers run in one process here, in the environment of the first "
                f"({plan.ref.short}); on SageMaker each runs in its own image: {', '.join(images)}")
    run.interpreter = str(_ready_interpreter(run, plan))


def _ready_interpreter(run: JobRun, plan: EnvironmentPlan) -> str:
    # The job directory is <home>/jobs/<kind>/<name>; the runner's own SMFLOW_HOME may be unset.
    root = settings.environments_root(run.job.path.resolve().parents[2])
    try:
        with run.job.log_file.open("a", encoding="utf-8") as log:
            ready = ensure_environment(plan, root, say=run.say, output=log, should_stop=lambda: run.stop_signal)
    except EnvironmentBuildStopped as e:
        raise JobStopped(e.reason) from e
    except EnvironmentBuildError as e:
        raise JobFailure(f"ClientError: {e}") from e
    # Like an image download on SageMaker, building (or waiting for) the environment is not job run time.
    run.started += ready.seconds
    how = f"built in {ready.seconds:.1f} s" if ready.built_now else "reused"
    versions = ", ".join(f"{name} {ready.versions.get(name, version)}" for name, version in plan.pinned())
    run.say(f"image {plan.ref.short} ({plan.image.framework} {plan.image.version}): environment {plan.key} ({how}), "
            f"Python {plan.python}, {versions}")
    differences = plan.differences()
    if differences:
        run.say(f"versions that differ from the image here: {differences}; SMFLOW_IMAGE_ENVIRONMENTS=off runs "
                "smflow's own environment instead")
    return str(ready.interpreter)
