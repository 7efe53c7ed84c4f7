"""Small workspaces built in code: a few polygons, points in a CSV, a DEM."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin
from shapely.geometry import Polygon

from twin.workspace import Twin

# A 4 km x 3 km block in EPSG:4549 (CGCS2000 GK CM 120E) near Deqing.
X0, Y0 = 480_000.0, 3_380_000.0


def make_sources(root: Path) -> None:
    src = root / "sources"
    src.mkdir(parents=True, exist_ok=True)
    cells = [
        Polygon(
            [
                (X0 + i * 1000, Y0 + j * 1000),
                (X0 + (i + 1) * 1000, Y0 + j * 1000),
                (X0 + (i + 1) * 1000, Y0 + (j + 1) * 1000),
                (X0 + i * 1000, Y0 + (j + 1) * 1000),
            ]
        )
        for i in range(4)
        for j in range(3)
    ]
    zones = gpd.GeoDataFrame(
        {"code": [f"Z{i:02d}" for i in range(12)], "pop": np.arange(12) * 100},
        geometry=cells,
        crs="EPSG:4549",
    )
    zones.to_file(src / "zones.geojson", driver="GeoJSON")
    county = gpd.GeoDataFrame({"name": ["Test"]}, geometry=[zones.union_all()], crs="EPSG:4549")
    county.to_file(src / "county.gpkg", layer="county")
    pts = zones.to_crs(4326).representative_point()
    (src / "points.csv").write_text(
        "id,lon,lat,kind\n"
        + "".join(f"{i},{p.x:.7f},{p.y:.7f},k{i % 3}\n" for i, p in enumerate(pts)),
        encoding="utf-8",
    )
    yy, xx = np.mgrid[0:60, 0:80]
    dem = (100 + 5 * xx - 2 * yy).astype("float32")
    with rasterio.open(
        src / "dem.tif",
        "w",
        driver="GTiff",
        width=80,
        height=60,
        count=1,
        dtype="float32",
        crs="EPSG:4549",
        transform=from_origin(X0, Y0 + 3000, 50, 50),
        nodata=-9999,
    ) as dst:
        dst.write(dem, 1)


TOML = """
[region]
name = "Test County"
crs = "EPSG:4549"
boundary = "county"

[sources.county]
path = "sources/county.gpkg"

[sources.zones]
path = "sources/zones.geojson"

[sources.points]
path = "sources/points.csv"

[sources.dem]
path = "sources/dem.tif"

[layers.zones]
builder = "vector"
title = "Zones"
inputs = { source = "zones" }
params = { id = "code" }

[layers.points]
builder = "vector"
inputs = { source = "points" }
params = { id = "id" }

[layers.dem]
builder = "raster"
inputs = { source = "dem" }
params = { resolution = 100, unit = "m" }
tiles = { style = { colormap = "terrain", rescale = [0, 500] } }
"""


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    make_sources(root)
    (root / "twin.toml").write_text(TOML, encoding="utf-8")
    return root


@pytest.fixture
def twin(workspace: Path) -> Twin:
    return Twin.open(workspace)
