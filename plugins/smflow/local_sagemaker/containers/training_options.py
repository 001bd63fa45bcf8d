"""CreateTrainingJob options that change where or how SageMaker runs a job, not what the job computes.

Managed spot training, KMS encryption, warm pools and multi-instance or multi-process distribution have no
effect on this machine: the job starts at once, is never interrupted, runs one process on one instance and
stores its artifacts unencrypted. They are accepted (and kept in DescribeTrainingJob, as SageMaker keeps
them), checked by the rules SageMaker applies at CreateTrainingJob, and each is named once in the job log as
"not emulated locally", so nobody mistakes a local run for a test of them.

Rules and fields: CreateTrainingJob and StoppingCondition in the SageMaker API reference
(https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateTrainingJob.html,
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_StoppingCondition.html) and managed spot
training (https://docs.aws.amazon.com/sagemaker/latest/dg/model-managed-spot-training.html).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# The hyperparameters that make a framework container's launcher start more than one process (mpirun,
# torchrun, parameter servers), as the SageMaker Python SDK sets them from an estimator's `distribution`.
DISTRIBUTION_SWITCHES = (
    "sagemaker_pytorch_ddp_enabled", "sagemaker_torch_distributed_enabled", "sagemaker_parameter_server_enabled",
    "sagemaker_mpi_enabled", "sagemaker_distributed_dataparallel_enabled",
    "sagemaker_multi_worker_mirrored_strategy_enabled",
)


def spot_problems(request: Mapping[str, Any]) -> list[str]:
    """SageMaker's MaxWaitTimeInSeconds rules: spot only, required for spot, at least MaxRuntimeInSeconds."""
    stopping = request.get("StoppingCondition") or {}
    wait, runtime = stopping.get("MaxWaitTimeInSeconds"), stopping.get("MaxRuntimeInSeconds")
    if not request.get("EnableManagedSpotTraining"):
        if wait is not None:
            return ["StoppingCondition.MaxWaitTimeInSeconds applies to managed spot training only; set "
                    "EnableManagedSpotTraining or remove it"]
        return []
    if wait is None:
        return ["Invalid MaxWaitTimeInSeconds: managed spot training (EnableManagedSpotTraining) needs "
                "StoppingCondition.MaxWaitTimeInSeconds, at least MaxRuntimeInSeconds"]
    if runtime is not None and wait < runtime:
        return [f"Invalid MaxWaitTimeInSeconds {wait}: it must be greater than or equal to MaxRuntimeInSeconds "
                f"({runtime})"]
    return []


def not_emulated(request: Mapping[str, Any], framework: Mapping[str, Any]) -> list[str]:
    """One log line per option of `request` that has no effect here; `framework`: the decoded `sagemaker_*`
    hyperparameters."""
    lines = []
    if request.get("EnableManagedSpotTraining"):
        wait = (request.get("StoppingCondition") or {}).get("MaxWaitTimeInSeconds")
        line = (f"managed spot training (EnableManagedSpotTraining, MaxWaitTimeInSeconds {wait}) is not emulated "
                "locally: the job starts at once, is never interrupted, and its billable time is its training time")
        if not request.get("CheckpointConfig"):
            line += ("; on SageMaker an interrupted spot job without CheckpointConfig restarts from the beginning, "
                     "so add checkpoints")
        lines.append(line)
    resources = request.get("ResourceConfig") or {}
    instances = int(resources.get("InstanceCount", 1))
    switches = [key for key in DISTRIBUTION_SWITCHES if framework.get(key) is True]
    if instances > 1 or switches:
        what = ", ".join([*([f"InstanceCount {instances}"] if instances > 1 else []), *switches])
        lines.append(f"distributed training ({what}) is not emulated locally: one process runs the entry point on "
                     "one instance (algo-1)")
    keys = [name for name, value in (("VolumeKmsKeyId", resources.get("VolumeKmsKeyId")),
                                     ("OutputDataConfig.KmsKeyId", (request.get("OutputDataConfig") or {})
                                      .get("KmsKeyId"))) if value]
    if keys:
        lines.append(f"KMS encryption ({', '.join(keys)}) is not emulated locally: the job's volume and artifacts "
                     "are stored unencrypted in the local store")
    if resources.get("KeepAlivePeriodInSeconds"):
        lines.append(f"warm pools (KeepAlivePeriodInSeconds {resources['KeepAlivePeriodInSeconds']}) are not "
                     "emulated locally: nothing is kept after the job, and the next job starts as fast anyway")
    return lines
