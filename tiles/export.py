"""Pre-generate vector layers' tiles into one PMTiles or MBTiles archive.

:func:`export_vectors` reads GeoParquet artifacts, reprojects them to Web
Mercator, finds the tiles of every zoom that hold features with one bulk
STRtree query per layer and zoom (:mod:`tiles._export_plan`: empty tiles are
never visited), encodes each tile with :mod:`tiles.mvt` and
:mod:`tiles.generalize` (one MVT layer per input layer, all layers of a tile
in one pass), gzips it and writes the archive (identical tiles stored once).
:func:`export_vector` is the one-layer case. The archive is written to a
temporary file next to ``out`` and renamed over it at the end, so nothing
half-written is ever visible under ``out``.

Tiles are encoded in chunks through the ``map_chunks`` the caller gives (the
builtin ``map`` by default: in this process). This module starts no process;
``twin export -j N`` passes the ``map`` of a pool of processes forked at its
first submit, which inherit the layers being tiled (module state set just
before) and numba's compiled kernels instead of having them pickled with every
chunk, and the ``submit`` of one more process, which reads the layers and finds
their tiles while this one loads numba (:func:`export_vectors`).
"""

from __future__ import annotations

import itertools
import logging
import os
import pickle
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from functools import cached_property, partial
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from pyproj import Transformer

from tiles._export_plan import occupied, plan_tiles
from tiles._mvt_geometry import encode_geometries_packed, pack_points
from tiles._ship import dumps as ship
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
    gzip_tile,
    tile_points,
    to_tile_coords,
    to_tiles_coords,
    warm_up,
)
from tiles.pmtiles import zxy_to_tileid
from tiles.pmtiles_write import PMTilesWriter
from tiles.tilejson import FIELD_TYPES
from tiles.vector import VectorSource, load_source

log = logging.getLogger(__name__)

FORMATS = ("pmtiles", "mbtiles")
_CHUNK = 64  # tiles per task handed to a worker process
#: features to encode (summed over tiles) up to which an export runs in its own process
_SMALL_WORK = 1000
#: features (of all the layers) up to which they are read in another process while this
#: one loads numba: shipping them back costs some 4 µs a point (more for long lines and
#: polygons), so far beyond this it would cost as much as numba's start-up it hides
_SHIPPED_FEATURES = 50_000

#: progress callback: (tiles done, tiles total)
Progress = Callable[[int, int], None]
#: ``map(function, chunks)``, results in order: the builtin or a process pool's
MapChunks = Callable[[Callable[[Any], Any], Iterable[Any]], Iterable[Any]]
#: ``submit(function, *args)``: a future of the call's result, as an executor's
Submit = Callable[..., Future[Any]]


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

    Tiles are gzipped as the server gzips them (:func:`tiles.mvt.gzip_tile`, level 1):
    level 6 takes twice as long and makes an archive only some 5 % smaller.
    """

    minzoom: int = 0
    maxzoom: int = 14
    extent: int = 4096
    buffer: int = 64
    simplify: float = 1.0
    generalization: Generalization = field(default_factory=Generalization)

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
        lo, hi = _zooms(spec, archive)
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

    @cached_property
    def bounds(self) -> tuple[float, float, float, float]:
        """The layer's bounds in the grid's CRS."""
        xmin, ymin, xmax, ymax = shapely.total_bounds(self.source.geoms).tolist()
        return xmin, ymin, xmax, ymax

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

#: a task: tiles of one zoom, (n, 2) columns and rows in tile-id order
_Chunk = tuple[int, np.ndarray]
#: the tiles with features of each zoom, (n, 2) in tile-id order
_Plan = dict[int, np.ndarray]


def _encode_chunk(export: int, chunk: _Chunk) -> tuple[int, list[tuple[int, int, int, bytes]]]:
    """Encoded, gzipped non-empty tiles of a chunk, and how many tiles it held."""
    if not _WORKER_LAYERS or export != _EXPORT:
        raise RuntimeError(
            "tile export: this worker does not hold the layers (its process was started "
            "before the first submit; use processes forked then)"
        )
    layers = _WORKER_LAYERS
    z, xy = chunk
    tiles = plan_tiles(layers, z, xy)
    # each layer's parts of the chunk's tiles (a chunk is of one zoom), encoded together
    wanted: dict[int, list[tuple[int, int, np.ndarray]]] = {}
    for _, x, y, parts in tiles:
        for i, hits in parts:
            wanted.setdefault(i, []).append((x, y, hits))
    encoded = {i: iter(layers[i].encode_tiles(z, some)) for i, some in wanted.items()}
    out = []
    for _, x, y, parts in tiles:
        data = b"".join([next(encoded[i]) for i, _ in parts])
        if data:
            out.append((z, x, y, gzip_tile(data)))
    return len(xy), out


def _plan(layers: tuple[_Layer, ...], options: ExportOptions) -> _Plan:
    return {z: occupied(layers, z) for z in range(options.minzoom, options.maxzoom + 1)}


def _chunks(plan: _Plan) -> Iterator[_Chunk]:
    for z, xy in plan.items():
        for i in range(0, len(xy), _CHUNK):
            yield z, xy[i : i + _CHUNK]


def _work(layers: tuple[_Layer, ...], plan: _Plan, enough: int) -> int:
    """The features to encode, summed over tiles, counted until they pass ``enough``."""
    least = sum(len(x.source) * (x.options.maxzoom - x.options.minzoom + 1) for x in layers)
    if least > enough:  # each feature is in one tile at least per zoom
        return least
    counted = 0
    for z, xy in plan.items():
        counted += sum(len(h) for *_, parts in plan_tiles(layers, z, xy) for _, h in parts)
        if counted > enough:
            break
    return counted


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


def _zooms(spec: VectorLayer, archive: ExportOptions) -> tuple[int, int]:
    """The zooms of ``spec``'s tiles in the archive (low above high: none)."""
    lo = archive.minzoom if spec.minzoom is None else max(spec.minzoom, archive.minzoom)
    hi = archive.maxzoom if spec.maxzoom is None else min(spec.maxzoom, archive.maxzoom)
    return lo, hi


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


def _worth_shipping(specs: Sequence[VectorLayer], options: ExportOptions) -> bool:
    """Whether the layers are few enough features to be read in another process and shipped
    back, and enough work for numba: from the row counts their Parquet footers give."""
    try:
        import pyarrow.parquet as pq

        rows = [pq.read_metadata(str(spec.parquet)).num_rows for spec in specs]
    except Exception:  # unreadable here: the reading says why, in this process
        return False
    spans = [max(hi - lo + 1, 0) for lo, hi in (_zooms(spec, options) for spec in specs)]
    least = sum(n * span for n, span in zip(rows, spans, strict=True))
    return least > _SMALL_WORK and sum(rows) <= _SHIPPED_FEATURES


def _load_planned(specs: Sequence[VectorLayer], options: ExportOptions) -> bytes:
    """The layers (:func:`_load`) and their tiles (:func:`_plan`), pickled for another
    process (:mod:`tiles._ship`)."""
    layers = _load(specs, options, None)
    return ship((layers, _plan(layers, options)))


def _fill(
    writer: PMTilesWriter | MBTilesWriter,
    plan: _Plan,
    run: MapChunks,
    total: int,
    progress: Progress | None,
) -> None:
    """Encode the planned tiles (through ``run``) into ``writer``."""
    done = 0
    results: Iterable[tuple[int, list[tuple[int, int, int, bytes]]]] = run(
        partial(_encode_chunk, _EXPORT), _chunks(plan)
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
    submit: Submit | None = None,
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
    submit
        With a process pool's ``map_chunks``: ``submit(function, *args)`` of one
        more process, forked at its first submit, as
        :meth:`concurrent.futures.Executor.submit` (``twin`` passes one). When
        the layers are many tiles but not many features, they are read there
        and shipped back while this process loads numba's compiled kernels,
        which the workers of ``map_chunks`` then inherit with the layers.

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
    pooled = map_chunks is not map
    loaded: tuple[_Layer, ...]
    if pooled and submit is not None and _worth_shipping(layers, options):
        # the two halves of the start-up side by side, on two cores
        shipped = submit(_load_planned, tuple(layers), options)
        warm_up()
        loaded, plan = pickle.loads(shipped.result())
    else:
        warming: list[threading.Thread] = []
        try:
            loaded = _load(layers, options, warming if pooled else None)
        finally:
            for thread in warming:
                thread.join()
        plan = _plan(loaded, options)
    b = np.array([layer.bounds for layer in loaded])
    grid = loaded[0].grid
    to_lonlat = Transformer.from_crs(grid.crs, "EPSG:4326", always_xy=True)
    lonlat = to_lonlat.transform_bounds(*b[:, :2].min(axis=0), *b[:, 2:].max(axis=0))
    # every zoom's non-empty tiles up front: an exact total for the progress bar (a task
    # finds its tiles' features where it is encoded)
    total = sum(len(xy) for xy in plan.values())
    name = name or ",".join(names)
    log.info("%s: %d tiles at z%d-%d into %s", name, total, options.minzoom, options.maxzoom, out)
    # Little to encode (one chunk, or few features in all) is encoded here, by the kernels
    # as plain Python: processes and numba's start-up would cost more than they save.
    run: MapChunks = map
    chunks = sum(-(-len(xy) // _CHUNK) for xy in plan.values())
    if pooled and chunks > 1 and _work(loaded, plan, _SMALL_WORK) > _SMALL_WORK:
        warm_up()  # numba loaded once here (if not yet), not in every worker forked next
        run = map_chunks
    writer: PMTilesWriter | MBTilesWriter
    _WORKER_LAYERS = loaded
    _EXPORT += 1
    try:
        with atomic_path(out) as tmp:
            writer = PMTilesWriter(tmp) if fmt == "pmtiles" else MBTilesWriter(tmp)
            try:
                _fill(writer, plan, run, total, progress)
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
    submit: Submit | None = None,
) -> ExportResult:
    """Tile one GeoParquet layer into a PMTiles or MBTiles archive.

    :func:`export_vectors` with one :class:`VectorLayer` named ``name`` (also
    the archive's name); the other parameters are the same.
    """
    return export_vectors(
        [VectorLayer(parquet, name)],
        out,
        options,
        fmt,
        map_chunks,
        progress,
        metadata,
        name,
        submit,
    )
