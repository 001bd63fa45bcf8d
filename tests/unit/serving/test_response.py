"""Every return shape of output_fn / transform_fn the SageMaker toolkits accept, and the ones they reject."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import flask
import numpy as np
import pytest
from werkzeug.wrappers import Response as WerkzeugResponse

from smflow.serving.response import ErrorStatusResponse, InvalidResponseError, is_response_like, response_body

FN = "inference.py: output_fn"


class WorkerResponse(flask.Response):
    """sagemaker-containers' `worker.Response` is exactly this: a flask.Response whose default type is JSON."""

    default_mimetype = "application/json"


@pytest.mark.parametrize(("result", "expected"), [
    (b"1.0\n2.0\n", (b"1.0\n2.0\n", "text/csv")),
    (bytearray(b"\x93NUMPY"), (b"\x93NUMPY", "text/csv")),
    ("é,1\n", ("é,1\n".encode(), "text/csv")),
])
def test_bytes_and_str_are_sent_with_the_resolved_accept(result: Any, expected: tuple[bytes, str]) -> None:
    assert response_body(result, "text/csv", FN) == expected


@pytest.mark.parametrize(("result", "expected"), [
    (("[1, 2]", "application/json"), (b"[1, 2]", "application/json")),
    ((b"1\n2\n", "text/csv"), (b"1\n2\n", "text/csv")),
    ((bytearray(b"ab"), "application/octet-stream"), (b"ab", "application/octet-stream")),
    (({"predictions": [1, 2]}, "application/json"), (b'{\n  "predictions": [\n    1,\n    2\n  ]\n}',
                                                      "application/json")),
    # the toolkits read result[0] and result[1] of any tuple, so a third item is ignored as there
    (("1\n", "text/csv", 200), (b"1\n", "text/csv")),
])
def test_body_and_content_type_tuples_as_the_inference_toolkit_reads_them(
    result: tuple[Any, ...], expected: tuple[bytes, str]
) -> None:
    assert response_body(result, "application/json", FN) == expected


def test_a_flask_response_gives_its_body_and_content_type_header() -> None:
    response = flask.Response(response="1.0\n2.0\n", status=200, mimetype="text/csv")

    body, content_type = response_body(response, "application/json", FN)

    assert body == b"1.0\n2.0\n"
    assert content_type == "text/csv; charset=utf-8"  # what werkzeug sends for a text type


def test_a_worker_response_as_skc_default_output_fn_builds_it() -> None:
    encoded = json.dumps([0, 1, 2])
    assert response_body(WorkerResponse(encoded, mimetype="application/json"), "text/csv", FN) == (
        b"[0, 1, 2]", "application/json")
    assert response_body(WorkerResponse(encoded), "text/csv", FN) == (b"[0, 1, 2]", "application/json")


def test_werkzeug_response_with_headers_and_a_streamed_body() -> None:
    streamed = WerkzeugResponse((chunk for chunk in (b"a,", b"b\n")), headers={"Content-Type": "text/csv"})
    assert response_body(streamed, "application/json", FN) == (b"a,b\n", "text/csv")


@pytest.mark.parametrize(("response", "expected"), [
    (SimpleNamespace(body=b"1\n", content_type="text/csv"), (b"1\n", "text/csv")),
    (SimpleNamespace(data="[1]", mimetype="application/json"), (b"[1]", "application/json")),
    (SimpleNamespace(response=[b"1,", "2\n"], headers={"content-type": "text/csv"}), (b"1,2\n", "text/csv")),
    (SimpleNamespace(get_data=lambda: b"x", content_type=None, mimetype="application/x-npy"),
     (b"x", "application/x-npy")),
    (SimpleNamespace(body=b"x", headers={}), (b"x", "application/jsonlines")),  # no type given: the Accept
])
def test_response_like_objects_are_read_by_their_body_and_content_type(
    response: Any, expected: tuple[bytes, str]
) -> None:
    assert is_response_like(response)
    assert response_body(response, "application/jsonlines", FN) == expected


@pytest.mark.parametrize("status", [415, "415 UNSUPPORTED MEDIA TYPE", 500])
def test_an_error_status_fails_the_request_with_its_body(status: Any) -> None:
    response = SimpleNamespace(body=b'{"error": "UnsupportedFormatError"}', content_type="application/json",
                               status=status)
    with pytest.raises(ErrorStatusResponse, match=r"output_fn answered HTTP (415|500): \{\"error\"") as error:
        response_body(response, "text/csv", FN)
    assert error.value.status_code in (415, 500)
    with pytest.raises(ErrorStatusResponse, match="HTTP 406: nope"):
        response_body(flask.Response("nope", status=406), "text/csv", FN)


def test_json_values_are_encoded_as_the_model_server_does() -> None:
    assert response_body({"y": 40}, "application/json", FN) == (b'{\n  "y": 40\n}', "application/json")
    assert response_body([1.5, 2], "application/json", FN) == (b"[\n  1.5,\n  2\n]", "application/json")
    assert response_body(3, "text/csv", FN) == (b"3", "text/csv")


@pytest.mark.parametrize(("result", "message"), [
    (None, r"inference.py: output_fn returned None \(a missing `return`\?\); return bytes or str, a \(body, "
           r"content_type\) tuple, a Response object"),
    (np.array([1.0, 2.0]), r"output_fn returned ndarray array\(\[1., 2.\]\), which the model server cannot send "
                           r".* encode the array first"),
    (object(), r"output_fn returned object <object object at .*>, which the model server cannot send"),
    (("1\n",), r"output_fn returned a tuple of 1 item\(s\); return \(body, content_type\)"),
    (("1\n", None), r"output_fn returned \(body, NoneType None\): the second item must be the response's "
                    r"content type as a string"),
    ((np.zeros(2), "text/csv"), r"the body of \(body, content_type\) returned by inference.py: output_fn "
                                r"ndarray"),
    ((flask.Response("1"), "text/csv"), r"output_fn returned \(Response, 'text/csv'\); return either the Response"),
    (SimpleNamespace(body=12, content_type="text/csv"), r"output_fn returned a SimpleNamespace whose body is "
                                                       r"neither bytes nor str"),
])
def test_invalid_returns_name_the_function_what_it_returned_and_what_is_allowed(result: Any, message: str) -> None:
    with pytest.raises(InvalidResponseError, match=message):
        response_body(result, "text/csv", FN)


def test_plain_values_and_arrays_are_not_mistaken_for_responses() -> None:
    assert not any(is_response_like(v) for v in (b"x", "x", {"body": 1, "content_type": "a"}, [1], (1, 2),
                                                 np.zeros(3)))
