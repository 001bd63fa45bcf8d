"""What an inference handler may return, turned into the body and Content-Type the model server sends.

The framework containers accept more than bytes from `output_fn` / `transform_fn`, and public example
scripts rely on every form, so each one is accepted here as the toolkits accept it:

- `bytes`, `bytearray` or `str` (UTF-8), sent with the request's resolved Accept as the content type;
- a tuple `(body, content_type)`: the inference toolkit's `Transformer.transform` and sagemaker-containers'
  `Transformer.transform` both read `result[0]` and `result[1]`
  (https://github.com/aws/sagemaker-inference-toolkit/blob/master/src/sagemaker_inference/transformer.py);
- a Response object: the scikit-learn container's `default_output_fn` returns
  `worker.Response(encoded, mimetype=accept)`, a `flask.Response`, and so do the public examples
  (https://github.com/aws/sagemaker-scikit-learn-container/blob/master/src/sagemaker_sklearn_container/serving.py).
  Any object with a body (`get_data()`, `.data`, `.response` or `.body`) and a content type (`.content_type`,
  `.mimetype` or a `Content-Type` header) is read the same way; an HTTP error status (4xx/5xx) on it is the
  model answering an error, which fails the request as it does on SageMaker;
- another JSON-serialisable value (dict, list, number), which the model server encodes with
  `json.dumps(value, indent=2)` (multi-model-server's `create_predict_response`).

Everything else (None, numpy arrays, arbitrary objects) makes the model server answer 503; here it is an
`InvalidResponseError` that names the function, what it returned and what is allowed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from smflow.errors import SmflowError

ALLOWED = (
    "bytes or str, a (body, content_type) tuple, a Response object with a body and a content type or mimetype "
    "(e.g. flask.Response or sagemaker_containers' worker.Response), or a JSON-serialisable dict/list/number"
)
_BODY_ATTRIBUTES = ("data", "response", "body")
_TYPE_ATTRIBUTES = ("content_type", "mimetype", "headers")


class InvalidResponseError(SmflowError, RuntimeError):
    """A handler returned something the model server cannot send (it would answer 503)."""


class ErrorStatusResponse(SmflowError, RuntimeError):
    """The handler answered an HTTP error status; SageMaker counts the request as failed."""

    def __init__(self, message: str, status_code: int, body: bytes):
        super().__init__(message)
        self.status_code = status_code
        self.body = body


def response_body(result: Any, accept: str, function: str) -> tuple[bytes, str]:
    """`result` of `function` (e.g. `output_fn`) → (body bytes, content type), or a clear error."""
    if isinstance(result, tuple):
        return _from_tuple(result, function)
    if isinstance(result, str):
        return result.encode("utf-8"), accept
    if isinstance(result, bytes | bytearray):
        return bytes(result), accept
    if is_response_like(result):
        return _from_response(result, accept, function)
    return _as_json(result, accept, function)


def is_response_like(value: Any) -> bool:
    """A werkzeug/Flask Response or an object shaped like one: a body plus a content type."""
    if isinstance(value, str | bytes | bytearray | Mapping | list | tuple):
        return False
    has_body = callable(getattr(value, "get_data", None)) or any(hasattr(value, a) for a in _BODY_ATTRIBUTES)
    return has_body and any(hasattr(value, a) for a in _TYPE_ATTRIBUTES)


def _from_tuple(result: tuple[Any, ...], function: str) -> tuple[bytes, str]:
    if len(result) < 2:
        raise InvalidResponseError(f"{function} returned a tuple of {len(result)} item(s); return "
                                   f"(body, content_type), e.g. (json.dumps(prediction.tolist()), accept)")
    body, content_type = result[0], result[1]
    if not isinstance(content_type, str) or not content_type.strip():
        raise InvalidResponseError(f"{function} returned (body, {_describe(content_type)}): the second item must "
                                   "be the response's content type as a string, e.g. 'text/csv'")
    if isinstance(body, str):
        return body.encode("utf-8"), content_type
    if isinstance(body, bytes | bytearray):
        return bytes(body), content_type
    if is_response_like(body):
        raise InvalidResponseError(f"{function} returned (Response, {content_type!r}); return either the Response "
                                   "or (body, content_type), not both")
    return _as_json(body, content_type, function, inside="the body of (body, content_type)")


def _from_response(response: Any, accept: str, function: str) -> tuple[bytes, str]:
    body = _response_bytes(response, function)
    status = _status(response)
    if status is not None and status >= 400:
        preview = body[:300].decode("utf-8", "replace")
        raise ErrorStatusResponse(f"{function} answered HTTP {status}: {preview}", status, body)
    return body, _response_type(response) or accept


def _response_bytes(response: Any, function: str) -> bytes:
    """The body as werkzeug exposes it (`get_data()`), else `.data`, `.response` (body or chunks), `.body`."""
    get_data = getattr(response, "get_data", None)
    body = _as_bytes(get_data()) if callable(get_data) else None
    for name in _BODY_ATTRIBUTES:  # read one at a time: on werkzeug each may consume a streamed body
        if body is not None:
            return body
        body = _as_bytes(getattr(response, name, None))
    if body is not None:
        return body
    raise InvalidResponseError(f"{function} returned a {type(response).__name__} whose body is neither bytes nor "
                               f"str; build it with the encoded prediction, e.g. "
                               f"flask.Response(response=json.dumps(prediction.tolist()), mimetype=accept)")


def _as_bytes(value: Any) -> bytes | None:
    """bytes/str, or an iterable of them (werkzeug keeps a body as a list of chunks); else None."""
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, list | tuple):
        chunks = [_as_bytes(c) if isinstance(c, str | bytes | bytearray) else None for c in value]
        if all(c is not None for c in chunks):
            return b"".join(c for c in chunks if c is not None)
    return None


def _response_type(response: Any) -> str | None:
    """The Content-Type header the server would send: werkzeug's `content_type`, else `mimetype`, else headers."""
    for name in ("content_type", "mimetype"):
        value = getattr(response, name, None)
        if isinstance(value, str) and value.strip():
            return value
    headers = getattr(response, "headers", None)
    items = getattr(headers, "items", None)  # a dict, or werkzeug's Headers
    if callable(items):
        for key, value in items():
            if str(key).lower() == "content-type" and isinstance(value, str) and value.strip():
                return value
    return None


def _status(response: Any) -> int | None:
    """`status_code` (werkzeug), else `status` as an int or a status line such as `"415 UNSUPPORTED MEDIA TYPE"`."""
    for name in ("status_code", "status"):
        value = getattr(response, name, None)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and value.split(" ", 1)[0].isdigit():
            return int(value.split(" ", 1)[0])
    return None


def _as_json(value: Any, content_type: str, function: str, inside: str | None = None) -> tuple[bytes, str]:
    what = f"{inside} returned by {function}" if inside else f"{function} returned"
    if value is None:
        raise InvalidResponseError(f"{what} None (a missing `return`?); return {ALLOWED}")
    try:
        return json.dumps(value, indent=2).encode("utf-8"), content_type
    except (TypeError, ValueError) as e:
        hint = ""
        if hasattr(value, "tolist"):
            hint = (" — encode the array first, e.g. json.dumps(prediction.tolist()) or "
                    "(np.savetxt output, 'text/csv')")
        raise InvalidResponseError(f"{what} {_describe(value)}, which the model server cannot send ({e}); "
                                   f"return {ALLOWED}{hint}") from e


def _describe(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:60] + '…' if len(text) > 60 else text}"
