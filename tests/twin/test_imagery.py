"""An orthophoto delivery built into a mosaic layer and served: seams, sharpness, sheets read.

Eight 256 x 256 sheets at 10 cm (:mod:`tests.layers._imagery_fixtures`): six in
EPSG:4549 (one a JPEG with a world file and a .prj), two in EPSG:4490 in a
folder of their own, overlapping their neighbours by 5.6 m, each with a black
collar. Tiles are decoded and compared with the test pattern the sheets were
sampled from.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import morecantile
import numpy as np
import pytest
import rasterio
from fastapi.testclient import TestClient
from pyproj import Transformer
from rasterio.io import MemoryFile
from typer.testing import CliRunner

from tests.layers._imagery_fixtures import WORKING, X0, Y0, make_delivery, pattern
from tests.tiles.conftest import make_client
from tiles.grids import get_grid
from tiles.mosaic import read_mosaic_tile
from twin.cli import app
from twin.errors import BuildError
from twin.workspace import Twin

pytestmark = pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")

TOML = """
[region]
name = "Imagery Test"
crs = "EPSG:4549"

[sources.zone_a]
path = "sources/ortho/zone_4549"

[sources.zone_b]
path = "sources/ortho/zone_4490/*.tif"

[layers.ortho]
builder = "imagery"
inputs = { a = "zone_a", b = "zone_b" }
tiles = { minzoom = 14 }
"""
#: a point on each seam (EPSG:4549): where the image of the sheet read first ends (its
#: collar and margin, 1.4 m, masked) inside the next sheet: two 4549 sheets, a 4549 and a
#: 4490 sheet, two rows of sheets
SEAMS = {
    "4549|4549": (X0 + 24.2, Y0 + 12),
    "4549|4490": (X0 + 64.2, Y0 + 12),
    "row|row": (X0 + 50, Y0 + 24.2),
}
#: where every pixel is some sheet's image: the union of the sheets less their collars
#: (and less the clipped corner of the top-right sheet, which no other sheet covers)
INTERIOR = (X0 + 2.1, Y0 + 1.5, X0 + 79.0, Y0 + 39.0)
#: a point only sheet (0, 0) covers
INSIDE = (X0 + 10, Y0 + 10)
GRIDS = ("WebMercatorQuad", "WorldCRS84Quad", "CGCS2000Quad")


def _workspace(root: Path) -> Path:
    (root / "sources").mkdir(parents=True)
    make_delivery(root / "sources" / "ortho")
    (root / "twin.toml").write_text(TOML)
    return root


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = _workspace(tmp_path_factory.mktemp("imagery"))
    report = Twin.open(root).build()
    assert report.ok, report.failed
    return root / "build" / "catalog.json"


@pytest.fixture
def client(built: Path) -> Iterator[TestClient]:
    with make_client(built) as c:
        yield c


def _entry(catalog: Path) -> dict:
    return json.loads(catalog.read_text())["layers"]["ortho"]


def _artifacts(catalog: Path) -> tuple[str, str]:
    arts = _entry(catalog)["artifacts"]
    return str(catalog.parent / arts["index"]), str(catalog.parent / arts["data"])


def _decode(content: bytes) -> np.ndarray:
    with MemoryFile(content) as mem, mem.open() as ds:
        return ds.read()


def _tile(grid_id: str, x: float, y: float, z: int) -> morecantile.Tile:
    tms = get_grid(grid_id).tms
    lon, lat = Transformer.from_crs(WORKING, "EPSG:4326", always_xy=True).transform(x, y)
    return tms.tile(lon, lat, z)


def _url(grid_id: str, t: morecantile.Tile, fmt: str = "png") -> str:
    if grid_id == "WebMercatorQuad":
        return f"/tiles/ortho/{t.z}/{t.x}/{t.y}.{fmt}"
    return f"/collections/ortho/tiles/{grid_id}/{t.z}/{t.y}/{t.x}?f={fmt}"


def _metric(client: TestClient, what: str) -> int:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(f'twin_mosaic_reads_total{{read="{what}"}}'):
            return int(line.split()[-1])
    raise AssertionError(f"no mosaic metric {what}")


def test_build_indexes_every_sheet(built: Path) -> None:
    entry = _entry(built)
    assert entry["kind"] == "raster" and entry["maxzoom"] == 22
    assert entry["resolution"] == pytest.approx(0.1)
    assert entry["stats"]["sheets"] == 8 and entry["stats"]["resolution_cm"] == 10.0
    assert entry["stats"]["source_crs"] == "EPSG:4490 x2, EPSG:4549 x6"
    index_path, overview = _artifacts(built)
    index = gpd.read_parquet(index_path)
    assert index.crs.to_epsg() == 4549 and len(index) == 8
    assert sorted(index["priority"]) == list(range(8))
    jpeg = index[index["source"].str.endswith(".jpg")]
    assert len(jpeg) == 1 and jpeg.iloc[0]["source_crs"] == "EPSG:4549"
    # every footprint holds its sheet's valid pixels, read back from the sheet's mask
    for row in index.itertuples():
        with rasterio.open(Path(index_path).parent / row.file) as src:
            assert src.crs.to_epsg() == 4549 and src.res == pytest.approx((0.1, 0.1))
            mask = src.dataset_mask() > 0
            rows, cols = np.nonzero(mask)
            xs, ys = src.xy(rows, cols)
            assert int(mask.sum()) == row.valid_pixels
        inside = gpd.points_from_xy(xs, ys, crs=WORKING).within(row.geometry.buffer(1e-6))
        assert inside.all()
    with rasterio.open(overview) as src:
        assert src.res[0] == pytest.approx(0.8) and src.crs.to_epsg() == 4549


def _tile_across(grid_id: str, point: tuple[float, float]) -> morecantile.Tile:
    """The deepest tile holding ``point`` at least 8 pixels inside its edges."""
    grid = get_grid(grid_id)
    to_grid = Transformer.from_crs(WORKING, grid.crs, always_xy=True)
    gx, gy = to_grid.transform(*point)
    for z in range(22, 17, -1):
        t = _tile(grid_id, *point, z)
        left, bottom, right, top = grid.tile_bounds(t.z, t.x, t.y)
        pad = 8 * (right - left) / 256
        if left + pad < gx < right - pad and bottom + pad < gy < top - pad:
            return t
    raise AssertionError("no tile holds the point inside")


def _centres(grid_id: str, t: morecantile.Tile, size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """EPSG:4549 coordinates of each tile pixel's centre."""
    grid = get_grid(grid_id)
    left, bottom, right, top = grid.tile_bounds(t.z, t.x, t.y)
    cols, rows = np.meshgrid(np.arange(size) + 0.5, np.arange(size) + 0.5)
    gx = left + cols * (right - left) / size
    gy = top - rows * (top - bottom) / size
    return Transformer.from_crs(grid.crs, WORKING, always_xy=True).transform(gx, gy)


@pytest.mark.parametrize("grid_id", GRIDS)
@pytest.mark.parametrize("seam", list(SEAMS))
def test_seams_have_no_gap_and_no_collar(
    client: TestClient, built: Path, grid_id: str, seam: str
) -> None:
    t = _tile_across(grid_id, SEAMS[seam])
    r = client.get(_url(grid_id, t))
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    rgba = _decode(r.content)
    assert rgba.shape == (4, 256, 256)
    x, y = _centres(grid_id, t)
    inside = (x > INTERIOR[0]) & (y > INTERIOR[1]) & (x < INTERIOR[2]) & (y < INTERIOR[3])
    assert inside.sum() > 2000
    assert (rgba[3][inside] == 255).all()  # no hole where sheets meet
    # the pattern lies in 60..200; a collar is 0..4 (its JPEG ringing stays far below 35)
    assert rgba[:3, inside].min() >= 35
    index_path, overview = _artifacts(built)
    read = read_mosaic_tile(index_path, overview, get_grid(grid_id), t.z, t.x, t.y)
    assert len(read.sheets) >= 2 and not read.overview  # both sides of the seam


def _brightness_at_tile(grid_id: str, t: morecantile.Tile) -> np.ndarray:
    """The test pattern's brightness (mean of the bands) at each tile pixel's centre."""
    return pattern(*_centres(grid_id, t)).astype(float).mean(axis=0)


def test_zoom_22_is_sharp(client: TestClient, built: Path) -> None:
    t = _tile("WebMercatorQuad", *INSIDE, 22)
    rgba = _decode(client.get(_url("WebMercatorQuad", t)).content)
    expected = _brightness_at_tile("WebMercatorQuad", t)
    # the 10 cm checkerboard: in the tile as in the sheet, pixel for pixel
    brightness = rgba[:3].astype(float).mean(axis=0)
    assert np.corrcoef(brightness.ravel(), expected.ravel())[0, 1] > 0.8
    index_path, overview = _artifacts(built)
    read = read_mosaic_tile(index_path, overview, get_grid("WebMercatorQuad"), t.z, t.x, t.y)
    assert [Path(s).name for s in read.sheets] == ["00000-sheet_0_0.tif"]
    assert not read.overview
    # the overview (0.8 m) cannot show it: the same tile from the overview is flat
    with rasterio.open(overview) as src:
        lon_lat = Transformer.from_crs("EPSG:3857", WORKING, always_xy=True)
        grid = get_grid("WebMercatorQuad")
        left, bottom, right, top = grid.tile_bounds(t.z, t.x, t.y)
        cx, cy = lon_lat.transform((left + right) / 2, (bottom + top) / 2)
        red = next(src.sample([(cx, cy)], indexes=1))[0]
    assert 100 < red < 160  # 70 and 190 averaged: no checkerboard left


def test_index_bounds_the_sheets_read_per_tile(built: Path) -> None:
    index_path, overview = _artifacts(built)
    grid = get_grid("WebMercatorQuad")
    inside = _tile("WebMercatorQuad", *INSIDE, 22)
    assert (
        len(read_mosaic_tile(index_path, overview, grid, inside.z, inside.x, inside.y).sheets) == 1
    )
    corner = _tile("WebMercatorQuad", X0 + 23, Y0 + 23, 21)
    under_corner = read_mosaic_tile(index_path, overview, grid, corner.z, corner.x, corner.y)
    assert 2 <= len(under_corner.sheets) <= 4
    bounded = read_mosaic_tile(
        index_path, overview, grid, corner.z, corner.x, corner.y, max_sheets=1
    )
    assert len(bounded.sheets) == 1 and bounded.left_out >= 1 and bounded.overview
    # past the bound the overview fills in: no hole
    full = np.ma.getmaskarray(under_corner.image.array)
    assert (np.ma.getmaskarray(bounded.image.array) == full).all()
    small = _tile("WebMercatorQuad", *INSIDE, 16)  # pixels coarser than the overview's
    read = read_mosaic_tile(index_path, overview, grid, small.z, small.x, small.y)
    assert read.sheets == [] and read.overview and read.image is not None


def test_server_counts_sheets_read(built: Path) -> None:
    with make_client(built, mosaic_max_sheets=1) as client:
        before = (_metric(client, "sheets"), _metric(client, "left_out"))
        t = _tile("WebMercatorQuad", X0 + 23, Y0 + 23, 21)
        rgba = _decode(client.get(_url("WebMercatorQuad", t)).content)
        assert _metric(client, "sheets") - before[0] == 1
        assert _metric(client, "left_out") - before[1] >= 1
        assert (rgba[3] == 255).all()


def test_formats_decode(client: TestClient) -> None:
    # a tile over the mosaic's western edge: half imagery, half nothing
    t = _tile("WebMercatorQuad", X0 + 1, Y0 + 20, 20)
    png = _decode(client.get(_url("WebMercatorQuad", t, "png")).content)
    assert png.shape[0] == 4 and (png[3] == 0).any() and (png[3] == 255).any()
    r = client.get(_url("WebMercatorQuad", t, "webp"))
    assert r.headers["content-type"] == "image/webp"
    webp = _decode(r.content)
    assert webp.shape[0] == 4 and ((webp[3] == 0) == (png[3] == 0)).mean() > 0.99
    r = client.get(_url("WebMercatorQuad", t, "jpg"))
    assert r.headers["content-type"] == "image/jpeg"
    jpg = _decode(r.content)
    assert jpg.shape[0] == 3
    empty, full = png[3] == 0, png[3] == 255
    assert jpg[:, empty].mean() > 245  # no alpha in JPEG: white where there is no imagery
    diff = np.abs(jpg[:, full].astype(int) - png[:3, full].astype(int))
    assert diff.mean() < 12
    r = client.get(_url("WorldCRS84Quad", _tile("WorldCRS84Quad", *INSIDE, 20), "jpg"))
    assert r.headers["content-type"] == "image/jpeg" and _decode(r.content).shape[0] == 3


def test_tilejson_and_catalog_say_the_resolution(client: TestClient) -> None:
    tj = client.get("/tiles/ortho/tilejson.json").json()
    assert tj["twin:resolution_cm"] == 10.0 and tj["maxzoom"] == 22
    assert tj["tiles"][0].endswith("/tiles/ortho/{z}/{x}/{y}.webp")
    [layer] = [item for item in client.get("/catalog").json() if item["name"] == "ortho"]
    assert layer["resolution"] == pytest.approx(0.1)
    assert layer["stats"]["resolution_cm"] == 10.0
    r = client.get("/tiles/ortho/20/0/0.png", params={"colormap_name": "viridis"})
    assert r.status_code == 400 and "true-colour" in r.json()["detail"]


def test_corrupt_sheet_fails_the_build_naming_it(tmp_path: Path) -> None:
    root = _workspace(tmp_path / "ws")
    bad = root / "sources" / "ortho" / "zone_4490" / "sheet_3_1.tif"
    raw = bad.read_bytes()
    bad.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(BuildError) as err:
        Twin.open(root).build()
    message = str(err.value)
    assert "sheet_3_1.tif: cannot be read" in message and "\n" not in message
    assert not (root / "build" / "ortho").exists()
    catalog = root / "build" / "catalog.json"
    assert not catalog.exists() or "ortho" not in json.loads(catalog.read_text())["layers"]


def _validate(root: Path) -> list[str]:
    res = CliRunner().invoke(app, ["-w", str(root), "validate", "--json"])
    problems = json.loads(res.stdout)["problems"]
    assert res.exit_code == (1 if problems else 0), res.output
    return problems


def test_validate_reads_every_sheet(built: Path, tmp_path: Path) -> None:
    root = tmp_path / "ws"
    shutil.copytree(built.parent.parent, root)
    assert _validate(root) == []
    index_path, _ = _artifacts(root / "build" / "catalog.json")
    sheet = sorted((Path(index_path).parent / "sheets").iterdir())[3]
    raw = sheet.read_bytes()
    sheet.write_bytes(raw[: len(raw) * 2 // 3])
    [problem] = _validate(root)
    assert problem.startswith("layer ortho: ") and sheet.name in problem
