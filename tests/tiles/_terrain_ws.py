"""The test workspace plus a terrain DEM and buildings (for terrain-RGB, style and 3D tests).

``relief``: heights in metres (a slope and noise) on the WebMercatorQuad grid itself, one
pixel per grid pixel at zoom :data:`RELIEF_ZOOM` over 2 x 2 tiles, with a
nodata corner; its tiles at that zoom are plain windows, so a test can say
which DEM pixel each tile pixel must show. ``buildings``: rectangles with a
height in metres (the ``extrude`` hint) in the middle of the test area.
"""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
import shapely
from affine import Affine
from rasterio.warp import transform_bounds

from tests.tiles.conftest import CRS, X0, Y0, _provenance, build_workspace, to_lonlat
from tiles.catalog import Band, LayerEntry, read_catalog, write_catalog

RELIEF_ZOOM = 15
RELIEF_NODATA = -9999.0
RELIEF_NODATA_BLOCK = 64  # rows and columns of the north-east nodata corner
#: half the side of the Web Mercator world, metres
HALF_WORLD = 20037508.342789244
#: buildings: (column, row) on a grid of 40 m steps, 20 x 12 m footprints
BUILDING_GRID = (8, 6)


def grid_res(z: int) -> float:
    """Metres per pixel of a 256-pixel WebMercatorQuad tile at zoom ``z``."""
    return 2 * HALF_WORLD / (256 * 2**z)


def relief_origin() -> tuple[int, int]:
    """The north-west tile (x, y) at :data:`RELIEF_ZOOM` of the relief's 2 x 2 tiles."""
    lon, lat = to_lonlat().transform(X0 + 2500, Y0 + 2500)
    n = 2**RELIEF_ZOOM
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def relief_transform() -> Affine:
    x, y = relief_origin()
    res = grid_res(RELIEF_ZOOM)
    return Affine(res, 0.0, -HALF_WORLD + x * 256 * res, 0.0, -res, HALF_WORLD - y * 256 * res)


def _write_relief(path: Path) -> None:
    # a slope from -60 m (north-west) to 1040 m (south-east), and noise, so that a tile
    # pixel showing the DEM pixel next to the right one is off by metres
    rows, cols = np.mgrid[0:512, 0:512]
    noise = np.random.default_rng(7).uniform(-5.0, 5.0, (512, 512))
    heights = (-60.0 + 1100.0 * (rows + cols) / 1022 + noise).astype("float32")
    heights[:RELIEF_NODATA_BLOCK, -RELIEF_NODATA_BLOCK:] = RELIEF_NODATA
    profile = {
        "driver": "COG",
        "width": 512,
        "height": 512,
        "count": 1,
        "dtype": "float32",
        "crs": "EPSG:3857",
        "transform": relief_transform(),
        "nodata": RELIEF_NODATA,
        "blocksize": 256,
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(heights, 1)


def buildings() -> gpd.GeoDataFrame:
    """Footprints in the middle of the test area, heights 3 to 54 m (1 to 18 floors)."""
    cols, rows = BUILDING_GRID
    polys, floors = [], []
    for i in range(cols):
        for j in range(rows):
            x, y = X0 + 2300 + i * 40, Y0 + 2300 + j * 40
            polys.append(shapely.box(x, y, x + 20, y + 12))
            floors.append(1 + (i * rows + j) % 18)
    floors_arr = np.array(floors, dtype="int64")
    return gpd.GeoDataFrame(
        {
            "building_id": [f"b{k:03d}" for k in range(len(polys))],
            "floors": floors_arr,
            "height_m": floors_arr * 3.0,
        },
        geometry=polys,
        crs=CRS,
    )


def build_terrain_workspace(root: Path) -> Path:
    """The test workspace of ``conftest`` plus ``relief`` and ``buildings``; the catalog path."""
    path = build_workspace(root)
    build = path.parent
    catalog = read_catalog(path)
    (build / "relief" / "v1").mkdir(parents=True)
    _write_relief(build / "relief" / "v1" / "data.tif")
    with rasterio.open(build / "relief" / "v1" / "data.tif") as src:
        relief_bounds = transform_bounds(src.crs, "EPSG:4326", *src.bounds)
    catalog.layers["relief"] = LayerEntry(
        kind="raster",
        title="Relief",
        version="v1",
        artifacts={"data": "relief/v1/data.tif"},
        crs="EPSG:3857",
        bounds=relief_bounds,
        minzoom=8,
        maxzoom=RELIEF_ZOOM + 2,
        bands=[Band(name="height", dtype="float32", nodata=RELIEF_NODATA, unit="m")],
        resolution=grid_res(RELIEF_ZOOM),
        style={"terrain": True, "exaggeration": 2, "colormap": "terrain", "visible": False},
        provenance=_provenance("raster"),
    )
    gdf = buildings()
    (build / "buildings" / "v1").mkdir(parents=True)
    gdf.to_parquet(build / "buildings" / "v1" / "data.parquet")
    w, s, e, n = gdf.to_crs("EPSG:4326").total_bounds
    catalog.layers["buildings"] = LayerEntry(
        kind="vector",
        title="Buildings",
        version="v1",
        artifacts={"data": "buildings/v1/data.parquet"},
        crs=CRS,
        bounds=(float(w), float(s), float(e), float(n)),
        minzoom=12,
        maxzoom=20,
        geometry_type="Polygon",
        fields={"building_id": "string", "floors": "int", "height_m": "float"},
        count=len(gdf),
        style={"extrude": "height_m", "color": "#b0a08a", "visible": True},
        provenance=_provenance("vector"),
    )
    write_catalog(catalog, path)
    return path
