"""Array ↔ payload encodings for JSON, CSV and NPY, as sagemaker-containers' `encoders` module does them."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import numpy as np

from . import content_types


class UnsupportedFormatError(Exception):
    """A content type the default encoders do not handle (the serving layer answers 415)."""

    def __init__(self, content_type: str, **kwargs: Any):
        self.content_type = content_type
        super().__init__(f"Content type {content_type} is not supported by this framework.", **kwargs)


def array_to_npy(array_like: Any) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array_like))
    return buffer.getvalue()


def npy_to_numpy(npy_array: bytes) -> np.ndarray:
    return np.load(io.BytesIO(npy_array), allow_pickle=True)


def array_to_json(array_like: Any) -> str:
    def default(value: Any) -> Any:
        if hasattr(value, "tolist"):
            return value.tolist()
        return json.JSONEncoder().default(value)

    return json.dumps(array_like, default=default)


def json_to_numpy(string_like: str | bytes, dtype: Any = None) -> np.ndarray:
    return np.array(json.loads(string_like), dtype=dtype)


def csv_to_numpy(string_like: str | bytes, dtype: Any = None) -> np.ndarray:
    text = string_like.decode("utf-8") if isinstance(string_like, bytes) else string_like
    return np.genfromtxt(io.StringIO(text), dtype=dtype, delimiter=",")


def array_to_csv(array_like: Any) -> str:
    buffer = io.StringIO()
    np.savetxt(buffer, np.asarray(array_like), delimiter=",", fmt="%s")
    return buffer.getvalue()


_DECODERS: dict[str, Callable[..., Any]] = {
    content_types.JSON: json_to_numpy, content_types.CSV: csv_to_numpy, content_types.NPY: npy_to_numpy}
_ENCODERS: dict[str, Callable[..., Any]] = {
    content_types.JSON: array_to_json, content_types.CSV: array_to_csv, content_types.NPY: array_to_npy}


def decode(obj: Any, content_type: str) -> np.ndarray:
    try:
        return _DECODERS[content_type](obj)
    except KeyError as e:
        raise UnsupportedFormatError(content_type) from e


def encode(array_like: Any, content_type: str) -> Any:
    try:
        return _ENCODERS[content_type](array_like)
    except KeyError as e:
        raise UnsupportedFormatError(content_type) from e
