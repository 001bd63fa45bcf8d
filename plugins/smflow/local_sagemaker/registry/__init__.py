"""SageMaker's Model Registry (model package groups and versioned packages) on this machine."""

from smflow.local_sagemaker.registry.store import APPROVAL_STATUSES, ModelRegistry, RegistryDamagedError, RegistryError

__all__ = ["APPROVAL_STATUSES", "ModelRegistry", "RegistryDamagedError", "RegistryError"]
