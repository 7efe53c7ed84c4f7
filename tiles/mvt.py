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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely

from tiles._mvt_geometry import LINESTRING, POINT, POLYGON, encode_geometries
from tiles._protobuf import (
    double_field,
    length_field,
    packed_varints,
    varint,
    varint_field,
    varint_sizes,
    zigzag_int,
)

UNKNOWN = 0


def to_tile_coords(
    geoms: np.ndarray,
    bounds: tuple[float, float, float, float],
    extent: int = 4096,
    buffer: int = 64,
    simplify: float = 1.0,
    before_snap: Callable[[np.ndarray], np.ndarray] | None = None,
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
    before_snap
        Applied to the clipped geometries (float tile units) before they are
        simplified and snapped, e.g. to handle polygons too small to survive snapping.

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
    if before_snap is not None:
        out = before_snap(out)
    if simplify > 0:
        out = shapely.simplify(out, simplify, preserve_topology=True)
    # Snap to the integer grid. Plain rounding is cheap and right for almost every geometry;
    # polygons it breaks (self-touching rings, collapsed holes) are snapped again from the
    # unrounded geometry in GEOS's "valid_output" mode, which repairs instead of breaking.
    snapped = shapely.set_precision(out, 1.0, mode="pointwise")
    polygonal = shapely.get_dimensions(snapped) == 2
    broken = polygonal & ~shapely.is_valid(snapped)
    if broken.any():
        snapped[broken] = shapely.set_precision(out[broken], 1.0)
    out = snapped
    # shapely's counter-clockwise is a positive shoelace area: the spec's exterior ring.
    return shapely.orient_polygons(out, exterior_cw=False)


def geometry_commands(geom: shapely.Geometry) -> tuple[int, bytes] | None:
    """MVT geometry type and packed command varints of one integer-coordinate geometry.

    Returns ``None`` for an empty geometry or one that has nothing left to draw.
    """
    return encode_geometries(np.array([geom], dtype=object))[0]


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


def _value_key(value: Any) -> tuple[str, Any]:
    # 1, 1.0 and True are equal in Python but distinct MVT values
    return (type(value).__name__, value)


@dataclass(frozen=True)
class PropertyColumn:
    """One property of a whole layer, factorised once: per-row codes into distinct values.

    Encoding a tile then only gathers codes (numpy) and writes the distinct
    values that occur in the tile, shared by all its features.
    """

    name: str
    #: per row: index into ``values``, -1 where the value is missing
    codes: np.ndarray
    #: encoded protobuf ``Value`` messages of the distinct values
    values: tuple[bytes, ...]

    @classmethod
    def from_values(cls, name: str, values: Sequence[Any]) -> PropertyColumn:
        """Factorise Python values (None and NaN are missing, as MVT has no null)."""
        index: dict[tuple[str, Any], int] = {}
        codes = np.empty(len(values), dtype=np.int64)
        for i, value in enumerate(values):
            if value is None or (isinstance(value, float) and math.isnan(value)):
                codes[i] = -1
            else:
                codes[i] = index.setdefault(_value_key(value), len(index))
        return cls(name, codes, tuple(_value_message(v) for _, v in index))


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
        self._value_messages: list[bytes] = []
        self._features: list[bytes] = []

    def __len__(self) -> int:
        return len(self._features)

    def _tag(self, name: str, value: Any) -> tuple[int, int] | None:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return None  # a missing value is an absent property, as MVT has no null
        k = self._keys.setdefault(name, len(self._keys))
        vkey = _value_key(value)
        v = self._values.get(vkey)
        if v is None:
            v = self._values[vkey] = len(self._value_messages)
            self._value_messages.append(_value_message(value))
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
        self.add_encoded(encoded[0], encoded[1], feature_id, properties)
        return True

    def add_many(
        self,
        geoms: np.ndarray,
        feature_ids: Iterable[int | None],
        properties: Iterable[Iterable[tuple[str, Any]]],
    ) -> int:
        """Add many features at once (geometries encoded together); returns how many drew."""
        added = 0
        for encoded, fid, props in zip(
            encode_geometries(geoms), feature_ids, properties, strict=True
        ):
            if encoded is not None:
                self.add_encoded(encoded[0], encoded[1], fid, props)
                added += 1
        return added

    def add_columns(
        self,
        geoms: np.ndarray,
        feature_ids: np.ndarray | None,
        columns: Sequence[PropertyColumn],
        rows: np.ndarray,
    ) -> int:
        """Add many features whose properties are rows of factorised columns.

        Parameters
        ----------
        geoms
            Integer tile-coordinate geometries, one per feature.
        feature_ids
            Non-negative ids, one per feature, or None for none.
        columns
            Layer-wide factorised properties.
        rows
            Row of each feature in ``columns``.

        Returns
        -------
        int
            How many features drew (the others are skipped).
        """
        encoded = encode_geometries(geoms)
        drawn = np.array([e is not None for e in encoded], dtype=bool)
        idx = np.flatnonzero(drawn)
        if len(idx) == 0:
            return 0
        rows = np.asarray(rows)[idx]
        # (feature, column) tag pairs laid out row-major, missing values masked out
        pair_k = np.full((len(idx), len(columns)), -1, dtype=np.int64)
        pair_v = np.zeros((len(idx), len(columns)), dtype=np.int64)
        for j, col in enumerate(columns):
            codes = col.codes[rows]
            present = codes >= 0
            if not present.any():
                continue
            used, local = np.unique(codes[present], return_inverse=True)
            pair_k[present, j] = self._keys.setdefault(col.name, len(self._keys))
            pair_v[present, j] = len(self._value_messages) + local
            self._value_messages.extend(col.values[u] for u in used.tolist())
        mask = pair_k >= 0
        stream = np.stack((pair_k, pair_v), axis=2)[mask].reshape(-1)
        tag_bytes = packed_varints(stream.astype(np.uint64))
        byte_at = np.zeros(len(stream) + 1, dtype=np.int64)
        np.cumsum(varint_sizes(stream.astype(np.uint64)), out=byte_at[1:])
        ends = np.cumsum(2 * mask.sum(axis=1))
        tag_end = byte_at[ends].tolist()
        tag_start = [0, *tag_end[:-1]]
        ids = None if feature_ids is None else np.asarray(feature_ids)[idx].tolist()
        append = self._features.append
        for n, i in enumerate(idx.tolist()):
            mvt_type, geometry = encoded[i]  # type: ignore[misc]
            msg = b"\x08" + varint(int(ids[n])) if ids is not None else b""
            if tag_end[n] > tag_start[n]:
                tags = tag_bytes[tag_start[n] : tag_end[n]]
                msg += b"\x12" + varint(len(tags)) + tags
            append(msg + bytes((0x18, mvt_type, 0x22)) + varint(len(geometry)) + geometry)
        return len(idx)

    def add_encoded(
        self,
        mvt_type: int,
        geometry: bytes,
        feature_id: int | None = None,
        properties: Iterable[tuple[str, Any]] = (),
    ) -> None:
        """Add a feature whose geometry is already packed command varints."""
        tags: list[int] = []
        for name, value in properties:
            tag = self._tag(name, value)
            if tag is not None:
                tags.extend(tag)
        msg = b""
        if feature_id is not None:
            msg += varint_field(1, int(feature_id))
        if tags:
            msg += length_field(2, packed_varints(tags))
        msg += varint_field(3, mvt_type)
        msg += length_field(4, geometry)
        self._features.append(msg)

    def encode(self) -> bytes:
        """The encoded ``Layer`` message (without the enclosing tile field)."""
        parts = [varint_field(15, 2), length_field(1, self.name.encode())]
        parts.extend(length_field(2, f) for f in self._features)
        parts.extend(length_field(3, k.encode()) for k in self._keys)
        parts.extend(length_field(4, v) for v in self._value_messages)
        parts.append(varint_field(5, self.extent))
        return b"".join(parts)


def encode_tile(layers: Iterable[LayerEncoder]) -> bytes:
    """A tile with the non-empty ``layers``; ``b""`` when none has a feature."""
    return b"".join(length_field(3, layer.encode()) for layer in layers if len(layer))


__all__ = [
    "LINESTRING",
    "POINT",
    "POLYGON",
    "LayerEncoder",
    "PropertyColumn",
    "encode_tile",
    "geometry_commands",
    "to_tile_coords",
    "varint",
]
