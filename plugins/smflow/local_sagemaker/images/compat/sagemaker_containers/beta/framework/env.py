"""`env.ServingEnv`: what a serving container reads from its environment variables."""

from __future__ import annotations

import os

from . import content_types


class ServingEnv:
    """The SAGEMAKER_* serving settings, with the framework containers' defaults."""

    def __init__(self) -> None:
        self.module_name = os.environ.get("SAGEMAKER_PROGRAM", "").removesuffix(".py") or None
        self.module_dir = os.environ.get("SAGEMAKER_SUBMIT_DIRECTORY")
        self.model_dir = os.environ.get("SM_MODEL_DIR", "/opt/ml/model")
        self.default_accept = os.environ.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", content_types.JSON)
        self.log_level = int(os.environ.get("SAGEMAKER_CONTAINER_LOG_LEVEL", "20"))
        self.model_server_timeout = int(os.environ.get("SAGEMAKER_MODEL_SERVER_TIMEOUT", "60"))
        # sagemaker-containers: one model server worker per CPU unless SAGEMAKER_MODEL_SERVER_WORKERS says
        self.model_server_workers = int(os.environ.get("SAGEMAKER_MODEL_SERVER_WORKERS", str(os.cpu_count() or 1)))
        self.use_nginx = os.environ.get("SAGEMAKER_USE_NGINX", "true").lower() == "true"
