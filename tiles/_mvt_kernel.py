"""Compiled (numba) loops of the MVT encoder: geometry commands, varints, feature framing.

A tile of a few features spends its time in per-call overhead, not in
arithmetic: the numpy formulation in :mod:`tiles._mvt_geometry` makes some
fifty array calls per layer whatever its size. These kernels do the same work
in a handful of compiled calls and write the protobuf bytes directly.

Their output is byte for byte that of the numpy path (a test holds them to
it): the same vertex dropping (repeated vertices, a ring's closing vertex,
rings that collapse or have no area), the same ring orientation, the same
layout of features and tags.

Compilation happens at import, cached on disk (``cache=True``) next to this
file or, where that is read-only, in numba's user cache directory
(``NUMBA_CACHE_DIR`` chooses another); the first import on a fresh machine
compiles for a few seconds, later ones load the cache.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numba import njit

POINT, LINESTRING, POLYGON = 1, 2, 3
MOVE_TO, LINE_TO, CLOSE_PATH = 1, 2, 7


def _jit(func: Callable[..., Any]) -> Callable[..., Any]:
    """``numba.njit`` cached on disk, or compiled in each process where no cache dir is writable."""
    try:
        return njit(cache=True, nogil=True)(func)
    except RuntimeError:  # numba found no writable place for its cache
        return njit(nogil=True)(func)


@_jit
def _put(buf: np.ndarray, pos: int, value: int) -> int:
    """Write ``value`` (>= 0) as a varint at ``pos``; the position after it."""
    v = np.uint64(value)
    while v >= np.uint64(0x80):
        buf[pos] = np.uint8((v & np.uint64(0x7F)) | np.uint64(0x80))
        v = v >> np.uint64(7)
        pos += 1
    buf[pos] = np.uint8(v)
    return pos + 1


@_jit
def _size(value: int) -> int:
    v = np.uint64(value)
    n = 1
    while v >= np.uint64(0x80):
        v = v >> np.uint64(7)
        n += 1
    return n


@_jit
def _zigzag(d: int) -> int:
    return (d << 1) ^ (d >> 63)


@_jit
def encode_paths(
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


@_jit
def used_values(kinds: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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


@_jit
def frame_features(
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


@_jit
def points_in_box(
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


@_jit
def points_to_tile(
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
