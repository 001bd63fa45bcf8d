"""InvokeEndpoint (the sagemaker-runtime API) on this machine: one HTTP call to the endpoint's model server.

https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_runtime_InvokeEndpoint.html — the request's
Body goes to the container's `POST /invocations` with its Content-Type and Accept; TargetModel travels as the
`X-Amzn-SageMaker-Target-Model` header (multi-model endpoints). The answer is `Body`, `ContentType` and
`InvokedProductionVariant`. A container's 4xx/5xx comes back as sagemaker-runtime's `ModelError`
(HTTP 424 on AWS) carrying `OriginalStatusCode` and `OriginalMessage`, so callers handle a local and an AWS
endpoint's failures the same way.
"""

from __future__ import annotations

import http.client
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from botocore.exceptions import ClientError
from botocore.model import ServiceModel

CONTAINER_TIMEOUT_SECONDS = 60.0  # SageMaker: the container must answer within 60 s
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # InvokeEndpoint's payload limit
TARGET_MODEL_HEADER = "X-Amzn-SageMaker-Target-Model"
CUSTOM_ATTRIBUTES_HEADER = "X-Amzn-SageMaker-Custom-Attributes"
RUNTIME_PARAMS = frozenset({"EndpointName", "Body", "ContentType", "Accept", "CustomAttributes", "TargetModel",
                            "TargetVariant", "TargetContainerHostname", "InferenceId", "EnableExplanations",
                            "InferenceComponentName", "SessionId"})


def runtime_error(code: str, message: str, status: int, **fields: Any) -> ClientError:
    """A ClientError as botocore raises it for sagemaker-runtime (operation InvokeEndpoint)."""
    error: dict[str, Any] = {"Code": code, "Message": message, **fields}
    return ClientError({"Error": error, "ResponseMetadata": {"HTTPStatusCode": status}, **fields}, "InvokeEndpoint")


@lru_cache(maxsize=1)
def runtime_model() -> ServiceModel:
    """botocore's sagemaker-runtime service model (what boto3's client validates InvokeEndpoint against)."""
    from botocore.loaders import create_loader

    return ServiceModel(create_loader().load_service_model("sagemaker-runtime", "service-2"),
                        service_name="sagemaker-runtime")


def check_invoke_request(params: Mapping[str, Any]) -> bytes:
    """botocore's client-side checks of an InvokeEndpoint request (sagemaker-runtime's own service model), and
    the 6 MB payload limit the service enforces; returns the body as bytes."""
    from botocore.exceptions import ParamValidationError
    from botocore.validate import ParamValidator

    shape = runtime_model().operation_model("InvokeEndpoint").input_shape
    report = ParamValidator().validate(dict(params), shape)
    problems = report.generate_report() if report.has_errors() else None
    if problems:
        raise ParamValidationError(report=f"invalid InvokeEndpoint request:\n{problems}")
    body = params["Body"]
    data = body.encode() if isinstance(body, str) else bytes(body if isinstance(body, bytes | bytearray)
                                                             else body.read())
    if len(data) > MAX_PAYLOAD_BYTES:
        raise runtime_error("ValidationError", f"Request body of {len(data)} bytes exceeds the InvokeEndpoint limit "
                                               f"of {MAX_PAYLOAD_BYTES} bytes (6 MB)", 400)
    return data


def post_invocation(port: int, body: bytes, params: Mapping[str, Any], variant: str) -> dict[str, Any]:
    """POST /invocations on the server at `port`; the InvokeEndpoint response, or a ModelError."""
    headers = {"Content-Type": params.get("ContentType") or "application/octet-stream"}
    if params.get("Accept"):
        headers["Accept"] = params["Accept"]
    if params.get("TargetModel"):
        headers[TARGET_MODEL_HEADER] = params["TargetModel"]
    if params.get("CustomAttributes"):
        headers[CUSTOM_ATTRIBUTES_HEADER] = params["CustomAttributes"]
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=CONTAINER_TIMEOUT_SECONDS)
    try:
        connection.request("POST", "/invocations", body=body, headers=headers)
        response = connection.getresponse()
        data = response.read()
        content_type = response.getheader("Content-Type") or "application/octet-stream"
        attributes = response.getheader(CUSTOM_ATTRIBUTES_HEADER)
    except TimeoutError as e:
        raise runtime_error("ModelError", f"Received no response from the model container (variant {variant}) "
                                          f"within {CONTAINER_TIMEOUT_SECONDS:.0f} seconds", 424) from e
    except OSError as e:
        raise runtime_error("ServiceUnavailable", f"the endpoint's model server on 127.0.0.1:{port} did not answer "
                                                  f"({e}); describe the endpoint to restart it", 503) from e
    finally:
        connection.close()
    if response.status >= 400:
        text = data.decode("utf-8", errors="replace")
        side = "client" if response.status < 500 else "server"
        raise runtime_error("ModelError", f"Received {side} error ({response.status}) from primary with message "
                                          f'"{text}". See the endpoint log for details.', 424,
                            OriginalStatusCode=response.status, OriginalMessage=text)
    result: dict[str, Any] = {"Body": data, "ContentType": content_type, "InvokedProductionVariant": variant}
    if attributes:
        result["CustomAttributes"] = attributes
    return result
