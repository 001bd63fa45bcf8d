"""SageMaker's Model Registry (model package groups and versioned packages) on this machine."""

from smflow.local_sagemaker.registry.api import ModelRegistry
from smflow.local_sagemaker.registry.read_model import APPROVAL_STATUSES, RegistryError, RegistryView
from smflow.local_sagemaker.registry.store import RegistryDamagedError

__all__ = ["APPROVAL_STATUSES", "ModelRegistry", "RegistryDamagedError", "RegistryError", "RegistryView"]
