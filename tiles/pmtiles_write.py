"""Write PMTiles v3 archives: deduplicated tiles, run-length entries, clustered data.

Tiles must be added in increasing tile id order (what :func:`tiles.pmtiles.zxy_to_tileid`
gives). Tile contents are written once: a tile whose bytes hash like an earlier
one points at the earlier bytes, and consecutive ids with the same bytes become
one entry with a run length (the empty-sea case of tippecanoe and go-pmtiles).
Tile data goes to a spool file next to the archive while tiles arrive; the
header, root directory, metadata and leaf directories are laid out at the end.

Layout (spec v3): header (127 bytes) | root directory | metadata | leaf
directories | tile data. Directories and metadata are gzip-compressed.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import struct
import tempfile
from pathlib import Path
from typing import Any, BinaryIO

from tiles._protobuf import varint
from tiles.pmtiles import HEADER_SIZE, MAGIC

#: The spec asks header + root directory to fit the first 16 KiB, so one read gets both.
ROOT_BUDGET = 16384 - HEADER_SIZE
COMPRESSION_CODES = {"none": 1, "gzip": 2}
TILE_TYPE_CODES = {"mvt": 1, "png": 2, "jpeg": 3, "webp": 4, "avif": 5}

Entry = tuple[int, int, int, int]  # tile id, offset, length, run length


def serialize_directory(entries: list[Entry]) -> bytes:
    """Gzip-compressed directory: count, then columns of delta-coded varints."""
    out = bytearray(varint(len(entries)))
    last = 0
    for tile_id, _, _, _ in entries:
        out += varint(tile_id - last)
        last = tile_id
    for _, _, _, run in entries:
        out += varint(run)
    for _, _, length, _ in entries:
        out += varint(length)
    for i, (_, offset, _, _) in enumerate(entries):
        prev = entries[i - 1] if i else None
        # 0 means "right after the previous entry's bytes", which clustered data mostly is
        if prev is not None and offset == prev[1] + prev[2]:
            out += varint(0)
        else:
            out += varint(offset + 1)
    return gzip.compress(bytes(out), compresslevel=6, mtime=0)


def build_directories(entries: list[Entry]) -> tuple[bytes, bytes]:
    """Root directory and concatenated leaf directories for ``entries``.

    Everything goes in the root when it fits the budget; otherwise entries are
    cut into leaves of ``leaf_size`` entries (doubled until the root of leaf
    pointers fits), as go-pmtiles does.
    """
    root = serialize_directory(entries)
    if len(root) <= ROOT_BUDGET:
        return root, b""
    leaf_size = 4096
    while True:
        pointers: list[Entry] = []
        leaves = bytearray()
        for i in range(0, len(entries), leaf_size):
            chunk = serialize_directory(entries[i : i + leaf_size])
            pointers.append((entries[i][0], len(leaves), len(chunk), 0))
            leaves += chunk
        root = serialize_directory(pointers)
        if len(root) <= ROOT_BUDGET:
            return root, bytes(leaves)
        leaf_size *= 2


class PMTilesWriter:
    """Accumulates tiles and writes one PMTiles v3 archive.

    Parameters
    ----------
    path
        Where :meth:`finish` writes the archive (the spool file lives next to it).
    tile_type
        ``"mvt"``, ``"png"``, ``"jpeg"``, ``"webp"`` or ``"avif"``.
    tile_compression
        How the added tile bytes are already compressed: ``"gzip"`` or ``"none"``.
    """

    def __init__(self, path: str | Path, tile_type: str = "mvt", tile_compression: str = "gzip"):
        self.path = Path(path)
        self.tile_type = TILE_TYPE_CODES[tile_type]
        self.tile_compression = COMPRESSION_CODES[tile_compression]
        # closed by finish() or abort(): it lives as long as the writer
        self._data: BinaryIO = tempfile.TemporaryFile(  # noqa: SIM115
            dir=self.path.parent, prefix=".pmtiles-"
        )
        self._size = 0
        self._seen: dict[bytes, tuple[int, int]] = {}
        self._entries: list[Entry] = []
        self._last_id = -1
        self.addressed = 0

    @property
    def contents(self) -> int:
        """Distinct tile contents stored."""
        return len(self._seen)

    def add(self, tile_id: int, data: bytes) -> None:
        """Add one non-empty tile; ids must increase."""
        if tile_id <= self._last_id:
            raise ValueError(f"tile id {tile_id} after {self._last_id}: add tiles in id order")
        self._last_id = tile_id
        self.addressed += 1
        digest = hashlib.blake2b(data, digest_size=16).digest()
        found = self._seen.get(digest)
        if found is None:
            found = (self._size, len(data))
            self._data.write(data)
            self._size += len(data)
            self._seen[digest] = found
        offset, length = found
        if self._entries:
            last_id, last_off, last_len, run = self._entries[-1]
            if last_off == offset and last_id + run == tile_id:
                self._entries[-1] = (last_id, last_off, last_len, run + 1)
                return
        self._entries.append((tile_id, offset, length, 1))

    def finish(
        self,
        metadata: dict[str, Any],
        min_zoom: int,
        max_zoom: int,
        bounds: tuple[float, float, float, float],
        center: tuple[float, float, int] | None = None,
    ) -> None:
        """Lay out and write the archive to ``path``, then drop the spool file."""
        root, leaves = build_directories(self._entries)
        meta = gzip.compress(json.dumps(metadata).encode(), compresslevel=6, mtime=0)
        root_off = HEADER_SIZE
        meta_off = root_off + len(root)
        leaf_off = meta_off + len(meta)
        data_off = leaf_off + len(leaves)
        west, south, east, north = bounds
        if center is None:
            center = ((west + east) / 2, (south + north) / 2, min_zoom)
        header = MAGIC + bytes([3])
        header += struct.pack(
            "<11Q",
            root_off,
            len(root),
            meta_off,
            len(meta),
            leaf_off,
            len(leaves),
            data_off,
            self._size,
            self.addressed,
            len(self._entries),
            self.contents,
        )
        header += struct.pack(
            "<6B",
            1,  # clustered: tile data is in tile id order (duplicates point backwards)
            COMPRESSION_CODES["gzip"],
            self.tile_compression,
            self.tile_type,
            min_zoom,
            max_zoom,
        )
        e7 = [round(v * 1e7) for v in (west, south, east, north)]
        header += struct.pack("<4i", *e7)
        header += struct.pack("<Bii", center[2], round(center[0] * 1e7), round(center[1] * 1e7))
        assert len(header) == HEADER_SIZE
        with open(self.path, "wb") as out:
            out.write(header + root + meta + leaves)
            self._data.seek(0)
            shutil.copyfileobj(self._data, out, 1 << 20)
            out.flush()
            os.fsync(out.fileno())
        self._data.close()

    def abort(self) -> None:
        """Drop the spool file without writing anything."""
        self._data.close()
