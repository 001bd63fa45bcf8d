"""deploy step: an endpoint config per run, then create the endpoint or update it in place."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from airflow.sdk.exceptions import AirflowException
from botocore.exceptions import ClientError

from smflow.operators.base import SmflowOperator
from smflow.sagemaker_api import is_not_found

if TYPE_CHECKING:
    from airflow.sdk import Context

    from smflow.operators.result import TaskResult


class DeployModelOperator(SmflowOperator):
    """A deploy step: a new endpoint config, then create the endpoint or update it to that config."""

    ui_color = "#ffc9c9"

    def execute(self, context: Context) -> TaskResult:
        executor = self.get_executor()
        for step in self.pre:
            try:
                executor.call("DescribeEndpointConfig", {"EndpointConfigName": step["request"]["EndpointConfigName"]})
            except ClientError as e:
                if not is_not_found(e):
                    raise
                executor.call(step["operation"], step["request"])
        endpoint = self.request["EndpointName"]
        try:
            current = executor.call("DescribeEndpoint", {"EndpointName": endpoint})
        except ClientError as e:
            if not is_not_found(e):
                raise
            current = None
        if current is None:
            executor.call("CreateEndpoint", self.request)
        elif current.get("EndpointConfigName") != self.request["EndpointConfigName"]:
            executor.call("UpdateEndpoint", {"EndpointName": endpoint,
                                             "EndpointConfigName": self.request["EndpointConfigName"]})
        poll = self.poll_seconds if self.poll_seconds is not None else (0.2 if executor.name == "local" else 30.0)
        while True:
            status = executor.call("DescribeEndpoint", {"EndpointName": endpoint})
            state = status["EndpointStatus"]
            if state == "InService":
                return self.result(endpoint, state, {"endpoint_name": endpoint})
            if state in {"Failed", "OutOfService", "RollingBack"}:
                raise AirflowException(f"endpoint {endpoint} is {state}: {status.get('FailureReason', '')}")
            time.sleep(poll)
