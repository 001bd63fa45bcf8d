"""The XCom contract: what every smflow task returns, and the one function that reads an output from it.

Downstream templates (`smflow.output(task, name)`), `smflow run`'s summary and tests read this shape; it
is written here once so the writers and the readers cannot drift apart. JSON-safe by construction.
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict


class TaskResult(TypedDict):
    job_name: str                  # the SageMaker resource this try used (job, model, package ARN, endpoint)
    status: str                    # its status: Completed, Created, Passed, InService, PendingManualApproval…
    outputs: dict[str, Any]        # named artifacts (S3 URIs, model names) downstream steps read
    executor: str                  # local | sagemaker: where it ran
    reused: NotRequired[bool]      # jobs: an earlier job with the same request was reused
    metrics: NotRequired[dict[str, float]]  # training: FinalMetricDataList
    decision: NotRequired[dict[str, Any]]   # condition: what the gate compared
    model_package_arn: NotRequired[str]     # register
    version: NotRequired[int | None]        # register
    batches: NotRequired[list[dict[str, Any]]]    # find_batches: the batches owed a prediction (Batch.as_json)
    predicted: NotRequired[list[dict[str, Any]]]  # batch predict: per batch its job, predictions and counts
    preprocessed: NotRequired[list[dict[str, Any]]]  # batch preprocess: per batch its job and output folder
    checked: NotRequired[list[dict[str, Any]]]       # drift check: per batch its verdict and report URIs
    quality: NotRequired[list[dict[str, Any]]]       # drift check: per labelled batch its model-quality drift


def output_of(value: Any, task_id: str, name: str) -> str:
    """Output `name` of an upstream task's result, or a LookupError saying what went wrong."""
    if not isinstance(value, dict) or name not in value.get("outputs", {}):
        raise LookupError(f"upstream task {task_id} published no output '{name}' in this run "
                          f"(got {value!r}); did it run and succeed?")
    return str(value["outputs"][name])
