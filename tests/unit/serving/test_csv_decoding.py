"""The default CSV decoder's two parsers (numpy's loadtxt, pyarrow for large payloads) give the same array."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smflow.serving.handler import (
    _ARROW_MIN_BYTES,
    _csv_to_numpy,
    _csv_to_numpy_arrow,
    _one_row_csv,
    default_input_fn,
)


def _loadtxt(data: bytes) -> np.ndarray | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        try:
            return np.loadtxt(io.BytesIO(data), delimiter=",", dtype=np.float64, encoding="utf-8")
        except ValueError:
            return None


FIELD = st.one_of(
    st.floats(allow_nan=False, width=64).map(repr),
    st.integers(-(2**70), 2**70).map(str),
    st.sampled_from(["", "nan", "inf", "-inf", "1e400", " 1.5", "+2", "true", "a", "1_0", '"3"', "#4", "0x10"]),
)


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.lists(st.lists(FIELD, min_size=1, max_size=4), min_size=1, max_size=6),
       st.sampled_from(["\n", "\r\n"]))
def test_arrow_parser_agrees_with_loadtxt_or_declines(rows: list[list[str]], newline: str) -> None:
    data = newline.join(",".join(row) for row in rows).encode() + newline.encode()
    arrow = _csv_to_numpy_arrow(data)
    if arrow is None:
        return  # declined: the loadtxt path decides, as before
    reference = _loadtxt(data)
    assert reference is not None, f"arrow parsed what loadtxt rejects: {data!r}"
    assert arrow.shape == reference.shape and arrow.dtype == reference.dtype
    assert np.array_equal(arrow, reference, equal_nan=True), data


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.lists(FIELD, min_size=1, max_size=12), st.sampled_from(["", "\n", "\r\n", "\n\n"]))
def test_one_row_parser_agrees_with_loadtxt_or_declines(fields: list[str], end: str) -> None:
    data = ",".join(fields).encode() + end.encode()
    fast = _one_row_csv(data)
    if fast is None:
        return
    reference = _loadtxt(data)
    assert reference is not None, f"the one-row parser read what loadtxt rejects: {data!r}"
    assert fast.shape == reference.shape and fast.dtype == reference.dtype
    assert np.array_equal(fast, reference, equal_nan=True), data


def test_large_payload_goes_through_arrow_and_matches() -> None:
    rng = np.random.default_rng(0)
    buffer = io.BytesIO()
    np.savetxt(buffer, rng.normal(size=(5000, 7)), delimiter=",", fmt="%.6f")
    data = buffer.getvalue()
    assert len(data) >= _ARROW_MIN_BYTES
    assert _csv_to_numpy_arrow(data) is not None
    np.testing.assert_array_equal(_csv_to_numpy(data), _loadtxt(data))
    decoded = default_input_fn(data, "text/csv")
    assert decoded.dtype == np.float32 and decoded.shape == (5000, 7)


@pytest.mark.parametrize("data", [b"1,2\n3,4\n", b"1\n2\n3\n", b"1,2,3\n", b"5\n"])
def test_unit_axes_are_squeezed_as_loadtxt_does(data: bytes) -> None:
    arrow = _csv_to_numpy_arrow(data)
    reference = _loadtxt(data)
    assert arrow is not None and reference is not None and arrow.shape == reference.shape


@pytest.mark.parametrize("data", [b"1,nan\n2,3\n", b"1,,3\n", b"a,b\n1,2\n", b"1,2\n3\n", b'"1",2\n', b"#c\n1,2\n"])
def test_payloads_loadtxt_treats_specially_are_declined(data: bytes) -> None:
    assert _csv_to_numpy_arrow(data) is None
