"""Write MBTiles 1.3 archives (SQLite) with identical tiles stored once.

The deduplicated layout tippecanoe and mbutil use: an ``images`` table of
distinct tile contents keyed by a content hash, a ``map`` table from
(zoom, column, row) to that key, and a ``tiles`` view joining them so that
readers that only know the standard ``tiles`` table still work. Rows are
TMS-numbered (row 0 at the south), as the MBTiles spec requires.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE metadata (name TEXT, value TEXT);
CREATE UNIQUE INDEX name ON metadata (name);
CREATE TABLE images (tile_data BLOB, tile_id TEXT);
CREATE UNIQUE INDEX images_id ON images (tile_id);
CREATE TABLE map (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_id TEXT);
CREATE UNIQUE INDEX map_index ON map (zoom_level, tile_column, tile_row);
CREATE VIEW tiles AS
  SELECT map.zoom_level AS zoom_level, map.tile_column AS tile_column,
         map.tile_row AS tile_row, images.tile_data AS tile_data
  FROM map JOIN images ON images.tile_id = map.tile_id;
"""


class MBTilesWriter:
    """Accumulates tiles in a new MBTiles file.

    Parameters
    ----------
    path
        The file to create (must not exist).
    tile_format
        The ``format`` metadata value: ``"pbf"`` for vector tiles, ``"png"`` ...
    """

    def __init__(self, path: str | Path, tile_format: str = "pbf") -> None:
        self.path = Path(path)
        self.tile_format = tile_format
        self._db = sqlite3.connect(self.path)
        # one writer, written once: the journal buys nothing but time
        self._db.execute("PRAGMA journal_mode = OFF")
        self._db.execute("PRAGMA synchronous = OFF")
        self._db.executescript(_SCHEMA)
        self._seen: set[str] = set()
        self.addressed = 0

    @property
    def contents(self) -> int:
        """Distinct tile contents stored."""
        return len(self._seen)

    def add(self, z: int, x: int, y: int, data: bytes) -> None:
        """Add tile ``z/x/y`` (XYZ numbering, y down) with its stored bytes."""
        tile_id = hashlib.blake2b(data, digest_size=16).hexdigest()
        if tile_id not in self._seen:
            self._seen.add(tile_id)
            self._db.execute("INSERT INTO images VALUES (?, ?)", (data, tile_id))
        self._db.execute("INSERT INTO map VALUES (?, ?, ?, ?)", (z, x, (1 << z) - 1 - y, tile_id))
        self.addressed += 1

    def finish(
        self,
        name: str,
        min_zoom: int,
        max_zoom: int,
        bounds: tuple[float, float, float, float],
        metadata: dict[str, Any],
        center: tuple[float, float, int] | None = None,
    ) -> None:
        """Write the metadata table (MBTiles 1.3 keys plus ``json``) and close the file."""
        west, south, east, north = bounds
        if center is None:
            center = ((west + east) / 2, (south + north) / 2, min_zoom)
        rows = {
            "name": name,
            "format": self.tile_format,
            "bounds": ",".join(f"{v:.7f}" for v in bounds),
            "center": f"{center[0]:.7f},{center[1]:.7f},{center[2]}",
            "minzoom": str(min_zoom),
            "maxzoom": str(max_zoom),
            "type": "overlay",
            "version": "2",
        }
        for key in ("description", "attribution"):
            if metadata.get(key):
                rows[key] = str(metadata[key])
        if "vector_layers" in metadata:
            rows["json"] = json.dumps({"vector_layers": metadata["vector_layers"]})
        self._db.executemany("INSERT INTO metadata VALUES (?, ?)", rows.items())
        self._db.commit()
        self._db.close()

    def abort(self) -> None:
        """Close without finishing (the caller removes the file)."""
        self._db.close()
