"""Raster tile routes: decoded PNG/WebP pixels against the COG's formula."""

from __future__ import annotations

import morecantile
import numpy as np
import pytest
from fastapi.testclient import TestClient
from pyproj import CRS as ProjCRS
from pyproj import Transformer
from rasterio.io import MemoryFile
from rio_tiler.colormap import cmap

from tests.tiles.conftest import (
    CRS,
    NODATA_BLOCK,
    RASTER_RES,
    RASTER_SIZE,
    X0,
    Y0,
    raster_value,
)

MERCATOR = morecantile.tms.get("WebMercatorQuad")


def _read(content: bytes) -> np.ndarray:
    with MemoryFile(content) as mem, mem.open() as ds:
        return ds.read()


def _tile_at(x: float, y: float, z: int) -> morecantile.Tile:
    lon, lat = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True).transform(x, y)
    return MERCATOR.tile(lon, lat, z)


def _expected_values(tile: morecantile.Tile, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Value of the source pixel under each tile pixel centre (NaN where nodata/outside)."""
    b = MERCATOR.xy_bounds(tile)
    step = (b.right - b.left) / size
    cols, rows = np.meshgrid(np.arange(size) + 0.5, np.arange(size) + 0.5)
    mx, my = b.left + cols * step, b.top - rows * step
    x, y = Transformer.from_crs("EPSG:3857", CRS, always_xy=True).transform(mx, my)
    top = Y0 + RASTER_SIZE * RASTER_RES
    src_col = np.floor((x - X0) / RASTER_RES)
    src_row = np.floor((top - y) / RASTER_RES)
    inside = (src_col >= 0) & (src_col < RASTER_SIZE) & (src_row >= 0) & (src_row < RASTER_SIZE)
    nodata = (src_col < NODATA_BLOCK) & (src_row < NODATA_BLOCK)
    values = np.where(inside & ~nodata, raster_value(src_col, src_row), np.nan)
    return values, inside


@pytest.mark.parametrize("scale,size", [(1, 256), (2, 512)])
def test_png_pixels_follow_the_raster_formula(client: TestClient, scale: int, size: int) -> None:
    tile = _tile_at(X0 + 3000, Y0 + 3000, 16)
    suffix = "@2x" if scale == 2 else ""
    r = client.get(
        f"/tiles/dem/{tile.z}/{tile.x}/{tile.y}{suffix}.png",
        params={"colormap_name": "gray", "rescale": "0,300"},
    )
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/png"
    img = _read(r.content)
    assert img.shape == (4, size, size) and img.dtype == np.uint8
    want, _ = _expected_values(tile, size)
    valid = ~np.isnan(want)
    assert valid.mean() > 0.9
    # gray: the red channel is the rescaled value; nearest resampling may pick a neighbour pixel
    expected = np.clip(want[valid] / 300 * 255, 0, 255)
    diff = np.abs(img[0][valid].astype(float) - expected)
    assert np.percentile(diff, 95) <= 2.0
    assert np.all(img[3][valid] == 255)


def test_nodata_is_transparent_and_default_style_is_the_catalog_hint(client: TestClient) -> None:
    # the north-west nodata corner of the COG
    corner_x, corner_y = X0 + 200, Y0 + RASTER_SIZE * RASTER_RES - 200
    tile = _tile_at(corner_x, corner_y, 15)
    img = _read(client.get(f"/tiles/dem/{tile.z}/{tile.x}/{tile.y}.png").content)
    want, inside = _expected_values(tile, 256)
    nodata = inside & np.isnan(want)
    # away from the nodata edge (resampling may blur a pixel there), alpha is 0
    core = nodata.copy()
    core[1:-1, 1:-1] &= nodata[:-2, 1:-1] & nodata[2:, 1:-1] & nodata[1:-1, :-2] & nodata[1:-1, 2:]
    assert core.sum() > 100
    assert np.all(img[3][core] == 0)
    # default style: terrain colormap over rescale 0..300 from the catalog entry
    terrain = cmap.get("terrain")
    valid = ~np.isnan(want)
    idx = np.clip(np.round(want[valid] / 300 * 255), 0, 255).astype(int)
    rgb = np.array([terrain[int(i)][:3] for i in idx])
    close = np.all(np.abs(img[:3][:, valid].T.astype(int) - rgb) <= 12, axis=1)
    assert close.mean() > 0.9


def test_webp_tile_decodes(client: TestClient) -> None:
    tile = _tile_at(X0 + 3000, Y0 + 3000, 14)
    r = client.get(f"/tiles/dem/{tile.z}/{tile.x}/{tile.y}.webp")
    assert r.status_code == 200 and r.headers["content-type"] == "image/webp"
    img = _read(r.content)
    assert img.shape[1:] == (256, 256) and img.dtype == np.uint8
    assert "etag" in r.headers


def test_colormap_override_changes_the_colours(client: TestClient) -> None:
    tile = _tile_at(X0 + 3000, Y0 + 3000, 16)
    url = f"/tiles/dem/{tile.z}/{tile.x}/{tile.y}.png"
    a = client.get(url, params={"colormap_name": "gray"})
    b = client.get(url, params={"colormap_name": "magma"})
    assert a.headers["etag"] != b.headers["etag"]
    assert not np.array_equal(_read(a.content), _read(b.content))


def test_raster_tile_in_the_cgcs2000_grid(client: TestClient) -> None:
    tms = morecantile.TileMatrixSet.custom(
        [-180, -90, 180, 90], ProjCRS.from_epsg(4490), matrix_scale=[2, 1]
    )
    lon, lat = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True).transform(
        X0 + 3000, Y0 + 3000
    )
    t = tms.tile(lon, lat, 15)
    r = client.get(f"/collections/dem/tiles/CGCS2000Quad/{t.z}/{t.y}/{t.x}", params={"f": "png"})
    assert r.status_code == 200
    img = _read(r.content)
    assert img.shape == (4, 256, 256) and (img[3] == 255).mean() > 0.9
