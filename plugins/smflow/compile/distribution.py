"""A training step's `distribution` → the hyperparameters the SageMaker Python SDK sets for it.

The framework estimators do not send `distribution` to SageMaker: they turn it into `sagemaker_*`
hyperparameters the framework containers' launchers read (Framework._distribution_configuration in
sagemaker/estimator.py; PyTorch._pytorch_distribution_configuration in sagemaker/pytorch/estimator.py, whose
`pytorchddp` and `torch_distributed` take precedence over the other strategies), each value JSON-encoded like
every other hyperparameter. The same keys and values are produced here, so the request is the one the SDK sends.
"""

from __future__ import annotations

from typing import Any

from smflow.spec.model import DistributionSpec

PYTORCH_DDP = "sagemaker_pytorch_ddp_enabled"
TORCH_DISTRIBUTED = "sagemaker_torch_distributed_enabled"
PARAMETER_SERVER = "sagemaker_parameter_server_enabled"
MPI = "sagemaker_mpi_enabled"
MPI_PROCESSES_PER_HOST = "sagemaker_mpi_num_of_processes_per_host"
MPI_CUSTOM_OPTIONS = "sagemaker_mpi_custom_mpi_options"
SM_DATA_PARALLEL = "sagemaker_distributed_dataparallel_enabled"
SM_DATA_PARALLEL_MPI_OPTIONS = "sagemaker_distributed_dataparallel_custom_mpi_options"
MULTI_WORKER_MIRRORED = "sagemaker_multi_worker_mirrored_strategy_enabled"
INSTANCE_TYPE = "sagemaker_instance_type"
MODEL_PARALLEL_PARAMETERS = "mp_parameters"  # not sagemaker_-prefixed in the SDK either


PYTORCH_ONLY = ("torch_distributed", "pytorchddp")  # options only the PyTorch estimator reads


def distribution_hyperparameters(spec: DistributionSpec, instance_type: str, *, pytorch: bool) -> dict[str, Any]:
    """The SDK's distribution configuration for `spec` (values not yet JSON-encoded); `pytorch`: as the PyTorch
    estimator computes it, else as every other framework estimator does (which ignores PYTORCH_ONLY)."""
    if not pytorch:
        return _framework_configuration(spec, instance_type)
    if spec.pytorchddp is not None and spec.pytorchddp.enabled:
        return {PYTORCH_DDP: True, INSTANCE_TYPE: instance_type}
    if spec.pytorchddp is None and spec.torch_distributed is not None and spec.torch_distributed.enabled:
        config = _framework_configuration(spec, instance_type) if spec.smdistributed is not None else {}
        return {**config, TORCH_DISTRIBUTED: True, INSTANCE_TYPE: instance_type}
    return _framework_configuration(spec, instance_type)


def _framework_configuration(spec: DistributionSpec, instance_type: str) -> dict[str, Any]:
    """Framework._distribution_configuration: one entry per strategy named, enabled or not."""
    config: dict[str, Any] = {}
    if spec.parameter_server is not None:
        config[PARAMETER_SERVER] = spec.parameter_server.enabled
    if spec.mpi is not None:
        config[MPI] = spec.mpi.enabled
        if spec.mpi.processes_per_host:
            config[MPI_PROCESSES_PER_HOST] = spec.mpi.processes_per_host
        config[MPI_CUSTOM_OPTIONS] = spec.mpi.custom_mpi_options
        parallel = spec.smdistributed.modelparallel if spec.smdistributed else None
        if parallel is not None and parallel.enabled:
            config[MODEL_PARALLEL_PARAMETERS] = dict(parallel.parameters)
    if spec.smdistributed is not None:
        data = spec.smdistributed.dataparallel
        config[SM_DATA_PARALLEL] = bool(data and data.enabled)
        config[INSTANCE_TYPE] = instance_type
        if data is not None and data.enabled:
            config[SM_DATA_PARALLEL_MPI_OPTIONS] = data.custom_mpi_options
    if spec.multi_worker_mirrored_strategy is not None:
        config[MULTI_WORKER_MIRRORED] = spec.multi_worker_mirrored_strategy.enabled
    return config
