"""Every kind of bad request answers 4xx with a one-line reason, never 5xx."""

from __future__ import annotations

import morecantile
import pytest
from fastapi.testclient import TestClient
from pyproj import Transformer

from tests.tiles.conftest import CRS, X0, Y0

_lon, _lat = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True).transform(X0 + 2000, Y0 + 2000)
T = morecantile.tms.get("WebMercatorQuad").tile(_lon, _lat, 14)
OK = f"{T.z}/{T.x}/{T.y}"


@pytest.mark.parametrize(
    "url,status",
    [
        (f"/tiles/roads/abc/{T.x}/{T.y}.mvt", 422),  # non-integer z
        (f"/tiles/roads/{T.z}/1.5/{T.y}.mvt", 422),  # non-integer x
        (f"/tiles/roads/{T.z}/{T.x}/-1.mvt", 422),  # negative y
        (f"/tiles/roads/{T.z}/{2**14}/{T.y}.mvt", 404),  # x out of range
        (f"/tiles/roads/14/{T.x}/{2**14 + 5}.mvt", 404),  # y out of range
        (f"/tiles/roads/21/{T.x}/{T.y}.mvt", 404),  # beyond the layer's max zoom (20)
        (f"/tiles/roads/31/{T.x}/{T.y}.mvt", 404),  # beyond the grid
        (f"/tiles/roads/5/{T.x // 512}/{T.y // 512}.mvt", 404),  # below the layer's min zoom
        ("/tiles/roads/14/0/0.mvt", 404),  # outside the layer's bounds
        (f"/tiles/nope/{OK}.mvt", 404),  # unknown layer
        (f"/tiles/..%2F..%2Fetc%2Fpasswd/{OK}.mvt", 404),  # path traversal in the layer name
        (f"/tiles/..%2Fbuild/{OK}.mvt", 404),
        (f"/tiles/Roads/{OK}.mvt", 404),  # names are case-sensitive and lower-case
        (f"/tiles/roads/{OK}.gif", 422),  # unknown format
        (f"/tiles/roads/{OK}.png", 400),  # raster format for a vector layer
        (f"/tiles/dem/{OK}.mvt", 400),  # vector format for a raster layer
        (f"/tiles/roads/{OK}@2x.mvt", 400),  # @2x is for rasters
        (f"/tiles/dem/{OK}@9x.png", 422),  # scale out of range
        (f"/tiles/roads,dem/{OK}.mvt", 400),  # composite with a raster
        (f"/tiles/roads,roads/{OK}.mvt", 400),  # a layer twice
        (f"/tiles/dem/{OK}.png?rescale=abc", 400),  # bad rescale
        (f"/tiles/dem/{OK}.png?rescale=5,1", 400),  # min above max
        (f"/tiles/dem/{OK}.png?rescale=1,2,3", 400),
        (f"/tiles/dem/{OK}.png?rescale=nan,1", 400),
        (f"/tiles/dem/{OK}.png?colormap_name=../../x", 400),  # unknown colormap
        (f"/tiles/roads/{OK}.mvt?rescale=0,1", 400),  # raster parameter on a vector layer
        (f"/tiles/dem/{OK}.png?url=/etc/passwd", 200),  # no url parameter exists: ignored
        (f"/collections/roads/tiles/NoSuchGrid/{T.z}/{T.y}/{T.x}", 400),  # unknown grid
        ("/collections/roads/tiles/NoSuchGrid", 400),
        ("/tileMatrixSets/NoSuchGrid", 400),
        (f"/collections/roads/tiles/WebMercatorQuad/{T.z}/{T.y}/{T.x}?f=gif", 422),
        ("/collections/nope/tiles", 404),
        ("/tiles/nope/tilejson.json", 404),
        ("/tiles/roads/tilejson.json?tms=Nope", 400),
        ("/nothing-here", 404),
    ],
)
def test_bad_requests_are_4xx(client: TestClient, url: str, status: int) -> None:
    r = client.get(url)
    assert r.status_code == status, r.text
    if status >= 400:
        detail = r.json()["detail"]
        assert detail and (isinstance(detail, list) or "\n" not in detail)


def test_raster_source_cannot_come_from_the_request(client: TestClient) -> None:
    url = f"/tiles/dem/{OK}.png"
    plain = client.get(url)
    tricked = client.get(url, params={"url": "https://evil.example/x.tif", "path": "/etc/passwd"})
    assert tricked.status_code == 200
    assert tricked.headers["etag"] == plain.headers["etag"]
    assert tricked.content == plain.content


def test_unreadable_catalog_answers_503_not_500(tmp_path) -> None:
    from tests.tiles.conftest import make_client

    with make_client(tmp_path / "missing.json") as c:
        r = c.get("/healthz")
        assert r.status_code == 503
        assert "missing.json" in r.json()["detail"]
