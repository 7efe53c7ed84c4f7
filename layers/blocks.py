"""Walking a grid block by block, so that no step needs the whole grid in memory.

Grids may be larger than memory (a province at 10 m, a county at 1 m): their
arrays are then :class:`numpy.memmap` files, and every function that
summarises or polygonises them reads one block at a time. The block layout is
fixed (:data:`BLOCK_PX`), never taken from how a grid was computed, so a
summary is the same whether the grid came from one process or from a cluster
window by window.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import DTypeLike, NDArray

from layers.errors import ParameterError

#: edge of the blocks summaries walk, pixels (a float32 block is 4 MiB)
BLOCK_PX = 1024


@dataclass(frozen=True)
class Window:
    """Rows ``row0:row1`` and columns ``col0:col1`` of a grid."""

    row0: int
    row1: int
    col0: int
    col1: int

    @property
    def shape(self) -> tuple[int, int]:
        return (self.row1 - self.row0, self.col1 - self.col0)

    @property
    def slices(self) -> tuple[slice, slice]:
        """``(rows, cols)`` to index a 2-D array with."""
        return slice(self.row0, self.row1), slice(self.col0, self.col1)

    def grow(self, margin: int, shape: tuple[int, int]) -> Window:
        """This window widened by ``margin`` pixels each side, within a grid of ``shape``."""
        return Window(
            max(0, self.row0 - margin),
            min(shape[0], self.row1 + margin),
            max(0, self.col0 - margin),
            min(shape[1], self.col1 + margin),
        )

    def within(self, outer: Window) -> tuple[slice, slice]:
        """This window's place inside ``outer`` (which contains it)."""
        r, c = self.row0 - outer.row0, self.col0 - outer.col0
        return slice(r, r + self.shape[0]), slice(c, c + self.shape[1])

    def __str__(self) -> str:
        return f"rows {self.row0}:{self.row1}, cols {self.col0}:{self.col1}"


def windows(shape: tuple[int, int], size: int = BLOCK_PX) -> list[Window]:
    """The grid cut into ``size`` x ``size`` windows (smaller at the right and bottom)."""
    if size < 1:
        raise ParameterError(f"window size must be ≥ 1 pixel, got {size}")
    h, w = shape
    return [
        Window(r, min(r + size, h), c, min(c + size, w))
        for r in range(0, h, size)
        for c in range(0, w, size)
    ]


def disk_array(
    path: Path, shape: tuple[int, ...], dtype: DTypeLike, fill: float | int
) -> NDArray[np.generic]:
    """A new array of ``shape`` backed by the file ``path`` (``.npy``), filled with ``fill``.

    The operating system pages it in and out, so a process can write a grid
    larger than its memory window by window.
    """
    arr = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=shape)
    rows = max(1, (BLOCK_PX * BLOCK_PX) // max(1, int(np.prod(shape[1:]))))
    for r in range(0, shape[0], rows):  # filled a slab at a time, not through one temporary
        arr[r : r + rows] = fill
    return arr


def _sortable(values: NDArray[np.floating]) -> NDArray[np.uint32]:
    """float32 values as unsigned keys in the same order (IEEE 754 sign-magnitude flipped)."""
    bits = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32)
    return np.where(bits & np.uint32(0x80000000), ~bits, bits | np.uint32(0x80000000))


def exact_median(parts: Callable[[], Iterable[NDArray[np.floating]]]) -> float | None:
    """The median of all values ``parts()`` yields, as :func:`numpy.median` gives it.

    Two passes over the parts (``parts`` is called twice): a histogram of the
    values' top 16 bits finds which bins hold the middle ranks, then only the
    values of those bins are kept and ranked. Memory: 65,536 counters plus one
    or two bins. Values are compared as float32; None when there are none.
    """
    hist = np.zeros(1 << 16, dtype=np.int64)
    for v in parts():
        if v.size:
            hist += np.bincount(_sortable(v.ravel()) >> 16, minlength=1 << 16)
    n = int(hist.sum())
    if n == 0:
        return None
    cum = np.cumsum(hist)
    ranks = sorted({(n - 1) // 2, n // 2})
    bins = {int(np.searchsorted(cum, k, side="right")) for k in ranks}
    kept: dict[int, list[NDArray[np.floating]]] = {b: [] for b in bins}
    for v in parts():
        if not v.size:
            continue
        flat = np.ascontiguousarray(v.ravel(), dtype=np.float32)
        top = _sortable(flat) >> 16
        for b in bins:
            kept[b].append(flat[top == b])
    middle = []
    for k in ranks:
        b = int(np.searchsorted(cum, k, side="right"))
        below = int(cum[b - 1]) if b else 0
        values = np.sort(np.concatenate(kept[b]))
        middle.append(values[k - below])
    return float(np.mean(np.asarray(middle, dtype=np.float32)))


__all__ = ["BLOCK_PX", "Window", "disk_array", "exact_median", "windows"]
