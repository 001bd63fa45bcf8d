"""deploy step: an Approved model package version onto a real-time endpoint (smflow.deployment does the work).

The version is the register step's (its `model_package_arn` output) or the group's latest Approved; anything
not Approved fails the task naming its status and the approve command. Each run gets its own endpoint config
(named from endpoint, version and run, so a retried task finds the config it made), then the endpoint is
created or updated and the task waits for InService within the step's timeout.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow.sdk.exceptions import AirflowFailException

from smflow.compile.naming import run_key
from smflow.deployment import (
    DeploymentError,
    Variant,
    approved_package,
    config_name_for,
    deploy,
    package_model,
)
from smflow.operators.base import SmflowOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from smflow.operators.result import TaskResult


class DeployModelOperator(SmflowOperator):
    """A deploy step: resolve the Approved version, make its model and a new endpoint config, create or update
    the endpoint, wait until InService; XCom: the endpoint, its config and the version it serves."""

    ui_color = "#ffc9c9"

    def execute(self, context: Context) -> TaskResult:
        executor = self.get_executor()
        params = self.params_
        endpoint = self.request["EndpointName"]
        poll = self.poll_seconds if self.poll_seconds is not None else (0.2 if executor.name == "local" else 30.0)
        try:
            package = approved_package(executor, package=params.get("model_package_arn"), group=params.get("group"))
            version = int(package.get("ModelPackageVersion", 0))
            model = package_model(executor, package, params["role"], params["model_prefix"])
            config = config_name_for(endpoint, version, run_key(str(context["run_id"])))
            summary = deploy(executor, endpoint=endpoint, package=package, model_name=model, config_name=config,
                             variant=Variant(params["instance_type"], int(params["instance_count"])),
                             deployment_config=params.get("deployment_config"), tags=self.request.get("Tags"),
                             timeout=float(params.get("timeout_seconds", 1800)), poll=poll, say=self.log.info)
        except DeploymentError as e:
            raise AirflowFailException(str(e)) from e  # no retry: a retry cannot approve the version
        self.log.info("endpoint %s serves %s version %s (config %s)", endpoint, package.get("ModelPackageGroupName"),
                      version, config)
        return self.result(endpoint, str(summary["status"]),
                           {"endpoint_name": endpoint, "endpoint_config": config,
                            "model_package_arn": package["ModelPackageArn"], "version": version})
