"""`sagemaker_containers.beta.framework`: the helpers scripts import (`from ... import encoders, worker`)."""

from . import content_types, encoders, env, modules, transformer, worker

__all__ = ["content_types", "encoders", "env", "modules", "transformer", "worker"]
