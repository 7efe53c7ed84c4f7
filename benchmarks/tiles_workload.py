"""The workload of ``bench_tiles.py``: two small workspaces and the tile lists.

Layers (one workspace ``benchmarks/out/ws`` in the demo county's working CRS, EPSG:4549):

- ``villages``: the demo county's 137 village polygons (the published ``villages``
  layer, with its indicator columns);
- ``enterprises``: the first 10,000 of the demo county's enterprise points;
- ``roads``: the real OSM roads of central Helsinki (``tests/data/Helsinki.osm.pbf``
  through :func:`layers.roads.read_osm_roads`, every column it gives), moved as they
  are (a translation in metres, read in their own UTM zone, so no shape changes)
  onto the middle of the county's enterprises, so that one tile holds all three;
- ``tiny``: 10 enterprises, for the fixed cost of ``twin export``;
- ``dem``: the demo county's DEM COG (EPSG:4549).

A second workspace ``benchmarks/out/ws3857`` holds the same DEM warped to EPSG:3857
(the "any working CRS" row). Both are built with ``twin build`` and reused while
their sources are unchanged (the build graph's fingerprints).
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

from peers import our_env

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"
DEMO = OUT / "demo-county"
WS = OUT / "ws"
WS3857 = OUT / "ws3857"
BIN = Path(sys.executable).parent
HELSINKI = ROOT / "tests" / "data" / "Helsinki.osm.pbf"
#: the composite's layers, in the order they are named in a tile URL
VECTOR = ("villages", "roads", "enterprises")
HALF = 20037508.342789244  # half the Web Mercator world width, metres
BUFFER = 64 / 4096  # the server's and PostGIS's clip buffer, in tiles

Tile = tuple[int, int, int]

TOML = """\
[region]
name = "Tiles bench"
crs = "{crs}"
boundary = "county"
allow_outside_area = true

[sources.county]
path = "sources/county.gpkg"
{sources}
{layers}"""


def _demo_artifact(layer: str, key: str = "data") -> Path:
    cat = json.loads((DEMO / "build" / "catalog.json").read_text())
    return DEMO / "build" / cat["layers"][layer]["artifacts"][key]


def artifact(ws: Path, layer: str, key: str = "data") -> Path:
    """The published file of ``layer`` in workspace ``ws``."""
    cat = json.loads((ws / "build" / "catalog.json").read_text())
    return ws / "build" / cat["layers"][layer]["artifacts"][key]


def _ensure_demo(timeout: float) -> None:
    if (DEMO / "build" / "catalog.json").exists():
        return
    print("[bench_tiles] building the demo county (twin demo) ...", file=sys.stderr)
    OUT.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [str(BIN / "twin"), "demo", str(DEMO), "-q"], check=True, timeout=timeout, env=our_env()
    )


def _helsinki_roads(target_xy: tuple[float, float], crs: str):  # type: ignore[no-untyped-def]
    """Helsinki's drive network, translated so its bounding-box centre is ``target_xy``."""
    import numpy as np
    import shapely

    from layers.roads import read_osm_roads

    edges = read_osm_roads(HELSINKI).edges  # in its own UTM zone: metres, true shapes
    x0, y0, x1, y1 = edges.total_bounds
    dx, dy = target_xy[0] - (x0 + x1) / 2, target_xy[1] - (y0 + y1) / 2
    moved = shapely.transform(edges.geometry.values, lambda xy: xy + np.array([dx, dy]))
    edges = edges.set_geometry(moved, crs=crs)
    return edges


def _write_sources(src: Path) -> None:
    import geopandas as gpd

    src.mkdir(parents=True, exist_ok=True)
    shutil.copy(DEMO / "sources" / "county.gpkg", src / "county.gpkg")
    villages = gpd.read_parquet(_demo_artifact("villages"))
    villages.to_file(src / "villages.gpkg", driver="GPKG")
    enterprises = gpd.read_parquet(_demo_artifact("enterprises")).iloc[:10_000]
    enterprises.to_file(src / "enterprises.gpkg", driver="GPKG")
    enterprises.iloc[:10].to_file(src / "tiny.gpkg", driver="GPKG")
    xs, ys = enterprises.geometry.x, enterprises.geometry.y
    roads = _helsinki_roads((float(xs.median()), float(ys.median())), str(enterprises.crs))
    roads.to_file(src / "roads.gpkg", driver="GPKG")
    shutil.copy(_demo_artifact("dem"), src / "dem.tif")


def _toml(crs: str, vector: bool) -> str:
    sources, layers = [], []
    names = {"villages": "village_code", "roads": "edge_id", "enterprises": "enterprise_id"}
    if vector:
        names["tiny"] = "enterprise_id"
        for name, key in names.items():
            sources.append(f'[sources.{name}]\npath = "sources/{name}.gpkg"\n')
            layers.append(
                f'[layers.{name}]\nbuilder = "vector"\ninputs = {{ source = "{name}" }}\n'
                f'params = {{ id = "{key}" }}\ntiles = {{ minzoom = 0, maxzoom = 16 }}\n'
            )
    sources.append('[sources.dem]\npath = "sources/dem.tif"\n')
    layers.append(
        '[layers.dem]\nbuilder = "raster"\ninputs = { source = "dem" }\n'
        'params = { resampling = "bilinear" }\ntiles = { minzoom = 0, maxzoom = 14 }\n'
    )
    return TOML.format(crs=crs, sources="\n".join(sources), layers="\n".join(layers))


def ensure_workspaces(timeout: float) -> None:
    """Build (or bring up to date) ``ws`` and ``ws3857`` from the demo county."""
    _ensure_demo(timeout)
    if not (WS / "sources" / "dem.tif").exists():
        _write_sources(WS / "sources")
    (WS / "twin.toml").write_text(_toml("EPSG:4549", vector=True))
    (WS3857 / "sources").mkdir(parents=True, exist_ok=True)
    for name in ("county.gpkg", "dem.tif"):
        if not (WS3857 / "sources" / name).exists():
            shutil.copy(WS / "sources" / name, WS3857 / "sources" / name)
    (WS3857 / "twin.toml").write_text(_toml("EPSG:3857", vector=False))
    for ws in (WS, WS3857):
        proc = subprocess.run(
            [str(BIN / "twin"), "-w", str(ws), "build", "-q"],
            timeout=timeout,
            capture_output=True,
            text=True,
            env=our_env(),
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"twin build of {ws} failed: {proc.stderr.strip()[-300:]}")


def geojsonseq(layer: str) -> Path:
    """``layer`` as WGS84 GeoJSONSeq for tippecanoe (written once, before any clock)."""
    import geopandas as gpd

    path = OUT / "gen" / f"{layer}.geojsonseq"
    data = artifact(WS, layer)
    if not path.exists() or path.stat().st_mtime < data.stat().st_mtime:
        path.parent.mkdir(parents=True, exist_ok=True)
        gpd.read_parquet(data).to_crs(4326).to_file(path, driver="GeoJSONSeq")
    return path


def _tiles_of(boxes_xy: tuple[float, float, float, float], z: int) -> tuple[range, range]:
    size = 2 * HALF / (1 << z)
    x0, y0, x1, y1 = boxes_xy
    xs = range(max(0, math.floor((x0 + HALF) / size)), math.floor((x1 + HALF) / size) + 1)
    ys = range(max(0, math.floor((HALF - y1) / size)), math.floor((HALF - y0) / size) + 1)
    return xs, ys


def _nonempty(geoms, z: int) -> list[Tile]:  # type: ignore[no-untyped-def]
    """Tiles of zoom ``z`` whose buffered box meets any of ``geoms`` (EPSG:3857), Hilbert order."""
    import numpy as np
    import shapely

    from tiles.pmtiles import zxy_to_tileid

    xs, ys = _tiles_of(tuple(shapely.total_bounds(geoms)), z)
    size = 2 * HALF / (1 << z)
    gx, gy = np.meshgrid(np.asarray(xs), np.asarray(ys), indexing="ij")
    gx, gy = gx.ravel(), gy.ravel()
    pad = size * BUFFER
    boxes = shapely.box(
        gx * size - HALF - pad,
        HALF - (gy + 1) * size - pad,
        (gx + 1) * size - HALF + pad,
        HALF - gy * size + pad,
    )
    tree = shapely.STRtree(geoms)
    hit = np.unique(tree.query(boxes, predicate="intersects")[0])
    tiles = [(z, int(gx[i]), int(gy[i])) for i in hit]
    return sorted(tiles, key=lambda t: zxy_to_tileid(*t))


def _spread(by_zoom: dict[int, list[Tile]], total: int, must: dict[int, list[Tile]]) -> list[Tile]:
    """``total`` tiles, an equal share per zoom (what a low zoom lacks goes to the next),
    each share taking ``must`` tiles first (up to half of it), the rest evenly spaced."""
    chosen: list[Tile] = []
    zooms = sorted(by_zoom)
    left = total
    for i, z in enumerate(zooms):
        quota = left // (len(zooms) - i)
        first = must.get(z, [])[: quota // 2]
        rest = [t for t in by_zoom[z] if t not in set(first)]
        k = min(quota - len(first), len(rest))
        step = len(rest) / k if k else 1
        share = first + [rest[int(j * step)] for j in range(k)]
        chosen += share
        left -= len(share)
    return chosen


def vector_tiles(count: int, zooms: range = range(10, 17)) -> list[Tile]:
    """``count`` non-empty composite tiles over ``zooms``, the roads' tiles taken first."""
    import geopandas as gpd
    import numpy as np

    geoms = np.concatenate(
        [gpd.read_parquet(artifact(WS, n)).to_crs(3857).geometry.values._data for n in VECTOR]
    )
    roads = gpd.read_parquet(artifact(WS, "roads")).to_crs(3857).geometry.values._data
    by_zoom = {z: _nonempty(geoms, z) for z in zooms}
    must = {z: _nonempty(roads, z) for z in zooms}
    return _spread(by_zoom, count, must)


def raster_tiles(count: int, zooms: range = range(10, 15)) -> list[Tile]:
    """``count`` tiles over the DEM's footprint at ``zooms``, an equal share per zoom."""
    import rasterio
    import shapely
    from rasterio.warp import transform_bounds

    with rasterio.open(artifact(WS, "dem")) as ds:
        box = shapely.box(*transform_bounds(ds.crs, "EPSG:3857", *ds.bounds))
    geoms = shapely.buffer(shapely.get_parts(box), -1.0)  # tiles that only touch the edge: out
    by_zoom = {z: _nonempty(geoms, z) for z in zooms}
    return _spread(by_zoom, count, {})
