"""Compiled (numba) loops of the MVT encoder: geometry commands, varints, feature framing.

A tile of a few features spends its time in per-call overhead, not in
arithmetic: the numpy formulation in :mod:`tiles._mvt_geometry` makes some
fifty array calls per layer whatever its size. These kernels do the same work
in a handful of compiled calls and write the protobuf bytes directly.

Their output is byte for byte that of the numpy path (a test holds them to
it): the same vertex dropping (repeated vertices, a ring's closing vertex,
rings that collapse or have no area), the same ring orientation, the same
layout of features and tags.

The kernels are written as plain Python over numpy arrays, and each public one
is a :class:`Kernel` that runs them interpreted until a process has handed
them :data:`INTERPRETED_WORK` array elements in all, then compiled: numba
costs most of a second to import and load from its cache, which a command
tiling ten points (``twin export`` of a tiny layer) would otherwise pay many
times over. :func:`load_compiled` switches at once (the server does as it
starts, ``twin export`` before it forks its workers). Compiled code is cached
on disk (``cache=True``) next to this file or, where that is read-only, in
numba's user cache directory (``NUMBA_CACHE_DIR`` chooses another); the first
load on a fresh machine compiles for a few seconds, later ones read the cache.
Both ways write the same bytes (a test holds them to it).
"""

from __future__ import annotations

import sys
import threading
import types
from collections.abc import Callable
from typing import Any

import numpy as np

#: array elements (summed over a call's array arguments) the kernels take interpreted in
#: a process before numba is loaded: about a tenth of a second (some 3 µs an element)
INTERPRETED_WORK = 50_000

_budget = INTERPRETED_WORK
_compiled: dict[str, Callable[..., Any]] | None = None
_compile_lock = threading.Lock()


def _import_numba() -> None:
    """Import numba's array support without its check for scipy's BLAS.

    The first kernel numba compiles or loads from its cache imports
    ``numba.np.arraymath``, which checks once whether ``np.dot`` may call
    scipy's BLAS by importing ``scipy.linalg``: a fifth of a second, a third of
    numba's start-up. These kernels do no linear algebra, so the check is
    answered "no" (numba's ``np.dot`` and ``np.correlate`` in this process then
    use its own loops; its ``np.linalg`` functions still import scipy when
    compiled). With scipy already imported, or a numba without this check,
    nothing is skipped.
    """
    if "numba.np.arraymath" in sys.modules or "scipy.linalg" in sys.modules:
        return
    import numba.np.linalg as linalg

    ensure_blas = getattr(linalg, "ensure_blas", None)

    def no_blas() -> None:
        raise ImportError("not needed by the MVT kernels")

    if ensure_blas is None:
        return
    linalg.ensure_blas = no_blas
    try:
        import numba.np.arraymath as arraymath
    finally:
        linalg.ensure_blas = ensure_blas
    if getattr(arraymath, "ensure_blas", None) is no_blas:
        arraymath.ensure_blas = ensure_blas


def _jit(func: Callable[..., Any]) -> Callable[..., Any]:
    """``numba.njit`` cached on disk, or compiled in each process where no cache dir is writable."""
    from numba import njit

    try:
        return njit(cache=True, nogil=True)(func)
    except RuntimeError:  # numba found no writable place for its cache
        return njit(nogil=True)(func)


def load_compiled() -> None:
    """Use the compiled kernels from now on in this process (and in the ones it forks).

    Each kernel is compiled, or read from numba's cache, at its first call with
    given argument types.
    """
    global _compiled
    with _compile_lock:
        if _compiled is not None:
            return
        _import_numba()
        # The same code with globals in which the helpers are compiled too, so that the
        # compiled kernels call compiled helpers and the interpreted ones plain functions.
        space = dict(globals())
        compiled = {}
        for name in (*_HELPERS, *KERNELS):
            func = _HELPERS.get(name) or KERNELS[name].python
            clone = types.FunctionType(func.__code__, space, func.__name__)
            clone.__qualname__ = func.__qualname__
            clone.__doc__ = func.__doc__
            compiled[name] = space[func.__name__] = _jit(clone)
        _compiled = {name: compiled[name] for name in KERNELS}


class Kernel:
    """A kernel: its plain Python function, run interpreted or compiled (see the module doc)."""

    def __init__(self, python: Callable[..., Any]) -> None:
        self.python = python
        self.name = python.__name__.lstrip("_")
        self.__doc__ = python.__doc__

    def __call__(self, *args: Any) -> Any:
        global _budget
        if _compiled is None:
            work = sum(a.size for a in args if isinstance(a, np.ndarray))
            if work <= _budget:
                _budget -= work
                return self.python(*args)
            load_compiled()
        assert _compiled is not None
        return _compiled[self.name](*args)

    def compiled(self, *args: Any) -> Any:
        """The compiled kernel's result (numba loaded first if need be)."""
        load_compiled()
        assert _compiled is not None
        return _compiled[self.name](*args)


POINT, LINESTRING, POLYGON = 1, 2, 3
MOVE_TO, LINE_TO, CLOSE_PATH = 1, 2, 7


def _put(buf: np.ndarray, pos: int, value: int) -> int:
    """Write ``value`` (>= 0) as a varint at ``pos``; the position after it."""
    v = np.uint64(value)
    while v >= np.uint64(0x80):
        buf[pos] = np.uint8((v & np.uint64(0x7F)) | np.uint64(0x80))
        v = v >> np.uint64(7)
        pos += 1
    buf[pos] = np.uint8(v)
    return pos + 1


def _size(value: int) -> int:
    v = np.uint64(value)
    n = 1
    while v >= np.uint64(0x80):
        v = v >> np.uint64(7)
        n += 1
    return n


def _zigzag(d: int) -> int:
    return (d << 1) ^ (d >> 63)


def _encode_paths(
    kind: int,
    coords: np.ndarray,
    path_start: np.ndarray,
    path_feature: np.ndarray,
    path_exterior: np.ndarray,
    out_kind: np.ndarray,
    out_begin: np.ndarray,
    out_end: np.ndarray,
    offset: int,
) -> np.ndarray:
    """Geometry commands of the features of one MVT ``kind``; their byte spans go to ``out_*``.

    Parameters
    ----------
    coords
        (V, 2) int64 vertices of every path, paths one after another; a ring
        includes its closing vertex, a point path is one geometry's points.
    path_start
        Where each path starts in ``coords``, plus one entry for the end.
    path_feature
        The feature of each path (non-decreasing).
    path_exterior
        For rings: whether the ring is its polygon's exterior.
    offset
        Added to the written spans (where this buffer will start in the joined one).

    Returns
    -------
    numpy.ndarray
        The packed command varints (uint8) of the drawn features.
    """
    n_paths = len(path_feature)
    buf = np.empty(10 * (2 * len(coords) + 3 * n_paths + 1), dtype=np.uint8)
    keep = np.empty(len(coords), dtype=np.int64)
    pos = 0
    p = 0
    while p < n_paths:
        f = path_feature[p]
        q = p
        while q < n_paths and path_feature[q] == f:
            q += 1
        begin = pos
        cx = 0
        cy = 0
        if kind == POINT:
            a, b = path_start[p], path_start[q]
            if b > a:
                pos = _put(buf, pos, MOVE_TO | ((b - a) << 3))
                for i in range(a, b):
                    pos = _put(buf, pos, _zigzag(coords[i, 0] - cx))
                    pos = _put(buf, pos, _zigzag(coords[i, 1] - cy))
                    cx, cy = coords[i, 0], coords[i, 1]
        else:
            part_ok = True
            for r in range(p, q):
                a, b = path_start[r], path_start[r + 1]
                if kind == POLYGON:
                    b -= 1  # the closing vertex repeats the first
                k = 0
                for i in range(a, b):  # drop a vertex equal to the previous one
                    j = keep[k - 1] if k else -1
                    if k and coords[i, 0] == coords[j, 0] and coords[i, 1] == coords[j, 1]:
                        continue
                    keep[k] = i
                    k += 1
                flip = False
                if kind == POLYGON:
                    if k > 1:  # a ring may still end on its first vertex (A B C A)
                        j0, j1 = keep[0], keep[k - 1]
                        if coords[j0, 0] == coords[j1, 0] and coords[j0, 1] == coords[j1, 1]:
                            k -= 1
                    area = 0
                    for t in range(k):
                        i0 = keep[t]
                        i1 = keep[t + 1] if t + 1 < k else keep[0]
                        area += coords[i0, 0] * coords[i1, 1] - coords[i1, 0] * coords[i0, 1]
                    good = k >= 3 and area != 0
                    if path_exterior[r]:
                        part_ok = good  # a collapsed exterior takes its holes with it
                    if not (good and part_ok):
                        continue
                    flip = (area < 0) if path_exterior[r] else (area > 0)
                elif k < 2:
                    continue
                for t in range(k):
                    i = keep[k - 1 - t] if flip else keep[t]
                    if t == 0:
                        pos = _put(buf, pos, MOVE_TO | (1 << 3))
                    elif t == 1:
                        pos = _put(buf, pos, LINE_TO | ((k - 1) << 3))
                    pos = _put(buf, pos, _zigzag(coords[i, 0] - cx))
                    pos = _put(buf, pos, _zigzag(coords[i, 1] - cy))
                    cx, cy = coords[i, 0], coords[i, 1]
                if kind == POLYGON:
                    pos = _put(buf, pos, CLOSE_PATH | (1 << 3))
        if pos > begin:
            out_kind[f] = kind
            out_begin[f] = begin + offset
            out_end[f] = pos + offset
        p = q
    return buf[:pos]


def _used_values(kinds: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Columns with a value in a drawn feature, and the distinct value codes they use (sorted)."""
    n, m = codes.shape
    column = np.zeros(m, dtype=np.bool_)
    found = np.empty(n * m, dtype=np.int64)
    k = 0
    for i in range(n):
        if kinds[i] == 0:
            continue
        for j in range(m):
            c = codes[i, j]
            if c >= 0:
                column[j] = True
                found[k] = c
                k += 1
    return column, np.unique(found[:k])


def _frame_features(
    kinds: np.ndarray,
    geom: np.ndarray,
    begin: np.ndarray,
    end: np.ndarray,
    ids: np.ndarray,
    has_ids: bool,
    codes: np.ndarray,
    key_of: np.ndarray,
    used: np.ndarray,
    value_base: int,
) -> np.ndarray:
    """``Layer.features`` fields of the drawn features (``kinds != 0``), in order.

    Each is ``0x12 len [0x08 id] [0x12 len tags] 0x18 type 0x22 len geometry``;
    a feature's tags are (key, value) index pairs of its non-missing columns:
    ``key_of[column]`` and ``value_base`` + the rank of its code in ``used`` (sorted).
    """
    n, m = codes.shape
    total = 0
    for i in range(n):
        if kinds[i]:
            total += 40 + end[i] - begin[i] + 20 * m
    out = np.empty(total, dtype=np.uint8)
    tags = np.empty(2 * m, dtype=np.int64)
    pos = 0
    for i in range(n):
        if kinds[i] == 0:
            continue
        nt = 0
        tag_len = 0
        for j in range(m):
            c = codes[i, j]
            if c >= 0:
                tags[nt] = key_of[j]
                tags[nt + 1] = value_base + np.searchsorted(used, c)
                tag_len += _size(tags[nt]) + _size(tags[nt + 1])
                nt += 2
        geom_len = end[i] - begin[i]
        body = 3 + _size(geom_len) + geom_len
        if nt:
            body += 1 + _size(tag_len) + tag_len
        if has_ids:
            body += 1 + _size(ids[i])
        out[pos] = 0x12
        pos = _put(out, pos + 1, body)
        if has_ids:
            out[pos] = 0x08
            pos = _put(out, pos + 1, ids[i])
        if nt:
            out[pos] = 0x12
            pos = _put(out, pos + 1, tag_len)
            for t in range(nt):
                pos = _put(out, pos, tags[t])
        out[pos] = 0x18
        out[pos + 1] = kinds[i]
        out[pos + 2] = 0x22
        pos = _put(out, pos + 3, geom_len)
        out[pos : pos + geom_len] = geom[begin[i] : end[i]]
        pos += geom_len
    return out[:pos]


def _frame_layers(
    kinds: np.ndarray,
    geom: np.ndarray,
    begin: np.ndarray,
    end: np.ndarray,
    ids: np.ndarray,
    has_ids: bool,
    codes: np.ndarray,
    tile_start: np.ndarray,
    head: np.ndarray,
    key_bytes: np.ndarray,
    key_start: np.ndarray,
    value_bytes: np.ndarray,
    value_start: np.ndarray,
    tail: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Whole ``Tile.layers`` fields of one layer in several tiles, one after another.

    Tile ``t`` holds the features ``tile_start[t]:tile_start[t + 1]``; its field is
    ``0x1a len head features keys values tail`` (as :meth:`tiles.mvt.LayerEncoder.encode`
    inside :func:`tiles.mvt.encode_tile`), or nothing when none of its features draws.
    ``head`` is the version and name fields, ``tail`` the extent field; the framed key
    field of column ``j`` is ``key_bytes[key_start[j]:key_start[j + 1]]``, the framed
    value field of code ``c`` likewise in ``value_bytes``. Keys are the columns a drawn
    feature has a value for, in column order; values the codes they use, ascending.

    Returns the bytes and where each tile's field starts (plus the end).
    """
    n_tiles = len(tile_start) - 1
    n, m = codes.shape
    cap = 0
    for i in range(n):
        if kinds[i]:
            cap += 40 + end[i] - begin[i] + 20 * m
    cap += n_tiles * (11 + len(head) + len(key_bytes) + len(tail))
    # values are not in this bound: the buffer grows when a tile's do not fit
    out = np.empty(cap, dtype=np.uint8)
    out_start = np.zeros(n_tiles + 1, dtype=np.int64)
    key_of = np.empty(m, dtype=np.int64)
    pos = 0
    for t in range(n_tiles):
        a, b = tile_start[t], tile_start[t + 1]
        out_start[t] = pos
        drawn = 0
        for i in range(a, b):
            if kinds[i]:
                drawn += 1
        if drawn == 0:
            continue
        block = codes[a:b]
        present, used = _used_values(kinds[a:b], block)
        k = 0
        keys_len = 0
        for j in range(m):
            if present[j]:
                key_of[j] = k
                k += 1
                keys_len += key_start[j + 1] - key_start[j]
        values_len = 0
        for c in used:
            values_len += value_start[c + 1] - value_start[c]
        features = _frame_features(
            kinds[a:b], geom, begin[a:b], end[a:b], ids[a:b], has_ids, block, key_of, used, 0
        )
        body = len(head) + len(features) + keys_len + values_len + len(tail)
        need = pos + 11 + body
        if need > len(out):
            bigger = np.empty(max(need, 2 * len(out)), dtype=np.uint8)
            bigger[:pos] = out[:pos]
            out = bigger
        out[pos] = 0x1A
        pos = _put(out, pos + 1, body)
        out[pos : pos + len(head)] = head
        pos += len(head)
        out[pos : pos + len(features)] = features
        pos += len(features)
        for j in range(m):
            if present[j]:
                ka, kb = key_start[j], key_start[j + 1]
                out[pos : pos + kb - ka] = key_bytes[ka:kb]
                pos += kb - ka
        for c in used:
            va, vb = value_start[c], value_start[c + 1]
            out[pos : pos + vb - va] = value_bytes[va:vb]
            pos += vb - va
        out[pos : pos + len(tail)] = tail
        pos += len(tail)
    out_start[n_tiles] = pos
    return out[:pos], out_start


def _points_in_box(
    xs: np.ndarray,
    ys: np.ndarray,
    order: np.ndarray,
    box: tuple[float, float, float, float],
) -> np.ndarray:
    """Rows (sorted) of the points within the closed ``box``.

    ``xs`` are the x of all points in ascending order, ``ys`` and ``order``
    (their rows) in the same order.
    """
    lo = np.searchsorted(xs, box[0], side="left")
    hi = np.searchsorted(xs, box[2], side="right")
    hits = np.empty(hi - lo, dtype=np.int64)
    k = 0
    for i in range(lo, hi):
        if box[1] <= ys[i] <= box[3]:
            hits[k] = order[i]
            k += 1
    return np.sort(hits[:k])


def _points_to_tile(
    x: np.ndarray,
    y: np.ndarray,
    xmin: float,
    ymax: float,
    sx: float,
    sy: float,
    lo: float,
    hi: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Points in tile units, rounded half to even as ``numpy.rint``; which lie in [lo, hi]."""
    n = len(x)
    xy = np.empty((n, 2), dtype=np.int64)
    inside = np.empty(n, dtype=np.bool_)
    for i in range(n):
        tx = np.rint((x[i] - xmin) * sx)
        ty = np.rint((ymax - y[i]) * sy)
        inside[i] = lo <= tx <= hi and lo <= ty <= hi
        xy[i, 0] = np.int64(tx) if inside[i] else 0
        xy[i, 1] = np.int64(ty) if inside[i] else 0
    return xy, inside


_HELPERS = {"_put": _put, "_size": _size, "_zigzag": _zigzag}
encode_paths = Kernel(_encode_paths)
used_values = Kernel(_used_values)
frame_features = Kernel(_frame_features)
frame_layers = Kernel(_frame_layers)
points_in_box = Kernel(_points_in_box)
points_to_tile = Kernel(_points_to_tile)
#: the public kernels by name
KERNELS = {
    k.name: k
    for k in (
        encode_paths,
        used_values,
        frame_features,
        frame_layers,
        points_in_box,
        points_to_tile,
    )
}
