"""Raster layers from real-world sources: Finnish working CRSs, no CRS, DEM tiles by glob."""

from __future__ import annotations

import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from pyproj import Transformer
from rasterio.transform import from_origin
from shapely.geometry import box
from typer.testing import CliRunner

from tests.layers.test_raster_sources import surface, write, write_tiles
from twin.cli import app
from twin.workspace import Twin


def _workspace(root: Path, crs: str, sources: str, layers: str) -> Path:
    (root / "sources").mkdir(parents=True, exist_ok=True)
    (root / "twin.toml").write_text(
        f'[region]\nname = "T"\ncrs = "{crs}"\n{sources}\n{layers}', encoding="utf-8"
    )
    return root


@pytest.mark.parametrize(
    ("epsg", "x0", "y0"), [(3067, 385_000, 6_672_000), (3879, 25_496_000, 6_672_000)]
)
def test_finnish_working_crs_builds_raster_and_vector(
    tmp_path: Path, epsg: int, x0: float, y0: float
) -> None:
    """GDAL's PROJ calls the datum EUREF-FIN, pyproj's ETRS89: still the same CRS."""
    root = _workspace(
        tmp_path / "ws",
        f"EPSG:{epsg}",
        '[sources.dem]\npath = "sources/dem.tif"\n[sources.b]\npath = "sources/b.geojson"',
        '[layers.dem]\nbuilder = "raster"\ninputs = { source = "dem" }\n'
        '[layers.b]\nbuilder = "vector"\ninputs = { source = "b" }',
    )
    values = np.arange(30 * 40, dtype="float32").reshape(30, 40)
    write(root / "sources/dem.tif", x0, y0, 40, 30, crs=f"EPSG:{epsg}", res=50, value=values)
    square = box(x0 + 100, y0 - 900, x0 + 700, y0 - 300)
    gpd.GeoDataFrame({"id": [1]}, geometry=[square], crs=epsg).to_file(root / "sources/b.geojson")
    twin = Twin.open(root)
    twin.build()
    entry = twin.catalog.layers["dem"]
    assert entry.crs == f"EPSG:{epsg}"
    with rasterio.open(twin.build_dir / entry.artifacts["data"]) as cog:
        assert cog.transform.almost_equals(from_origin(x0, y0, 50, 50))
        np.testing.assert_array_equal(cog.read(1), values)
        # a position reads back its value: pixel (row 12, col 7) holds 12 * 40 + 7
        (v,) = next(cog.sample([(x0 + 7 * 50 + 25, y0 - 12 * 50 - 25)]))
        assert v == 12 * 40 + 7
    b = twin.layer("b")
    assert b.crs.to_epsg() == epsg and b.geometry.iloc[0].equals_exact(square, 1e-6)


def _dem_workspace(root: Path, path: str) -> Path:
    """A workspace in EPSG:4549 whose ``dem`` layer warps source ``path`` to 1 km pixels."""
    return _workspace(
        root,
        "EPSG:4549",
        f'[sources.dem]\npath = "{path}"',
        '[layers.dem]\nbuilder = "raster"\ninputs = { source = "dem" }\n'
        "params = { resolution = 1000 }",
    )


@pytest.mark.parametrize("overlap", [False, True], ids=["edge-to-edge", "shared-edge"])
def test_dem_tiles_publish_the_raster_of_one_file(tmp_path: Path, overlap: bool) -> None:
    """Four 1° tiles in EPSG:4326 by glob, warped once: no seam where the tiles meet."""
    one_root = _dem_workspace(tmp_path / "one", "sources/dem.tif")
    tiled_root = _dem_workspace(tmp_path / "tiled", "sources/dem/*.tif")
    shutil.copy(write_tiles(tiled_root / "sources/dem", overlap), one_root / "sources/dem.tif")
    one, tiled = Twin.open(one_root), Twin.open(tiled_root)
    one.build()
    tiled.build()
    cogs = []
    for twin in (one, tiled):
        with rasterio.open(twin.build_dir / twin.catalog.layers["dem"].artifacts["data"]) as src:
            cogs.append((src.read(1), src.transform, src.nodata))
    (a, ta, nd), (b, tb, _) = cogs
    assert ta.almost_equals(tb) and a.shape == b.shape
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-3)
    # Each pixel holds the surface at its centre (bilinear reproduces a linear surface),
    # including the pixels along 120°E and 30°N where the tiles meet.
    rows, cols = np.mgrid[0 : b.shape[0], 0 : b.shape[1]]
    x, y = tb * (cols + 0.5, rows + 0.5)
    lon, lat = Transformer.from_crs(4549, 4326, always_xy=True).transform(x, y)
    # (within 0.1 pixel: the surface rises ~3 per pixel, GDAL's warp approximates to 1/8 pixel)
    inner = (lon > 119.05) & (lon < 120.95) & (lat > 29.05) & (lat < 30.95)
    assert inner.sum() > 20_000 and (b[inner] != nd).all()
    np.testing.assert_allclose(b[inner], surface(lon, lat)[inner], rtol=0, atol=0.3)
    seam = inner & ((np.abs(lon - 120) < 0.02) | (np.abs(lat - 30) < 0.02))
    assert seam.sum() > 100
    np.testing.assert_allclose(b[seam], surface(lon, lat)[seam], rtol=0, atol=0.3)


def _build_error(root: Path) -> list[str]:
    res = CliRunner().invoke(app, ["-w", str(root), "build"])
    assert res.exit_code == 1
    assert "Traceback" not in res.output
    return [line for line in res.stderr.splitlines() if line.startswith("twin: error:")]


def test_tile_in_another_crs_fails_the_build_naming_it(tmp_path: Path) -> None:
    root = _dem_workspace(tmp_path / "ws", "sources/dem/*.tif")
    write_tiles(root / "sources/dem", overlap=False)
    write(root / "sources/dem/N30E120.tif", 500_000, 3_300_000, 100, 100, "EPSG:32650", 10)
    (error,) = _build_error(root)
    assert "N30E120.tif: CRS EPSG:32650" in error
    assert "dem" not in Twin.open(root).catalog.layers


def test_source_crs_is_honoured_for_a_raster_without_one(tmp_path: Path) -> None:
    root = _dem_workspace(tmp_path / "ws", "sources/dem.tif")
    values = np.full((10, 10), 7, dtype="float32")
    write(root / "sources/dem.tif", 480_000, 3_383_000, 10, 10, crs=None, res=50, value=values)
    (error,) = _build_error(root)
    assert "dem.tif: declares no CRS; set 'crs' on the source" in error
    toml = root / "twin.toml"
    toml.write_text(
        toml.read_text()
        .replace('path = "sources/dem.tif"', 'path = "sources/dem.tif"\ncrs = "EPSG:4549"')
        .replace("resolution = 1000", "resolution = 50"),
        encoding="utf-8",
    )
    twin = Twin.open(root)
    twin.build()
    entry = twin.catalog.layers["dem"]
    assert entry.crs == "EPSG:4549"
    with rasterio.open(twin.build_dir / entry.artifacts["data"]) as cog:
        assert cog.transform.almost_equals(from_origin(480_000, 3_383_000, 50, 50))
        assert (cog.read(1) == 7).all()
