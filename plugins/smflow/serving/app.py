"""The model server's routes: SageMaker's container API over a loaded model, a pipeline or a model cache.

- `GET /ping`: 200 with an empty body once the model is loaded (503 while it loads);
- `POST /invocations`: the request through the handler contract; the target model of a multi-model server
  comes from `X-Amzn-SageMaker-Target-Model` (400 without it, 404 for an unknown one);
- `GET /execution-parameters`: the script's `execution_parameters_fn()` for batch transform (404 without);
- `GET /models` on a multi-model server: the models loaded now, most recently used last.

Errors answer with a status and a message, and the server keeps serving: 415 for a type no decoder or
encoder supports, 400 for a body its decoder cannot parse, the status a handler's Response carries, 507 when
one model exceeds the memory bound, 500 (with the handler's exception) for anything the model raised.
https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-inference-code.html
https://docs.aws.amazon.com/sagemaker/latest/dg/mms-container-apis.html
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path

from smflow.errors import SmflowError
from smflow.serving.config import ServerConfig
from smflow.serving.container import ENVIRON_LOCK, load_container
from smflow.serving.dispatch import Dispatcher
from smflow.serving.handler import ErrorStatusResponse, UnsupportedContentTypeError
from smflow.serving.http_protocol import Request, Response, error_response
from smflow.serving.multi_model import TARGET_HEADER, MultiModelCache
from smflow.serving.pipeline import ContainerFailure, SerialPipeline

_PING_OK = Response(200)
_JSON = "application/json"


def log_to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class ModelServerApp:
    """Loads what the configuration names, then answers requests; `handle` is the HTTP protocol's callback."""

    def __init__(self, config: ServerConfig, dispatcher: Dispatcher, scratch: Path,
                 log: Callable[[str], None] = log_to_stderr):
        self.config = config
        self.dispatcher = dispatcher
        self.log = log
        self.pipeline: SerialPipeline | None = None
        self.cache: MultiModelCache | None = None
        self.load_error: str | None = None
        self.loaded = threading.Event()  # set once loading finished, well or not
        if config.mode == "MultiModel":
            assert config.multi_model is not None
            self.cache = MultiModelCache(config.multi_model, config.containers[0], scratch, log,
                                         freeze_heap=config.freeze_heap)

    @property
    def ready(self) -> bool:
        return self.cache is not None or self.pipeline is not None

    def load(self) -> None:
        """Load every container (blocking: called on a worker thread while the server already listens)."""
        try:
            if self.cache is None:
                swap = len(self.config.containers) > 1
                containers = []
                for container in self.config.containers:
                    assert container.model_dir is not None
                    containers.append(load_container(container.name, container.model_dir, container.code_dir,
                                                     container.environment, image=container.image,
                                                     swap_environment=swap))
                self.pipeline = SerialPipeline(containers)
            if self.config.freeze_heap:
                gc.freeze()  # what loading made (modules, the model) is never garbage: keep it out of every GC pass
        except Exception as e:  # HandlerLoadError and whatever model_fn raised: the reason, once
            self.load_error = f"{type(e).__name__}: {e}" if not isinstance(e, SmflowError) else str(e)
        finally:
            self.loaded.set()

    # ---- routing ----------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response | asyncio.Future[Response]:
        path, method = request.path, request.method
        if path == "/invocations":
            if method != "POST":
                return error_response(405, "use POST /invocations")
            return self._invocations(request)
        if path == "/ping":
            if method not in ("GET", "HEAD"):
                return error_response(405, "use GET /ping")
            if self.ready:
                return _PING_OK
            reason = self.load_error or "the model is still loading"
            return error_response(503, reason, "ModelNotReady")
        if path == "/execution-parameters" and method == "GET":
            return self._execution_parameters()
        if path == "/models" and method == "GET" and self.cache is not None:
            body = json.dumps({"models": self.cache.loaded()}).encode()
            return Response(200, body, _JSON)
        return error_response(404, f"no route {method} {path}; the model server answers GET /ping and "
                                   "POST /invocations")

    def _invocations(self, request: Request) -> Response | asyncio.Future[Response]:
        headers = request.headers
        content_type = headers.get("content-type", "")
        accept = headers.get("accept")
        body = request.body
        if self.cache is not None:
            return self._multi_model(headers.get(TARGET_HEADER), body, content_type, accept)
        pipeline = self.pipeline
        if pipeline is None:
            return error_response(503, self.load_error or "the model is still loading; retry when /ping answers 200",
                                  "ModelNotReady")
        lock = ENVIRON_LOCK if pipeline.swaps_environment else None
        return self.dispatcher.run(pipeline, self._answer, pipeline, body, content_type, accept, lock=lock)

    def _multi_model(self, target: str | None, body: bytes, content_type: str,
                     accept: str | None) -> Response | asyncio.Future[Response]:
        cache = self.cache
        assert cache is not None
        if not target or not target.strip():
            return error_response(400, "this is a multi-model endpoint: name the model with the "
                                       "X-Amzn-SageMaker-Target-Model header (TargetModel in InvokeEndpoint), "
                                       "e.g. model-1.tar.gz")
        model = cache.get(target)
        if model is not None:
            pipeline = model.pipeline
            return self.dispatcher.run(target, self._answer, pipeline, body, content_type, accept)

        def load_then_answer() -> Response:
            try:
                loaded = cache.load(target)
            except Exception as e:
                return self._failure(e, f"loading model {target!r}", failed=f"model {target!r} did not load")
            return self._answer(loaded.pipeline, body, content_type, accept)

        return self.dispatcher.submit(load_then_answer)

    def _answer(self, pipeline: SerialPipeline, body: bytes, content_type: str, accept: str | None) -> Response:
        try:
            payload, answered_type = pipeline.invoke(body, content_type, accept)
        except Exception as e:
            return self._failure(e, "invocation")
        return Response(200, payload, answered_type)

    def _failure(self, error: Exception, doing: str, failed: str = "the model failed") -> Response:
        """An exception → the status SageMaker's containers answer, with a message saying what failed."""
        where = ""
        cause: BaseException = error
        if isinstance(error, ContainerFailure):
            where = f"container {error.index + 1}/{error.count} ({error.container.name}): "
            cause = error.error
        if isinstance(cause, UnsupportedContentTypeError):
            return error_response(415, where + str(cause), "UnsupportedMediaType")
        if isinstance(cause, ErrorStatusResponse):
            return error_response(cause.status_code, where + str(cause))
        status = getattr(cause, "status_code", None)
        if isinstance(cause, SmflowError) and isinstance(status, int) and 400 <= status < 600:
            return error_response(status, where + str(cause))
        detail = str(cause) if isinstance(cause, SmflowError) else traceback.format_exception_only(cause)[-1].strip()
        self.log(f"model server: {doing} failed: {where}{''.join(traceback.format_exception(cause)).rstrip()}")
        return error_response(500, f"{where}{failed}: {detail}", "ModelError")

    def _execution_parameters(self) -> Response:
        pipeline = self.pipeline
        handler = pipeline.first.handler if pipeline is not None else None
        read = getattr(handler, "execution_parameters", None)
        if read is None:
            return error_response(404, "this model defines no execution_parameters_fn")
        try:
            parameters = read()
        except Exception as e:
            return self._failure(e, "execution-parameters")
        if parameters is None:
            return error_response(404, "this model defines no execution_parameters_fn")
        return Response(200, json.dumps(parameters).encode(), _JSON)
