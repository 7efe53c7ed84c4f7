"""TileJSON, style, catalog, health, metrics, OGC API - Tiles documents and the viewer page."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import morecantile
import pytest
from fastapi.testclient import TestClient
from pyproj import CRS

from tests.tiles.conftest import FIELDS, PUBLIC_URL, XSS_NAME

REPO = Path(__file__).resolve().parents[2]
VALIDATOR = (
    REPO
    / "node_modules"
    / "@maplibre"
    / "maplibre-gl-style-spec"
    / "dist"
    / "gl-style-validate.mjs"
)


def test_tilejson_of_a_vector_layer(client: TestClient) -> None:
    r = client.get("/tiles/roads/tilejson.json", headers={"Host": "attacker.example"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    doc = r.json()
    assert doc["tilejson"] == "3.0.0"
    assert doc["tiles"] == [f"{PUBLIC_URL}/tiles/roads/{{z}}/{{x}}/{{y}}.mvt"]  # never the Host
    assert (doc["minzoom"], doc["maxzoom"]) == (8, 20)
    w, s, e, n = doc["bounds"]
    assert 119.9 < w < e < 120.1 and 30.4 < s < n < 30.7
    (layer,) = doc["vector_layers"]
    assert layer["id"] == "roads"
    kinds = {"string": "String", "int": "Number", "float": "Number", "bool": "Boolean"}
    assert layer["fields"] == {k: kinds[v] for k, v in FIELDS["roads"].items()}


def test_tilejson_of_a_composite_and_a_raster_and_another_grid(client: TestClient) -> None:
    doc = client.get("/tiles/villages,sites/tilejson.json").json()
    assert [v["id"] for v in doc["vector_layers"]] == ["villages", "sites"]
    assert doc["tiles"][0].startswith(f"{PUBLIC_URL}/tiles/villages,sites/")
    dem = client.get("/tiles/dem/tilejson.json", params={"colormap_name": "magma"}).json()
    assert "vector_layers" not in dem
    assert dem["tiles"] == [f"{PUBLIC_URL}/tiles/dem/{{z}}/{{x}}/{{y}}.png?colormap_name=magma"]
    cgcs = client.get("/tiles/roads/tilejson.json", params={"tms": "CGCS2000Quad"}).json()
    assert cgcs["tiles"] == [
        f"{PUBLIC_URL}/collections/roads/tiles/CGCS2000Quad/{{z}}/{{y}}/{{x}}?f=mvt"
    ]


def test_style_has_every_layer_and_validates_with_maplibre(
    client: TestClient, tmp_path: Path
) -> None:
    style = client.get("/style.json").json()
    assert set(style["sources"]) == {"villages", "roads", "sites", "dem"}
    drawn = {layer.get("metadata", {}).get("twin:layer") for layer in style["layers"]}
    assert drawn >= {"villages", "roads", "sites", "dem"}
    types = {layer["id"]: layer["type"] for layer in style["layers"]}
    assert types["dem"] == "raster" and types["villages-fill"] == "fill"
    assert types["roads-line"] == "line" and types["sites-circle"] == "circle"
    paint = {layer["id"]: layer.get("paint", {}) for layer in style["layers"]}
    assert paint["roads-line"]["line-color"] == "#e4572e"  # the catalog's colour hint
    ramp = paint["villages-fill"]["fill-color"]  # numeric property + range: a colour ramp
    assert ramp[:3] == ["interpolate", ["linear"], ["to-number", ["get", "share_5g"], 0.0]]
    assert ramp[3] == 0.0 and ramp[-2] == 1.0
    assert isinstance(paint["sites-circle"]["circle-color"], str)  # string property: one colour
    for source in style["sources"].values():
        assert source["url"].startswith(PUBLIC_URL)
    node = shutil.which("node")
    assert node, "node is needed to run MapLibre's style validator"
    assert VALIDATOR.exists(), "run `npm install` (see .ci/run)"
    path = tmp_path / "style.json"
    path.write_text(json.dumps(style))
    out = subprocess.run(
        [node, str(VALIDATOR), str(path)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0 and not out.stdout.strip(), out.stdout + out.stderr
    # the validator does catch errors (so the check above can fail)
    style["layers"][1]["type"] = "no-such-type"
    path.write_text(json.dumps(style))
    bad = subprocess.run(
        [node, str(VALIDATOR), str(path)], capture_output=True, text=True, timeout=60
    )
    assert bad.returncode != 0


def test_catalog_healthz_metrics(client: TestClient) -> None:
    items = client.get("/catalog").json()
    assert {i["name"] for i in items} == {"villages", "roads", "sites", "dem"}
    assert all("artifacts" not in i for i in items)  # no file paths leave the server
    roads = next(i for i in items if i["name"] == "roads")
    assert roads["tilejson"] == f"{PUBLIC_URL}/tiles/roads/tilejson.json"
    health = client.get("/healthz").json()
    assert health == {
        "status": "ok",
        "workspace": "Test County",
        "updated": "2026-11-28T05:00:00Z",
        "layers": 4,
    }
    client.get("/tiles/roads/tilejson.json")
    text = client.get("/metrics")
    assert text.headers["content-type"].startswith("text/plain")
    line_re = re.compile(r'^[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? [0-9.e+-]+$')
    for line in text.text.splitlines():
        assert line.startswith("# ") or line_re.match(line), line
    assert (
        'twin_http_requests_total{method="GET",'
        'route="/tiles/{layers}/tilejson.json",status="200"} 1' in text.text
    )


def test_ogc_landing_conformance_collections(client: TestClient) -> None:
    landing = client.get("/", headers={"Accept": "application/json"}).json()
    rels = {link["rel"] for link in landing["links"]}
    assert {"self", "conformance", "data", "service-desc"} <= rels
    assert client.get("/?f=json").json() == landing
    conf = client.get("/conformance").json()["conformsTo"]
    for cls in ("core", "tileset", "tilesets-list"):
        assert f"http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/{cls}" in conf
    assert "http://www.opengis.net/spec/tms/2.0/conf/tilematrixset" in conf
    cols = client.get("/collections").json()["collections"]
    assert {c["id"] for c in cols} == {"villages", "roads", "sites", "dem"}
    sets = client.get("/collections/roads/tiles").json()["tilesets"]
    assert len(sets) == 3
    assert client.get("/collections/roads").json()["id"] == "roads"


@pytest.mark.parametrize("grid", ["WebMercatorQuad", "WorldCRS84Quad", "CGCS2000Quad"])
def test_tileset_limits_match_morecantile(client: TestClient, grid: str) -> None:
    doc = client.get(f"/collections/villages/tiles/{grid}").json()
    bounds = client.get("/tiles/villages/tilejson.json").json()["bounds"]
    ref = (
        morecantile.tms.get(grid)
        if grid != "CGCS2000Quad"
        else morecantile.TileMatrixSet.custom(
            [-180, -90, 180, 90], CRS.from_epsg(4490), matrix_scale=[2, 1]
        )
    )
    limits = {int(lim["tileMatrix"]): lim for lim in doc["tileMatrixSetLimits"]}
    assert sorted(limits) == list(range(8, 21))
    for z in (8, 12, 16):
        tiles = list(ref.tiles(*bounds, zooms=[z]))
        assert limits[z]["minTileCol"] == min(t.x for t in tiles)
        assert limits[z]["maxTileCol"] == max(t.x for t in tiles)
        assert limits[z]["minTileRow"] == min(t.y for t in tiles)
        assert limits[z]["maxTileRow"] == max(t.y for t in tiles)
    item = next(link for link in doc["links"] if link["rel"] == "item")
    assert item["templated"] and "{tileMatrix}/{tileRow}/{tileCol}" in item["href"]


def test_tile_matrix_sets(client: TestClient) -> None:
    ids = [t["id"] for t in client.get("/tileMatrixSets").json()["tileMatrixSets"]]
    assert ids == ["WebMercatorQuad", "WorldCRS84Quad", "CGCS2000Quad"]
    cgcs = client.get("/tileMatrixSets/CGCS2000Quad").json()
    assert cgcs["crs"].endswith("/EPSG/0/4490")
    m0 = cgcs["tileMatrices"][0]
    assert (m0["matrixWidth"], m0["matrixHeight"]) == (2, 1)
    # loads back as a valid TileMatrixSet
    tms = morecantile.TileMatrixSet.model_validate(cgcs)
    assert tms.maxzoom >= 22


def test_viewer_page_escapes_catalog_text(client: TestClient) -> None:
    r = client.get("/", headers={"Accept": "text/html"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    assert XSS_NAME not in page and "<img src=x" not in page and '</script>"' not in page
    assert "<b>" not in page
    config = json.loads(
        re.search(
            r'<script id="twin-config" type="application/json">(.*?)</script>', page, re.S
        ).group(1)
    )
    assert config["styleUrl"] == f"{PUBLIC_URL}/style.json"
    assert {layer["name"] for layer in config["layers"]} == {"villages", "roads", "sites", "dem"}
    dem = next(layer for layer in config["layers"] if layer["name"] == "dem")
    assert (
        dem["legend"]["min"] == 0
        and dem["legend"]["max"] == 300
        and len(dem["legend"]["colors"]) == 8
    )
    assert any(f["label"] == XSS_NAME for f in config["figures"])  # intact once parsed
    assert "maplibre-gl.js" in page and "window.map" in client.get("/static/viewer.js").text
