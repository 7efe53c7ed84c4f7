"""``twin export``: a published layer as one file others can use.

- ``pmtiles`` / ``mbtiles``: pre-generated vector tiles (:mod:`tiles.export`),
  generalised as the layer's ``tiles`` options in twin.toml say; several
  layers go into one archive (:func:`export_tiles`), one MVT layer each, named
  after the catalog layer;
- ``gpkg``: the layer's GeoParquet as a GeoPackage, in the working CRS;
- ``geojson``: the same in WGS84 (RFC 7946);
- either of these two in another CRS (``crs``): any CRS pyproj knows, or
  ``GCJ-02`` / ``BD-09`` for overlay on Chinese web basemaps (AMap, Tencent,
  Baidu), whose coordinates are shifted longitudes/latitudes the file labels
  EPSG:4326 (no CRS code exists for them);
- ``cog``: a raster layer's Cloud-Optimized GeoTIFF, as published.

The published artifact is read whole first (:func:`twin.artifacts.check_file`),
so a damaged one stops the export with one line. Every format is written to
a temporary file next to the output and renamed over it, so an interrupted
export leaves nothing half-written.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pyproj import CRS
from pyproj.exceptions import CRSError

from layers.chinacrs import china_crs, from_wgs84
from tiles import atomic_write
from tiles.catalog import LayerEntry, resolve_artifact
from tiles.export import ExportOptions, VectorLayer, export_vectors
from tiles.generalize import Generalization
from twin._executors import forked_pool, forked_process
from twin.artifacts import ArtifactCheckError, check_file
from twin.config import TileOptions
from twin.errors import TwinError

if TYPE_CHECKING:
    import geopandas as gpd

log = logging.getLogger(__name__)

FORMATS = ("pmtiles", "mbtiles", "gpkg", "geojson", "cog")
SUFFIXES = {"pmtiles": ".pmtiles", "mbtiles": ".mbtiles", "gpkg": ".gpkg", "geojson": ".geojson"}
SUFFIXES["cog"] = ".tif"
#: highest zoom exported by default: deeper tiles are cheap to make on the fly
DEFAULT_MAXZOOM = 14


class ExportError(TwinError):
    """A layer cannot be exported as asked."""


@dataclass(frozen=True)
class Exported:
    """What ``twin export`` wrote."""

    path: Path
    format: str
    bytes: int
    tiles: int | None = None
    seconds: float | None = None


def _in_crs(gdf: gpd.GeoDataFrame, crs: str) -> gpd.GeoDataFrame:
    """``gdf`` in ``crs``; GCJ-02/BD-09 as shifted lon/lat labelled EPSG:4326."""
    import geopandas as gpd

    shifted = china_crs(crs)
    if shifted is None:
        try:
            return gdf.to_crs(CRS.from_user_input(crs))
        except CRSError:
            raise ExportError(
                f"--crs {crs}: not a CRS pyproj knows (nor GCJ-02 or BD-09)"
            ) from None
    wgs84 = gdf.to_crs("EPSG:4326")
    moved = from_wgs84(wgs84.geometry.values, shifted)
    return wgs84.set_geometry(gpd.GeoSeries(moved, index=wgs84.index, crs="EPSG:4326"))


def _check_input(name: str, data: Path) -> None:
    """Read the whole published artifact first: a damaged one is named, never copied on."""
    if not data.exists():
        if "://" in str(data) or str(data).startswith("/vsi"):
            return  # on object storage: the export reads it as it goes
        raise ExportError(f"layer {name!r}: {data}: the published artifact is missing")
    try:
        check_file(data)
    except ArtifactCheckError as exc:
        raise ExportError(f"{data}: {exc} (rebuild it: twin build {name} --force)") from None


def export_layer(
    catalog_path: Path,
    name: str,
    entry: LayerEntry,
    fmt: str,
    out: Path | None = None,
    minzoom: int | None = None,
    maxzoom: int | None = None,
    workers: int | None = None,
    tile_options: TileOptions | None = None,
    progress: Callable[[int, int], None] | None = None,
    crs: str | None = None,
) -> Exported:
    """Export one published layer; see the module docstring for the formats.

    Parameters
    ----------
    catalog_path
        The workspace's catalog.json (artifact paths are relative to it).
    name, entry
        The layer and its catalog entry.
    fmt
        One of :data:`FORMATS`.
    out
        The file to write (default: ``<layer><suffix>`` in the current directory).
    minzoom, maxzoom
        Tile zooms (default: the layer's minzoom, and its maxzoom capped at 14).
    workers
        Tile-encoding processes (default: one per core this process may use).
    tile_options
        The layer's twin.toml tile options (generalisation of archive tiles).
    progress
        Called with (tiles done, tiles total) during tile exports.
    crs
        For gpkg and geojson: the CRS to write (see the module docstring).
    """
    if fmt not in FORMATS:
        raise ExportError(f"format {fmt!r}: expected one of {', '.join(FORMATS)}")
    if crs is not None and fmt not in ("gpkg", "geojson"):
        raise ExportError(f"--crs {crs}: only gpkg and geojson exports can change CRS, not {fmt}")
    out = Path(out) if out is not None else Path.cwd() / f"{name}{SUFFIXES[fmt]}"
    data = resolve_artifact(catalog_path, entry.artifacts["data"])
    _check_input(name, Path(data))
    if fmt == "cog":
        if entry.kind != "raster":
            raise ExportError(f"layer {name!r} is a vector layer: export it as gpkg or geojson")
        atomic_write(out, lambda tmp: shutil.copyfile(data, tmp))
        return Exported(out, fmt, out.stat().st_size)
    if entry.kind != "vector":
        raise ExportError(f"layer {name!r} is a raster layer: export it as cog")
    if fmt in ("gpkg", "geojson"):
        import geopandas as gpd  # only these formats need it: a tile export starts faster

        gdf = gpd.read_parquet(data)
        if crs is not None:
            gdf = _in_crs(gdf, crs)
        elif fmt == "geojson":
            gdf = gdf.to_crs("EPSG:4326")
        driver = "GPKG" if fmt == "gpkg" else "GeoJSON"
        kwargs = {"layer": name} if fmt == "gpkg" else {}
        atomic_write(out, lambda tmp: gdf.to_file(tmp, driver=driver, engine="pyogrio", **kwargs))
        return Exported(out, fmt, out.stat().st_size)
    return export_tiles(
        catalog_path,
        [(name, entry, tile_options)],
        fmt,
        out,
        minzoom,
        maxzoom,
        workers,
        progress,
        checked=True,
    )


def export_tiles(
    catalog_path: Path,
    layers: Sequence[tuple[str, LayerEntry, TileOptions | None]],
    fmt: str,
    out: Path | None = None,
    minzoom: int | None = None,
    maxzoom: int | None = None,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    *,
    checked: bool = False,
) -> Exported:
    """Tile published vector layers into one archive, one MVT layer each.

    Parameters
    ----------
    catalog_path
        The workspace's catalog.json.
    layers
        (name, catalog entry, twin.toml tile options) of each layer, in the order
        their MVT layers appear in a tile; the MVT layers are named after them.
    fmt
        ``"pmtiles"`` or ``"mbtiles"``.
    out
        The archive (default: ``<layer>-<layer>...<suffix>`` in the current directory).
    minzoom, maxzoom
        The zooms of every layer. Default: each layer's own minzoom and maxzoom,
        the latter capped at 14 (or at the lowest minzoom when that is higher).
    workers
        Tile-encoding processes (default: one per core this process may use).
    progress
        Called with (tiles done, tiles total).
    checked
        The artifacts were already read whole (:func:`export_layer` does).
    """
    if fmt not in ("pmtiles", "mbtiles"):
        raise ExportError(f"format {fmt!r}: several layers go only into pmtiles or mbtiles")
    names = [name for name, _, _ in layers]
    if len(set(names)) < len(names):
        raise ExportError(f"layers {','.join(names)}: a layer is named twice")
    out = Path(out) if out is not None else Path.cwd() / f"{'-'.join(names)}{SUFFIXES[fmt]}"
    lo = min(e.minzoom for _, e, _ in layers) if minzoom is None else minzoom
    if maxzoom is None:
        hi = min(max(e.maxzoom for _, e, _ in layers), max(lo, DEFAULT_MAXZOOM))
    else:
        hi = maxzoom
    specs = []
    for name, entry, tile_options in layers:
        if entry.kind != "vector":
            raise ExportError(f"layer {name!r} is a raster layer: export it as cog")
        data = resolve_artifact(catalog_path, entry.artifacts["data"])
        if not checked:
            _check_input(name, Path(data))
        t = tile_options or TileOptions()
        general = Generalization(
            max_features=t.max_features,
            max_tile_bytes=t.max_tile_bytes,
            drop=t.drop,
            attributes_by_zoom=t.attributes_by_zoom,
        )
        about = {"description": entry.description or entry.title, "version": entry.version}
        specs.append(
            VectorLayer(
                data,
                name,
                # a zoom given on the command line holds for every layer
                minzoom=entry.minzoom if minzoom is None else None,
                maxzoom=entry.maxzoom if maxzoom is None else None,
                generalization=general,
                metadata=about,
            )
        )
    if len(layers) == 1:
        entry = layers[0][1]
        meta: dict[str, str | None] = {
            "description": entry.description or entry.title,
            "attribution": entry.attribution,
            "version": entry.version,
        }
    else:
        attributions = dict.fromkeys(e.attribution for _, e, _ in layers if e.attribution)
        meta = {
            "description": ", ".join(e.title for _, e, _ in layers),
            "attribution": "; ".join(attributions) or None,
        }
    label = ",".join(names)
    # tiles encoded in ``workers`` processes forked at the first chunk (they inherit the
    # layers), which may be read meanwhile in one more while this process loads numba
    with forked_pool(workers or _cores()) as pool, forked_process() as reader:
        res = export_vectors(
            specs,
            out,
            ExportOptions(minzoom=lo, maxzoom=hi),
            fmt=fmt,
            map_chunks=map if pool is None else pool.map,
            progress=_logged_progress(label, progress),
            metadata=meta,
            name=label,
            submit=None if pool is None or reader is None else reader.submit,
        )
    log.info("%s: %d tiles, %d bytes in %.1f s: %s", label, res.tiles, res.bytes, res.seconds, out)
    return Exported(out, fmt, res.bytes, res.tiles, res.seconds)


def _cores() -> int:
    """The cores this process may run on (its CPU affinity), as tippecanoe uses them all."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _logged_progress(
    name: str, progress: Callable[[int, int], None] | None
) -> Callable[[int, int], None]:
    """``progress``, and a log line at every tenth of the tiles."""
    tenths = 0

    def report(done: int, total: int) -> None:
        nonlocal tenths
        if total and done * 10 // total > tenths:
            tenths = done * 10 // total
            log.info("%s: %d of %d tiles", name, done, total)
        if progress is not None:
            progress(done, total)

    return report
