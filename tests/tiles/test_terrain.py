"""Terrain-RGB tiles of a DEM, and the style's raster-dem, hillshade and fill-extrusion layers.

Tiles are decoded with the encodings' published formulas (written out here, not
the server's) and compared with the DEM read by rasterio at each tile pixel's
centre.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import rasterio
from fastapi.testclient import TestClient
from pyproj import Transformer
from rasterio.io import MemoryFile

from tests.tiles._terrain_ws import (
    HALF_WORLD,
    RELIEF_NODATA_BLOCK,
    RELIEF_ZOOM,
    build_terrain_workspace,
    grid_res,
    relief_origin,
)
from tests.tiles.conftest import CRS, PUBLIC_URL, make_client, raster_transform, raster_value
from tests.tiles.test_metadata import VALIDATOR

#: metres between encoded heights; a decoded height is within half of it
STEP = {"mapbox": 0.1, "terrarium": 1 / 256}


@pytest.fixture(scope="module")
def terrain_catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_terrain_workspace(tmp_path_factory.mktemp("terrain"))


@pytest.fixture
def client(terrain_catalog: Path) -> Iterator[TestClient]:
    with make_client(terrain_catalog) as c:
        yield c


def decode(body: bytes, encoding: str) -> np.ndarray:
    """Heights from a terrain-RGB image, by the formulas Mapbox and Mapzen publish."""
    with MemoryFile(body) as mem, mem.open() as ds:
        assert ds.count == 3, "terrain-RGB is red, green and blue, no alpha"
        r, g, b = (band.astype("float64") for band in ds.read())
    if encoding == "mapbox":
        return -10000 + (r * 256 * 256 + g * 256 + b) * 0.1
    return (r * 256 + g + b / 256) - 32768


def pixel_centres(z: int, x: int, y: int) -> tuple[np.ndarray, np.ndarray]:
    """Web Mercator x, y of the centres of tile z/x/y's 256 x 256 pixels (rows, columns)."""
    res = grid_res(z)
    left, top = -HALF_WORLD + x * 256 * res, HALF_WORLD - y * 256 * res
    cols, rows = np.meshgrid(np.arange(256) + 0.5, np.arange(256) + 0.5)
    return left + cols * res, top - rows * res


def dem_at(path: Path, xs: np.ndarray, ys: np.ndarray) -> np.ma.MaskedArray:
    """The DEM's pixel under each point (masked: nodata or off the raster)."""
    with rasterio.open(path) as src:
        data = src.read(1, masked=True)
        rows, cols = rasterio.transform.rowcol(src.transform, xs.ravel(), ys.ravel())
    rows, cols = np.asarray(rows), np.asarray(cols)
    inside = (rows >= 0) & (rows < data.shape[0]) & (cols >= 0) & (cols < data.shape[1])
    out = np.ma.masked_all(rows.shape, dtype="float64")
    out[inside] = data[rows[inside], cols[inside]]
    return out.reshape(xs.shape)


@pytest.mark.parametrize("encoding", ["terrarium", "mapbox"])
@pytest.mark.parametrize(
    "zoom, dx, dy",
    [
        (RELIEF_ZOOM, 0, 0),  # heights below sea level
        (RELIEF_ZOOM, 1, 0),  # the nodata corner
        (RELIEF_ZOOM, 1, 1),
        (RELIEF_ZOOM + 1, 1, 2),  # overzoomed: each DEM pixel is 2 x 2 tile pixels
        (RELIEF_ZOOM + 1, 3, 0),
    ],
)
def test_terrain_tiles_decode_to_the_dem(
    client: TestClient, terrain_catalog: Path, encoding: str, zoom: int, dx: int, dy: int
) -> None:
    x0, y0 = relief_origin()
    scale = 2 ** (zoom - RELIEF_ZOOM)
    x, y = x0 * scale + dx, y0 * scale + dy
    r = client.get(f"/tiles/relief/{zoom}/{x}/{y}.png", params={"encoding": encoding})
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    heights = decode(r.content, encoding)
    expected = dem_at(terrain_catalog.parent / "relief/v1/data.tif", *pixel_centres(zoom, x, y))
    valid = ~np.ma.getmaskarray(expected)
    assert valid.mean() >= 0.75
    error = np.abs(heights[valid] - expected[valid].data)
    assert error.max() <= STEP[encoding] / 2 + 1e-6
    assert np.ptp(expected[valid]) > 100
    if (zoom, dx, dy) == (RELIEF_ZOOM, 0, 0):
        assert expected[valid].min() < -50  # below sea level too
    # no height: 0 m (the documented value), not the encoding's floor
    assert np.all(heights[~valid] == 0)
    if (zoom, dx, dy) == (RELIEF_ZOOM, 1, 0):
        assert (~valid).sum() == RELIEF_NODATA_BLOCK**2


def test_terrain_tiles_as_lossless_webp(client: TestClient, terrain_catalog: Path) -> None:
    x, y = relief_origin()
    r = client.get(f"/tiles/relief/{RELIEF_ZOOM}/{x + 1}/{y}.webp?encoding=terrarium")
    assert r.status_code == 200 and r.headers["content-type"] == "image/webp"
    expected = dem_at(
        terrain_catalog.parent / "relief/v1/data.tif", *pixel_centres(RELIEF_ZOOM, x + 1, y)
    )
    assert np.abs(decode(r.content, "terrarium") - expected).max() <= STEP["terrarium"] / 2 + 1e-6


def test_terrain_tiles_of_a_dem_in_another_crs(client: TestClient) -> None:
    """The EPSG:4549 DEM is warped per tile: each height is one of its pixels near the centre."""
    z = 15
    x, y = (v + 1 for v in relief_origin())  # inside the test raster (conftest)
    r = client.get(f"/tiles/dem/{z}/{x}/{y}.png?encoding=mapbox")
    assert r.status_code == 200
    heights = decode(r.content, "mapbox")
    xs, ys = pixel_centres(z, x, y)
    ex, ey = Transformer.from_crs("EPSG:3857", CRS, always_xy=True).transform(xs, ys)
    col, row = ~raster_transform() * (ex, ey)
    # the DEM is 0.5 m per column and 0.01 m per row: a neighbouring pixel differs by 0.51 m
    lo = raster_value(np.floor(col) - 1, np.floor(row) - 1)
    hi = raster_value(np.floor(col) + 1, np.floor(row) + 1)
    assert np.all((heights >= lo - 0.05) & (heights <= hi + 0.05))
    assert np.ptp(heights) > 10  # the tile is not flat


def test_a_tile_without_heights_is_flat_not_empty(client: TestClient) -> None:
    # a relief tile inside the nodata corner: every pixel is nodata
    x0, y0 = relief_origin()
    tile = f"/tiles/relief/{RELIEF_ZOOM + 2}/{x0 * 4 + 7}/{y0 * 4}.png"
    r = client.get(tile, params={"encoding": "terrarium"})
    assert r.status_code == 200  # MapLibre cannot make a DEM of an empty answer
    assert np.all(decode(r.content, "terrarium") == 0)
    assert client.get(tile).status_code == 204  # the same tile in colours is empty, as before


@pytest.mark.parametrize(
    "url, words",
    [
        ("/tiles/relief/15/{x}/{y}.png?encoding=lerc", "encoding 'lerc' is not a terrain-RGB"),
        ("/tiles/relief/15/{x}/{y}@2x.png?encoding=", "encoding '' is not a terrain-RGB"),
        (
            "/collections/relief/tiles/WebMercatorQuad/15/{y}/{x}?f=png&encoding=Mapbox",
            "encoding 'Mapbox' is not",
        ),
        ("/tiles/roads/15/{x}/{y}.mvt?encoding=mapbox", "only apply to raster layers"),
        ("/tiles/relief/15/{x}/{y}.png?encoding=mapbox&rescale=0,10", "do not apply"),
        ("/tiles/relief/tilejson.json?encoding=rgb", "encoding 'rgb' is not"),
        ("/tiles/roads/tilejson.json?encoding=mapbox", "applies to raster layers"),
    ],
)
def test_bad_encoding_is_a_400_in_one_line(client: TestClient, url: str, words: str) -> None:
    x, y = relief_origin()
    r = client.get(url.format(x=x, y=y))
    assert r.status_code == 400, r.text
    detail = r.json()["detail"]
    assert words in detail and "\n" not in detail


def test_tilejson_names_the_encoding(client: TestClient) -> None:
    doc = client.get("/tiles/relief/tilejson.json?encoding=terrarium").json()
    assert doc["encoding"] == "terrarium"
    assert doc["tiles"] == [f"{PUBLIC_URL}/tiles/relief/{{z}}/{{x}}/{{y}}.png?encoding=terrarium"]
    assert "encoding" not in client.get("/tiles/relief/tilejson.json").json()


def test_style_has_terrain_hillshade_and_extrusions_and_validates(
    client: TestClient, tmp_path: Path
) -> None:
    style = client.get("/style.json").json()
    dem = style["sources"]["relief-terrain"]
    assert dem == {
        "type": "raster-dem",
        "url": f"{PUBLIC_URL}/tiles/relief/tilejson.json?encoding=terrarium",
        "tileSize": 256,
        "encoding": "terrarium",
    }
    assert "dem-terrain" not in style["sources"]  # no terrain hint: colours only
    assert style["metadata"]["twin:terrain"] == {"source": "relief-terrain", "exaggeration": 2.0}
    assert "terrain" not in style  # the style opens flat
    by_id = {layer["id"]: layer for layer in style["layers"]}
    shade = by_id["relief-hillshade"]
    assert shade["type"] == "hillshade" and shade["source"] == "relief-terrain"
    assert shade["layout"]["visibility"] == "none"  # with its layer (visible = false)
    ext = by_id["buildings-extrusion"]
    assert ext["type"] == "fill-extrusion" and ext["source-layer"] == "buildings"
    assert ext["paint"]["fill-extrusion-height"] == [
        "max",
        ["to-number", ["get", "height_m"], 0],
        0,
    ]
    assert ext["metadata"] == {"twin:layer": "buildings", "twin:view": "3d"}
    assert ext["layout"] == {"visibility": "none"}
    assert by_id["buildings-fill"]["metadata"]["twin:view"] == "2d"
    # buildings stand above every other layer but the labels
    order = [layer["id"] for layer in style["layers"]]
    assert all(layer["type"] == "symbol" for layer in style["layers"][order.index(ext["id"]) + 1 :])
    # the served tiles are what the source says
    tj = client.get(dem["url"].removeprefix(PUBLIC_URL)).json()
    assert tj["encoding"] == "terrarium" and tj["maxzoom"] == RELIEF_ZOOM + 2

    node = shutil.which("node")
    assert node, "node is needed to run MapLibre's style validator"
    assert VALIDATOR.exists(), "run `npm install` (see .ci/run)"
    path = tmp_path / "style.json"
    path.write_text(json.dumps(style))
    out = subprocess.run([node, str(VALIDATOR), str(path)], capture_output=True, text=True)
    assert out.returncode == 0 and not out.stdout.strip(), out.stdout + out.stderr
    # the validator does check these layers: a hillshade on a vector source is refused
    shade["source"] = "buildings"
    path.write_text(json.dumps(style))
    bad = subprocess.run([node, str(VALIDATOR), str(path)], capture_output=True, text=True)
    assert bad.returncode != 0
