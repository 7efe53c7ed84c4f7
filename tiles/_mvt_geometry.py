"""MVT geometry commands for many features at once.

The geometries of one tile are taken apart with shapely's vectorised
``get_parts`` / ``get_rings`` / ``get_coordinates`` into one coordinate array
plus "path" bookkeeping (a path is a line, a ring, or the points of a
(multi)point feature); the compiled kernel :func:`tiles._mvt_kernel.encode_paths`
then writes the command varints of every feature in one pass.

Layout of one path of ``n`` vertices (MVT 2.1, section 4.3):

- line or ring: ``MoveTo(1) dx dy LineTo(n-1) dx dy ...`` and ``ClosePath(1)`` for rings;
- points: ``MoveTo(n) dx dy dx dy ...``.

Deltas run across all paths of a feature (the cursor is not reset between
parts) and start from (0, 0) at each feature's first vertex. Repeated
vertices are dropped, as are lines of one vertex and rings of fewer than three
or with no area (a polygon whose exterior collapses goes with its holes);
rings are reversed where needed so that exteriors have positive area by the
spec's formula (clockwise on screen, y down) and holes negative.
"""

from __future__ import annotations

import numpy as np
import shapely

from tiles._mvt_kernel import LINESTRING, POINT, POLYGON, encode_paths

#: shapely type ids -> MVT geometry type
TYPE_OF = {0: POINT, 4: POINT, 1: LINESTRING, 5: LINESTRING, 3: POLYGON, 6: POLYGON}
#: the same indexed by shapely type id + 1 (-1, missing or empty, is 0: nothing to draw)
_KIND_OF_TYPE = np.zeros(9, dtype=np.int64)
for _t, _k in TYPE_OF.items():
    _KIND_OF_TYPE[_t + 1] = _k
_MULTI = {0: shapely.multipoints, 1: shapely.multilinestrings, 2: shapely.multipolygons}


def _highest_dimension(collection: shapely.Geometry) -> shapely.Geometry:
    """The parts of a geometry collection with the highest dimension, as one multi-geometry."""
    parts = shapely.get_parts(shapely.get_parts(collection))  # members, then their parts
    dims = shapely.get_dimensions(parts)
    top = int(dims.max())
    return _MULTI[top](parts[dims == top])


def _starts(counts: np.ndarray) -> np.ndarray:
    """Offsets of groups of ``counts`` concatenated, with the end as a last entry."""
    out = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=out[1:])
    return out


def _paths(geoms: np.ndarray, feature: np.ndarray, kind: int) -> tuple[np.ndarray, ...]:
    """Integer vertices, path starts, each path's feature, and whether a ring is an exterior."""
    if kind == POINT:
        coords, owner = shapely.get_coordinates(geoms, return_index=True)
        counts = np.bincount(owner, minlength=len(geoms))
        return coords.astype(np.int64), _starts(counts), feature, np.zeros(len(geoms), bool)
    single = shapely.get_type_id(geoms) < 4
    if single.all():  # get_parts would return the geometries themselves
        parts, part_of = geoms, np.arange(len(geoms))
    else:
        parts, part_of = shapely.get_parts(geoms, return_index=True)
    if kind == LINESTRING:
        paths, path_of = parts, part_of
        exterior = np.zeros(len(parts), dtype=bool)
    else:
        paths, ring_part = shapely.get_rings(parts, return_index=True)  # exterior first
        path_of = part_of[ring_part]
        exterior = np.ones(len(paths), dtype=bool)
        exterior[1:] = ring_part[1:] != ring_part[:-1]
    coords, owner = shapely.get_coordinates(paths, return_index=True)
    counts = np.bincount(owner, minlength=len(paths))
    return coords.astype(np.int64), _starts(counts), feature[path_of], exterior


def encode_geometries_packed(
    geoms: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Geometry commands of many integer-coordinate geometries in one buffer.

    Returns
    -------
    kinds
        MVT type per geometry; 0 where it is empty, unsupported, or collapses
        to nothing drawable (a line of one vertex, a ring of fewer than three).
    buffer
        The packed command varints (uint8) of every drawn geometry.
    begin, end
        Each geometry's byte span in ``buffer`` (0, 0 where nothing draws).
    """
    geoms = np.asarray(geoms, dtype=object)
    n = len(geoms)
    out_kind = np.zeros(n, dtype=np.int64)
    begin = np.zeros(n, dtype=np.int64)
    end = np.zeros(n, dtype=np.int64)
    if n == 0:
        return out_kind, np.zeros(0, dtype=np.uint8), begin, end
    type_ids = shapely.get_type_id(geoms)  # -1 for None
    type_ids[shapely.is_empty(geoms)] = -1
    collections = np.flatnonzero(type_ids == 7)
    if len(collections):  # from clipping or snapping
        geoms = geoms.copy()
        for i in collections:
            geoms[i] = _highest_dimension(geoms[i])
            type_ids[i] = shapely.get_type_id(geoms[i])
    kinds = _KIND_OF_TYPE[type_ids + 1]
    buffers: list[np.ndarray] = [np.zeros(0, dtype=np.uint8)]
    size = 0
    for kind in (POINT, LINESTRING, POLYGON):
        sel = np.flatnonzero(kinds == kind)
        if len(sel) == 0:
            continue
        coords, start, feature, exterior = _paths(geoms[sel], sel, kind)
        buf = encode_paths(kind, coords, start, feature, exterior, out_kind, begin, end, size)
        buffers.append(buf)
        size += len(buf)
    joined = buffers[-1] if len(buffers) == 2 else np.concatenate(buffers)
    return out_kind, joined, begin, end


def pack_points(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`encode_geometries_packed` of single points given as (n, 2) integer coordinates."""
    xy = np.asarray(xy, dtype=np.int64)
    n = len(xy)
    kinds = np.zeros(n, dtype=np.int64)
    begin = np.zeros(n, dtype=np.int64)
    end = np.zeros(n, dtype=np.int64)
    start = np.arange(n + 1, dtype=np.int64)
    feature = np.arange(n, dtype=np.int64)
    geom = encode_paths(POINT, xy, start, feature, feature < 0, kinds, begin, end, 0)
    return kinds, geom, begin, end


def encode_geometries(geoms: np.ndarray) -> list[tuple[int, bytes] | None]:
    """MVT type and packed command varints of each integer-coordinate geometry.

    ``None`` where a geometry is empty, of an unsupported type, or collapses
    to nothing drawable (a line of one vertex, a ring of fewer than three).
    """
    kinds, packed, begin, end = encode_geometries_packed(geoms)
    buffer = packed.tobytes()
    return [
        (k, buffer[b:e]) if k else None
        for k, b, e in zip(kinds.tolist(), begin.tolist(), end.tolist(), strict=True)
    ]
