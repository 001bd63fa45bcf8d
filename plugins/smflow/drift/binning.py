"""Bin a numeric column on fixed edges: the one hot loop of drift, so it has its own module.

A value's bin is the number of edges at or below it (`np.searchsorted(edges, x, "right")`): bin 0 is below
the first edge, bin i is [edge[i-1], edge[i]), the last bin is at or above the last edge. A binary search
per value costs ~30 ns; `bin_counts` first looks each value up in a uniform grid laid over the edges (one
multiply and one table read), then steps past the few edges that share its grid cell, which gives the same
bins about three times faster. Edges crowded into one cell (a very heavy tail) fall back to the binary
search.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# Grid cells per edge; at most this many steps past edges sharing a cell before the binary search wins.
_CELLS_PER_EDGE = (64, 512, 4096)
_MAX_STEPS = 2


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
            if not np.isfinite(scale):
                return
            edge_cells = self._cells(self.edges, scale, cells)
            steps = int(np.bincount(edge_cells).max())
            if steps <= _MAX_STEPS:
                # base[c]: edges in cells below c — all <= any value in cell c, since the cell formula is
                # monotone in the value (float subtraction and multiplication by a positive number are).
                self.base = np.searchsorted(edge_cells, np.arange(cells + 2), "left").astype(np.int64)
                self.scale, self.steps, self.cells = scale, steps, cells
                return

    def _cells(self, values: FloatArray, scale: float, cells: int) -> IntArray:
        """Cell 0 below the first edge, 1..cells over the span, cells+1 from the last edge up."""
        position = values - self.lo
        position *= scale
        position += 1.0
        np.clip(position, 0.0, cells + 1, out=position)
        return position.astype(np.int64)

    def bins(self, values: FloatArray) -> IntArray:
        """Each finite value's bin (as `np.searchsorted(edges, values, "right")`)."""
        if self.steps < 0:
            return np.searchsorted(self.edges, values, "right").astype(np.int64)
        index = self.base[self._cells(values, self.scale, self.cells)]
        for _ in range(self.steps):
            index += values >= self.padded[index]
        return index

    def counts(self, values: FloatArray) -> IntArray:
        """How many finite values fall in each of the len(edges)+1 bins."""
        return np.bincount(self.bins(values), minlength=len(self.edges) + 1).astype(np.int64)


def bin_counts(edges: FloatArray, values: FloatArray) -> IntArray:
    """Counts of finite `values` in the len(edges)+1 bins of `edges` (see the module docstring)."""
    return EdgeGrid(edges).counts(values)
