"""The SageMaker framework-container inference handler contract, run in this process.

A script that serves on SageMaker's scikit-learn container (SKC, built on the inference toolkit ITK)
must serve here unchanged, so this module reproduces their rules rather than inventing friendlier ones:

- the user module is `SAGEMAKER_PROGRAM` (default `inference.py`) in the code directory
  (`SAGEMAKER_SUBMIT_DIRECTORY`, usually `<model_dir>/code`);
- `model_fn` is required; `input_fn`/`predict_fn`/`output_fn` fall back to SKC's defaults; a single
  `transform_fn` replaces those three, and defining both styles is an error (as in ITK);
- any handler may take one extra `context` argument (ITK counts the parameters);
- JSON and CSV bodies reach user functions as `str`, everything else as `bytes` (ITK decodes UTF-8 types);
- the default decoder casts JSON/CSV to float32 and reshapes 1-D input to one row, exactly as SKC does;
- an unknown content type or Accept is an `UnsupportedContentTypeError` (HTTP 415);
- a missing Accept or `*/*` means `SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT`, else `application/json`, read once
  when the container starts (sagemaker-containers `ServingEnv.default_accept`, ITK `Environment.default_accept`);
- a missing Content-Type means `application/json`, as SKC's request object reads it (sagemaker-containers
  `worker.Request.content_type`, https://github.com/aws/sagemaker-containers/blob/master/src/sagemaker_containers/_worker.py);
- `output_fn` / `transform_fn` may return bytes/str, `(body, content_type)`, a Response object or a
  JSON-serialisable value (see `smflow.serving.response`);
- an optional `execution_parameters_fn()` answers batch transform's `GET /execution-parameters`, as SKC
  registers it (its `_user_module_execution_parameters_fn`).

Deliberate difference: ITK parses CSV with `np.genfromtxt(dtype=None)`, which turns a payload whose
columns mix integers and decimals into a structured array that SKC then fails to cast to float32. The
fast path here (`np.loadtxt`) reads such all-numeric payloads as one float array and succeeds; payloads
with gaps or text go through `genfromtxt(dtype=None)` exactly as in ITK.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import inspect
import io
import itertools
import json
import os
import re
import sys
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from smflow.errors import SmflowError
from smflow.serving.payload import MalformedPayloadError
from smflow.serving.response import ErrorStatusResponse, InvalidResponseError, response_body

# re-exported: callers catch them from here
__all__ = ["ErrorStatusResponse", "InvalidResponseError", "MalformedPayloadError"]

JSON = "application/json"
CSV = "text/csv"
NPY = "application/x-npy"
NPZ = "application/x-npz"
ANY = "*/*"
UTF8_TYPES = frozenset({JSON, CSV})
DECODABLE_TYPES = (JSON, CSV, NPY, NPZ)
ENCODABLE_TYPES = (JSON, CSV, NPY)
DEFAULT_ACCEPT_ENV = "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT"
DEFAULT_ACCEPT = JSON  # the toolkits' default when the variable is unset
DEFAULT_CONTENT_TYPE = JSON  # what SKC assumes for a request without a Content-Type header
EXECUTION_PARAMETERS_FN = "execution_parameters_fn"
DEFAULT_PROGRAM = "inference.py"

_HANDLER_NAMES = ("model_fn", "input_fn", "predict_fn", "output_fn", "transform_fn", EXECUTION_PARAMETERS_FN)
_SIGNATURES: dict[str, tuple[str, ...]] = {
    "model_fn": ("model_dir",),
    "input_fn": ("input_data", "content_type"),
    "predict_fn": ("data", "model"),
    "output_fn": ("prediction", "accept"),
    "transform_fn": ("model", "input_data", "content_type", "accept"),
    EXECUTION_PARAMETERS_FN: (),
}
_import_lock = threading.Lock()
_module_counter = itertools.count(1)


class HandlerLoadError(SmflowError, RuntimeError):
    """The user's inference module cannot be found, imported or used as a SageMaker handler."""


class RequirementsNotSatisfiedError(HandlerLoadError):
    """`code/requirements.txt` names packages this environment lacks (SageMaker would pip-install them)."""


class UnsupportedContentTypeError(SmflowError, ValueError):
    """A request's Content-Type, or its Accept, has no decoder/encoder: the model server answers 415."""

    status_code = 415

    def __init__(self, header: str, value: str | None, supported: tuple[str, ...]):
        shown = repr(value) if value else "no value"
        super().__init__(
            f"unsupported {header} {shown}: the default handlers support {', '.join(supported)}; "
            f"send one of those, or define {'input_fn' if header == 'Content-Type' else 'output_fn'} "
            "in the inference script to handle it"
        )
        self.header = header
        self.value = value


@dataclass(frozen=True)
class Context:
    """What ITK passes as the optional `context` argument; only the parts a local run can fill in."""

    model_dir: str
    system_properties: dict[str, Any] = field(default_factory=dict)


@functools.lru_cache(maxsize=256)
def media_type(header: str | None) -> str:
    """`Text/CSV; charset=utf-8` → `text/csv`: the part of a header the decoders are keyed by (memoised: an
    endpoint sees the same few header values on every request)."""
    return (header or "").split(";", 1)[0].strip().lower()


# ---- default handlers (SKC) ---------------------------------------------------------------------


def default_input_fn(input_data: str | bytes, content_type: str) -> Any:
    """SKC's default: decode by content type, float32 for JSON/CSV, 1-D input becomes one row.

    A body its decoder cannot parse (or JSON/CSV values that are not numbers) is a `MalformedPayloadError`,
    which the model server answers with 400."""
    try:
        return _decode_by_type(input_data, content_type)
    except (UnsupportedContentTypeError, MalformedPayloadError):
        raise
    except (ValueError, TypeError, OSError, EOFError) as e:  # the json, numpy and zip readers' parse errors
        raise MalformedPayloadError(content_type, f"{type(e).__name__}: {e}") from e


def _decode_by_type(input_data: str | bytes, content_type: str) -> Any:
    kind = media_type(content_type)
    if kind == JSON:
        array = np.array(json.loads(input_data))
    elif kind == CSV:
        array = _csv_to_numpy(input_data)
    elif kind == NPY:
        array = np.load(io.BytesIO(_as_bytes(input_data)), allow_pickle=False)
    elif kind == NPZ:
        import scipy.sparse

        return scipy.sparse.load_npz(io.BytesIO(_as_bytes(input_data)))
    else:
        raise UnsupportedContentTypeError("Content-Type", content_type, DECODABLE_TYPES)
    if array.ndim == 1:
        array = array.reshape(1, -1)
    return array.astype(np.float32) if kind in UTF8_TYPES else array


def _csv_to_numpy(text: str | bytes) -> np.ndarray:
    """ITK's `np.genfromtxt(delimiter=",")`, via numpy's C parser whenever the input is plain numbers.

    `genfromtxt` is pure Python (about 6x slower); `loadtxt` gives the identical array for well-formed
    numeric CSV and raises on anything else (missing values, text), where we fall back to `genfromtxt`
    so the result stays what SageMaker would compute.
    """
    if len(text) <= _ONE_ROW_MAX_BYTES:
        array = _one_row_csv(text if isinstance(text, bytes) else text.encode("utf-8"))
        if array is not None:
            return array
    elif len(text) >= _ARROW_MIN_BYTES:
        array = _csv_to_numpy_arrow(text if isinstance(text, bytes) else text.encode("utf-8"))
        if array is not None:
            return array
    # Bytes go to the C parser as they are (~20% faster than decoding to a StringIO first).
    stream = io.BytesIO(text) if isinstance(text, bytes) else io.StringIO(text)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "input contained no data"
        try:
            return np.loadtxt(stream, delimiter=",", dtype=np.float64, encoding="utf-8")
        except ValueError:
            source = text if isinstance(text, str) else text.decode("utf-8")
            return np.genfromtxt(io.StringIO(source), delimiter=",", dtype=None, encoding="utf-8")


_ONE_ROW_MAX_BYTES = 4096  # above this a payload is rarely one record
_ARROW_MIN_BYTES = 64 * 1024  # below this, loadtxt's lower start-up cost wins (serving's one-row requests)
_ARROW_CSV_OPTIONS: tuple[Any, Any, Any] | None = None
_ARROW_PLAIN_BYTES = b"0123456789.eE+-, \r\n"


def _one_row_csv(data: bytes) -> np.ndarray | None:
    """One record of plain decimals (an endpoint's usual request) read with `float`, the conversion loadtxt's
    parser also uses (`PyOS_string_to_double`), into loadtxt's shape: (n,), or () for one value. None for
    anything else (several lines, empty fields, other bytes), which the loadtxt path decides; about 3x faster
    than loadtxt's set-up for a 10-value row."""
    line = data.rstrip(b"\r\n")
    if not line or b"\n" in line or line.translate(None, _ARROW_PLAIN_BYTES):
        return None
    try:
        values = [float(value) for value in line.split(b",")]
    except ValueError:
        return None
    array = np.array(values, dtype=np.float64)
    return array.reshape(()) if len(values) == 1 else array


def _csv_to_numpy_arrow(data: bytes) -> np.ndarray | None:
    """A large all-numeric payload (batch transform's MultiRecord requests) parsed by pyarrow's multi-threaded
    CSV reader, giving the array `np.loadtxt(dtype=float64)` gives; None whenever the two could disagree.

    Both parse each decimal to the correctly rounded float64, and loadtxt squeezes unit axes (a one-column
    payload is 1-D), which is repeated here. Anything but plain decimals goes the loadtxt way: a payload with
    any other byte (comments, quotes, hex, `nan`/`inf`, words), and every payload Arrow reads as other than
    integers and floats or with a missing value (empty fields are nulls, ragged rows an error).
    """
    if data.translate(None, _ARROW_PLAIN_BYTES):
        return None  # a byte beyond plain decimals (hex, quotes, comments, words): loadtxt's rules decide
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    global _ARROW_CSV_OPTIONS
    if _ARROW_CSV_OPTIONS is None:
        _ARROW_CSV_OPTIONS = (pa_csv.ReadOptions(autogenerate_column_names=True),
                              pa_csv.ParseOptions(delimiter=","), pa_csv.ConvertOptions(strings_can_be_null=True))
    read, parse, convert = _ARROW_CSV_OPTIONS
    try:
        table = pa_csv.read_csv(pa.py_buffer(data), read_options=read, parse_options=parse, convert_options=convert)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    columns = table.columns
    if not columns or table.num_rows == 0 or any(
        column.null_count or not (pa.types.is_integer(column.type) or pa.types.is_floating(column.type))
        for column in columns
    ):
        return None
    array = np.empty((table.num_rows, len(columns)), dtype=np.float64)
    for index, column in enumerate(columns):
        array[:, index] = column.to_numpy()
    return array.squeeze() if 1 in array.shape else array


def default_predict_fn(data: Any, model: Any) -> Any:
    predict = getattr(model, "predict", None)
    if predict is None:
        raise TypeError(
            f"the model returned by model_fn ({type(model).__name__}) has no predict method; "
            "define predict_fn(data, model) in the inference script"
        )
    return predict(data)


def default_output_fn(prediction: Any, accept: str) -> tuple[bytes, str]:
    """Encode with the first Accept type we support; `*/*` inside a list means the default JSON."""
    kind = _encodable_kind(accept)
    if kind is None:
        raise UnsupportedContentTypeError("Accept", accept, ENCODABLE_TYPES)
    return (_array_to_csv(prediction) if kind == CSV else encode(prediction, kind)), kind


@functools.lru_cache(maxsize=256)
def _encodable_kind(accept: str) -> str | None:
    for candidate in accept.split(","):
        kind = media_type(candidate)
        if kind == ANY:
            kind = JSON
        if kind in ENCODABLE_TYPES:
            return kind
    return None


def encode(prediction: Any, kind: str) -> bytes:
    """ITK's encoders: JSON via `tolist`, CSV as `np.savetxt(fmt="%s")` (one row per line), NPY via `np.save`."""
    if kind == JSON:
        return json.dumps(prediction, default=_json_default).encode("utf-8")
    if kind == CSV:
        return _array_to_csv(prediction)
    if kind == NPY:
        buffer = io.BytesIO()
        np.save(buffer, np.asarray(prediction), allow_pickle=False)
        return buffer.getvalue()
    raise UnsupportedContentTypeError("Accept", kind, ENCODABLE_TYPES)


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable; return lists or numpy arrays from predict_fn")


def _array_to_csv(prediction: Any) -> bytes:
    """Byte-for-byte what `np.savetxt(fmt="%s", delimiter=",")` writes, without its per-row Python loop.

    numpy's `astype(str)` renders each number exactly as `"%s" % numpy_scalar` does, in C.
    """
    array = np.asarray(prediction)
    if array.dtype.kind in "biuf" and array.ndim in (1, 2):
        if array.size == 0:
            return b""
        if array.dtype == np.float64 or array.dtype.kind in "biu":
            # Python's repr of a float/int is numpy's str of a float64/int scalar (shortest round trip),
            # and `map(str, tolist())` is ~1.6x faster than `astype(str)`.
            rows: Any = array.tolist()
            if array.ndim == 1:
                return ("\n".join(map(str, rows)) + "\n").encode("utf-8")
            return ("\n".join(",".join(map(str, row)) for row in rows) + "\n").encode("utf-8")
        text = array.astype(str)  # float16/float32: numpy's own shortest repr at that precision
        if array.ndim == 1:
            return ("\n".join(text.tolist()) + "\n").encode("utf-8")
        return ("\n".join(",".join(row) for row in text.tolist()) + "\n").encode("utf-8")
    stream = io.StringIO()
    np.savetxt(stream, array, delimiter=",", fmt="%s")
    return stream.getvalue().encode("utf-8")


def _as_bytes(data: str | bytes) -> bytes:
    return data.encode("utf-8") if isinstance(data, str) else bytes(data)


# ---- the loaded handler -------------------------------------------------------------------------


class InferenceHandler:
    """One loaded model plus its request pipeline; `invoke` is what `POST /invocations` does."""

    def __init__(
        self,
        *,
        model: Any,
        module_path: Path,
        default_accept: str,
        transform_fn: Callable[..., Any] | None,
        input_fn: Callable[..., Any],
        predict_fn: Callable[..., Any],
        output_fn: Callable[..., Any],
        execution_parameters_fn: Callable[[], Any] | None = None,
    ):
        self.model = model
        self.module_path = module_path
        self.default_accept = default_accept
        self._transform_fn = transform_fn
        self._input_fn = input_fn
        self._predict_fn = predict_fn
        self._output_fn = output_fn
        self._execution_parameters_fn = execution_parameters_fn
        self._user_decodes = transform_fn is not None or input_fn is not default_input_fn
        self._where = {name: f"{module_path.name}: {name}" for name in ("transform_fn", "output_fn")}

    @property
    def uses_transform_fn(self) -> bool:
        return self._transform_fn is not None

    def resolve_accept(self, accept: str | None) -> str:
        """No Accept, or `*/*`, means the container's default accept (ITK and sagemaker-containers alike)."""
        accept = (accept or "").strip()
        return self.default_accept if not accept or accept == ANY else accept

    def execution_parameters(self) -> dict[str, Any] | None:
        """What `GET /execution-parameters` answers: the script's `execution_parameters_fn()` as a JSON object.

        SKC serves the route only when the script defines the function (a Flask view: no arguments, usually
        returning a JSON Response); without it SageMaker's batch transform falls back to its defaults (None).
        """
        if self._execution_parameters_fn is None:
            return None
        where = f"{self.module_path.name}: {EXECUTION_PARAMETERS_FN}"
        body, _ = response_body(self._execution_parameters_fn(), JSON, where)
        try:
            parameters = json.loads(body)
        except ValueError as e:
            raise InvalidResponseError(f"{where} answered {body[:100]!r}, which is not JSON; return e.g. "
                                       'flask.Response(json.dumps({"BatchStrategy": "MULTI_RECORD"}), '
                                       'mimetype="application/json")') from e
        if not isinstance(parameters, dict):
            raise InvalidResponseError(f"{where} answered {type(parameters).__name__} JSON; it must be an object "
                                       "with MaxConcurrentTransforms, BatchStrategy and/or MaxPayloadInMB")
        return parameters

    def invoke(self, body: bytes, content_type: str, accept: str | None) -> tuple[bytes, str]:
        """Run one request; returns the response body and its content type.

        Errors from user code propagate unchanged (a server maps them to 500); unsupported content types
        raise `UnsupportedContentTypeError` (415).
        """
        accept = (accept or "").strip()
        if not accept or accept == ANY:  # resolve_accept, inline: this runs on every request
            accept = self.default_accept
        content_type = content_type or DEFAULT_CONTENT_TYPE
        data: str | bytes = body
        if self._user_decodes and media_type(content_type) in UTF8_TYPES:
            data = bytes(body).decode("utf-8")  # user code gets str, as in ITK; the default decoder takes bytes
        if self._transform_fn is not None:
            return response_body(self._transform_fn(self.model, data, content_type, accept), accept,
                                 self._where["transform_fn"])
        prediction = self._predict_fn(self._input_fn(data, content_type), self.model)
        if self._output_fn is default_output_fn:
            return default_output_fn(prediction, accept)  # (bytes, media type) by construction
        return response_body(self._output_fn(prediction, accept), accept, self._where["output_fn"])


# ---- loading ------------------------------------------------------------------------------------


def load_handler(
    model_dir: Path,
    code_dir: Path | None = None,
    program: str | None = None,
    *,
    default_accept: str | None = None,
    check_requirements: bool = True,
) -> InferenceHandler:
    """Import the user's inference script and call its `model_fn`, as a framework container does at start.

    `code_dir` is `SAGEMAKER_SUBMIT_DIRECTORY` already made local (default `<model_dir>/code`); `program` is
    `SAGEMAKER_PROGRAM` (default `inference.py`). `default_accept` overrides
    `$SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT` (read now, at load, as ITK reads its environment once).
    """
    model_dir = Path(model_dir)
    code_dir = Path(code_dir) if code_dir is not None else model_dir / "code"
    module_path = _resolve_program(code_dir, program)
    if check_requirements and (code_dir / "requirements.txt").is_file():
        check_requirements_file(code_dir / "requirements.txt")
    accept = default_accept or os.environ.get(DEFAULT_ACCEPT_ENV) or DEFAULT_ACCEPT
    context = Context(model_dir=str(model_dir), system_properties={"model_dir": str(model_dir), "gpu_id": None})

    with _import_lock:
        before = set(sys.modules)
        sys.path.insert(0, str(code_dir))
        try:
            module = _import_user_module(module_path)
            functions = _handler_functions(module, module_path, context)
            try:
                model = functions["model_fn"](str(model_dir))
            except Exception as e:
                raise HandlerLoadError(
                    f"{module_path}: model_fn({str(model_dir)!r}) failed: {type(e).__name__}: {e}"
                ) from e
        finally:
            _forget_code_dir(code_dir, before)
    return InferenceHandler(
        model=model,
        module_path=module_path,
        default_accept=accept,
        transform_fn=functions.get("transform_fn"),
        input_fn=functions.get("input_fn", default_input_fn),
        predict_fn=functions.get("predict_fn", default_predict_fn),
        output_fn=functions.get("output_fn", default_output_fn),
        execution_parameters_fn=functions.get(EXECUTION_PARAMETERS_FN),
    )


def _resolve_program(code_dir: Path, program: str | None) -> Path:
    name = (program or DEFAULT_PROGRAM).strip()
    if not name.endswith(".py"):
        name += ".py"
    candidate = Path(name)
    if candidate.is_absolute() or ".." in candidate.parts:
        raise HandlerLoadError(
            f"SAGEMAKER_PROGRAM={program!r} must be a file name relative to the code directory {code_dir}"
        )
    path = code_dir / candidate
    if not path.is_file():
        present = sorted(p.name for p in code_dir.glob("*.py")) if code_dir.is_dir() else []
        where = f"the directory holds {', '.join(present)}" if present else f"{code_dir} has no Python files"
        raise HandlerLoadError(
            f"no inference script at {path} ({where}). Put the handler in code/{name} inside model.tar.gz, "
            "or point SAGEMAKER_SUBMIT_DIRECTORY / SAGEMAKER_PROGRAM at it"
        )
    return path


def _import_user_module(path: Path) -> ModuleType:
    """Import under a name unique to this load, so two handlers' `inference.py` never share a module."""
    stem = re.sub(r"\W", "_", path.stem)
    name = f"smflow_user_handler_{next(_module_counter)}_{stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise HandlerLoadError(f"{path}: cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # classes defined there must stay picklable / resolvable
    try:
        spec.loader.exec_module(module)
    except Exception as e:
        del sys.modules[name]
        raise HandlerLoadError(f"{path}: importing the inference script failed: {type(e).__name__}: {e}") from e
    return module


def _forget_code_dir(code_dir: Path, before: set[str]) -> None:
    """Take the code dir off sys.path and drop sibling modules imported from it.

    A second handler with its own `utils.py` must import its own file, not find ours cached in
    `sys.modules`. The user module keeps its references, so top-level imports keep working; an import
    *inside* a handler function at request time should name installed packages only.
    """
    root = str(code_dir)
    if root in sys.path:
        sys.path.remove(root)
    resolved = code_dir.resolve()
    for name in set(sys.modules) - before:
        if name.startswith("smflow_user_handler_"):
            continue
        origin = getattr(sys.modules[name], "__file__", None)
        if origin and Path(origin).resolve().is_relative_to(resolved):
            del sys.modules[name]


def _handler_functions(module: ModuleType, path: Path, context: Context) -> dict[str, Callable[..., Any]]:
    found = {name: getattr(module, name) for name in _HANDLER_NAMES if callable(getattr(module, name, None))}
    if "model_fn" not in found:
        raise HandlerLoadError(
            f"{path} defines no model_fn(model_dir). SageMaker's framework containers require it to load the "
            "model, e.g. `def model_fn(model_dir): return joblib.load(os.path.join(model_dir, 'model.joblib'))`"
        )
    mixed = sorted({"input_fn", "predict_fn", "output_fn"} & found.keys())
    if "transform_fn" in found and mixed:
        raise HandlerLoadError(
            f"{path} defines transform_fn together with {', '.join(mixed)}; SageMaker rejects that mix. "
            "Keep transform_fn alone, or replace it with input_fn/predict_fn/output_fn"
        )
    return {name: _with_optional_context(name, fn, path, context) for name, fn in found.items()}


def _with_optional_context(
    name: str, fn: Callable[..., Any], path: Path, context: Context
) -> Callable[..., Any]:
    """Decide once, as ITK does by counting parameters, whether the function also takes `context`."""
    expected = _SIGNATURES[name]
    try:
        count = len(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return fn
    if count == len(expected):
        return fn
    if name == EXECUTION_PARAMETERS_FN:  # SKC calls it as a Flask view: never with a context
        raise HandlerLoadError(f"{path}: {name} takes {count} parameters; SageMaker's scikit-learn container "
                               f"calls it with none: def {name}(): ...")
    if count == len(expected) + 1:
        return lambda *args: fn(*args, context)
    raise HandlerLoadError(
        f"{path}: {name} takes {count} parameters; it must take ({', '.join(expected)}) "
        f"or ({', '.join(expected)}, context)"
    )


# ---- requirements -------------------------------------------------------------------------------


def check_requirements_file(path: Path) -> None:
    """Fail clearly when `requirements.txt` is not satisfied here.

    SageMaker pip-installs it when the container starts; the local executor runs in smflow's own
    environment and must not install packages behind the user's back, so it reports what to install.
    """
    problems = list(_unsatisfied(path, seen=set()))
    if problems:
        listing = "\n".join(f"  {p}" for p in problems)
        raise RequirementsNotSatisfiedError(
            f"{path}: requirements not satisfied in this environment:\n{listing}\n"
            f"SageMaker installs these at container start; locally, install them into smflow's environment: "
            f"{sys.executable} -m pip install -r {path}"
        )


def _unsatisfied(path: Path, seen: set[Path]) -> list[str]:
    from smflow.local_sagemaker.requirements import requirement_problems

    return requirement_problems(path, seen)
