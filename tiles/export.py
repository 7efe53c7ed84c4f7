"""Pre-generate vector layers' tiles into one PMTiles or MBTiles archive.

:func:`export_vectors` reads GeoParquet artifacts, reprojects them to Web
Mercator, finds the features of every tile of every zoom with one bulk STRtree
query per layer and zoom (tiles with no feature are never visited), encodes
each tile with :mod:`tiles.mvt` and :mod:`tiles.generalize` (one MVT layer per
input layer, all layers of a tile in one pass), gzips it and writes the
archive (identical tiles stored once). :func:`export_vector` is the one-layer
case. The archive is written to a temporary file next to ``out`` and renamed
over it at the end, so nothing half-written is ever visible under ``out``.

Tiles are encoded in chunks through the ``map_chunks`` the caller gives
(the builtin ``map`` by default: in this process). This module starts no
process; ``twin export -j N`` passes the ``map`` of a pool of processes forked
at its first submit, which inherit the layers being tiled (module state set
just before) instead of having it pickled with every chunk.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from pyproj import Transformer

from tiles._mvt_geometry import encode_geometries_packed, pack_points
from tiles.catalog import atomic_path
from tiles.errors import InvalidParameterError
from tiles.generalize import (
    Generalization,
    byte_capped,
    cap_features,
    reduce_tiny_polygons,
)
from tiles.grids import Grid, get_grid
from tiles.mbtiles import MBTilesWriter
from tiles.mvt import (
    LayerEncoder,
    PropertyTable,
    encode_layer_parts,
    encode_tile,
    tile_points,
    to_tile_coords,
    to_tiles_coords,
    warm_up,
)
from tiles.pmtiles import zxy_to_tileid, zxy_to_tileids
from tiles.pmtiles_write import PMTilesWriter
from tiles.tilejson import FIELD_TYPES
from tiles.vector import VectorSource, load_source

log = logging.getLogger(__name__)

FORMATS = ("pmtiles", "mbtiles")
_CHUNK = 64  # tiles per task handed to a worker process
#: features to encode (summed over tiles) up to which an export runs in its own process
_SMALL_WORK = 1000

#: progress callback: (tiles done, tiles total)
Progress = Callable[[int, int], None]
#: ``map(function, chunks)``, results in order: the builtin or a process pool's
MapChunks = Callable[[Callable[[Any], Any], Iterable[Any]], Iterable[Any]]


@dataclass(frozen=True)
class ExportOptions:
    """What and how to tile.

    Parameters
    ----------
    minzoom, maxzoom
        Zoom range of the archive.
    extent, buffer, simplify
        As for on-the-fly tiles (:func:`tiles.mvt.to_tile_coords`).
    generalization
        Per-tile thinning (:class:`tiles.generalize.Generalization`).
    compress_level
        gzip level of each tile. Level 1, as the server's (:func:`tiles.mvt.gzip_tile`):
        level 6 takes twice as long and makes an archive only some 5 % smaller.
    """

    minzoom: int = 0
    maxzoom: int = 14
    extent: int = 4096
    buffer: int = 64
    simplify: float = 1.0
    generalization: Generalization = field(default_factory=Generalization)
    compress_level: int = 1

    def __post_init__(self) -> None:
        if not 0 <= self.minzoom <= self.maxzoom <= 30:
            raise InvalidParameterError(
                f"zooms {self.minzoom}..{self.maxzoom}: expected 0 <= minzoom <= maxzoom <= 30"
            )


@dataclass(frozen=True)
class VectorLayer:
    """One layer of an archive: its GeoParquet, its MVT layer name and how it is tiled.

    Parameters
    ----------
    parquet
        The layer's GeoParquet artifact (any CRS).
    name
        The MVT layer name inside the tiles.
    minzoom, maxzoom
        The zooms whose tiles hold this layer (None: the archive's; clamped to them).
    generalization
        Per-tile thinning (None: the archive's :attr:`ExportOptions.generalization`).
    metadata
        Extra fields of the layer's entry in the TileJSON ``vector_layers``
        (``description``, ``version`` ...).
    """

    parquet: str | os.PathLike[str]
    name: str
    minzoom: int | None = None
    maxzoom: int | None = None
    generalization: Generalization | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote."""

    path: Path
    tiles: int
    contents: int
    bytes: int
    seconds: float

    @property
    def tiles_per_second(self) -> float:
        return self.tiles / self.seconds if self.seconds > 0 else float("inf")


@dataclass(frozen=True)
class _Layer:
    """A source plus its factorised properties: what every tile encoding reads."""

    source: VectorSource
    table: PropertyTable
    #: the archive's options with this layer's zooms and generalisation
    options: ExportOptions
    grid: Grid
    metadata: dict[str, Any]

    @classmethod
    def load(cls, spec: VectorLayer, archive: ExportOptions) -> _Layer:
        grid = get_grid("WebMercatorQuad")
        source = load_source(str(spec.parquet), spec.name, "export", grid)
        if len(source) == 0:
            raise InvalidParameterError(
                f"{spec.parquet}: layer {spec.name!r} has no features to tile"
            )
        assert source.table is not None
        lo = archive.minzoom if spec.minzoom is None else max(spec.minzoom, archive.minzoom)
        hi = archive.maxzoom if spec.maxzoom is None else min(spec.maxzoom, archive.maxzoom)
        if lo > hi:
            raise InvalidParameterError(
                f"layer {spec.name!r}: zooms {spec.minzoom}..{spec.maxzoom} are outside "
                f"the archive's {archive.minzoom}..{archive.maxzoom}"
            )
        general = spec.generalization or archive.generalization
        options = replace(archive, minzoom=lo, maxzoom=hi, generalization=general)
        return cls(source, source.table, options, grid, spec.metadata)

    @property
    def name(self) -> str:
        return self.source.name

    def tiles_of_zoom(self, z: int) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
        """Tile ids, columns and rows and the feature hits of each non-empty tile at ``z``.

        Columns and rows are one array, (n, 2); tiles are in tile-id order.
        """
        o = self.options
        ox, oy, sx, sy, _, _ = self.grid.levels[z]
        pad_x, pad_y = sx * o.buffer / o.extent, sy * o.buffer / o.extent
        # tiles whose buffer reaches the data hold (clipped) features too
        xmin, ymin, xmax, ymax = shapely.total_bounds(self.source.geoms)
        padded = (xmin - pad_x, ymin - pad_y, xmax + pad_x, ymax + pad_y)
        x0, y0, x1, y1 = self.grid.tile_range(padded, z)
        grid_x, grid_y = np.meshgrid(np.arange(x0, x1 + 1), np.arange(y0, y1 + 1))
        xs, ys = grid_x.ravel(), grid_y.ravel()
        boxes = shapely.box(
            ox + xs * sx - pad_x,
            oy - (ys + 1) * sy - pad_y,
            ox + (xs + 1) * sx + pad_x,
            oy - ys * sy + pad_y,
        )
        tile_idx, feat_idx = self.source.tree.query(boxes, predicate="intersects")
        order = np.lexsort((feat_idx, tile_idx))
        tile_idx, feat_idx = tile_idx[order], feat_idx[order]
        present, starts = np.unique(tile_idx, return_index=True)
        hits = np.split(feat_idx, starts[1:]) if len(present) else []
        ids = zxy_to_tileids(z, xs[present], ys[present])
        by_id = np.argsort(ids)
        xy = np.stack([xs[present], ys[present]], axis=1)
        return ids[by_id], xy[by_id], [hits[i] for i in by_id]

    def encode(self, z: int, x: int, y: int, hits: np.ndarray) -> bytes:
        """This layer's part of one tile, uncompressed (``b""`` when nothing draws).

        A tile message is its layers' fields one after another, so the parts
        of several layers concatenate into their tile. :meth:`encode_tiles` makes the
        same bytes for many tiles at once; this is the plain way, through
        :class:`~tiles.mvt.LayerEncoder`, kept for tiles thinned by their caps.
        """
        o, g = self.options, self.options.generalization
        geoms = to_tile_coords(
            self.source.geoms[hits],
            self.grid.tile_bounds(z, x, y),
            o.extent,
            o.buffer,
            o.simplify,
            before_snap=partial(reduce_tiny_polygons, extent=o.extent, pixels=g.tiny_polygon),
        )
        drawn = ~shapely.is_empty(geoms)
        return self._thinned(geoms[drawn], hits[drawn], self._table(z))

    def _table(self, z: int) -> PropertyTable:
        """The properties kept at zoom ``z``."""
        names = self.options.generalization.attributes_at(z)
        return self.table if names is None else self.table.select(names)

    def encode_tiles(self, z: int, tiles: Sequence[tuple[int, int, np.ndarray]]) -> list[bytes]:
        """:meth:`encode` of several tiles of zoom ``z``, (x, y, hits) each, in fewer calls.

        Geometries of all the tiles go through GEOS together, and their MVT layers
        are written by one kernel call; each tile's part is the bytes :meth:`encode`
        makes of it alone (a test holds them to it).
        """
        o, g = self.options, self.options.generalization
        src = self.source
        hits = np.concatenate([h for _, _, h in tiles])
        starts = np.zeros(len(tiles) + 1, dtype=np.int64)
        np.cumsum([len(h) for _, _, h in tiles], out=starts[1:])
        bounds = np.array([self.grid.tile_bounds(z, x, y) for x, y, _ in tiles], dtype=float)
        geoms: np.ndarray | None = None
        if src.points is not None:  # single points: no GEOS, no shapely objects
            x, y = src.points[:2]
            tile_of = np.repeat(np.arange(len(tiles)), np.diff(starts))
            coords = np.column_stack((x[hits], y[hits]))
            xy, drawn = tile_points(coords, tile_of, bounds, o.extent, o.buffer)
            xy = xy[drawn]
            packed = pack_points(xy)
        else:
            geoms = to_tiles_coords(
                src.geoms[hits],
                starts,
                bounds,
                o.extent,
                o.buffer,
                o.simplify,
                before_snap=partial(reduce_tiny_polygons, extent=o.extent, pixels=g.tiny_polygon),
            )
            drawn = ~shapely.is_empty(geoms)
            geoms = geoms[drawn]
            packed = encode_geometries_packed(geoms)
        # the tiles' bounds among the drawn features
        before = np.zeros(len(drawn) + 1, dtype=np.int64)
        np.cumsum(drawn, out=before[1:])
        starts = before[starts]
        hits = hits[drawn]
        ids = src.ids[hits]
        table = self._table(z)
        parts = encode_layer_parts(src.name, o.extent, packed, ids, table, hits, starts)
        for t, (a, b) in enumerate(itertools.pairwise(starts.tolist())):
            capped = g.max_features is not None and b - a > g.max_features
            if capped or (g.max_tile_bytes is not None and len(parts[t]) > g.max_tile_bytes):
                # thinned: this tile alone, as the caps say (rare; bulk is for keep-all)
                tile_geoms = shapely.points(xy[a:b]) if geoms is None else geoms[a:b]
                parts[t] = self._thinned(tile_geoms, hits[a:b], table)
        return parts

    def _thinned(self, geoms: np.ndarray, hits: np.ndarray, table: PropertyTable) -> bytes:
        """One tile's part with the features its generalisation's caps keep."""
        o, g = self.options, self.options.generalization

        def encode(keep: np.ndarray) -> bytes:
            layer = LayerEncoder(self.name, o.extent)
            layer.add_columns(geoms[keep], self.source.ids[hits[keep]], table, hits[keep])
            return encode_tile([layer])

        return byte_capped(geoms, cap_features(geoms, g, o.extent), g, o.extent, encode)


# The layers being tiled: this process's, or inherited by a worker forked at the first
# submit (not pickled per task); and which export set them, so that a worker forked for
# an earlier export cannot encode tiles of stale layers.
_WORKER_LAYERS: tuple[_Layer, ...] = ()
_EXPORT = 0

#: one tile to encode: z, x, y and the (layer index, feature hits) of each layer in it
_Tile = tuple[int, int, int, tuple[tuple[int, np.ndarray], ...]]


def _encode_chunk(export: int, chunk: list[_Tile]) -> tuple[int, list[tuple[int, int, int, bytes]]]:
    """Encoded, gzipped non-empty tiles of a chunk, and how many tiles it held."""
    if not _WORKER_LAYERS or export != _EXPORT:
        raise RuntimeError(
            "tile export: this worker does not hold the layers (its process was started "
            "before the first submit; use processes forked then)"
        )
    layers = _WORKER_LAYERS
    level = layers[0].options.compress_level
    # each layer's parts of the chunk's tiles (a chunk is of one zoom), encoded together
    wanted: dict[int, list[tuple[int, int, np.ndarray]]] = {}
    for _, x, y, parts in chunk:
        for i, hits in parts:
            wanted.setdefault(i, []).append((x, y, hits))
    z = chunk[0][0] if chunk else 0
    encoded = {i: iter(layers[i].encode_tiles(z, tiles)) for i, tiles in wanted.items()}
    out = []
    for z, x, y, parts in chunk:
        data = b"".join([next(encoded[i]) for i, _ in parts])
        if data:
            out.append((z, x, y, zlib.compress(data, level, wbits=31)))  # gzip, mtime 0
    return len(chunk), out


def _plan_zoom(layers: tuple[_Layer, ...], z: int) -> list[_Tile]:
    """The non-empty tiles of zoom ``z`` in tile-id order, each with its layers' hits."""
    ids, xys, which, hits = [], [], [], []
    for i, layer in enumerate(layers):
        if layer.options.minzoom <= z <= layer.options.maxzoom:
            layer_ids, layer_xy, layer_hits = layer.tiles_of_zoom(z)
            ids.append(layer_ids)
            xys.append(layer_xy)
            which.append(np.full(len(layer_ids), i))
            hits.extend(layer_hits)
    if not ids:
        return []
    # stable: within a tile, layers keep the order they were given in
    order = np.argsort(np.concatenate(ids), kind="stable")
    all_ids = np.concatenate(ids)[order]
    all_xy = np.concatenate(xys)[order].tolist()
    all_which = np.concatenate(which)[order].tolist()
    _, starts = np.unique(all_ids, return_index=True)
    bounds = [*starts.tolist(), len(all_ids)]
    rows = order.tolist()
    plan: list[_Tile] = []
    for a, b in itertools.pairwise(bounds):
        x, y = all_xy[a]
        parts = tuple((all_which[k], hits[rows[k]]) for k in range(a, b))
        plan.append((z, x, y, parts))
    return plan


def _chunks(plan: list[list[_Tile]]) -> Iterator[list[_Tile]]:
    for tiles in plan:
        for i in range(0, len(tiles), _CHUNK):
            yield tiles[i : i + _CHUNK]


def _layer_fields(layer: _Layer) -> dict[str, str]:
    fields = dict.fromkeys(layer.table.names, "String")
    for col_name, values in layer.source.columns:
        sample = next((v for v in values if v is not None), None)
        if isinstance(sample, bool):
            fields[col_name] = FIELD_TYPES["bool"]
        elif isinstance(sample, int | float):
            fields[col_name] = FIELD_TYPES["float"]
    return fields


def _metadata(
    layers: tuple[_Layer, ...],
    name: str,
    options: ExportOptions,
    lonlat: tuple[float, ...],
    extra: dict[str, Any],
) -> dict[str, Any]:
    return {
        "tilejson": "3.0.0",
        "name": name,
        "format": "pbf",
        "scheme": "xyz",
        "minzoom": options.minzoom,
        "maxzoom": options.maxzoom,
        "bounds": list(lonlat),
        "center": [(lonlat[0] + lonlat[2]) / 2, (lonlat[1] + lonlat[3]) / 2, options.minzoom],
        "generator": "onemap-twin tiles.export",
        "vector_layers": [
            {
                "id": layer.name,
                "minzoom": layer.options.minzoom,
                "maxzoom": layer.options.maxzoom,
                "fields": _layer_fields(layer),
                **layer.metadata,
            }
            for layer in layers
        ],
        **extra,
    }


def _load(
    specs: Sequence[VectorLayer], options: ExportOptions, warming: list[threading.Thread] | None
) -> tuple[_Layer, ...]:
    """The layers, loaded one by one; numba loaded meanwhile in a thread added to ``warming``
    (unless None) as soon as the work is sure to be big enough for worker processes."""
    loaded: list[_Layer] = []
    for spec in specs:
        loaded.append(_Layer.load(spec, options))
        # each feature is in one tile at least per zoom: a lower bound of _fill's hits
        least = sum(len(x.source) * (x.options.maxzoom - x.options.minzoom + 1) for x in loaded)
        if warming == [] and least > _SMALL_WORK:
            warming.append(threading.Thread(target=warm_up, name="tiles-warm-up", daemon=True))
            warming[0].start()
    return tuple(loaded)


def _fill(
    writer: PMTilesWriter | MBTilesWriter,
    plan: list[list[_Tile]],
    map_chunks: MapChunks,
    total: int,
    progress: Progress | None,
) -> None:
    """Encode the planned tiles (through ``map_chunks``) into ``writer``."""
    done = 0
    chunks = list(_chunks(plan))
    # Little to encode (one chunk, or few features in all) is encoded here, by the kernels
    # as plain Python: processes and numba's start-up would cost more than they save.
    hits = sum(len(h) for tiles in plan for *_, parts in tiles for _, h in parts)
    run = map_chunks if len(chunks) > 1 and hits > _SMALL_WORK else map
    if run is not map:
        warm_up()  # numba loaded once here, not in every worker forked at the first chunk
    results: Iterable[tuple[int, list[tuple[int, int, int, bytes]]]] = run(
        partial(_encode_chunk, _EXPORT), chunks
    )
    for visited, tiles in results:
        for z, x, y, data in tiles:
            if isinstance(writer, PMTilesWriter):
                writer.add(zxy_to_tileid(z, x, y), data)
            else:
                writer.add(z, x, y, data)
        done += visited
        if progress is not None:
            progress(done, total)


def export_vectors(
    layers: Sequence[VectorLayer],
    out: str | os.PathLike[str],
    options: ExportOptions | None = None,
    fmt: str = "pmtiles",
    map_chunks: MapChunks = map,
    progress: Progress | None = None,
    metadata: dict[str, Any] | None = None,
    name: str | None = None,
) -> ExportResult:
    """Tile GeoParquet layers into one PMTiles or MBTiles archive, one MVT layer each.

    Parameters
    ----------
    layers
        The layers, in the order their MVT layers appear in a tile (names unique).
    out
        The archive to write (replaced atomically).
    options
        The archive's zooms, MVT parameters and default generalisation.
    fmt
        ``"pmtiles"`` or ``"mbtiles"``.
    map_chunks
        ``map(function, chunks)`` yielding results in order, as the builtin (in
        this process, the default) or :meth:`concurrent.futures.Executor.map`. A
        process pool's workers must start at its first submit (fork), so that
        they inherit the layers: ``twin`` passes such a pool's (``twin export -j N``).
    progress
        Called with (tiles done, tiles to visit) as tiles are written.
    metadata
        Extra TileJSON fields (description, attribution, version ...).
    name
        The archive's TileJSON name (default: the layer names joined by commas).

    Returns
    -------
    ExportResult
        The path, tile counts, size and wall time.
    """
    global _WORKER_LAYERS, _EXPORT
    if fmt not in FORMATS:
        raise InvalidParameterError(f"format {fmt!r}: expected one of {', '.join(FORMATS)}")
    names = [spec.name for spec in layers]
    if not names:
        raise InvalidParameterError("tile export: no layers given")
    if len(set(names)) < len(names):
        raise InvalidParameterError(f"tile export: layer names repeat: {', '.join(names)}")
    options = options or ExportOptions()
    start = time.perf_counter()
    out = Path(out)
    warming: list[threading.Thread] = []
    try:
        loaded = _load(layers, options, warming if map_chunks is not map else None)
    finally:
        for thread in warming:
            thread.join()
    b = np.array([shapely.total_bounds(layer.source.geoms) for layer in loaded])
    grid = loaded[0].grid
    to_lonlat = Transformer.from_crs(grid.crs, "EPSG:4326", always_xy=True)
    lonlat = to_lonlat.transform_bounds(*b[:, :2].min(axis=0), *b[:, 2:].max(axis=0))
    # every zoom's non-empty tiles up front: an exact total for the progress bar
    plan = [_plan_zoom(loaded, z) for z in range(options.minzoom, options.maxzoom + 1)]
    total = sum(len(tiles) for tiles in plan)
    name = name or ",".join(names)
    log.info("%s: %d tiles at z%d-%d into %s", name, total, options.minzoom, options.maxzoom, out)
    writer: PMTilesWriter | MBTilesWriter
    _WORKER_LAYERS = loaded
    _EXPORT += 1
    try:
        with atomic_path(out) as tmp:
            writer = PMTilesWriter(tmp) if fmt == "pmtiles" else MBTilesWriter(tmp)
            try:
                _fill(writer, plan, map_chunks, total, progress)
                meta = _metadata(loaded, name, options, lonlat, metadata or {})
                if isinstance(writer, PMTilesWriter):
                    writer.finish(meta, options.minzoom, options.maxzoom, lonlat)
                else:
                    writer.finish(name, options.minzoom, options.maxzoom, lonlat, meta)
            except BaseException:
                writer.abort()
                raise
    finally:
        _WORKER_LAYERS = ()
    return ExportResult(
        path=out,
        tiles=writer.addressed,
        contents=writer.contents,
        bytes=out.stat().st_size,
        seconds=time.perf_counter() - start,
    )


def export_vector(
    parquet: str | os.PathLike[str],
    out: str | os.PathLike[str],
    name: str,
    options: ExportOptions | None = None,
    fmt: str = "pmtiles",
    map_chunks: MapChunks = map,
    progress: Progress | None = None,
    metadata: dict[str, Any] | None = None,
) -> ExportResult:
    """Tile one GeoParquet layer into a PMTiles or MBTiles archive.

    :func:`export_vectors` with one :class:`VectorLayer` named ``name`` (also
    the archive's name); the other parameters are the same.
    """
    return export_vectors(
        [VectorLayer(parquet, name)], out, options, fmt, map_chunks, progress, metadata, name
    )
