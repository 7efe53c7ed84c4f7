"""Vector tile routes: decoded payloads checked against the source GeoParquet."""

from __future__ import annotations

import asyncio
import gzip
import re
from pathlib import Path

import geopandas as gpd
import httpx
import mapbox_vector_tile
import morecantile
import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient
from pyproj import CRS as ProjCRS
from pyproj import Transformer

from tests.tiles.conftest import CRS, FRAMES, make_client
from tiles import create_app
from tiles.settings import Settings

MERCATOR = morecantile.tms.get("WebMercatorQuad")
CGCS2000 = morecantile.TileMatrixSet.custom(
    [-180, -90, 180, 90], ProjCRS.from_epsg(4490), matrix_scale=[2, 1]
)
CRS84 = morecantile.tms.get("WorldCRS84Quad")


def _source(name: str) -> gpd.GeoDataFrame:
    return FRAMES[name]()


def _decode(content: bytes) -> dict:
    return mapbox_vector_tile.decode(content, default_options={"y_coord_down": True})


def _to_source_crs(
    geom: dict, bounds: morecantile.BoundingBox, extent: int, grid_crs: str
) -> shapely.Geometry:
    """Decoded tile coordinates -> grid CRS (by the tile's reference bounds) -> EPSG:4549."""
    sx = (bounds.right - bounds.left) / extent
    sy = (bounds.top - bounds.bottom) / extent
    shape = shapely.geometry.shape(geom)
    in_grid = shapely.transform(
        shape, lambda c: np.column_stack((bounds.left + c[:, 0] * sx, bounds.top - c[:, 1] * sy))
    )
    tr = Transformer.from_crs(grid_crs, CRS, always_xy=True)
    return shapely.transform(in_grid, lambda c: np.column_stack(tr.transform(c[:, 0], c[:, 1])))


def _tile_polygon(tms: morecantile.TileMatrixSet, tile: morecantile.Tile) -> shapely.Geometry:
    """The tile's footprint in EPSG:4549, densified."""
    b = tms.xy_bounds(tile)
    box = shapely.segmentize(shapely.box(b.left, b.bottom, b.right, b.top), (b.right - b.left) / 50)
    grid_crs = "EPSG:3857" if tms is MERCATOR else ("EPSG:4490" if tms is CGCS2000 else "OGC:CRS84")
    tr = Transformer.from_crs(grid_crs, CRS, always_xy=True)
    return shapely.transform(box, lambda c: np.column_stack(tr.transform(c[:, 0], c[:, 1])))


def _centre_tile(
    tms: morecantile.TileMatrixSet, z: int, x: float = 498_500, y: float = 3_380_500
) -> morecantile.Tile:
    lon, lat = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True).transform(x, y)
    return tms.tile(lon, lat, z)


ANCHORS = {
    "villages": (498_500, 3_380_500),
    "roads": (498_500, 3_380_500),
    "sites": (498_500, 3_379_300),
}


@pytest.mark.parametrize("name", ["villages", "roads", "sites"])
def test_mvt_features_properties_and_geometry_match_the_source(
    client: TestClient, name: str
) -> None:
    tile = _centre_tile(MERCATOR, 15, *ANCHORS[name])
    r = client.get(f"/tiles/{name}/{tile.z}/{tile.x}/{tile.y}.mvt")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    layer = _decode(r.content)[name]
    assert layer["extent"] == 4096
    src = _source(name)
    footprint = _tile_polygon(MERCATOR, tile)
    # independent count: source features whose geometry meets the tile (tiles carry a buffer,
    # so compare with the unbuffered footprint and one slightly grown)
    inside = set(np.flatnonzero(src.intersects(footprint)))
    around = set(np.flatnonzero(src.intersects(footprint.buffer(footprint.length / 4 / 4096 * 64))))
    ids = {f["id"] for f in layer["features"]}

    def expected_ids(rows: set[int]) -> set[int]:
        return {int(src["id"].iloc[i]) for i in rows} if "id" in src else set(rows)

    assert expected_ids(inside) <= ids <= expected_ids(around)
    assert inside, "the test tile should hold features"
    bounds = MERCATOR.xy_bounds(tile)
    for feature in layer["features"]:
        row = src[src["id"] == feature["id"]].iloc[0] if "id" in src else src.iloc[feature["id"]]
        for col in src.columns.drop("geometry"):
            want = row[col]
            got = feature["properties"][col]
            assert got == (want.item() if hasattr(want, "item") else want)
            assert type(got) is type(want.item() if hasattr(want, "item") else want)
        back = _to_source_crs(feature["geometry"], bounds, 4096, "EPSG:3857")
        clipped = row.geometry.intersection(footprint)
        # decoded geometry within the tile equals the source within a few tile units
        unit = (bounds.right - bounds.left) / 4096  # metres in Web Mercator
        tol = 2 * unit * np.cos(np.radians(30.5)) + 0.01
        assert shapely.hausdorff_distance(back.intersection(footprint), clipped) < tol


@pytest.mark.parametrize("grid", ["WebMercatorQuad", "CGCS2000Quad", "WorldCRS84Quad"])
def test_max_zoom_keeps_ten_centimetre_precision(client: TestClient, grid: str) -> None:
    tms = {"WebMercatorQuad": MERCATOR, "CGCS2000Quad": CGCS2000, "WorldCRS84Quad": CRS84}[grid]
    grid_crs = {
        "WebMercatorQuad": "EPSG:3857",
        "CGCS2000Quad": "EPSG:4490",
        "WorldCRS84Quad": "OGC:CRS84",
    }[grid]
    src = _source("roads")
    # a vertex of the curved road, and the tile at the layer's max zoom (20) that holds it
    x, y = shapely.get_coordinates(src.geometry.iloc[0])[250]
    lon, lat = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True).transform(x, y)
    tile = tms.tile(lon, lat, 20)
    url = f"/collections/roads/tiles/{grid}/{tile.z}/{tile.y}/{tile.x}?f=mvt"
    r = client.get(url)
    assert r.status_code == 200, r.text
    features = _decode(r.content)["roads"]["features"]
    road = next(f for f in features if f["properties"]["road_class"] == "primary")
    back = _to_source_crs(road["geometry"], tms.xy_bounds(tile), 4096, grid_crs)
    footprint = _tile_polygon(tms, tile)
    source_part = src.geometry.iloc[0].intersection(footprint)
    error = shapely.hausdorff_distance(back.intersection(footprint), source_part)
    assert error < 0.10, f"{grid}: {error:.4f} m"
    # and every decoded vertex lies within 10 cm of the source line
    d = shapely.distance(shapely.points(shapely.get_coordinates(back)), src.geometry.iloc[0])
    assert d.max() < 0.10


def test_polygon_hole_and_winding_in_served_tiles(client: TestClient) -> None:
    village = _source("villages").geometry.iloc[0]
    c = village.centroid
    tile = next(
        t
        for t in (_centre_tile(MERCATOR, z, c.x, c.y) for z in (13, 12, 11, 10))
        if _tile_polygon(MERCATOR, t).contains(village)
    )
    r = client.get(f"/tiles/villages/{tile.z}/{tile.x}/{tile.y}.mvt")
    features = _decode(r.content)["villages"]["features"]
    holed = next(f for f in features if f["properties"]["name"] == "village 00")
    rings = holed["geometry"]["coordinates"]
    assert len(rings) == 2
    areas = []
    for ring in rings:
        pts = np.asarray(ring, dtype=float)
        areas.append(0.5 * np.sum(pts[:-1, 0] * pts[1:, 1] - pts[1:, 0] * pts[:-1, 1]))
    assert areas[0] > 0 > areas[1]  # MVT 2.1 §4.3.4.4: exterior positive, interior negative


def test_composite_tile_holds_every_layer(client: TestClient) -> None:
    tile = _centre_tile(MERCATOR, 12)
    r = client.get(f"/tiles/villages,roads,sites/{tile.z}/{tile.x}/{tile.y}.pbf")
    assert r.status_code == 200
    layers = _decode(r.content)
    assert set(layers) == {"villages", "roads", "sites"}
    for name in layers:
        single = _decode(client.get(f"/tiles/{name}/{tile.z}/{tile.x}/{tile.y}.mvt").content)
        assert layers[name]["features"] == single[name]["features"]


def test_empty_tile_is_204_or_an_empty_200_when_configured(workspace_catalog: Path) -> None:
    # inside the villages' bounds but between features: the hole of village 00
    lon, lat = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True).transform(497_500, 3_379_500)
    tile = MERCATOR.tile(lon, lat, 19)
    url = f"/tiles/villages/{tile.z}/{tile.x}/{tile.y}.mvt"
    with make_client(workspace_catalog) as c:
        r = c.get(url)
        assert r.status_code == 204 and r.content == b""
        assert "etag" in r.headers and "cache-control" in r.headers
    with make_client(workspace_catalog, empty_tile_status=200) as c:
        r = c.get(url)
        assert r.status_code == 200 and r.content == b""


def test_etag_304_cache_control_gzip_and_cors(client: TestClient) -> None:
    tile = _centre_tile(MERCATOR, 14)
    url = f"/tiles/roads/{tile.z}/{tile.x}/{tile.y}.mvt"
    r = client.get(url, headers={"Origin": "https://example.org", "Accept-Encoding": "gzip"})
    assert r.headers["content-encoding"] == "gzip"
    assert r.headers["access-control-allow-origin"] == "*"
    assert re.fullmatch(r'"[0-9a-f]+-gzip"', r.headers["etag"])  # one ETag per encoding
    assert re.fullmatch(r"public, max-age=\d+", r.headers["cache-control"])
    assert "Accept-Encoding" in r.headers["vary"]
    again = client.get(url, headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == r.headers["etag"]
    plain = client.get(url, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.content == r.content  # httpx decoded the gzip one; both are the same tile
    raw = client.get(url, headers={"Accept-Encoding": "gzip"}).read()
    assert _decode(plain.content) == _decode(gzip.decompress(gzip.compress(raw)))


def _metric(text: str, name: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_cache_hits_and_one_encoding_for_concurrent_requests(workspace_catalog: Path) -> None:
    app = create_app(workspace_catalog, Settings(public_url="http://t.example"))
    tile = _centre_tile(MERCATOR, 12)
    url = f"/tiles/villages,roads/{tile.z}/{tile.x}/{tile.y}.mvt"

    async def run() -> tuple[list[httpx.Response], str]:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as ac:
                responses = await asyncio.gather(*(ac.get(url) for _ in range(8)))
                metrics = (await ac.get("/metrics")).text
        return list(responses), metrics

    responses, metrics = asyncio.run(run())
    assert {r.status_code for r in responses} == {200}
    assert len({r.content for r in responses}) == 1
    assert _metric(metrics, "twin_tiles_encoded_total") == 1
    assert _metric(metrics, "twin_tile_cache_misses_total") == 8  # 1 encoded, 7 waited for it


def test_cache_is_bounded(workspace_catalog: Path) -> None:
    with make_client(workspace_catalog, cache_mb=0.0005) as c:  # 500 bytes
        for z in range(12, 17):
            t = _centre_tile(MERCATOR, z)
            c.get(f"/tiles/villages,roads,sites/{t.z}/{t.x}/{t.y}.mvt")
        assert c.app.state.service.cache.nbytes <= 500
        t = _centre_tile(MERCATOR, 16)
        c.get(f"/tiles/sites/{t.z}/{t.x}/{t.y}.mvt")
        c.get(f"/tiles/sites/{t.z}/{t.x}/{t.y}.mvt")
        assert c.app.state.service.cache.hits >= 1


def test_revalidation_needs_no_encoding(workspace_catalog: Path) -> None:
    tile = _centre_tile(MERCATOR, 15)
    url = f"/tiles/villages/{tile.z}/{tile.x}/{tile.y}.mvt"
    with make_client(workspace_catalog) as c:
        etag = c.get(url).headers["etag"]
        service = c.app.state.service
        misses = service.cache.misses
        c.app.state.service.cache._items.clear()  # even with the tile evicted...
        r = c.get(url, headers={"If-None-Match": f'W/"x", {etag}'})
        assert r.status_code == 304  # ...a matching ETag is answered without encoding
        assert service.cache.misses == misses
