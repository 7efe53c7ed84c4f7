"""The demo county's orthophoto: its sheets, their seams, and how it lines up with the vectors.

The demo county (built once per session, as ``make demo`` builds it) has a 10 cm
orthophoto of 武康街道's centre drawn from its own layers (:mod:`twin.demo._ortho`).
Tiles come from the real app and are decoded; where the roads and buildings are is read
from the published vector layers, not from the drawing code.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import morecantile
import numpy as np
import pytest
import rasterio
import shapely
from fastapi.testclient import TestClient
from pyproj import Transformer
from rasterio.io import MemoryFile
from typer.testing import CliRunner

from tests.tiles.conftest import make_client
from tiles.grids import get_grid
from tiles.mosaic import read_mosaic_tile
from twin.cli import app
from twin.demo._ortho import CELL_M, GEO_SHEET, GRID, OVERLAP_M, roof_colour

WORKING = "EPSG:4549"
TMS = morecantile.tms.get("WebMercatorQuad")
TO_LONLAT = Transformer.from_crs(WORKING, "EPSG:4326", always_xy=True)
TO_MERC = Transformer.from_crs(WORKING, "EPSG:3857", always_xy=True)


@pytest.fixture(scope="module")
def catalog(demo_county: Path) -> dict:
    return json.loads((demo_county / "build" / "catalog.json").read_text())


@pytest.fixture(scope="module")
def area(demo_county: Path) -> tuple[float, float, float, float]:
    """The ground photographed, from the delivered GeoTIFF sheets' own bounds."""
    lefts, bottoms, rights, tops = [], [], [], []
    for path in sorted((demo_county / "sources" / "ortho").glob("*.tif")):
        with rasterio.open(path) as src:
            assert src.crs.to_epsg() == 4549
            lefts.append(src.bounds.left)
            bottoms.append(src.bounds.bottom)
            rights.append(src.bounds.right)
            tops.append(src.bounds.top)
    half = OVERLAP_M / 2
    return min(lefts) + half, min(bottoms) + half, max(rights) - half, max(tops) - half


@pytest.fixture(scope="module")
def client(demo_county: Path) -> Iterator[TestClient]:
    with make_client(demo_county / "build" / "catalog.json") as c:
        yield c


def _tile_rgba(client: TestClient, t: morecantile.Tile) -> np.ndarray:
    r = client.get(f"/tiles/ortho/{t.z}/{t.x}/{t.y}.png")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    with MemoryFile(r.content) as mem, mem.open() as ds:
        return ds.read()


def _pixels(t: morecantile.Tile, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns in tile ``t`` (256 px) of EPSG:4549 points."""
    mx, my = TO_MERC.transform(x, y)
    b = TMS.xy_bounds(t)
    col = np.floor((mx - b.left) / (b.right - b.left) * 256).astype(int)
    row = np.floor((b.top - my) / (b.top - b.bottom) * 256).astype(int)
    return row, col


def _tiles_over(box: tuple[float, float, float, float], z: int) -> list[morecantile.Tile]:
    lon0, lat0 = TO_LONLAT.transform(box[0], box[1])
    lon1, lat1 = TO_LONLAT.transform(box[2], box[3])
    return list(TMS.tiles(lon0, lat0, lon1, lat1, zooms=[z]))


def test_ortho_layer_is_sixteen_sheets_one_in_another_crs(demo_county: Path, catalog: dict) -> None:
    entry = catalog["layers"]["ortho"]
    assert entry["kind"] == "raster" and entry["maxzoom"] == 22
    stats = entry["stats"]
    assert stats["sheets"] == GRID * GRID >= 16 and stats["resolution_cm"] == 10.0
    assert stats["source_crs"] == f"EPSG:4490 x1, EPSG:4549 x{GRID * GRID - 1}"
    assert stats["collar_pixels"] > 0  # every sheet came with a black border
    index = gpd.read_parquet(demo_county / "build" / entry["artifacts"]["index"])
    geo = index[index["source_crs"] == "EPSG:4490"]
    assert len(geo) == 1 and geo.iloc[0]["source"].endswith(".jpg")
    # neighbouring sheets overlap: each footprint meets at least two others
    for row in index.itertuples():
        assert int(index.intersects(row.geometry).sum()) - 1 >= 2


def _seams(area: tuple[float, float, float, float]) -> dict[str, tuple[float, float]]:
    """A point on a seam between sheets (the cell boundary, inside the overlap)."""
    x0, _, _, y1 = area
    col, row = GEO_SHEET
    mid_y = y1 - (row + 0.5) * CELL_M
    return {
        "4549|4490": (x0 + col * CELL_M, mid_y),  # the west edge of the EPSG:4490 sheet
        "4490|4549": (x0 + (col + 1) * CELL_M, mid_y),
        "4549|4549": (x0 + 3 * CELL_M, y1 - 0.5 * CELL_M),
        "four sheets": (x0 + 2 * CELL_M, y1 - 2 * CELL_M),
    }


@pytest.mark.parametrize("seam", ["4549|4490", "4490|4549", "4549|4549", "four sheets"])
def test_tiles_across_a_seam_have_no_collar_and_no_gap(
    client: TestClient, demo_county: Path, catalog: dict, area: tuple, seam: str
) -> None:
    # the tiles over the whole overlap: both sheets' edges and collars fall in them
    x, y = _seams(area)[seam]
    half = OVERLAP_M / 2
    entry = catalog["layers"]["ortho"]
    build = demo_county / "build"
    read_from: set[str] = set()
    for t in _tiles_over((x - half, y - half, x + half, y + half), 20):
        rgba = _tile_rgba(client, t)
        assert (rgba[3] == 255).all()  # no hole where the sheets meet
        # what is drawn never goes below 30 (a shadow on forest); the collars are 0-3
        dark = int((rgba[:3].max(axis=0) <= 12).sum())
        assert dark == 0, f"{dark} collar pixels in {t}"
        read = read_mosaic_tile(
            str(build / entry["artifacts"]["index"]),
            str(build / entry["artifacts"]["data"]),
            get_grid("WebMercatorQuad"),
            t.z,
            t.x,
            t.y,
        )
        assert not read.overview
        read_from.update(Path(s).name for s in read.sheets)
    assert len(read_from) >= 2, read_from


def _published(demo_county: Path, catalog: dict, name: str) -> gpd.GeoDataFrame:
    return gpd.read_parquet(demo_county / "build" / catalog["layers"][name]["artifacts"]["data"])


def test_roofs_and_roads_in_the_photo_are_where_the_vectors_are(
    client: TestClient, demo_county: Path, catalog: dict, area: tuple
) -> None:
    # the inner ground, away from the delivery's outer collars
    inner = shapely.box(*area).buffer(-15, join_style="mitre")
    buildings = _published(demo_county, catalog, "buildings")
    roads = _published(demo_county, catalog, "roads")
    assert buildings.crs.to_epsg() == roads.crs.to_epsg() == 4549
    roofs_checked = roofs_ok = road_points = road_grey = 0
    for t in _tiles_over(inner.bounds, 18):  # 0.47 m pixels: 20 or more across a roof
        rgba = _tile_rgba(client, t).astype(int)
        b = TMS.bounds(t)
        (x0, x1), (y0, y1) = Transformer.from_crs("EPSG:4326", WORKING, always_xy=True).transform(
            [b.left, b.right], [b.bottom, b.top]
        )
        here = shapely.box(x0, y0, x1, y1).buffer(-3).intersection(inner)
        houses = buildings[buildings.within(here)]
        pts = houses.geometry.representative_point()
        rows, cols = _pixels(t, pts.x.to_numpy(), pts.y.to_numpy())
        for bid, r, c in zip(houses["building_id"], rows, cols, strict=True):
            got = rgba[:3, r, c]
            roofs_checked += 1
            roofs_ok += int(np.abs(got - np.array(roof_colour(bid))).max() <= 40)
        lines = roads.geometry.intersection(here)
        lines = lines[~lines.is_empty]
        for line in shapely.get_parts(lines.to_numpy()):
            at = shapely.line_interpolate_point(line, np.arange(0, line.length, 4.0))
            xy = shapely.get_coordinates(at)
            if not len(xy):
                continue
            rows, cols = _pixels(t, xy[:, 0], xy[:, 1])
            px = rgba[:3, rows, cols]
            grey = (px.max(axis=0) - px.min(axis=0) <= 16) & (px.mean(axis=0) < 140)
            road_points += px.shape[1]
            road_grey += int(grey.sum())
    assert roofs_checked >= 20 and road_points >= 100
    # every roof is its building's colour; asphalt (grey, or grey in a shadow) under the roads
    assert roofs_ok == roofs_checked, f"{roofs_checked - roofs_ok} of {roofs_checked} roofs off"
    assert road_grey >= 0.97 * road_points, f"{road_grey} of {road_points} road points grey"


def test_no_imagery_leaves_the_orthophoto_out(tmp_path: Path) -> None:
    root = tmp_path / "demo"
    result = CliRunner().invoke(
        app, ["demo", str(root), "--no-imagery", "--no-build", "--resolution", "200", "--quiet"]
    )
    assert result.exit_code == 0, result.output
    assert not (root / "sources" / "ortho").exists()
    toml = (root / "twin.toml").read_text(encoding="utf-8")
    assert "[layers.buildings]" in toml and "ortho" not in toml


def test_the_style_draws_the_photo_above_the_data_rasters_and_below_the_vectors(
    client: TestClient,
) -> None:
    layers = client.get("/style.json").json()["layers"]
    ids = [layer["id"] for layer in layers]
    source_of = {layer["id"]: layer.get("source") for layer in layers}
    photo = ids.index("ortho")
    rasters = [i for i, lid in enumerate(ids) if source_of[lid] in ("coverage", "dem")]
    vectors = [i for i, layer in enumerate(layers) if "source-layer" in layer]
    assert rasters and vectors
    assert max(rasters) < photo < min(vectors)
