"""The SageMaker inference handler contract (ITK/SKC) as `load_handler` reproduces it."""

from __future__ import annotations

import io
import json
import textwrap
from pathlib import Path

import numpy as np
import pytest

from smflow.serving.handler import (
    HandlerLoadError,
    InvalidResponseError,
    MalformedPayloadError,
    RequirementsNotSatisfiedError,
    UnsupportedContentTypeError,
    encode,
    load_handler,
)

# A model whose predictions are easy to check by hand: the row sums, and the dtype it was given.
SUM_MODEL = """
import numpy as np

class SumModel:
    def __init__(self):
        self.seen = []

    def predict(self, data):
        self.seen.append((data.shape, data.dtype))
        return data.sum(axis=1)

def model_fn(model_dir):
    return SumModel()
"""


def write_code(model_dir: Path, source: str, name: str = "inference.py", **siblings: str) -> Path:
    code = model_dir / "code"
    code.mkdir(parents=True, exist_ok=True)
    (code / name).write_text(textwrap.dedent(source))
    for sibling, text in siblings.items():
        (code / f"{sibling}.py").write_text(textwrap.dedent(text))
    return code


def test_csv_default_decodes_float32_rows_and_encodes_one_prediction_per_line(tmp_path: Path) -> None:
    write_code(tmp_path, SUM_MODEL)
    handler = load_handler(tmp_path)

    body, content_type = handler.invoke(b"1,2\n3,4.5\n", "text/csv", "text/csv")

    assert (body, content_type) == (b"3.0\n7.5\n", "text/csv")
    assert handler.model.seen == [((2, 2), np.dtype(np.float32))]


def test_single_csv_row_is_reshaped_to_one_sample_as_skc_does(tmp_path: Path) -> None:
    write_code(tmp_path, SUM_MODEL)
    handler = load_handler(tmp_path)

    body, _ = handler.invoke(b"1,2,3", "text/csv", "application/json")

    assert json.loads(body) == [6.0]
    assert handler.model.seen[-1][0] == (1, 3)


def test_csv_with_missing_values_matches_itk_genfromtxt(tmp_path: Path) -> None:
    write_code(tmp_path, SUM_MODEL)
    handler = load_handler(tmp_path)

    body, _ = handler.invoke(b"1.5,,3.5\n1.5,2.5,3.5\n", "text/csv; charset=utf-8", "application/json")
    first, second = json.loads(body.replace(b"NaN", b"null"))
    assert first is None and second == 7.5  # a float column's gap is NaN

    body, _ = handler.invoke(b"1,,3\n1,2,3\n", "text/csv", "application/json")
    assert json.loads(body) == [3.0, 6.0]  # genfromtxt(dtype=None) fills an int column's gap with -1, as ITK does


def test_json_and_npy_defaults(tmp_path: Path) -> None:
    write_code(tmp_path, SUM_MODEL)
    handler = load_handler(tmp_path)

    body, content_type = handler.invoke(b"[[1, 2], [3, 4]]", "application/json", None)
    assert (json.loads(body), content_type) == ([3.0, 7.0], "application/json")

    buffer = io.BytesIO()
    np.save(buffer, np.array([[1, 2], [3, 4]], dtype=np.int64))
    body, content_type = handler.invoke(buffer.getvalue(), "application/x-npy", "application/x-npy")
    assert content_type == "application/x-npy"
    np.testing.assert_array_equal(np.load(io.BytesIO(body)), [3, 7])
    assert handler.model.seen[-1][1] == np.dtype(np.int64)  # only JSON/CSV are cast to float32


def test_accept_falls_back_to_environment_default_and_picks_first_supported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_code(tmp_path, SUM_MODEL)
    monkeypatch.setenv("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", "text/csv")
    handler = load_handler(tmp_path)

    assert handler.invoke(b"[[1, 2]]", "application/json", "*/*") == (b"3.0\n", "text/csv")
    assert handler.invoke(b"[[1, 2]]", "application/json", None) == (b"3.0\n", "text/csv")
    assert handler.invoke(b"[[1, 2]]", "application/json", "application/xml, application/json") == (
        b"[3.0]", "application/json")


def test_unknown_content_type_and_accept_are_415(tmp_path: Path) -> None:
    write_code(tmp_path, SUM_MODEL)
    handler = load_handler(tmp_path)

    with pytest.raises(UnsupportedContentTypeError, match="application/xml") as request_error:
        handler.invoke(b"<x/>", "application/xml", None)
    with pytest.raises(UnsupportedContentTypeError, match="unsupported Accept") as accept_error:
        handler.invoke(b"[[1]]", "application/json", "image/png")
    assert request_error.value.status_code == accept_error.value.status_code == 415
    assert request_error.value.header == "Content-Type"


def test_transform_fn_gets_decoded_text_and_context_and_may_set_content_type(tmp_path: Path) -> None:
    write_code(tmp_path, """
        def model_fn(model_dir, context):
            return {"dir": model_dir, "context_dir": context.system_properties["model_dir"]}

        def transform_fn(model, body, content_type, accept):
            assert isinstance(body, str)
            return "rows=%d dir=%s" % (len(body.splitlines()), model["context_dir"] == model["dir"]), "text/plain"
    """)
    handler = load_handler(tmp_path)

    assert handler.uses_transform_fn
    assert handler.invoke(b"1,2\n3,4\n", "text/csv", None) == (b"rows=2 dir=True", "text/plain")


def test_four_function_style_with_context_argument(tmp_path: Path) -> None:
    write_code(tmp_path, """
        import json

        def model_fn(model_dir):
            return 10

        def input_fn(body, content_type, context):
            return json.loads(body)["x"]

        def predict_fn(data, model):
            return data * model

        def output_fn(prediction, accept):
            return {"y": prediction}
    """)
    handler = load_handler(tmp_path)

    body, content_type = handler.invoke(b'{"x": 4}', "application/json", "application/json")

    assert json.loads(body) == {"y": 40}  # a dict is JSON-encoded as the model server does
    assert content_type == "application/json"


def test_mixing_transform_fn_with_other_handlers_is_an_error(tmp_path: Path) -> None:
    code = write_code(tmp_path, """
        def model_fn(model_dir): return None
        def transform_fn(model, body, content_type, accept): return b""
        def input_fn(body, content_type): return body
    """)
    with pytest.raises(HandlerLoadError, match="transform_fn together with input_fn") as error:
        load_handler(tmp_path)
    assert str(code / "inference.py") in str(error.value)


def test_missing_model_fn_names_the_module_file(tmp_path: Path) -> None:
    code = write_code(tmp_path, "def predict_fn(data, model): return data\n")
    with pytest.raises(HandlerLoadError, match="defines no model_fn") as error:
        load_handler(tmp_path)
    assert str(code / "inference.py") in str(error.value)


def test_wrong_handler_arity_is_reported_at_load(tmp_path: Path) -> None:
    write_code(tmp_path, """
        def model_fn(model_dir): return None
        def predict_fn(data): return data
    """)
    with pytest.raises(HandlerLoadError, match=r"predict_fn takes 1 parameters; it must take \(data, model\)"):
        load_handler(tmp_path)


def test_missing_script_lists_what_the_code_dir_holds(tmp_path: Path) -> None:
    write_code(tmp_path, SUM_MODEL, name="serve.py")
    with pytest.raises(HandlerLoadError, match="no inference script .*inference.py.*holds serve.py"):
        load_handler(tmp_path)
    assert load_handler(tmp_path, program="serve.py").invoke(b"1,1", "text/csv", "text/csv") == (b"2.0\n", "text/csv")


def test_explicit_code_dir_and_program_as_submit_directory(tmp_path: Path) -> None:
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "scale.txt").write_text("3")
    source = tmp_path / "sourcedir"
    source.mkdir()
    (source / "entry.py").write_text(textwrap.dedent("""
        import os
        def model_fn(model_dir):
            return float(open(os.path.join(model_dir, "scale.txt")).read())
        def predict_fn(data, model):
            return data * model
    """))

    handler = load_handler(model_dir, source, "entry.py")

    assert handler.invoke(b"1,2", "text/csv", "text/csv") == (b"3.0,6.0\n", "text/csv")


def test_two_handlers_with_same_named_sibling_modules_do_not_collide(tmp_path: Path) -> None:
    script = """
        import helper
        def model_fn(model_dir): return helper.VALUE
        def transform_fn(model, body, content_type, accept): return str(model)
    """
    write_code(tmp_path / "a", script, helper="VALUE = 'a'")
    write_code(tmp_path / "b", script, helper="VALUE = 'b'")

    first, second = load_handler(tmp_path / "a"), load_handler(tmp_path / "b")

    assert first.invoke(b"", "text/csv", None)[0] == b"a"
    assert second.invoke(b"", "text/csv", None)[0] == b"b"
    assert first.module_path != second.module_path


def test_unsatisfied_requirements_are_reported_with_the_fix(tmp_path: Path) -> None:
    code = write_code(tmp_path, SUM_MODEL)
    (code / "requirements.txt").write_text(
        "# pinned\nnumpy>=1.0\nnumpy<1.0  # too old\nsurely-not-installed-pkg==1.2\n--index-url https://x\n"
    )
    with pytest.raises(RequirementsNotSatisfiedError) as error:
        load_handler(tmp_path)
    message = str(error.value)
    assert "requirements.txt:3: numpy<1.0 — installed version is" in message
    assert "requirements.txt:4: surely-not-installed-pkg==1.2 — not installed" in message
    assert "requirements.txt:2" not in message
    assert "pip install -r" in message

    (code / "requirements.txt").write_text("numpy>=1.0\nscikit-learn\n")
    assert load_handler(tmp_path).invoke(b"1,2", "text/csv", "text/csv")[0] == b"3.0\n"


def test_import_error_in_user_module_is_reported_with_its_path(tmp_path: Path) -> None:
    code = write_code(tmp_path, "import not_a_real_module_xyz\ndef model_fn(d): return None\n")
    with pytest.raises(HandlerLoadError, match="ModuleNotFoundError") as error:
        load_handler(tmp_path)
    assert str(code / "inference.py") in str(error.value)


@pytest.mark.parametrize("array", [
    np.array([0.1, 1e-5, 1e16, -2.5, np.nan]),
    np.array([0.1, 2.25, 1 / 3], dtype=np.float32),
    np.array([[1, 2], [3, 4]], dtype=np.int64),
    np.array([[0.5, 1 / 7], [2.0, -0.0]]),
    np.array([True, False]),
])
def test_csv_encoding_matches_itk_savetxt_byte_for_byte(array: np.ndarray) -> None:
    stream = io.StringIO()
    np.savetxt(stream, array, delimiter=",", fmt="%s")
    assert encode(array, "text/csv") == stream.getvalue().encode()


def test_model_fn_failure_is_a_load_error_naming_the_script(tmp_path: Path) -> None:
    write_code(tmp_path, """
        import os
        def model_fn(model_dir):
            return open(os.path.join(model_dir, "model.joblib"), "rb")
    """)
    with pytest.raises(HandlerLoadError, match=r"inference.py: model_fn\(.*\) failed: FileNotFoundError"):
        load_handler(tmp_path)


def test_float64_and_int_csv_fast_path_matches_savetxt_byte_for_byte() -> None:
    import io

    import numpy as np

    from smflow.serving.handler import encode

    rng = np.random.default_rng(7)
    edge = np.array([0.1, 1e16, 1e-5, 1e-4, -0.0, np.inf, -np.inf, np.nan, 123456789012345.0, 1e22, 5e-324,
                     1.7976931348623157e308, 2 / 3])
    for array in (np.concatenate([rng.normal(size=500) * 10.0 ** rng.integers(-8, 8, 500), edge]),
                  rng.normal(size=(50, 4)), rng.integers(-1000, 1000, size=(20, 3)), np.arange(5)):
        expected = io.StringIO()
        np.savetxt(expected, array, delimiter=",", fmt="%s")
        assert encode(array, "text/csv") == expected.getvalue().encode()


# ---- return shapes and Accept handling through a loaded script ---------------------------------------------

FEATURIZER = """
import json

import numpy as np
from flask import Response  # what sagemaker_containers' worker.Response is


def model_fn(model_dir):
    return np.array([2.0, 3.0])


def predict_fn(input_data, model):
    return input_data * model


def output_fn(prediction, accept):
    if accept == "application/json":
        instances = [{"features": row} for row in prediction.tolist()]
        return Response(json.dumps({"instances": instances}), mimetype=accept)
    elif accept == "text/csv":
        return Response("\\n".join(",".join(str(v) for v in row) for row in prediction.tolist()), mimetype=accept)
    else:
        raise RuntimeError("{} accept type is not supported by this script.".format(accept))
"""


def test_output_fn_returning_a_flask_response_as_the_featurizer_examples_do(tmp_path: Path) -> None:
    write_code(tmp_path, FEATURIZER)
    handler = load_handler(tmp_path)

    body, content_type = handler.invoke(b"1,1\n2,2\n", "text/csv", "application/json")
    assert json.loads(body) == {"instances": [{"features": [2.0, 3.0]}, {"features": [4.0, 6.0]}]}
    assert content_type == "application/json"
    assert handler.invoke(b"1,1", "text/csv", "text/csv") == (b"2.0,3.0", "text/csv; charset=utf-8")


def test_no_accept_or_any_means_the_default_accept_the_script_sees(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_code(tmp_path, FEATURIZER)
    monkeypatch.delenv("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", raising=False)
    json_default = load_handler(tmp_path)
    monkeypatch.setenv("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", "text/csv")
    csv_default = load_handler(tmp_path)
    monkeypatch.setenv("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", "application/x-npy")  # read once, at load

    for accept in (None, "", "*/*"):
        assert json_default.invoke(b"1,1", "text/csv", accept)[1] == "application/json"
        assert csv_default.invoke(b"1,1", "text/csv", accept) == (b"2.0,3.0", "text/csv; charset=utf-8")
    assert csv_default.resolve_accept("application/json") == "application/json"
    with pytest.raises(RuntimeError, match="image/png accept type is not supported by this script"):
        json_default.invoke(b"1,1", "text/csv", "image/png")


def test_a_request_without_content_type_is_read_as_json_as_skc_does(tmp_path: Path) -> None:
    write_code(tmp_path, SUM_MODEL)
    handler = load_handler(tmp_path)

    assert handler.invoke(b"[[1, 2], [3, 4]]", "", "text/csv") == (b"3.0\n7.0\n", "text/csv")
    # CSV without its ContentType fails there too: a malformed JSON payload (the server's 400)
    with pytest.raises(MalformedPayloadError, match="malformed application/json payload: JSONDecodeError"):
        handler.invoke(b"1,2\n3,4\n", "", "text/csv")


def test_transform_fn_tuple_and_invalid_returns_name_the_function_and_script(tmp_path: Path) -> None:
    write_code(tmp_path, """
        import json

        def model_fn(model_dir):
            return None

        def transform_fn(model, request_body, content_type, accept):
            rows = json.loads(request_body)
            if rows == "nothing":
                return None
            return json.dumps([sum(r) for r in rows]), accept
    """)
    handler = load_handler(tmp_path)

    assert handler.invoke(b"[[1, 2]]", "application/json", None) == (b"[3]", "application/json")
    with pytest.raises(InvalidResponseError, match=r"inference.py: transform_fn returned None"):
        handler.invoke(b'"nothing"', "application/json", None)


def test_invalid_output_fn_return_is_a_clear_error(tmp_path: Path) -> None:
    write_code(tmp_path, SUM_MODEL + "\ndef output_fn(prediction, accept):\n    return prediction\n")
    handler = load_handler(tmp_path)

    with pytest.raises(InvalidResponseError, match=r"inference.py: output_fn returned ndarray array\(\[3.\]"
                                                   r".*return bytes or str, a \(body, content_type\) tuple"):
        handler.invoke(b"1,2", "text/csv", "text/csv")


def test_execution_parameters_fn_answers_as_a_json_response(tmp_path: Path) -> None:
    write_code(tmp_path, SUM_MODEL + """
import json
from flask import Response

def execution_parameters_fn():
    return Response(json.dumps({"BatchStrategy": "SINGLE_RECORD", "MaxPayloadInMB": 2}),
                    mimetype="application/json")
""")
    assert load_handler(tmp_path).execution_parameters() == {"BatchStrategy": "SINGLE_RECORD", "MaxPayloadInMB": 2}

    write_code(tmp_path / "none", SUM_MODEL)
    assert load_handler(tmp_path / "none").execution_parameters() is None

    write_code(tmp_path / "list", SUM_MODEL + "\ndef execution_parameters_fn():\n    return '[1]'\n")
    with pytest.raises(InvalidResponseError, match="execution_parameters_fn answered list JSON; it must be an "
                                                   "object with MaxConcurrentTransforms"):
        load_handler(tmp_path / "list").execution_parameters()

    write_code(tmp_path / "arity", SUM_MODEL + "\ndef execution_parameters_fn(context):\n    return '{}'\n")
    with pytest.raises(HandlerLoadError, match=r"execution_parameters_fn takes 1 parameters; SageMaker's "
                                               r"scikit-learn container calls it with none"):
        load_handler(tmp_path / "arity")
