"""Mapbox Vector Tile (MVT 2.1) encoding.

Two steps, both independent of where features come from:

1. :func:`to_tile_coords` takes geometries in the grid's CRS and the tile's
   bounds and returns integer tile-coordinate geometries (y down): affine to
   tile units, clip to the tile plus a buffer, simplify to the tile's
   resolution, snap to the integer grid keeping the result valid, and orient
   polygon rings as the spec requires (exterior rings have positive area by
   the surveyor's formula in tile coordinates, interior rings negative). All
   of it runs on whole arrays with shapely 2's vectorised functions;
   :func:`to_tiles_coords` does the same for many tiles at once (both live in
   ``tiles._mvt_coords``).
2. :class:`LayerEncoder` turns those geometries, feature ids and typed
   properties into a protobuf ``Layer``; :func:`encode_tile` joins layers
   into a tile. Because a tile is a repeated ``layers`` field, concatenating
   encoded tiles is itself a valid tile: composite tiles are built that way.
   :func:`encode_layer_parts` writes one layer's part of many tiles in one
   kernel call, the bytes :class:`LayerEncoder` would make of each.

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

import functools
import itertools
import math
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from isal import isal_zlib

from tiles._mvt_coords import tile_points, to_tile_coords, to_tiles_coords
from tiles._mvt_geometry import (
    LINESTRING,
    POINT,
    POLYGON,
    encode_geometries,
    encode_geometries_packed,
    pack_points,
)
from tiles._mvt_kernel import frame_features, frame_layers, used_values
from tiles._protobuf import (
    double_field,
    length_field,
    packed_varints,
    varint,
    varint_field,
    zigzag_int,
)

UNKNOWN = 0


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


_FRAMED_DOUBLE = struct.Struct("<BBBd")


def _value_field(value: Any) -> bytes:
    """A framed ``Layer.values`` field (key, length, ``Value`` message): a layer's
    distinct values are many (names, ids), so strings and doubles are framed at once."""
    kind = type(value)
    if kind is str:
        data = value.encode()
        if len(data) < 126:  # both lengths fit in one varint byte
            return bytes((0x22, len(data) + 2, 0x0A, len(data))) + data
    elif kind is float:
        return _FRAMED_DOUBLE.pack(0x22, 9, 0x19, value)
    return length_field(4, _value_message(value))


@functools.lru_cache(maxsize=4096)
def _key_field(name: str) -> bytes:
    """A framed ``Layer.keys`` field (layers repeat the same few names in every tile)."""
    return length_field(3, name.encode())


def _value_key(value: Any) -> tuple[str, Any]:
    # 1, 1.0 and True are equal in Python but distinct MVT values
    return (type(value).__name__, value)


@dataclass(frozen=True)
class PropertyTable:
    """A layer's properties factorised once: per row and column, a code into distinct values.

    Encoding a tile then only gathers a block of codes (numpy) and writes the
    distinct values its features use, once each, shared by all its features.

    Examples
    --------
    >>> t = PropertyTable.factorise([("a", [1, None, 1]), ("b", ["x", "y", 1])])
    >>> t.codes.tolist(), len(t.values)
    ([[0, 1], [-1, 2], [0, 0]], 3)
    """

    names: tuple[str, ...]
    #: (rows, columns): index into ``values``, -1 where the value is missing
    codes: np.ndarray
    #: distinct values as framed ``Layer.values`` fields (key, length, ``Value`` message)
    values: tuple[bytes, ...]

    @classmethod
    def factorise(
        cls, columns: Sequence[tuple[str, Sequence[Any]]], rows: int | None = None
    ) -> PropertyTable:
        """Factorise columns of Python values (None and NaN are missing: MVT has no null).

        ``rows`` is needed only when there are no columns.
        """
        index: dict[tuple[str, Any], int] = {}
        n = len(columns[0][1]) if columns else int(rows or 0)
        codes = np.empty((n, len(columns)), dtype=np.int64)
        for j, (_, values) in enumerate(columns):
            # each value's key once per row, but the distinct ones checked one by one
            keys = list(zip([type(v).__name__ for v in values], values, strict=True))
            for key in dict.fromkeys(keys):  # in order of first appearance
                value = key[1]
                if value is not None and not (isinstance(value, float) and math.isnan(value)):
                    index.setdefault(key, len(index))
            # missing values (None, NaN: never in the index) are -1
            codes[:, j] = [index.get(key, -1) for key in keys]
        table = tuple([_value_field(v) for _, v in index])
        return cls(tuple(name for name, _ in columns), codes, table)

    @functools.cached_property
    def value_array(self) -> np.ndarray:
        """``values`` as an object array, so a tile's values are gathered in one call."""
        out = np.empty(len(self.values), dtype=object)
        out[:] = self.values
        return out

    @functools.cached_property
    def value_buffer(self) -> tuple[np.ndarray, np.ndarray]:
        """``values`` joined in one uint8 array, and where each starts (plus the end)."""
        return _joined(self.values)

    @functools.cached_property
    def key_buffer(self) -> tuple[np.ndarray, np.ndarray]:
        """The framed ``Layer.keys`` field of each column, joined as :attr:`value_buffer`."""
        return _joined([_key_field(name) for name in self.names])

    def select(self, names: Iterable[str]) -> PropertyTable:
        """The same table with only the named columns (in table order)."""
        wanted = set(names)
        keep = [j for j, name in enumerate(self.names) if name in wanted]
        return PropertyTable(tuple(self.names[j] for j in keep), self.codes[:, keep], self.values)


def _joined(parts: Sequence[bytes]) -> tuple[np.ndarray, np.ndarray]:
    starts = np.zeros(len(parts) + 1, dtype=np.int64)
    np.cumsum([len(p) for p in parts], out=starts[1:])
    return np.frombuffer(b"".join(parts), dtype=np.uint8), starts


def encode_layer_parts(
    name: str,
    extent: int,
    packed: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    feature_ids: np.ndarray | None,
    table: PropertyTable,
    rows: np.ndarray,
    starts: np.ndarray,
) -> list[bytes]:
    """One layer's part of several tiles: what :func:`encode_tile` of a :class:`LayerEncoder`
    given each tile's features by :meth:`~LayerEncoder.add_columns` makes, in one kernel call.

    Parameters
    ----------
    name, extent
        The layer's name and tile units per side.
    packed
        The geometry commands of all the tiles' features
        (:func:`tiles._mvt_geometry.encode_geometries_packed`).
    feature_ids
        Non-negative ids, one per feature, or None for none.
    table, rows
        Layer-wide factorised properties and each feature's row in it.
    starts
        Tile ``t`` holds features ``starts[t]:starts[t + 1]``.

    Returns
    -------
    list of bytes
        Each tile's ``Tile.layers`` field; ``b""`` where no feature draws.
    """
    kinds, geom, begin, end = packed
    has_ids = feature_ids is not None
    ids = np.asarray(feature_ids if has_ids else np.zeros(len(kinds)), dtype=np.uint64)
    head = np.frombuffer(varint_field(15, 2) + length_field(1, name.encode()), dtype=np.uint8)
    tail = np.frombuffer(varint_field(5, extent), dtype=np.uint8)
    codes = table.codes[np.asarray(rows)]
    key_bytes, key_start = table.key_buffer
    value_bytes, value_start = table.value_buffer
    buf, where = frame_layers(
        kinds,
        geom,
        begin,
        end,
        ids,
        has_ids,
        codes,
        np.asarray(starts, dtype=np.int64),
        head,
        key_bytes,
        key_start,
        value_bytes,
        value_start,
        tail,
    )
    data = buf.tobytes()
    return [data[a:b] for a, b in itertools.pairwise(where.tolist())]


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
        self._value_messages: list[bytes] = []  # framed Layer.values fields
        # framed ``features`` fields (key, length, message), many features per chunk
        self._chunks: list[bytes] = []
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def _tag(self, name: str, value: Any) -> tuple[int, int] | None:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return None  # a missing value is an absent property, as MVT has no null
        k = self._keys.setdefault(name, len(self._keys))
        vkey = _value_key(value)
        v = self._values.get(vkey)
        if v is None:
            v = self._values[vkey] = len(self._value_messages)
            self._value_messages.append(length_field(4, _value_message(value)))
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
        kinds, geom, begin, end = encode_geometries_packed(geoms)
        return self.add_packed(kinds, geom, begin, end, feature_ids, table, rows)

    def add_points(
        self,
        xy: np.ndarray,
        feature_ids: np.ndarray | None,
        table: PropertyTable,
        rows: np.ndarray,
    ) -> int:
        """Add single points already in integer tile coordinates ((n, 2) int64), no shapely."""
        kinds, geom, begin, end = pack_points(xy)
        return self.add_packed(kinds, geom, begin, end, feature_ids, table, rows)

    def add_packed(
        self,
        kinds: np.ndarray,
        geom: np.ndarray,
        begin: np.ndarray,
        end: np.ndarray,
        feature_ids: np.ndarray | None,
        table: PropertyTable,
        rows: np.ndarray,
    ) -> int:
        """Add features whose geometries are packed commands (see ``encode_geometries_packed``)."""
        drawn = int(np.count_nonzero(kinds))
        if drawn == 0:
            return 0
        codes = table.codes[np.asarray(rows)]
        columns, used = used_values(kinds, codes)
        # keys: the columns any drawn feature has a value for, in table order
        key_of = np.full(len(table.names), -1, dtype=np.int64)
        for j in np.flatnonzero(columns).tolist():
            key_of[j] = self._keys.setdefault(table.names[j], len(self._keys))
        # the tile's value table: only the values its features use, each once
        base = len(self._value_messages)
        self._value_messages.extend(table.value_array[used].tolist())
        has_ids = feature_ids is not None
        ids = np.asarray(feature_ids if has_ids else np.zeros(len(kinds)), dtype=np.uint64)
        framed = frame_features(kinds, geom, begin, end, ids, has_ids, codes, key_of, used, base)
        self._chunks.append(framed.tobytes())
        self._count += drawn
        return drawn

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
        self._chunks.append(length_field(2, msg))
        self._count += 1

    def encode(self) -> bytes:
        """The encoded ``Layer`` message (without the enclosing tile field)."""
        parts = [varint_field(15, 2), length_field(1, self.name.encode())]
        parts.extend(self._chunks)
        parts.extend(_key_field(k) for k in self._keys)
        parts.extend(self._value_messages)
        parts.append(varint_field(5, self.extent))
        return b"".join(parts)


def warm_up() -> None:
    """Load (or compile, on a fresh machine) the encoder's kernels by encoding a tiny tile.

    It costs numba's start-up, most of a second from its on-disk cache and several
    without one; a server calls this while starting so that no request pays it, and
    an export of many tiles before it forks its workers, so that each need not.
    Until then (or until the work is large) the kernels run interpreted.
    """
    from tiles._mvt_kernel import load_compiled, points_in_box, points_to_tile

    load_compiled()

    geoms = np.array(
        [shapely.Point(1, 1), shapely.LineString([(0, 0), (5, 5)]), shapely.box(0, 0, 5, 5)]
    )
    table = PropertyTable.factorise([("a", [1, None, "x"])])
    layer = LayerEncoder("warm-up")
    tile_geoms = to_tile_coords(geoms, (0.0, 0.0, 10.0, 10.0))
    layer.add_columns(tile_geoms, None, table, np.arange(3))
    packed = encode_geometries_packed(tile_geoms)
    starts = np.array([0, 3])
    encode_layer_parts("warm-up", 4096, packed, np.arange(3), table, np.arange(3), starts)
    xs = np.array([1.0, 2.0])
    hits = points_in_box(xs, xs, np.arange(2), (0.0, 0.0, 5.0, 5.0))
    xy, inside = points_to_tile(xs[hits], xs[hits], 0.0, 10.0, 409.6, 409.6, -64.0, 4160.0)
    layer.add_points(xy[inside], np.arange(2, dtype=np.uint64), table, hits)
    encode_tile([layer])


def gzip_tile(data: bytes) -> bytes:
    """A tile as standard gzip (mtime 0) at level 1, by ISA-L.

    Level 6 took as long as encoding the tile and makes MVT only a few percent
    smaller: protobuf varints of deltas leave little that longer matching finds.
    ISA-L's level 1 is 3.4 times as fast as zlib's on the tiles of the tile
    benchmark, for 4 % more bytes.
    """
    return isal_zlib.compress(data, 1, wbits=31)


def gunzip_tile(data: bytes) -> bytes:
    """A gzip-compressed tile's bytes (ISA-L: twice as fast as zlib)."""
    return isal_zlib.decompress(data, 31)


def encode_tile(layers: Iterable[LayerEncoder]) -> bytes:
    """A tile with the non-empty ``layers``; ``b""`` when none has a feature."""
    return b"".join(length_field(3, layer.encode()) for layer in layers if len(layer))


__all__ = [
    "LINESTRING",
    "POINT",
    "POLYGON",
    "LayerEncoder",
    "PropertyTable",
    "encode_layer_parts",
    "encode_tile",
    "geometry_commands",
    "gunzip_tile",
    "gzip_tile",
    "tile_points",
    "to_tile_coords",
    "to_tiles_coords",
    "varint",
    "warm_up",
]
