"""Read-only PMTiles v3 archives: header, directories and tiles by range reads.

Only the byte ranges a tile needs are read (``os.pread``, safe to share
between threads): the 127-byte header once, then the root directory, leaf
directories and the tile itself. Decoded directories are kept in a small LRU
so that neighbouring tiles cost one read each.

Examples
--------
>>> zxy_to_tileid(0, 0, 0), zxy_to_tileid(1, 0, 0), zxy_to_tileid(1, 1, 0)
(0, 1, 4)
>>> tileid_to_zxy(4)
(1, 1, 0)

An archive of several vector layers (``twin export a,b,c``) answers a tile of
some of them without decoding a feature (:meth:`PMTilesReader.get_layers`,
:func:`split_layers`): a tile message is its layers' fields one after another.
"""

from __future__ import annotations

import gzip
import json
import os
import struct
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from tiles._lru import LRU
from tiles.errors import ArtifactError

HEADER_SIZE = 127
MAGIC = b"PMTiles"
#: compression codes of the spec
COMPRESSION = {0: "unknown", 1: "none", 2: "gzip", 3: "brotli", 4: "zstd"}
#: tile type codes of the spec -> our format names
TILE_TYPES = {0: "unknown", 1: "mvt", 2: "png", 3: "jpeg", 4: "webp", 5: "avif"}
_MAX_DEPTH = 4  # root + up to three levels of leaves, as the spec allows


@dataclass(frozen=True)
class Header:
    """The fixed-size PMTiles v3 header."""

    root_offset: int
    root_length: int
    metadata_offset: int
    metadata_length: int
    leaf_offset: int
    leaf_length: int
    data_offset: int
    data_length: int
    internal_compression: int
    tile_compression: int
    tile_type: int
    min_zoom: int
    max_zoom: int
    bounds: tuple[float, float, float, float]

    @property
    def tile_format(self) -> str:
        return TILE_TYPES.get(self.tile_type, "unknown")

    @property
    def tile_encoding(self) -> str:
        return COMPRESSION.get(self.tile_compression, "unknown")


def parse_header(raw: bytes, origin: str = "archive") -> Header:
    """Decode the 127-byte header; :class:`ArtifactError` if it is not PMTiles v3."""
    if len(raw) < HEADER_SIZE or raw[:7] != MAGIC:
        raise ArtifactError(f"{origin}: not a PMTiles archive")
    if raw[7] != 3:
        raise ArtifactError(f"{origin}: PMTiles version {raw[7]} is not 3")
    offsets = struct.unpack_from("<8Q", raw, 8)
    internal, tile_comp, tile_type, min_zoom, max_zoom = struct.unpack_from("<5B", raw, 97)
    min_lon, min_lat, max_lon, max_lat = struct.unpack_from("<4i", raw, 102)
    return Header(
        *offsets,  # type: ignore[misc]  # eight u64 fields in header order
        internal_compression=internal,
        tile_compression=tile_comp,
        tile_type=tile_type,
        min_zoom=min_zoom,
        max_zoom=max_zoom,
        bounds=(min_lon / 1e7, min_lat / 1e7, max_lon / 1e7, max_lat / 1e7),
    )


def zxy_to_tileid(z: int, x: int, y: int) -> int:
    """The PMTiles tile id: tiles of lower zooms first, then the Hilbert index within ``z``."""
    acc = ((1 << (2 * z)) - 1) // 3  # 4**0 + ... + 4**(z-1)
    n = 1 << z
    d = 0
    s = n >> 1
    while s > 0:
        rx = 1 if x & s else 0
        ry = 1 if y & s else 0
        d += s * s * ((3 * rx) ^ ry)
        if ry == 0:  # rotate the quadrant so the curve stays continuous
            if rx == 1:
                x, y = n - 1 - x, n - 1 - y
            x, y = y, x
        s >>= 1
    return acc + d


def zxy_to_tileids(z: int, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """:func:`zxy_to_tileid` of many tiles of zoom ``z`` at once (int64).

    Examples
    --------
    >>> zxy_to_tileids(3, np.array([0, 5]), np.array([7, 2])).tolist() == [
    ...     zxy_to_tileid(3, 0, 7),
    ...     zxy_to_tileid(3, 5, 2),
    ... ]
    True
    """
    x, y = np.array(x, dtype=np.int64), np.array(y, dtype=np.int64)
    n = 1 << z
    d = np.zeros(len(x), dtype=np.int64)
    s = n >> 1
    while s > 0:
        rx = (x & s) > 0
        ry = (y & s) > 0
        d += s * s * ((3 * rx) ^ ry)
        flip = ~ry & rx
        x[flip], y[flip] = n - 1 - x[flip], n - 1 - y[flip]
        swap = ~ry
        x[swap], y[swap] = y[swap], x[swap]
        s >>= 1
    return ((1 << (2 * z)) - 1) // 3 + d


def tileid_to_zxy(tile_id: int) -> tuple[int, int, int]:
    """The tile ``(z, x, y)`` of a PMTiles tile id (the inverse of :func:`zxy_to_tileid`)."""
    z, acc = 0, 0
    while tile_id >= acc + (1 << (2 * z)):
        acc += 1 << (2 * z)
        z += 1
    t, n = tile_id - acc, 1 << z
    x = y = 0
    s = 1
    while s < n:  # the Hilbert curve unwound from the finest quadrant up
        rx = 1 & (t // 2)
        ry = 1 & (t ^ rx)
        if ry == 0:
            if rx == 1:
                x, y = s - 1 - x, s - 1 - y
            x, y = y, x
        x += s * rx
        y += s * ry
        t //= 4
        s *= 2
    return z, x, y


def _read_varints(buf: bytes, pos: int, count: int) -> tuple[list[int], int]:
    out = []
    for _ in range(count):
        value = shift = 0
        while True:
            if pos >= len(buf):
                raise ValueError("truncated varint")
            b = buf[pos]
            pos += 1
            value |= (b & 0x7F) << shift
            if b < 0x80:
                break
            shift += 7
        out.append(value)
    return out, pos


def _field(buf: bytes, pos: int) -> tuple[int, int, int, int]:
    """Field number, wire type, payload start and end of the protobuf field at ``pos``."""
    (tag,), pos = _read_varints(buf, pos, 1)
    wire = tag & 7
    if wire == 0:
        _, end = _read_varints(buf, pos, 1)
    elif wire == 2:
        (length,), pos = _read_varints(buf, pos, 1)
        end = pos + length
    elif wire in (1, 5):
        end = pos + (8 if wire == 1 else 4)
    else:
        raise ValueError(f"wire type {wire} at byte {pos}")
    if end > len(buf):
        raise ValueError("truncated field")
    return tag >> 3, wire, pos, end


def split_layers(tile: bytes) -> dict[str, bytes]:
    """The layers of an uncompressed vector tile by name, each framed as in the tile.

    The values of some layers joined are the tile of those layers (a tile is
    its ``layers`` fields one after another), so a composite is cut from a
    multi-layer tile without decoding a feature.

    Raises
    ------
    ValueError
        When ``tile`` is not a protobuf message or a layer has no name.

    Examples
    --------
    >>> tile = bytes([0x1A, 3, 0x0A, 1, ord("a"), 0x1A, 3, 0x0A, 1, ord("b")])
    >>> split_layers(tile)
    {'a': b'\\x1a\\x03\\n\\x01a', 'b': b'\\x1a\\x03\\n\\x01b'}
    """
    layers: dict[str, bytes] = {}
    pos = 0
    while pos < len(tile):
        number, wire, start, end = _field(tile, pos)
        if number == 3 and wire == 2:
            name = None
            inner = start
            while inner < end:
                n, w, a, b = _field(tile, inner)
                if n == 1 and w == 2:
                    name = tile[a:b].decode()
                    break
                inner = b
            if name is None:
                raise ValueError(f"a layer without a name at byte {pos}")
            layers[name] = tile[pos:end]
        pos = end
    return layers


@dataclass(frozen=True)
class Directory:
    """Entries of one directory as parallel arrays sorted by tile id."""

    tile_ids: np.ndarray
    run_lengths: np.ndarray
    lengths: np.ndarray
    offsets: np.ndarray


def parse_directory(raw: bytes) -> Directory:
    """Decode an (uncompressed) directory: count, then columns of delta-coded varints."""
    (n,), pos = _read_varints(raw, 0, 1)
    deltas, pos = _read_varints(raw, pos, n)
    runs, pos = _read_varints(raw, pos, n)
    lengths, pos = _read_varints(raw, pos, n)
    offs, pos = _read_varints(raw, pos, n)
    tile_ids = np.cumsum(np.asarray(deltas, dtype=np.uint64), dtype=np.uint64)
    offsets = np.zeros(n, dtype=np.uint64)
    for i in range(n):
        # stored as offset + 1; a 0 after the first entry means "right after the previous"
        if i > 0 and offs[i] == 0:
            offsets[i] = offsets[i - 1] + np.uint64(lengths[i - 1])
        else:
            offsets[i] = offs[i] - 1
    return Directory(
        tile_ids=tile_ids,
        run_lengths=np.asarray(runs, dtype=np.uint64),
        lengths=np.asarray(lengths, dtype=np.uint64),
        offsets=offsets,
    )


class PMTilesReader:
    """Tiles of one local PMTiles v3 archive.

    Parameters
    ----------
    path
        The archive.
    cache_size
        How many decoded directories to keep.
    """

    def __init__(self, path: str, cache_size: int = 64) -> None:
        self.path = path
        try:
            self._fd = os.open(path, os.O_RDONLY)
        except OSError as exc:
            raise ArtifactError(f"{path}: cannot open PMTiles archive: {exc.strerror}") from None
        self.header = parse_header(self._read(0, HEADER_SIZE), path)
        if self.header.internal_compression not in (1, 2):
            raise ArtifactError(
                f"{path}: directory compression "
                f"{COMPRESSION.get(self.header.internal_compression)} is not supported"
            )
        self._cache: LRU[tuple[int, int], Directory] = LRU(cache_size)

    def close(self) -> None:
        """Close the archive (idempotent: the descriptor is never closed twice)."""
        fd, self._fd = getattr(self, "_fd", -1), -1
        if fd >= 0:
            os.close(fd)

    def __del__(self) -> None:
        self.close()

    def _read(self, offset: int, length: int) -> bytes:
        data = os.pread(self._fd, length, offset)
        if len(data) != length:
            raise ArtifactError(f"{self.path}: truncated at byte {offset + len(data)}")
        return data

    def _decompress(self, data: bytes, code: int) -> bytes:
        if code == 1:
            return data
        if code == 2:
            return gzip.decompress(data)
        raise ArtifactError(f"{self.path}: compression {COMPRESSION.get(code)} is not supported")

    def _directory(self, offset: int, length: int) -> Directory:
        return self._cache.get_or_create((offset, length), partial(self._load, offset, length))

    def _load(self, offset: int, length: int) -> Directory:
        try:
            raw = self._decompress(self._read(offset, length), self.header.internal_compression)
            return parse_directory(raw)
        except (ValueError, IndexError, EOFError, zlib.error, gzip.BadGzipFile):
            raise ArtifactError(f"{self.path}: corrupt directory at byte {offset}") from None

    def metadata(self) -> dict[str, Any]:
        """The archive's JSON metadata."""
        h = self.header
        raw = self._read(h.metadata_offset, h.metadata_length)
        return json.loads(self._decompress(raw, h.internal_compression) or b"{}")

    def check(self) -> int:
        """Walk every directory and check that every entry points inside the archive.

        The header's sections must lie inside the file, the metadata must
        decode, every directory must decode, leaf entries must point inside
        the leaf section and tile entries inside the data section. Tiles
        themselves are not decoded.

        Returns
        -------
        The number of tiles the archive addresses.

        Raises
        ------
        ArtifactError
            Naming the first section, directory or entry that is wrong.
        """
        h = self.header
        size = os.fstat(self._fd).st_size
        sections = {
            "root directory": (h.root_offset, h.root_length),
            "metadata": (h.metadata_offset, h.metadata_length),
            "leaf directories": (h.leaf_offset, h.leaf_length),
            "tile data": (h.data_offset, h.data_length),
        }
        for name, (offset, length) in sections.items():
            if offset + length > size:
                raise ArtifactError(
                    f"{self.path}: the {name} end at byte {offset + length}, "
                    f"past the end of the file ({size} bytes)"
                )
        try:
            self.metadata()
        except (ValueError, EOFError, zlib.error, gzip.BadGzipFile):
            raise ArtifactError(f"{self.path}: the metadata cannot be decoded") from None
        tiles = 0
        for offset, d in self._directories():
            leaf = d.run_lengths == 0
            ends = d.offsets + d.lengths
            limit = np.where(leaf, np.uint64(h.leaf_length), np.uint64(h.data_length))
            out = np.flatnonzero(ends > limit)
            if out.size:
                i = int(out[0])
                what = "leaf directory" if leaf[i] else "tile"
                raise ArtifactError(
                    f"{self.path}: directory at byte {offset}: entry {i} ({what} "
                    f"{int(d.tile_ids[i])}) ends at byte {int(ends[i])} of a "
                    f"{int(limit[i])}-byte section ({out.size} such entries)"
                )
            if d.tile_ids.size > 1 and not (np.diff(d.tile_ids.astype(np.int64)) > 0).all():
                raise ArtifactError(
                    f"{self.path}: directory at byte {offset}: tile ids not ascending"
                )
            tiles += int(d.run_lengths.sum())
        return tiles

    def tiles(self) -> list[tuple[int, int, int]]:
        """Every tile the archive addresses, as ``(z, x, y)`` in tile-id order."""
        ids: list[int] = []
        for _, d in self._directories():
            for first, run in zip(d.tile_ids.tolist(), d.run_lengths.tolist(), strict=True):
                ids.extend(range(first, first + run))  # a run of 0 is a leaf directory
        return [tileid_to_zxy(i) for i in sorted(ids)]

    def _directories(self) -> Iterator[tuple[int, Directory]]:
        """Each directory with its byte offset, the root first, then its leaves depth-first.

        A leaf's entries are followed only after the caller has looked at the
        directory that points to it (so that :meth:`check` stops at a bad entry).
        """
        h = self.header
        stack = [(h.root_offset, h.root_length, 0)]
        while stack:
            offset, length, depth = stack.pop()
            if depth >= _MAX_DEPTH:
                raise ArtifactError(f"{self.path}: directories nest deeper than {_MAX_DEPTH}")
            d = self._directory(offset, length)
            yield offset, d
            leaf = d.run_lengths == 0
            stack += [
                (h.leaf_offset + int(o), int(n), depth + 1)
                for o, n in zip(d.offsets[leaf], d.lengths[leaf], strict=True)
            ]

    def get_layers(self, z: int, x: int, y: int, names: Iterable[str]) -> bytes | None:
        """The uncompressed vector tile ``z/x/y`` of the layers ``names``, in that order.

        None when the archive has no tile there; ``b""`` when the tile holds
        none of ``names``. Layers are cut from the stored tile, not decoded
        (:func:`split_layers`); the archive's metadata lists the layers it holds
        (``vector_layers``, with each layer's ``version`` when ``twin export``
        wrote it).
        """
        raw = self.get(z, x, y)
        if raw is None:
            return None
        try:
            layers = split_layers(self._decompress(raw, self.header.tile_compression))
        except (ValueError, UnicodeDecodeError, EOFError, zlib.error, gzip.BadGzipFile):
            raise ArtifactError(f"{self.path}: tile {z}/{x}/{y} is not a vector tile") from None
        return b"".join(layers.get(name, b"") for name in names)

    def get(self, z: int, x: int, y: int) -> bytes | None:
        """The stored bytes of tile ``z/x/y`` (still tile-compressed), or None if absent."""
        tile_id = np.uint64(zxy_to_tileid(z, x, y))
        offset, length = self.header.root_offset, self.header.root_length
        for _ in range(_MAX_DEPTH):
            d = self._directory(offset, length)
            i = int(np.searchsorted(d.tile_ids, tile_id, side="right")) - 1
            if i < 0:
                return None
            run = int(d.run_lengths[i])
            if run == 0:  # a leaf directory covering ids from tile_ids[i]
                offset = self.header.leaf_offset + int(d.offsets[i])
                length = int(d.lengths[i])
                continue
            if int(tile_id) >= int(d.tile_ids[i]) + run:
                return None
            return self._read(self.header.data_offset + int(d.offsets[i]), int(d.lengths[i]))
        raise ArtifactError(f"{self.path}: directories nest deeper than {_MAX_DEPTH} levels")
