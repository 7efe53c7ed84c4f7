"""The pure-numpy MVT geometry and feature encoder that the compiled kernels replaced.

Kept only as the reference the kernels are held to (tests/tiles/test_mvt_kernel.py):
the same input must give the same bytes. Copied from tiles/_mvt_geometry.py and
``LayerEncoder.add_columns`` of tiles/mvt.py as they were before the kernels.
"""

from __future__ import annotations

import numpy as np
import shapely

from tiles._protobuf import packed_varints, varint_sizes, zigzag
from tiles.mvt import LayerEncoder, PropertyTable

POINT, LINESTRING, POLYGON = 1, 2, 3
MOVE_TO, LINE_TO, CLOSE_PATH = 1, 2, 7
#: shapely type ids -> MVT geometry type
TYPE_OF = {0: POINT, 4: POINT, 1: LINESTRING, 5: LINESTRING, 3: POLYGON, 6: POLYGON}
_MULTI = {0: shapely.multipoints, 1: shapely.multilinestrings, 2: shapely.multipolygons}


def _highest_dimension(collection: shapely.Geometry) -> shapely.Geometry:
    """The parts of a geometry collection with the highest dimension, as one multi-geometry."""
    parts = shapely.get_parts(shapely.get_parts(collection))  # members, then their parts
    dims = shapely.get_dimensions(parts)
    top = int(dims.max())
    return _MULTI[top](parts[dims == top])


def _runs(index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start flags and lengths of runs of equal consecutive values in a sorted index."""
    start = np.ones(len(index), dtype=bool)
    start[1:] = index[1:] != index[:-1]
    lengths = np.diff(np.append(np.flatnonzero(start), len(index)))
    return start, lengths


def _dedupe(coords: np.ndarray, owner: np.ndarray) -> np.ndarray:
    """Mask of vertices to keep: drop a vertex equal to the previous one of the same path."""
    keep = np.ones(len(coords), dtype=bool)
    keep[1:] = (owner[1:] != owner[:-1]) | np.any(coords[1:] != coords[:-1], axis=1)
    return keep


def _line_paths(geoms: np.ndarray, feature: np.ndarray) -> tuple[np.ndarray, ...]:
    """Coordinates, owning path, and per path: feature, vertex count (>= 2 kept)."""
    parts, part_of = shapely.get_parts(geoms, return_index=True)
    coords, path = shapely.get_coordinates(parts, return_index=True)
    keep = _dedupe(coords, path)
    coords, path = coords[keep], path[keep]
    counts = np.bincount(path, minlength=len(parts))
    good = counts >= 2
    keep = good[path]
    return coords[keep], path[keep], feature[part_of][good], counts[good]


def _ring_areas(coords: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Twice the signed shoelace area of each ring (vertices without the closing one)."""
    if len(counts) == 0:
        return np.zeros(0)
    starts = start_index(counts)
    nxt = np.arange(1, len(coords) + 1)
    nxt[starts + counts - 1] = starts  # each ring's last vertex wraps to its first
    x, y = coords[:, 0].astype(np.float64), coords[:, 1].astype(np.float64)
    cross = x * y[nxt] - x[nxt] * y
    return np.add.reduceat(cross, starts)


def _ring_paths(geoms: np.ndarray, feature: np.ndarray) -> tuple[np.ndarray, ...]:
    """Like :func:`_line_paths` for polygon rings: no closing vertex, >= 3 vertices kept.

    Rings that collapse (fewer than three distinct vertices, or zero area once
    on the integer grid) are dropped, a polygon whose exterior collapses with
    its holes. Rings are reversed where needed so that exteriors have positive
    area by the spec's formula (clockwise on screen, y down) and holes negative.
    """
    parts, part_of = shapely.get_parts(geoms, return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)  # exterior first
    coords, ring = shapely.get_coordinates(rings, return_index=True)
    last = np.ones(len(ring), dtype=bool)
    last[:-1] = ring[1:] != ring[:-1]
    coords, ring = coords[~last], ring[~last]  # the closing vertex repeats the first
    keep = _dedupe(coords, ring)
    coords, ring = coords[keep], ring[keep]
    # a ring may still end on its first vertex (A B C A A): drop such trailing repeats
    counts = np.bincount(ring, minlength=len(rings))
    if len(coords):
        first_of = start_index(counts)
        is_last = np.ones(len(ring), dtype=bool)
        is_last[:-1] = ring[1:] != ring[:-1]
        lastpos = np.flatnonzero(is_last)
        same = np.all(coords[lastpos] == coords[first_of[ring[lastpos]]], axis=1)
        same &= counts[ring[lastpos]] > 1
        if same.any():
            drop = np.zeros(len(ring), dtype=bool)
            drop[lastpos[same]] = True
            coords, ring = coords[~drop], ring[~drop]
            counts = np.bincount(ring, minlength=len(rings))
    exterior = np.ones(len(rings), dtype=bool)
    exterior[1:] = ring_part[1:] != ring_part[:-1]
    areas = np.zeros(len(rings))
    nonempty = counts > 0
    areas[nonempty] = _ring_areas(coords, counts[nonempty])
    good_ring = (counts >= 3) & (areas != 0)
    part_ok = np.zeros(len(parts), dtype=bool)
    part_ok[ring_part[exterior]] = good_ring[exterior]
    good = good_ring & part_ok[ring_part]
    # orientation: exteriors positive, holes negative; reverse the others in place
    flip = good & np.where(exterior, areas < 0, areas > 0)
    if flip.any():
        starts = start_index(counts)
        local = np.arange(len(coords)) - starts[ring]
        reversed_at = starts[ring] + counts[ring] - 1 - local
        order = np.where(flip[ring], reversed_at, np.arange(len(coords)))
        coords = coords[order]
    keep = good[ring]
    return coords[keep], ring[keep], feature[part_of[ring_part]][good], counts[good]


def _deltas(coords: np.ndarray, feature_of_vertex: np.ndarray) -> np.ndarray:
    """Zigzag deltas (n, 2) from each vertex's predecessor within its feature, or from 0, 0."""
    prev = np.zeros_like(coords)
    prev[1:] = coords[:-1]
    first, _ = _runs(feature_of_vertex)
    prev[first] = 0
    return zigzag(coords - prev).reshape(-1, 2)


def _layout(
    coords: np.ndarray, path_feature: np.ndarray, counts: np.ndarray, closed: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Command stream of line/ring paths, and the stream offset where each path starts."""
    size = 2 * counts + 2 + int(closed)
    start = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(size, out=start[1:])
    out = np.zeros(start[-1], dtype=np.uint64)
    out[start[:-1]] = MOVE_TO | (1 << 3)
    out[start[:-1] + 3] = LINE_TO | ((counts - 1).astype(np.uint64) << np.uint64(3))
    if closed:
        out[start[1:] - 1] = CLOSE_PATH | (1 << 3)
    path_of_vertex = np.repeat(np.arange(len(counts)), counts)
    local = np.arange(len(coords)) - np.repeat(start_index(counts), counts)
    pos = start[:-1][path_of_vertex] + 1 + 2 * local + (local >= 1)
    d = _deltas(coords, path_feature[path_of_vertex])
    out[pos] = d[:, 0]
    out[pos + 1] = d[:, 1]
    return out, start


def start_index(counts: np.ndarray) -> np.ndarray:
    """Index of each group's first element when groups of ``counts`` are concatenated."""
    starts = np.zeros(len(counts), dtype=np.int64)
    np.cumsum(counts[:-1], out=starts[1:])
    return starts


def _point_stream(geoms: np.ndarray, feature: np.ndarray) -> tuple[np.ndarray, ...]:
    coords, owner = shapely.get_coordinates(geoms, return_index=True)
    coords = coords.astype(np.int64)
    counts = np.bincount(owner, minlength=len(geoms))
    good = counts > 0
    counts_kept = counts[good]
    size = 1 + 2 * counts_kept
    start = np.zeros(len(counts_kept) + 1, dtype=np.int64)
    np.cumsum(size, out=start[1:])
    out = np.zeros(start[-1], dtype=np.uint64)
    out[start[:-1]] = MOVE_TO | (counts_kept.astype(np.uint64) << np.uint64(3))
    group = np.repeat(np.arange(len(counts_kept)), counts_kept)
    local = np.arange(len(coords)) - np.repeat(start_index(counts_kept), counts_kept)
    pos = start[:-1][group] + 1 + 2 * local
    d = _deltas(coords, owner)
    out[pos] = d[:, 0]
    out[pos + 1] = d[:, 1]
    return out, start, feature[good]


def _feature_spans(
    stream: np.ndarray, path_start: np.ndarray, path_feature: np.ndarray
) -> tuple[bytes, np.ndarray, np.ndarray, np.ndarray]:
    """Encode the whole stream once; each feature's (begin, end) byte span in it."""
    encoded = packed_varints(stream)
    byte_at = np.zeros(len(stream) + 1, dtype=np.int64)
    np.cumsum(varint_sizes(stream), out=byte_at[1:])
    first, _ = _runs(path_feature)
    feat_first_path = np.flatnonzero(first)
    feat_end_path = np.append(feat_first_path[1:], len(path_feature))
    begins = byte_at[path_start[feat_first_path]]
    ends = byte_at[path_start[feat_end_path]]  # path_start has one more entry: the end
    return encoded, path_feature[feat_first_path], begins, ends


def encode_geometries_packed(geoms: np.ndarray) -> tuple[np.ndarray, bytes, np.ndarray, np.ndarray]:
    """Geometry commands of many integer-coordinate geometries in one buffer.

    Returns
    -------
    kinds
        MVT type per geometry; 0 where it is empty, unsupported, or collapses
        to nothing drawable (a line of one vertex, a ring of fewer than three).
    buffer
        The packed command varints of every drawn geometry.
    begin, end
        Each geometry's byte span in ``buffer`` (0, 0 where nothing draws).
    """
    geoms = np.asarray(geoms, dtype=object).copy()
    n = len(geoms)
    out_kind = np.zeros(n, dtype=np.int64)
    begin = np.zeros(n, dtype=np.int64)
    end = np.zeros(n, dtype=np.int64)
    if n == 0:
        return out_kind, b"", begin, end
    empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    type_ids = np.where(empty, -1, shapely.get_type_id(geoms))
    for i in np.flatnonzero(type_ids == 7):  # collections from clipping or snapping
        geoms[i] = _highest_dimension(geoms[i])
        type_ids[i] = shapely.get_type_id(geoms[i])
    kinds = np.array([TYPE_OF.get(int(t), 0) for t in type_ids])
    index = np.arange(n)
    buffers: list[bytes] = []
    size = 0
    for kind in (POINT, LINESTRING, POLYGON):
        sel = kinds == kind
        if not sel.any():
            continue
        if kind == POINT:
            stream, start, path_feature = _point_stream(geoms[sel], index[sel])
        else:
            paths = _line_paths if kind == LINESTRING else _ring_paths
            coords, _, path_feature, counts = paths(geoms[sel], index[sel])
            stream, start = _layout(coords.astype(np.int64), path_feature, counts, kind == POLYGON)
        if len(path_feature) == 0:
            continue
        encoded, features, b, e = _feature_spans(stream, start, path_feature)
        out_kind[features] = kind
        begin[features] = b + size
        end[features] = e + size
        buffers.append(encoded)
        size += len(encoded)
    return out_kind, b"".join(buffers), begin, end


def encode_geometries(geoms: np.ndarray) -> list[tuple[int, bytes] | None]:
    """MVT type and packed command varints of each integer-coordinate geometry.

    ``None`` where a geometry is empty, of an unsupported type, or collapses
    to nothing drawable (a line of one vertex, a ring of fewer than three).
    """
    kinds, buffer, begin, end = encode_geometries_packed(geoms)
    return [
        (k, buffer[b:e]) if k else None
        for k, b, e in zip(kinds.tolist(), begin.tolist(), end.tolist(), strict=True)
    ]


def _varint_buffer(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Varints of ``values`` as one uint8 array, with each value's start and size in it."""
    v = np.asarray(values, dtype=np.uint64)
    sizes = varint_sizes(v)
    starts = np.zeros(len(v), dtype=np.int64)
    np.cumsum(sizes[:-1], out=starts[1:])
    return np.frombuffer(packed_varints(v), dtype=np.uint8), starts, sizes


# constant bytes framing a feature: features key, id key, type key, geometry key, types 1..3
_CONST = np.array([0x12, 0x08, 0x18, 0x22, 1, 2, 3], dtype=np.uint8)


def _frame_features(
    ids: np.ndarray | None,
    tag_buf: bytes,
    tag_begin: np.ndarray,
    tag_end: np.ndarray,
    kinds: np.ndarray,
    geom_buf: bytes,
    geom_begin: np.ndarray,
    geom_end: np.ndarray,
) -> bytes:
    """Many ``Layer.features`` fields at once, laid out with one numpy gather.

    Each feature is ``0x12 len [0x08 id] [0x12 len tags] 0x18 type 0x22 len geometry``;
    every piece is a slice of one of a few buffers, so the output is built as
    the concatenation of (start, length) segments of their concatenation.
    """
    n = len(kinds)
    tag_len = (tag_end - tag_begin).astype(np.int64)
    geom_len = (geom_end - geom_begin).astype(np.int64)
    has_tags = tag_len > 0
    id_buf, id_start, id_size = _varint_buffer(ids if ids is not None else np.zeros(0))
    tl_buf, tl_start, tl_size = _varint_buffer(tag_len)
    gl_buf, gl_start, gl_size = _varint_buffer(geom_len)
    body = 3 + gl_size + geom_len + np.where(has_tags, 1 + tl_size + tag_len, 0)
    if ids is not None:
        body = body + 1 + id_size
    fl_buf, fl_start, fl_size = _varint_buffer(body)
    sources = [
        _CONST,
        fl_buf,
        id_buf,
        tl_buf,
        np.frombuffer(tag_buf, dtype=np.uint8),
        gl_buf,
        np.frombuffer(geom_buf, dtype=np.uint8),
    ]
    base = np.zeros(len(sources), dtype=np.int64)
    np.cumsum([len(b) for b in sources[:-1]], out=base[1:])
    c, fl, idb, tl, tags, gl, geom = base
    with_id = ids is not None
    zero = np.zeros(n, dtype=np.int64)
    one = np.ones(n, dtype=np.int64)
    # (start in the joined sources, length) of each segment, features in rows
    starts = np.stack(
        [
            zero + c,  # 0x12
            fl + fl_start,
            zero + c + 1,  # 0x08
            (idb + id_start) if with_id else zero,
            zero + c,  # 0x12
            tl + tl_start,
            tags + tag_begin,
            zero + c + 2,  # 0x18
            c + 3 + kinds,  # the type byte
            zero + c + 3,  # 0x22
            gl + gl_start,
            geom + geom_begin,
        ],
        axis=1,
    )
    t = has_tags.astype(np.int64)
    w = one if with_id else zero
    lengths = np.stack(
        [
            one,
            fl_size,
            w,
            id_size if with_id else zero,
            t,
            tl_size * t,
            tag_len,
            one,
            one,
            one,
            gl_size,
            geom_len,
        ],
        axis=1,
    ).ravel()
    out_start = np.zeros(len(lengths), dtype=np.int64)
    np.cumsum(lengths[:-1], out=out_start[1:])
    gather = np.repeat(starts.ravel() - out_start, lengths) + np.arange(int(lengths.sum()))
    return np.concatenate(sources)[gather].tobytes()


class NumpyLayerEncoder(LayerEncoder):
    """:class:`tiles.mvt.LayerEncoder` with the numpy ``add_columns`` of before."""

    def add_columns(
        self,
        geoms: np.ndarray,
        feature_ids: np.ndarray | None,
        table: PropertyTable,
        rows: np.ndarray,
    ) -> int:
        """Add many features whose properties are rows of a factorised table.

        Parameters
        ----------
        geoms
            Integer tile-coordinate geometries, one per feature.
        feature_ids
            Non-negative ids, one per feature, or None for none.
        table
            Layer-wide factorised properties.
        rows
            Row of each feature in ``table``.

        Returns
        -------
        int
            How many features drew (the others are skipped).
        """
        kinds, geom_buf, geom_begin, geom_end = encode_geometries_packed(geoms)
        idx = np.flatnonzero(kinds)
        if len(idx) == 0:
            return 0
        codes = table.codes[np.asarray(rows)[idx]]
        mask = codes >= 0
        # keys: the columns any feature of the tile has a value for
        key_of = np.full(len(table.names), -1, dtype=np.int64)
        for j in np.flatnonzero(mask.any(axis=0)).tolist():
            key_of[j] = self._keys.setdefault(table.names[j], len(self._keys))
        pair_k = np.broadcast_to(key_of, codes.shape)
        # the tile's value table: only the values its features use, each once
        used, local = np.unique(codes[mask], return_inverse=True)
        pair_v = np.zeros_like(codes)
        pair_v[mask] = len(self._value_messages) + local
        self._value_messages.extend(table.value_array[used].tolist())
        stream = np.stack((pair_k, pair_v), axis=2)[mask].reshape(-1).astype(np.uint64)
        tag_sizes = np.zeros(len(stream) + 1, dtype=np.int64)
        np.cumsum(varint_sizes(stream), out=tag_sizes[1:])
        tag_end = tag_sizes[np.cumsum(2 * mask.sum(axis=1))]
        tag_begin = np.concatenate(([0], tag_end[:-1]))
        ids = None if feature_ids is None else np.asarray(feature_ids, dtype=np.uint64)[idx]
        self._chunks.append(
            _frame_features(
                ids,
                packed_varints(stream),
                tag_begin,
                tag_end,
                kinds[idx],
                geom_buf,
                geom_begin[idx],
                geom_end[idx],
            )
        )
        self._count += len(idx)
        return len(idx)
