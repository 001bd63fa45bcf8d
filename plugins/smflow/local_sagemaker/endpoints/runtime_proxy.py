"""The local sagemaker-runtime: one HTTP front for every local endpoint, so boto3's own client works against it.

`boto3.client("sagemaker-runtime", endpoint_url="http://127.0.0.1:PORT").invoke_endpoint(EndpointName=...)`
sends `POST /endpoints/{EndpointName}/invocations` (botocore's service model: requestUri of InvokeEndpoint,
rest-json protocol) with Content-Type, Accept and the `X-Amzn-SageMaker-*` headers. This process answers that
path as the real runtime does: it finds the endpoint's server from its record and forwards the request
(endpoints/invoke.py). Errors carry `X-Amzn-ErrorType` and a JSON body, which botocore turns into the same
`ClientError` codes (ModelError with OriginalStatusCode/OriginalMessage, ValidationError for an unknown
endpoint) it raises against AWS. curl works too:
`curl -X POST http://127.0.0.1:PORT/endpoints/NAME/invocations -H 'Content-Type: text/csv' --data-binary 1,2,3`.

One runtime per smflow home, started on demand (detached, like the endpoints' servers) and recorded in
`<home>/endpoints/runtime.json`; DeleteEndpoint stops it when the last endpoint goes.
Run: `python -m smflow.local_sagemaker.endpoints.runtime_proxy HOME STORE_ROOT READY_FILE [PORT]`.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from botocore.exceptions import ClientError, ParamValidationError

from smflow.atomic_files import write_text_atomic
from smflow.local_sagemaker.endpoints.invoke import MAX_PAYLOAD_BYTES

HEADERS = {"X-Amzn-SageMaker-Target-Model": "TargetModel", "X-Amzn-SageMaker-Custom-Attributes": "CustomAttributes",
           "X-Amzn-SageMaker-Target-Variant": "TargetVariant", "X-Amzn-SageMaker-Inference-Id": "InferenceId"}
READ_TIMEOUT_SECONDS = 60.0


def _request_params(name: str, body: bytes, headers: Any) -> dict[str, Any]:
    """The InvokeEndpoint request a runtime HTTP request carries (path, body, headers)."""
    params: dict[str, Any] = {"EndpointName": name, "Body": body}
    if headers.get("Content-Type"):
        params["ContentType"] = headers["Content-Type"]
    if headers.get("Accept"):
        params["Accept"] = headers["Accept"]
    for header, key in HEADERS.items():
        if headers.get(header):
            params[key] = headers[header]
    return params


class RuntimeHandler(BaseHTTPRequestHandler):
    """The runtime's routes: GET /ping, POST /endpoints/<name>/invocations."""

    protocol_version = "HTTP/1.1"
    invoke: Callable[[dict[str, Any]], dict[str, Any]]
    timeout = READ_TIMEOUT_SECONDS  # a stalled client holds only its own thread, and not for ever

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self.path == "/ping":
            self._send(200, b"", "text/plain")
        else:
            self._error(404, "UnknownOperationException", f"no route GET {self.path}")

    def do_POST(self) -> None:  # noqa: N802
        parts = self.path.split("?", 1)[0].strip("/").split("/")
        declared = (self.headers.get("Content-Length") or "0").strip()
        if not declared.isdigit():
            self.close_connection = True
            self._error(400, "ValidationError", f"Content-Length {declared!r} is not a byte count")
            return
        length = int(declared)
        if length > MAX_PAYLOAD_BYTES:
            self.close_connection = True
            self._error(413, "ValidationError", f"the request body is {length} bytes; InvokeEndpoint takes at most "
                                                f"{MAX_PAYLOAD_BYTES} (6 MB)")
            return
        body = self.rfile.read(length) if length else b""
        if len(parts) != 3 or parts[0] != "endpoints" or parts[2] != "invocations":
            self._error(404, "UnknownOperationException",
                        f"no route POST {self.path}; use POST /endpoints/<EndpointName>/invocations")
            return
        params = _request_params(unquote(parts[1]), body, self.headers)
        try:
            result = type(self).invoke(params)
        except ClientError as e:
            error = e.response.get("Error", {})
            status = int(e.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 400)
            extra = {k: error[k] for k in ("OriginalStatusCode", "OriginalMessage") if k in error}
            self._error(status, str(error.get("Code", "ValidationError")), str(error.get("Message", "")), extra)
            return
        except ParamValidationError as e:
            self._error(400, "ValidationError", str(e))
            return
        except Exception as e:  # noqa: BLE001 - a runtime answers 500, never drops the connection
            self._error(500, "InternalFailure", f"{type(e).__name__}: {e}")
            return
        headers = {"x-Amzn-Invoked-Production-Variant": result.get("InvokedProductionVariant", "")}
        if result.get("CustomAttributes"):
            headers["X-Amzn-SageMaker-Custom-Attributes"] = result["CustomAttributes"]
        self._send(200, result["Body"], result.get("ContentType", "application/octet-stream"), headers)

    def _error(self, status: int, code: str, message: str, extra: dict[str, Any] | None = None) -> None:
        body = json.dumps({"message": message, **(extra or {})}).encode()
        self._send(status, body, "application/json", {"X-Amzn-ErrorType": code})

    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)



def _handler_class(invoke: Callable[[dict[str, Any]], dict[str, Any]]) -> type[BaseHTTPRequestHandler]:
    return type("BoundRuntimeHandler", (RuntimeHandler,), {"invoke": staticmethod(invoke)})


def serve(home: Path, store_root: Path, ready_file: Path, port: int = 0) -> None:
    from smflow.local_sagemaker.service import LocalSageMaker

    service = LocalSageMaker(home, store_root)
    try:
        server = ThreadingHTTPServer(("127.0.0.1", port), _handler_class(service.invoke_endpoint))
    except OSError:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_class(service.invoke_endpoint))
    server.daemon_threads = True
    import os

    write_text_atomic(ready_file, json.dumps({"port": server.server_address[1], "pid": os.getpid()}))
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()


def main(argv: list[str]) -> int:
    if len(argv) not in (3, 4):
        print("usage: python -m smflow.local_sagemaker.endpoints.runtime_proxy HOME STORE_ROOT READY_FILE [PORT]",
              file=sys.stderr)
        return 2
    serve(Path(argv[0]), Path(argv[1]), Path(argv[2]), int(argv[3]) if len(argv) == 4 else 0)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
