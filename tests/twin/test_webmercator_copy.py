"""Raster layers' Web Mercator copies: written by the build, read for WebMercatorQuad tiles.

A continuous DEM and a categorical class raster, both in EPSG:4549, are built
through :class:`Twin`; the tiles read from each layer's ``webmercator``
artifact are compared with the tiles rio-tiler makes from the original COG,
and a catalog without the artifact still serves the same pixels.
"""

from __future__ import annotations

import json
from pathlib import Path

import morecantile
import numpy as np
import pytest
import rasterio
from fastapi.testclient import TestClient
from rasterio.io import MemoryFile
from rasterio.transform import from_origin
from rio_tiler.io import Reader

from tests.tiles.conftest import make_client
from tests.twin.conftest import X0, Y0, make_sources
from twin import artifacts
from twin.workspace import Twin

pytestmark = pytest.mark.filterwarnings("ignore:Use `@` matmul:PendingDeprecationWarning")

MERCATOR = morecantile.tms.get("WebMercatorQuad")
RES = 20.0
W, H = 200, 150  # 4 km x 3 km at 20 m
NODATA_BLOCK = 30  # the north-west corner of both rasters is nodata
CLASSES = (10, 20, 30, 40, 50)  # not consecutive: a blend of two is no class

TOML = """
[region]
name = "Test County"
crs = "EPSG:4549"
boundary = "county"

[sources.county]
path = "sources/county.gpkg"

[sources.dem20]
path = "sources/dem20.tif"

[sources.classes]
path = "sources/classes.tif"

[layers.dem]
builder = "raster"
inputs = { source = "dem20" }
tiles = { minzoom = 10, maxzoom = 16, style = { colormap = "terrain", rescale = [0, 500] } }

[layers.classes]
builder = "raster"
inputs = { source = "classes" }
params = { resampling = "nearest" }
tiles = { minzoom = 10, maxzoom = 16, style = { colormap = "tab20", rescale = [0, 20] } }
"""


def _write(path: Path, data: np.ndarray, nodata: float) -> None:
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=W,
        height=H,
        count=1,
        dtype=str(data.dtype),
        crs="EPSG:4549",
        transform=from_origin(X0, Y0 + H * RES, RES, RES),
        nodata=nodata,
    ) as dst:
        dst.write(data, 1)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A built workspace with a continuous and a categorical raster layer; its catalog."""
    root = tmp_path_factory.mktemp("wm") / "ws"
    make_sources(root)
    rows, cols = np.mgrid[0:H, 0:W]
    dem = (100 + 1.5 * cols + 40 * np.sin(rows / 25)).astype("float32")
    dem[:NODATA_BLOCK, :NODATA_BLOCK] = -9999
    _write(root / "sources" / "dem20.tif", dem, -9999)
    classes = np.array(CLASSES, dtype="uint8")[(rows // 20 + cols // 20) % len(CLASSES)]
    classes[:NODATA_BLOCK, :NODATA_BLOCK] = 0
    _write(root / "sources" / "classes.tif", classes, 0)
    (root / "twin.toml").write_text(TOML, encoding="utf-8")
    report = Twin.open(root).build()
    assert report.ok, report.failed
    return root / "build" / "catalog.json"


def _artifacts(catalog: Path, layer: str) -> dict[str, Path]:
    entry = json.loads(catalog.read_text())["layers"][layer]
    return {k: catalog.parent / v for k, v in entry["artifacts"].items()}


def _tiles(path: Path, zooms: tuple[int, ...]) -> list[morecantile.Tile]:
    with rasterio.open(path) as src:
        bounds = rasterio.warp.transform_bounds(src.crs, "EPSG:4326", *src.bounds)
    return [t for z in zooms for t in MERCATOR.tiles(*bounds, [z])]


#: rescale ranges that make the grey PNG's red channel the value itself (halved for the DEM)
GREY = {"dem": (0.0, 510.0), "classes": (0.0, 255.0)}


def _png(content: bytes) -> np.ndarray:
    with MemoryFile(content) as mem, mem.open() as ds:
        return ds.read()


def _served(client: TestClient, layer: str, url: str) -> np.ma.MaskedArray | None:
    """The values a grey PNG tile shows (masked where transparent); None for no content."""
    lo, hi = GREY[layer]
    r = client.get(url, params={"colormap_name": "gray", "rescale": f"{lo:g},{hi:g}"})
    if r.status_code == 204:
        return None
    assert r.status_code == 200, r.text
    img = _png(r.content)
    return np.ma.MaskedArray(lo + img[0] * (hi - lo) / 255, mask=img[3] == 0)


def _pairs(
    catalog: Path, layer: str, zooms: tuple[int, ...]
) -> list[tuple[np.ma.MaskedArray, ...]]:
    """(tile served from the Web Mercator copy, tile rio-tiler makes from the original)."""
    data = _artifacts(catalog, layer)["data"]
    out = []
    with make_client(catalog) as client, Reader(str(data)) as reader:
        for t in _tiles(data, zooms):
            ours = _served(client, layer, f"/tiles/{layer}/{t.z}/{t.x}/{t.y}.png")
            theirs = reader.tile(t.x, t.y, t.z, indexes=1).array[0]
            if ours is None:
                assert np.ma.getmaskarray(theirs).mean() > 0.99  # empty for both
                continue
            out.append((ours, theirs))
    assert out
    return out


def test_the_build_publishes_a_webmercator_copy_with_the_source_values(built: Path) -> None:
    for layer, dtype, nodata in (("dem", "float32", -9999.0), ("classes", "uint8", 0.0)):
        paths = _artifacts(built, layer)
        assert paths["webmercator"].name == "data.webmercator.tif"
        with rasterio.open(paths["webmercator"]) as copy:
            assert copy.crs.to_epsg() == 3857
            assert copy.dtypes[0] == dtype and copy.nodata == nodata
            # the copy's pixels are WebMercatorQuad pixels, its origin a tile corner
            z = round(np.log2(MERCATOR.matrix(0).cellSize / copy.res[0]))
            assert copy.res[0] == pytest.approx(MERCATOR.matrix(z).cellSize)
            tile_span = 256 * copy.res[0]
            origin = MERCATOR.xy_bounds(morecantile.Tile(0, 0, 0)).left
            assert (copy.transform.c - origin) / tile_span == pytest.approx(
                round((copy.transform.c - origin) / tile_span)
            )
            assert copy.overviews(1)
            values = copy.read(1, masked=True)
        assert artifacts.read_raster_metadata(paths["webmercator"])["layer"] == layer
        if layer == "classes":  # nearest: only the source's categories, never a blend
            assert set(np.unique(values.compressed())) == set(CLASSES)


def test_continuous_tiles_from_the_copy_match_rio_tiler_on_the_original(built: Path) -> None:
    for ours, theirs in _pairs(built, "dem", (11, 13, 15)):
        both = ~np.ma.getmaskarray(ours) & ~np.ma.getmaskarray(theirs)
        assert np.mean(np.ma.getmaskarray(ours) == np.ma.getmaskarray(theirs)) > 0.97
        diff = np.abs(ours.data[both] - theirs.data[both])
        # the PNG holds values to 2 m; a pixel of the DEM is at most ~40 m from its neighbours
        assert np.median(diff) < 4.0 and np.percentile(diff, 99) < 45.0


def test_categorical_tiles_from_the_copy_match_rio_tiler_on_the_original(built: Path) -> None:
    for ours, theirs in _pairs(built, "classes", (11, 13, 15)):
        both = ~np.ma.getmaskarray(ours) & ~np.ma.getmaskarray(theirs)
        assert np.mean(np.ma.getmaskarray(ours) == np.ma.getmaskarray(theirs)) > 0.97
        assert set(np.unique(ours.data[both])) <= set(CLASSES)
        # class edges may move by a pixel; everywhere else the class is the same
        assert np.mean(ours.data[both] == theirs.data[both]) > 0.93


@pytest.mark.parametrize("layer", ["dem", "classes"])
def test_a_catalog_without_the_copy_serves_the_same_tiles(
    built: Path, tmp_path: Path, layer: str
) -> None:
    cat = json.loads(built.read_text())
    for entry in cat["layers"].values():
        entry["artifacts"] = {
            k: str(built.parent / v) for k, v in entry["artifacts"].items() if k != "webmercator"
        }
    bare = tmp_path / "catalog.json"
    bare.write_text(json.dumps(cat))
    tiles = _tiles(_artifacts(built, layer)["data"], (13,))
    with make_client(built) as with_copy, make_client(bare) as without:
        for t in tiles:
            url = f"/tiles/{layer}/{t.z}/{t.x}/{t.y}.png"
            a, b = with_copy.get(url), without.get(url)
            assert (a.status_code, b.status_code) in ((200, 200), (204, 204))
            if a.status_code == 204:
                continue
            pa, pb = _png(a.content), _png(b.content)
            assert np.mean(pa[3] == pb[3]) > 0.97  # the same pixels hold data
            both = (pa[3] > 0) & (pb[3] > 0)
            diff = np.abs(pa[:3].astype(int) - pb[:3]).max(axis=0)[both]
            if layer == "classes":  # the same colour but where a class edge moved by a pixel
                assert np.mean(diff == 0) > 0.93
            else:  # bilinear against nearest: neighbouring colours of the ramp
                assert np.percentile(diff, 95) <= 16


def test_other_grids_read_the_original(built: Path, tmp_path: Path) -> None:
    """A copy that says 7 everywhere shows in WebMercatorQuad tiles only."""
    paths = _artifacts(built, "dem")
    with rasterio.open(paths["webmercator"]) as src:
        profile = src.profile
        profile.update(driver="GTiff")
        fake = tmp_path / "seven.tif"
        with rasterio.open(fake, "w", **profile) as dst:
            dst.write(np.full((1, src.height, src.width), 7, dtype=src.dtypes[0]))
        west, south, east, north = rasterio.warp.transform_bounds(src.crs, "EPSG:4326", *src.bounds)
    cat = json.loads(built.read_text())
    entry = cat["layers"]["dem"]
    entry["artifacts"] = {"data": str(paths["data"]), "webmercator": str(fake)}
    cat["layers"] = {"dem": entry}
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps(cat))
    lon, lat = (west + east) / 2, (south + north) / 2
    with make_client(catalog) as client:
        t = MERCATOR.tile(lon, lat, 14)
        values = _served(client, "dem", f"/tiles/dem/{t.z}/{t.x}/{t.y}.png")
        assert values is not None and np.all(values.compressed() == 6)  # 7 in steps of 2
        t = morecantile.tms.get("WorldCRS84Quad").tile(lon, lat, 14)
        url = f"/collections/dem/tiles/WorldCRS84Quad/{t.z}/{t.y}/{t.x}?f=png"
        values = _served(client, "dem", url)
        assert values is not None and 100 < values.mean() < 500


def test_resampling_follows_the_style_hint_else_the_data_type() -> None:
    assert artifacts.tile_resampling("uint8", {}) == "nearest"
    assert artifacts.tile_resampling("int32", {"colormap": "tab20"}) == "nearest"
    assert artifacts.tile_resampling("float32", {}) == "bilinear"
    assert artifacts.tile_resampling("float32", {"resampling": "nearest"}) == "nearest"
    with pytest.raises(artifacts.ArtifactCheckError, match="style resampling 'lanczos'"):
        artifacts.tile_resampling("float32", {"resampling": "lanczos"})
