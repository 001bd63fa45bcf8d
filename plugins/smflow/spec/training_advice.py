"""Valid training settings SageMaker advises against, reported by `smflow validate` as warnings (exit 0).

Managed spot training without checkpoints: SageMaker can interrupt a spot job and restarts it from the
beginning unless the script saves checkpoints that CheckpointConfig syncs to S3
(https://docs.aws.amazon.com/sagemaker/latest/dg/model-managed-spot-training.html).
"""

from __future__ import annotations

from smflow.spec.errors import SpecIssue
from smflow.spec.model import TrainingStep
from smflow.spec.resolve import PipelineDocument


def training_warnings(doc: PipelineDocument) -> list[SpecIssue]:
    """One positioned warning per spot training step without `checkpoints`."""
    if doc.source is None:
        return []
    return [doc.source.issue((*node.path, "use_spot_instances"),
                             "warning: managed spot training without `checkpoints`: an interrupted spot job restarts "
                             "from the beginning; add `checkpoints: {}` and save checkpoints to /opt/ml/checkpoints")
            for node in doc.nodes.values()
            if isinstance(node.step, TrainingStep) and node.step.use_spot_instances and node.step.checkpoints is None]
