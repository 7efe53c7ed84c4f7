"""From a tile request to an encoded tile: validation, source choice, caching.

:meth:`TileService.request` checks a request against one catalog snapshot and
the grid and raises the 4xx errors (unknown layer or grid, tile outside the
grid, the layers' zoom range or bounds, bad parameters). :meth:`TileService.tile`
then returns the encoded tile from the cache or encodes it once: vector tiles
from the layer's PMTiles archive when one is published for the grid, else
from its GeoParquet; raster tiles through rio-tiler from its COG.
"""

from __future__ import annotations

import hashlib
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property, partial

from tiles._lru import LRU
from tiles.cache import EncodedTile, TileCache
from tiles.catalog import MOSAIC_ARTIFACT, LayerEntry
from tiles.errors import ArtifactError, InvalidParameterError, TileOutsideError, TilesError
from tiles.grids import DEFAULT_GRID, Grid, get_grid, grid_bounds
from tiles.metrics import Metrics
from tiles.mosaic import background, encode, read_mosaic_tile
from tiles.mvt import encode_tile, gunzip_tile, gzip_tile
from tiles.pmtiles import PMTilesReader
from tiles.raster import WEBMERCATOR_ARTIFACT, RasterStyle, render_tile
from tiles.settings import Settings
from tiles.store import Snapshot
from tiles.terrain import check_encoding, render_terrain
from tiles.tilejson import tile_formats
from tiles.vector import SourceCache, load_source

MVT_MEDIA_TYPE = "application/vnd.mapbox-vector-tile"
MEDIA_TYPES = {
    "mvt": MVT_MEDIA_TYPE,
    "png": "image/png",
    "webp": "image/webp",
    "jpg": "image/jpeg",
}
VECTOR_FORMATS = ("mvt", "pbf")
log = logging.getLogger(__name__)


def _overlaps(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    # Inclusive on purpose: a point layer has zero-size bounds and still needs its tiles.
    return a[2] >= b[0] and a[0] <= b[2] and a[3] >= b[1] and a[1] <= b[3]


@dataclass(frozen=True)
class TileRequest:
    """A validated tile request, tied to one catalog snapshot."""

    snapshot: Snapshot
    layers: tuple[tuple[str, LayerEntry], ...]
    grid: Grid
    z: int
    x: int
    y: int
    fmt: str
    scale: int = 1
    style: RasterStyle | None = None
    overrides: bool = False
    key: tuple[object, ...] = field(default=())
    encoding: str | None = None
    """A terrain-RGB encoding (:mod:`tiles.terrain`): heights packed into colours."""

    @property
    def kind(self) -> str:
        return self.layers[0][1].kind

    def describe(self) -> str:
        """``layer/z/x/y.fmt`` and the grid, for a log line."""
        names = ",".join(name for name, _ in self.layers)
        return f"{names}/{self.z}/{self.x}/{self.y}.{self.fmt} ({self.grid.id})"

    @cached_property
    def etag(self) -> str:
        """The ETag of the identity encoding (see :func:`tiles._http.variant_etag`)."""
        digest = hashlib.blake2b(repr(self.key).encode(), digest_size=12).hexdigest()
        return f'"{digest}"'


class TileService:
    """Encodes tiles for the app; one per process.

    Parameters
    ----------
    settings
        Server settings (extent, buffer, cache size, ...).
    metrics
        Where encodings are counted.
    """

    def __init__(self, settings: Settings, metrics: Metrics) -> None:
        self.settings = settings
        self.metrics = metrics
        # A bounded pool: more encoding threads than cores only queue on the GIL (40 threads
        # fighting over 2 cores lost a third of the throughput at 64 connections).
        self.pool = ThreadPoolExecutor(settings.encode_threads, thread_name_prefix="tile-encode")
        self.cache = TileCache(int(settings.cache_mb * 1_000_000), self.pool)
        self.sources = SourceCache()
        self._archives: LRU[str, PMTilesReader] = LRU(16)

    def close(self) -> None:
        """Let the encoding threads go (encodings under way finish in the background)."""
        self.pool.shutdown(wait=False, cancel_futures=True)

    # -- validation ---------------------------------------------------------------------------

    def request(
        self,
        snapshot: Snapshot,
        names: str,
        z: int,
        x: int,
        y: int,
        fmt: str,
        scale: int = 1,
        grid_id: str = DEFAULT_GRID,
        colormap_name: str | None = None,
        rescale: tuple[float, float] | None = None,
        encoding: str | None = None,
    ) -> TileRequest:
        """Check a request; raises the 4xx :mod:`tiles.errors` for a bad one.

        ``encoding`` (checked by :func:`tiles.terrain.check_encoding`) asks for a
        raster layer's heights as terrain-RGB instead of colours.
        """
        grid = get_grid(grid_id)
        if encoding is not None:
            check_encoding(encoding)
        layers = tuple(snapshot.entries(names, self.settings.max_composite))
        kinds = {entry.kind for _, entry in layers}
        if len(kinds) > 1 or (kinds == {"raster"} and len(layers) > 1):
            raise InvalidParameterError(
                f"layers {names!r}: only vector layers can be combined in one tile"
            )
        kind = kinds.pop()
        if fmt == "pbf":
            fmt = "mvt"
        if fmt == "jpeg":
            fmt = "jpg"
        mosaic = layers[0][1].is_mosaic
        if kind == "vector" and fmt != "mvt":
            raise InvalidParameterError(f"layer {names!r} is a vector layer: ask for .mvt or .pbf")
        if mosaic and fmt not in tile_formats(layers[0][1]):
            raise InvalidParameterError(f"layer {names!r} is imagery: ask for .png, .webp or .jpg")
        if kind == "raster" and not mosaic and fmt not in tile_formats(layers[0][1]):
            raise InvalidParameterError(f"layer {names!r} is a raster layer: ask for .png or .webp")
        if mosaic and (colormap_name or rescale or encoding):
            raise InvalidParameterError(
                f"layer {names!r} is true-colour imagery: colormap_name, rescale and encoding "
                "do not apply"
            )
        if not 1 <= scale <= 4 or (kind == "vector" and scale != 1):
            raise InvalidParameterError(f"scale @{scale}x: only raster tiles take @2x .. @4x")
        if kind == "vector" and (colormap_name or rescale or encoding):
            raise InvalidParameterError(
                "colormap_name, rescale and encoding only apply to raster layers"
            )
        if encoding is not None and (colormap_name or rescale):
            raise InvalidParameterError(
                f"encoding={encoding} packs heights into colours: colormap_name and rescale "
                "do not apply"
            )
        grid.check_tile(z, x, y)
        if not any(e.minzoom <= z <= e.maxzoom for _, e in layers):
            zooms = ", ".join(f"{n} {e.minzoom}..{e.maxzoom}" for n, e in layers)
            raise TileOutsideError(f"zoom {z} is outside the layers' zoom range ({zooms})")
        tile_bounds = grid.tile_bounds(z, x, y)
        if not any(_overlaps(tile_bounds, grid_bounds(grid.id, e.bounds)) for _, e in layers):
            raise TileOutsideError(f"tile {z}/{x}/{y} of {grid.id} is outside the layers' bounds")
        style = None
        if kind == "raster" and not mosaic and encoding is None:
            entry = layers[0][1]
            band = entry.bands[0] if entry.bands else None
            style = RasterStyle.for_entry(
                entry.style,
                (band.min, band.max) if band else (None, None),
                colormap_name,
                rescale,
            )
        s = self.settings
        key = (
            tuple((name, entry.version) for name, entry in layers),
            grid.id,
            z,
            x,
            y,
            fmt,
            scale,
            style,
            encoding,
            (s.extent, s.buffer, s.simplify, s.raster_tile_size, s.mosaic_max_sheets),
        )
        # archives hold the default colours only
        overrides = colormap_name is not None or rescale is not None or encoding is not None
        return TileRequest(
            snapshot, layers, grid, z, x, y, fmt, scale, style, overrides, key, encoding
        )

    # -- encoding -----------------------------------------------------------------------------

    async def tile(self, req: TileRequest) -> tuple[EncodedTile, bool]:
        """The encoded tile and whether it came from the cache.

        A tile sent as its archive stores it is read on the event loop: a
        ``pread`` costs less than the hand-over to an encoding thread and back
        (90 % of such a request's time was that hand-over).
        """
        inline = self._stored_as_is(req)
        return await self.cache.get(req.key, lambda: self._encode(req), inline=inline)

    def _stored_as_is(self, req: TileRequest) -> bool:
        """Whether the tile is one archive's stored bytes, sent without (de)compressing them."""
        if len(req.layers) != 1 or req.scale != 1 or req.overrides:
            return False
        _, entry = req.layers[0]
        try:
            reader = self._covering_archive(req, entry, req.fmt)
        except TilesError:
            return False  # _encode, in the pool, reports it
        encodings = ("gzip",) if req.kind == "vector" else ("none", "unknown")
        return reader is not None and reader.header.tile_encoding in encodings

    def _encode(self, req: TileRequest) -> EncodedTile:
        self.metrics.tile_encoded(req.kind)
        try:
            if req.kind == "raster":
                return self._raster(req)
            return self._vector(req)
        except ArtifactError as exc:  # a published file that cannot be read: 503
            log.warning("tile %s: %s", req.describe(), exc)
            raise
        except TilesError:
            raise  # the request's mistake (4xx), answered in words
        except Exception:  # a bug: 500, with the traceback for whoever runs the server
            log.exception("tile %s: cannot encode", req.describe())
            raise

    def _archive(self, path: str) -> PMTilesReader:
        return self._archives.get_or_create(path, partial(PMTilesReader, path))

    def _covering_archive(
        self, req: TileRequest, entry: LayerEntry, fmt: str
    ) -> PMTilesReader | None:
        """The published archive of a layer version when it holds the requested tile."""
        path = req.snapshot.artifact(entry, "pmtiles")
        if path is None or req.grid.id != "WebMercatorQuad":
            return None
        reader = self._archive(path)
        h = reader.header
        if h.tile_format != fmt or not h.min_zoom <= req.z <= h.max_zoom:
            return None  # beyond the archive's zooms the GeoParquet still answers
        return reader

    def _from_archive(
        self, req: TileRequest, entry: LayerEntry, fmt: str
    ) -> tuple[bytes, str] | None:
        """The stored tile and its compression when a published archive covers the request."""
        reader = self._covering_archive(req, entry, fmt)
        if reader is None:
            return None
        raw = reader.get(req.z, req.x, req.y)
        return (raw or b"", reader.header.tile_encoding)

    def _vector(self, req: TileRequest) -> EncodedTile:
        s = self.settings
        bounds = req.grid.tile_bounds(req.z, req.x, req.y)
        parts: list[bytes] = []
        for name, entry in req.layers:
            if not entry.minzoom <= req.z <= entry.maxzoom:
                continue
            stored = self._from_archive(req, entry, "mvt")
            if stored is not None:
                raw, encoding = stored
                if encoding == "gzip" and raw:
                    if len(req.layers) == 1:  # already compressed as we send it
                        return EncodedTile(raw, MVT_MEDIA_TYPE, "gzip")
                    raw = gunzip_tile(raw)
                elif encoding not in ("none", "gzip"):
                    raise InvalidParameterError(f"layer {name!r}: archive is {encoding}-compressed")
                parts.append(raw)
                continue
            path = req.snapshot.artifact(entry)
            assert path is not None  # the catalog contract requires a data artifact
            source = self.sources.get(
                (path, entry.version, req.grid.id),
                partial(load_source, path, name, entry.version, req.grid),
            )
            layer = source.layer(bounds, s.extent, s.buffer, s.simplify, name)
            parts.append(encode_tile([layer]))
        body = b"".join(parts)
        if not body:
            return EncodedTile(None, MVT_MEDIA_TYPE)
        return EncodedTile(gzip_tile(body), MVT_MEDIA_TYPE, "gzip")

    def _raster(self, req: TileRequest) -> EncodedTile:
        _, entry = req.layers[0]
        media_type = MEDIA_TYPES[req.fmt]
        if entry.is_mosaic:
            return self._mosaic(req)
        if req.scale == 1 and not req.overrides:  # archives hold the default style only
            stored = self._from_archive(req, entry, req.fmt)
            if stored is not None:
                return EncodedTile(stored[0] or None, media_type)
        path = req.snapshot.artifact(entry)
        assert path is not None
        size = self.settings.raster_tile_size * req.scale
        copy = req.snapshot.artifact(entry, WEBMERCATOR_ARTIFACT)  # WebMercatorQuad's own COG
        if req.encoding is not None:
            terrain = render_terrain(
                path,
                req.grid,
                req.z,
                req.x,
                req.y,
                req.encoding,
                req.fmt,
                size,
                entry.version,
                copy,
            )
            return EncodedTile(terrain, media_type)
        assert req.style is not None
        body = render_tile(
            path, req.grid, req.z, req.x, req.y, req.style, req.fmt, size, entry.version, copy
        )
        return EncodedTile(body, media_type)

    def _mosaic(self, req: TileRequest) -> EncodedTile:
        """A tile of an orthophoto mosaic: the overview, or the sheets under it (tiles.mosaic)."""
        _, entry = req.layers[0]
        index = req.snapshot.artifact(entry, MOSAIC_ARTIFACT)
        overview = req.snapshot.artifact(entry)
        assert index is not None and overview is not None
        size = self.settings.raster_tile_size * req.scale
        tile = read_mosaic_tile(
            index,
            overview,
            req.grid,
            req.z,
            req.x,
            req.y,
            size,
            entry.version,
            self.settings.mosaic_max_sheets,
        )
        self.metrics.mosaic_read(len(tile.sheets), tile.overview, tile.left_out)
        media_type = MEDIA_TYPES[req.fmt]
        if tile.image is None:
            return EncodedTile(None, media_type)
        return EncodedTile(encode(tile.image, req.fmt, background(entry.style)), media_type)
