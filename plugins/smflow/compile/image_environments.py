"""Warnings for `smflow validate`: where a step's image will run locally with other versions than its own.

The local executor runs a job in a Python environment built from its image's pinned packages
(`smflow.local_sagemaker.images`); on this machine's Python some pins have no wheels and the nearest
installable version runs instead. That is not an error (the job runs), but a user should know before the
run, at the line that chose the image. Computed from the compiled requests, so it names exactly the images
the jobs will get; nothing is built.
"""

from __future__ import annotations

from collections.abc import Iterator

from smflow import settings
from smflow.compile.graph import CompiledPipeline
from smflow.compile.requests import CompiledTask
from smflow.sagemaker_api import JOB_KINDS, model_images, request_image
from smflow.spec.errors import Path_, SpecIssue
from smflow.spec.model import StepBase
from smflow.spec.resolve import PipelineDocument


def task_images(task: CompiledTask) -> Iterator[str]:
    """Every image URI a task's requests (its pre-calls included) run a job with."""
    calls = [(p["operation"], p["request"]) for p in task.pre]
    if task.operation:
        calls.append((task.operation, task.request))
    for operation, request in calls:
        if operation in JOB_KINDS:
            uri = request_image(JOB_KINDS[operation], request)
            if uri:
                yield uri
        elif operation == "CreateModel":  # a transform runs its model's image(s)
            yield from model_images(request)


def _image_path(doc: PipelineDocument, task_id: str) -> Path_:
    node = doc.nodes.get(task_id)
    if node is not None and isinstance(node.step, StepBase) and node.step.image:
        return (*node.path, "image")
    return ("defaults", "image")


def environment_warnings(doc: PipelineDocument, compiled: CompiledPipeline) -> list[SpecIssue]:
    """Positioned warnings for the images that run locally with substituted versions (none on sagemaker)."""
    if doc.source is None or settings.get("executor") != "local":
        return []
    from smflow.local_sagemaker.images.job import ImageEnvironmentSettingError, environments_enabled
    from smflow.local_sagemaker.images.plan import plan_for_image, unknown_image_notice
    from smflow.local_sagemaker.images.uri import parse_image_uri

    try:
        if not environments_enabled():
            return []
    except ImageEnvironmentSettingError as e:
        return [doc.source.issue(("defaults", "image"), f"warning: {e}")]
    issues = []
    for dag in compiled.dags:
        for task in dag.tasks:
            for uri in task_images(task):
                plan = plan_for_image(uri)
                if plan is not None:
                    message = plan.version_warning()
                elif parse_image_uri(uri) is not None:  # a framework image, but a version the table lacks
                    message = f"warning: {unknown_image_notice(uri)}, with smflow's package versions"
                else:  # the user's own image: nothing to compare with
                    message = None
                if message is not None:
                    issues.append(doc.source.issue(_image_path(doc, task.task_id), message))
    return sorted(set(issues))
