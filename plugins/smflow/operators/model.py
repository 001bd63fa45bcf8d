"""create_model step: a SageMaker Model for batch transform or an endpoint; reused if this run made it
with the same request (the model name carries the request's fingerprint)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from smflow.operators.base import SmflowOperator
from smflow.sagemaker_api import is_not_found

if TYPE_CHECKING:
    from airflow.sdk import Context

    from smflow.operators.result import TaskResult


class CreateModelOperator(SmflowOperator):
    """A create_model step: one CreateModel; an identical request made earlier in this run is reused."""

    ui_color = "#d8f5a2"

    def execute(self, context: Context) -> TaskResult:
        executor = self.get_executor()
        name = self.request["ModelName"]
        try:
            executor.call("DescribeModel", {"ModelName": name})
            self.log.info("model %s already exists (earlier try); reusing it", name)
        except ClientError as e:
            if not is_not_found(e):
                raise
            self.stage_uploads(executor)
            executor.call("CreateModel", self.request)
            self.log.info("created model %s from %s", name, self.request["PrimaryContainer"].get("ModelDataUrl"))
        return self.result(name, "Created", {"model_name": name})
