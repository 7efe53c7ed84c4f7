"""Mapbox Vector Tile (MVT 2.1) encoding.

Two steps, both independent of where features come from:

1. :func:`to_tile_coords` takes geometries in the grid's CRS and the tile's
   bounds and returns integer tile-coordinate geometries (y down): affine to
   tile units, clip to the tile plus a buffer, simplify to the tile's
   resolution, snap to the integer grid keeping the result valid, and orient
   polygon rings as the spec requires (exterior rings have positive area by
   the surveyor's formula in tile coordinates, interior rings negative). All
   of it runs on whole arrays with shapely 2's vectorised functions.
2. :class:`LayerEncoder` turns those geometries, feature ids and typed
   properties into a protobuf ``Layer``; :func:`encode_tile` joins layers
   into a tile. Because a tile is a repeated ``layers`` field, concatenating
   encoded tiles is itself a valid tile: composite tiles are built that way.

Examples
--------
>>> import shapely
>>> geoms = to_tile_coords(
...     np.array([shapely.Point(5.0, 5.0)]), (0.0, 0.0, 10.0, 10.0), extent=4096, buffer=0
... )
>>> geoms[0].wkt
'POINT (2048 2048)'
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import shapely

from tiles._protobuf import (
    double_field,
    length_field,
    packed_varints,
    varint,
    varint_field,
    zigzag,
    zigzag_int,
)

UNKNOWN, POINT, LINESTRING, POLYGON = 0, 1, 2, 3
MOVE_TO, LINE_TO, CLOSE_PATH = 1, 2, 7

# shapely type ids -> MVT geometry type
_TYPE_OF = {0: POINT, 4: POINT, 1: LINESTRING, 5: LINESTRING, 3: POLYGON, 6: POLYGON}


def to_tile_coords(
    geoms: np.ndarray,
    bounds: tuple[float, float, float, float],
    extent: int = 4096,
    buffer: int = 64,
    simplify: float = 1.0,
) -> np.ndarray:
    """Project, clip, simplify and quantise geometries into a tile's integer coordinates.

    Parameters
    ----------
    geoms
        Shapely geometries in the grid CRS (x = easting or longitude).
    bounds
        The tile's (xmin, ymin, xmax, ymax) in the same CRS.
    extent
        Tile units per side.
    buffer
        Tile units kept beyond each edge, so that lines and outlines join
        seamlessly across tiles.
    simplify
        Douglas-Peucker tolerance in tile units; 1 unit is the tile's resolution.

    Returns
    -------
    numpy.ndarray
        Geometries with integer coordinates, y pointing down; empty where a
        geometry falls outside the buffered tile or collapses when snapped.
    """
    xmin, ymin, xmax, ymax = bounds
    sx = extent / (xmax - xmin)
    sy = extent / (ymax - ymin)

    def affine(coords: np.ndarray) -> np.ndarray:
        return np.column_stack(((coords[:, 0] - xmin) * sx, (ymax - coords[:, 1]) * sy))

    out = shapely.transform(np.asarray(geoms, dtype=object), affine)
    out = shapely.clip_by_rect(out, -buffer, -buffer, extent + buffer, extent + buffer)
    if simplify > 0:
        out = shapely.simplify(out, simplify, preserve_topology=True)
    # Snapping to the integer grid in "valid_output" mode repairs what rounding would break
    # (self-touching rings, collapsed holes) instead of emitting invalid polygons.
    out = shapely.set_precision(out, 1.0)
    # shapely's counter-clockwise is a positive shoelace area: the spec's exterior ring.
    return shapely.orient_polygons(out, exterior_cw=False)


def _command(cmd: int, count: int) -> int:
    return (cmd & 0x7) | (count << 3)


def _dedupe(coords: np.ndarray) -> np.ndarray:
    """Drop consecutive repeated vertices (zero-length moves encode nothing useful)."""
    if len(coords) < 2:
        return coords
    keep = np.ones(len(coords), dtype=bool)
    keep[1:] = np.any(coords[1:] != coords[:-1], axis=1)
    return coords[keep]


def _paths(geom: shapely.Geometry, mvt_type: int) -> list[np.ndarray]:
    """The vertex sequences of one geometry, in encoding order (rings without closing vertex)."""
    parts = shapely.get_parts(geom)
    paths: list[np.ndarray] = []
    if mvt_type == POINT:
        pts = shapely.get_coordinates(parts)
        return [pts.astype(np.int64)] if len(pts) else []
    if mvt_type == LINESTRING:
        for part in parts:
            line = _dedupe(shapely.get_coordinates(part).astype(np.int64))
            if len(line) >= 2:
                paths.append(line)
        return paths
    for part in parts:
        rings = shapely.get_rings(part)
        for i, ring in enumerate(rings):
            coords = _dedupe(shapely.get_coordinates(ring).astype(np.int64))[:-1]
            if len(coords) < 3:
                if i == 0:
                    break  # a collapsed exterior takes its holes with it
                continue
            paths.append(coords)
    return paths


def geometry_commands(geom: shapely.Geometry) -> tuple[int, np.ndarray] | None:
    """MVT geometry type and command integers of one integer-coordinate geometry.

    Returns ``None`` for an empty geometry or one that has nothing left to draw.
    """
    if geom is None or shapely.is_empty(geom):
        return None
    type_id = int(shapely.get_type_id(geom))
    if type_id == 7:  # a collection from clipping or snapping: keep its highest dimension
        parts = shapely.get_parts(geom)
        dims = shapely.get_dimensions(parts)
        kept = parts[dims == dims.max()]
        geom = (
            shapely.multipolygons(kept)
            if dims.max() == 2
            else (shapely.multilinestrings(kept) if dims.max() == 1 else shapely.multipoints(kept))
        )
        type_id = int(shapely.get_type_id(geom))
    mvt_type = _TYPE_OF.get(type_id)
    if mvt_type is None:
        return None
    paths = _paths(geom, mvt_type)
    if not paths:
        return None
    chunks: list[np.ndarray] = []
    cursor = np.zeros(2, dtype=np.int64)
    if mvt_type == POINT:
        pts = paths[0]
        deltas = np.diff(np.vstack([cursor, pts]), axis=0)
        chunks.append(np.array([_command(MOVE_TO, len(pts))], dtype=np.uint64))
        chunks.append(zigzag(deltas.ravel()))
    else:
        for path in paths:
            deltas = np.diff(np.vstack([cursor, path]), axis=0)
            enc = zigzag(deltas.ravel())
            chunks.append(np.array([_command(MOVE_TO, 1)], dtype=np.uint64))
            chunks.append(enc[:2])
            chunks.append(np.array([_command(LINE_TO, len(path) - 1)], dtype=np.uint64))
            chunks.append(enc[2:])
            if mvt_type == POLYGON:
                chunks.append(np.array([_command(CLOSE_PATH, 1)], dtype=np.uint64))
            cursor = path[-1]
    return mvt_type, np.concatenate(chunks)


def _value_message(value: Any) -> bytes:
    """A protobuf ``Value``: string, double, uint, sint or bool."""
    if isinstance(value, bool):
        return varint_field(7, int(value))
    if isinstance(value, int):
        if value >= 0:
            return varint_field(5, value)
        return varint_field(6, zigzag_int(value))
    if isinstance(value, float):
        return double_field(3, value)
    return length_field(1, str(value).encode())


class LayerEncoder:
    """Collects features of one MVT layer and encodes it.

    Parameters
    ----------
    name
        The layer name written in the tile.
    extent
        Tile units per side.
    """

    def __init__(self, name: str, extent: int = 4096) -> None:
        self.name = name
        self.extent = extent
        self._keys: dict[str, int] = {}
        self._values: dict[tuple[str, Any], int] = {}
        self._features: list[bytes] = []

    def __len__(self) -> int:
        return len(self._features)

    def _tag(self, name: str, value: Any) -> tuple[int, int] | None:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return None  # a missing value is an absent property, as MVT has no null
        k = self._keys.setdefault(name, len(self._keys))
        v = self._values.setdefault((type(value).__name__, value), len(self._values))
        return k, v

    def add(
        self,
        geom: shapely.Geometry,
        feature_id: int | None = None,
        properties: Iterable[tuple[str, Any]] = (),
    ) -> bool:
        """Add one feature with integer tile coordinates; False if it has nothing to draw."""
        encoded = geometry_commands(geom)
        if encoded is None:
            return False
        mvt_type, commands = encoded
        tags: list[int] = []
        for name, value in properties:
            tag = self._tag(name, value)
            if tag is not None:
                tags.extend(tag)
        msg = b""
        if feature_id is not None:
            msg += varint_field(1, int(feature_id))
        if tags:
            msg += length_field(2, packed_varints(np.asarray(tags, dtype=np.uint64)))
        msg += varint_field(3, mvt_type)
        msg += length_field(4, packed_varints(commands))
        self._features.append(msg)
        return True

    def encode(self) -> bytes:
        """The encoded ``Layer`` message (without the enclosing tile field)."""
        parts = [varint_field(15, 2), length_field(1, self.name.encode())]
        parts.extend(length_field(2, f) for f in self._features)
        parts.extend(length_field(3, k.encode()) for k in self._keys)
        parts.extend(length_field(4, _value_message(v)) for _, v in self._values)
        parts.append(varint_field(5, self.extent))
        return b"".join(parts)


def encode_tile(layers: Iterable[LayerEncoder]) -> bytes:
    """A tile with the non-empty ``layers``; ``b""`` when none has a feature."""
    return b"".join(length_field(3, layer.encode()) for layer in layers if len(layer))


__all__ = ["LayerEncoder", "encode_tile", "geometry_commands", "to_tile_coords", "varint"]
