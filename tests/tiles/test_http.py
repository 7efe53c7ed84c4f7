"""HTTP details a proxy or an uptime check relies on, on the tile fast path and on FastAPI's.

``HEAD`` on every ``GET`` route, one ``ETag`` per content encoding,
``X-Content-Type-Options: nosniff`` on every response, error bodies that never
carry the request's markup, and the same answer for a tile whichever path
serves it.
"""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

import httpx
import mapbox_vector_tile
import morecantile
import pytest
from fastapi.testclient import TestClient
from pyproj import Transformer

from tests.tiles.conftest import CRS
from tiles import create_app
from tiles.settings import Settings

MERCATOR = morecantile.tms.get("WebMercatorQuad")
LON, LAT = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True).transform(498_500, 3_380_500)
T = MERCATOR.tile(LON, LAT, 14)
ROAD_TILE = f"/tiles/roads/{T.z}/{T.x}/{T.y}.mvt"
DEM_TILE = f"/tiles/dem/{T.z}/{T.x}/{T.y}.png"
# The tile route's parameters filled in; every other GET route's path is listed as it is.
SAMPLE = {
    "layers": "roads",
    "layer": "roads",
    "z": str(T.z),
    "x": str(T.x),
    "y": str(T.y),
    "fmt": "mvt",
    "scale": "2",
    "tileMatrixSetId": "WebMercatorQuad",
    "tileMatrix": str(T.z),
    "tileRow": str(T.y),
    "tileCol": str(T.x),
    "name": "maplibre-gl.js",
    "fontstack": "DejaVu Sans Book",
    "glyph_range": "0-255",
}


def _get_paths(client: TestClient) -> list[str]:
    """Every GET route the OpenAPI document lists, with sample parameters."""
    paths = []
    for template, operations in client.get("/openapi.json").json()["paths"].items():
        if "get" in operations:
            path = template.format(**SAMPLE)
            if "@" in path:  # the @2x route takes raster layers
                path = path.replace("/roads/", "/dem/").replace(".mvt", ".png")
            paths.append(path)
    return paths


def test_head_answers_every_get_route_like_get_without_a_body(client: TestClient) -> None:
    paths = _get_paths(client)
    assert ROAD_TILE in paths and "/catalog" in paths and "/collections" in paths
    for path in [*paths, "/openapi.json", "/docs", "/static/viewer.js", "/no/such/route"]:
        get = client.get(path, headers={"Accept-Encoding": "gzip"})
        head = client.head(path, headers={"Accept-Encoding": "gzip"})
        assert head.status_code == get.status_code, path
        assert head.content == b"", path
        names = ["content-type", "content-length", "etag", "content-encoding"]
        if path == "/metrics":  # the GET before is one more request counted
            names.remove("content-length")
        for name in names:
            assert head.headers.get(name) == get.headers.get(name), (path, name)
    assert client.post(ROAD_TILE).status_code == 405  # HEAD, not every method


def test_gzip_and_identity_bodies_have_their_own_etag(client: TestClient) -> None:
    zipped = client.get(ROAD_TILE, headers={"Accept-Encoding": "gzip"})
    plain = client.get(ROAD_TILE, headers={"Accept-Encoding": "identity"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert "content-encoding" not in plain.headers
    assert zipped.headers["etag"] != plain.headers["etag"]
    assert "Accept-Encoding" in plain.headers["vary"]
    # A cache holding the gzip body must not be told it holds the identity one, and back.
    for etag, encoding, status in (
        (zipped.headers["etag"], "identity", 200),
        (plain.headers["etag"], "gzip", 200),
        (zipped.headers["etag"], "gzip", 304),
        (plain.headers["etag"], "identity", 304),
    ):
        r = client.get(ROAD_TILE, headers={"Accept-Encoding": encoding, "If-None-Match": etag})
        assert r.status_code == status, (encoding, etag)
        if status == 304:
            assert r.headers["etag"] == etag
    assert plain.content == zipped.content  # httpx decoded the gzip one
    # a raster tile has one encoding, hence one ETag
    png = {
        client.get(DEM_TILE, headers={"Accept-Encoding": e}).headers["etag"]
        for e in ("gzip", "identity")
    }
    assert len(png) == 1


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", ROAD_TILE, 200),
        ("GET", f"/tiles/roads/{T.z}/0/0.mvt", 404),  # outside the layer
        ("GET", f"/tiles/roads/{T.z}/{T.x}/{T.y}.png", 400),
        ("GET", "/tiles/roads/-1/0/0.mvt", 422),
        ("GET", DEM_TILE, 200),
        ("GET", "/catalog", 200),
        ("GET", "/", 200),
        ("GET", "/static/viewer.js", 200),
        ("GET", "/docs", 200),
        ("GET", "/metrics", 200),
        ("GET", "/no/such/route", 404),
        ("POST", "/catalog", 405),
        ("OPTIONS", ROAD_TILE, 200),  # a CORS preflight
    ],
)
def test_nosniff_on_every_response(client: TestClient, method: str, path: str, status: int) -> None:
    headers = {"Origin": "https://map.example", "Access-Control-Request-Method": "GET"}
    r = client.request(method, path, headers=headers)
    assert r.status_code == status
    assert r.headers["x-content-type-options"] == "nosniff"


def test_nosniff_on_304_and_204(client: TestClient) -> None:
    etag = client.get(ROAD_TILE).headers["etag"]
    r = client.get(ROAD_TILE, headers={"If-None-Match": etag})
    assert r.status_code == 304 and r.headers["x-content-type-options"] == "nosniff"
    far = MERCATOR.tile(LON, LAT, 20)  # inside the bounds, between the roads: empty
    empty = client.get(f"/tiles/sites/{far.z}/{far.x}/{far.y}.mvt")
    assert empty.status_code == 204 and empty.headers["x-content-type-options"] == "nosniff"


MARKUP = "<img src=x onerror=alert(1)>"


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        (f"/tiles/{MARKUP}/{T.z}/{T.x}/{T.y}.mvt", None, 404),  # the fast path
        (f"/tiles/{MARKUP}/tilejson.json", None, 404),
        (f"/collections/{MARKUP}", None, 404),
        (f"/tiles/roads/{MARKUP}/0/0.mvt", None, 422),  # FastAPI echoes the input
        (DEM_TILE, {"colormap_name": MARKUP}, 400),
        (DEM_TILE, {"rescale": MARKUP}, 400),
        ("/tiles/roads/tilejson.json", {"tms": MARKUP}, 400),
    ],
)
def test_error_bodies_carry_no_markup(
    client: TestClient, path: str, params: dict[str, str] | None, status: int
) -> None:
    r = client.get(path, params=params)
    assert r.status_code == status
    assert r.headers["content-type"].startswith("application/json")
    assert "<" not in r.text and ">" not in r.text
    assert MARKUP in json.dumps(r.json(), ensure_ascii=False)  # the same detail, decoded


def test_fast_path_and_framework_answer_a_tile_alike(client: TestClient) -> None:
    """/tiles/... (plain ASGI) and the OGC route (FastAPI) send the same tile and headers."""
    ogc = f"/collections/roads/tiles/WebMercatorQuad/{T.z}/{T.y}/{T.x}"
    for encoding in ("gzip", "identity"):
        headers = {"Accept-Encoding": encoding, "Origin": "https://map.example"}
        fast, slow = client.get(ROAD_TILE, headers=headers), client.get(ogc, headers=headers)
        assert fast.status_code == slow.status_code == 200
        assert fast.content == slow.content
        for name in (
            "etag",
            "cache-control",
            "vary",
            "content-type",
            "content-encoding",
            "content-length",
            "access-control-allow-origin",
            "access-control-expose-headers",
            "x-content-type-options",
        ):
            assert fast.headers.get(name) == slow.headers.get(name), (encoding, name)
    assert mapbox_vector_tile.decode(fast.content)["roads"]["features"]


def test_fast_path_requests_are_counted_by_route(client: TestClient) -> None:
    client.get(ROAD_TILE)
    client.head(ROAD_TILE)
    client.get(f"/tiles/nope/{T.z}/{T.x}/{T.y}.mvt")
    text = client.get("/metrics").text
    route = 'route="/tiles/{layers}/{z}/{x}/{y}.{fmt}"'
    assert f'twin_http_requests_total{{method="GET",{route},status="200"}} 1' in text
    assert f'twin_http_requests_total{{method="HEAD",{route},status="200"}} 1' in text
    assert f'twin_http_requests_total{{method="GET",{route},status="404"}} 1' in text
    assert 'twin_tile_seconds_count{kind="vector"} 2' in text


def test_encodings_run_on_a_bounded_pool(workspace_catalog: Path) -> None:
    """Many different uncached tiles at once are encoded by at most ``encode_threads`` threads."""
    app = create_app(workspace_catalog, Settings(public_url="http://t", encode_threads=2))
    urls = [
        f"/tiles/roads,villages/{t.z}/{t.x}/{t.y}.mvt"
        for t in MERCATOR.tiles(LON - 0.02, LAT - 0.02, LON + 0.02, LAT + 0.02, [14, 15])
    ]
    assert len(urls) >= 16
    seen: set[str] = set()

    async def run() -> list[int]:
        async with app.router.lifespan_context(app):
            service = app.state.service
            encode = service._encode

            def spy(req):  # type: ignore[no-untyped-def]
                seen.add(threading.current_thread().name)
                return encode(req)

            service._encode = spy
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as ac:
                responses = await asyncio.gather(*(ac.get(u) for u in urls))
        return [r.status_code for r in responses]

    statuses = asyncio.run(run())
    assert set(statuses) <= {200, 204} and 200 in statuses
    assert 1 <= len(seen) <= 2 and all(name.startswith("tile-encode") for name in seen)
