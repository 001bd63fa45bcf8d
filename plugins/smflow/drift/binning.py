"""Bin a numeric column on fixed edges, with its moments: the one hot loop of drift, so it has its own module.

A value's bin is the number of edges at or below it (`np.searchsorted(edges, x, "right")`): bin 0 is below
the first edge, bin i is [edge[i-1], edge[i]), the last bin is at or above the last edge. A binary search
per value costs ~30 ns; `EdgeGrid` first looks each value up in a uniform grid laid over the edges (one
multiply and one table read), then steps past the few edges that share its grid cell, which gives the same
bins several times faster. Edges crowded into one cell (a very heavy tail) fall back to the binary search.

Every temporary lives in per-thread scratch buffers reused from column to column and chunk to chunk:
allocating fresh megabyte arrays per column cost more than the arithmetic (each one is new pages from the
kernel: a 125k-value column binned in 1.7 ms with fresh arrays, 0.6 ms without).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# Grid cells per edge tried in turn; at most _MAX_STEPS edges may share a cell before the binary search wins.
_CELLS_PER_EDGE = (64, 512, 4096)
_MAX_STEPS = 2


class _Scratch(threading.local):
    """One thread's reusable buffers, grown to the largest column seen."""

    def __init__(self) -> None:
        self.size = 0
        self.floats = np.zeros(0)
        self.floats2 = np.zeros(0)
        self.ints = np.zeros(0, dtype=np.int64)
        self.bins = np.zeros(0, dtype=np.int64)
        self.mask = np.zeros(0, dtype=bool)

    def ensure(self, n: int) -> None:
        if n > self.size:
            self.size = n
            self.floats, self.floats2 = np.empty(n), np.empty(n)
            self.ints, self.bins = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
            self.mask = np.empty(n, dtype=bool)


_SCRATCH = _Scratch()


@dataclass(frozen=True)
class Binned:
    """Counts per bin plus the moments of the finite values binned."""

    counts: IntArray
    below_sum: float  # sum of the values below the first edge
    above_sum: float  # sum of the values at or above the last edge
    mean: float
    std: float
    min: float
    max: float


class EdgeGrid:
    """A lookup grid for one set of edges, built once per feature and reused for every chunk."""

    def __init__(self, edges: FloatArray) -> None:
        self.edges = np.asarray(edges, dtype=np.float64)
        self.lo = float(self.edges[0]) if len(self.edges) else 0.0
        self.steps = -1
        self.base: IntArray = np.zeros(0, dtype=np.int64)
        self.scale = 0.0
        self.cells = 0
        self.padded = np.append(self.edges, np.inf)
        if len(self.edges) < 3:
            return
        span = float(self.edges[-1] - self.edges[0])
        if not np.isfinite(span) or span <= 0:
            return
        for per_edge in _CELLS_PER_EDGE:
            cells = per_edge * len(self.edges)
            scale = cells / span
            if not all(math.isfinite(v) for v in (scale, self.lo * scale, float(self.edges[-1]) * scale)):
                return  # values near the float limits: the binary search
            edge_cells = self._cells(self.edges, scale, cells, np.empty(len(self.edges)),
                                     np.empty(len(self.edges), dtype=np.int64))
            steps = int(np.bincount(edge_cells).max())
            if steps <= _MAX_STEPS:
                # base[c]: edges in cells below c — all <= any value in cell c, since the cell formula is
                # monotone in the value (float subtraction and multiplication by a positive number are).
                self.base = np.searchsorted(edge_cells, np.arange(cells + 2), "left").astype(np.int64)
                self.scale, self.steps, self.cells = scale, steps, cells
                return

    def _cells(self, values: FloatArray, scale: float, cells: int, position: FloatArray,
               out: IntArray) -> IntArray:
        """Cell 0 below the first edge, 1..cells over the span, cells+1 from the last edge up."""
        # (x − lo)·scale + 1 as x·scale + (1 − lo·scale): one pass fewer, and still monotone in x.
        with np.errstate(over="ignore"):  # a value far outside the edges may overflow to ±inf: still its cell
            np.multiply(values, scale, out=position)
            np.add(position, 1.0 - self.lo * scale, out=position)
        np.clip(position, 0.0, float(cells + 1), out=position)
        np.copyto(out, position, casting="unsafe")
        return out

    def bins(self, values: FloatArray) -> IntArray:
        """Each finite value's bin (as `np.searchsorted(edges, values, "right")`); a new array."""
        return self._bins(values).copy()

    def _bins(self, values: FloatArray) -> IntArray:
        """The bins in this thread's scratch buffer (valid until its next use)."""
        n = len(values)
        _SCRATCH.ensure(n)
        bins = _SCRATCH.bins[:n]
        if self.steps < 0:
            bins[:] = np.searchsorted(self.edges, values, "right")
            return bins
        cells = self._cells(values, self.scale, self.cells, _SCRATCH.floats[:n], _SCRATCH.ints[:n])
        np.take(self.base, cells, out=bins, mode="clip")  # mode=raise would buffer `out`
        edge, above = _SCRATCH.floats[:n], _SCRATCH.mask[:n]
        for _ in range(self.steps):
            np.take(self.padded, bins, out=edge, mode="clip")
            np.greater_equal(values, edge, out=above)
            np.add(bins, above, out=bins)
        return bins

    def counts(self, values: FloatArray) -> IntArray:
        """How many finite values fall in each of the len(edges)+1 bins."""
        return np.bincount(self._bins(values), minlength=len(self.edges) + 1).astype(np.int64)

    def summarise(self, values: FloatArray) -> Binned:
        """Counts, sums outside the edges and moments of finite `values` (at least one)."""
        n = len(values)
        counts = self.counts(values)
        mask = _SCRATCH.mask[:n]
        below = above = 0.0
        with np.errstate(invalid="ignore", over="ignore"):
            if counts[0]:
                np.less(values, self.edges[0], out=mask)
                below = float(np.sum(values, where=mask))
            if counts[-1]:
                np.greater_equal(values, self.edges[-1], out=mask)
                above = float(np.sum(values, where=mask))
            mean, std = moments(values)
        return Binned(counts, below, above, mean, std, float(values.min()), float(values.max()))


def moments(values: FloatArray) -> tuple[float, float]:
    """Mean and population std (two passes, no temporaries beyond this thread's scratch); may be ±inf/NaN
    for values near the float limits."""
    n = len(values)
    _SCRATCH.ensure(n)
    with np.errstate(invalid="ignore", over="ignore"):
        mean = float(values.sum()) / n
        deviation = _SCRATCH.floats2[:n]
        np.subtract(values, mean, out=deviation)
        np.multiply(deviation, deviation, out=deviation)
        variance = float(deviation.sum()) / n
    return mean, math.sqrt(variance) if variance >= 0 else math.nan


def bin_counts(edges: FloatArray, values: FloatArray) -> IntArray:
    """Counts of finite `values` in the len(edges)+1 bins of `edges` (see the module docstring)."""
    return EdgeGrid(edges).counts(values)
