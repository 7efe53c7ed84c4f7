"""Hostile HTTP: traversal, extreme numbers, huge queries, Host spoofing, XSS, file/URL reads.

The server is read-only and public; none of these may answer 5xx, read a file
the catalog does not name, or echo the attacker's input as HTML or as a URL.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.reliability.conftest import free_env
from tests.tiles.conftest import XSS_NAME, build_workspace, make_client

SECRET = "s3cr3t-do-not-serve-0xC0FFEE"


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Path]]:
    """The tiles test workspace with secret files planted around its catalog."""
    root = tmp_path_factory.mktemp("hostile")
    catalog = build_workspace(root)
    for where in (
        root / "secret.txt",
        root / "build" / "secret.txt",
        Path(root.anchor) / "tmp" / "secret.txt",
    ):
        where.write_text(SECRET)
    with make_client(catalog) as client:
        yield client, root


TRAVERSALS = [
    "../../../../etc/passwd",
    "..%2F..%2F..%2Fetc%2Fpasswd",
    "..%252F..%252F..%252Fetc%252Fpasswd",
    "%2e%2e%2f%2e%2e%2fsecret.txt",
    "%252e%252e%252fsecret.txt",
    "..%5C..%5Csecret.txt",
    "....//....//secret.txt",
    "%2Ftmp%2Fsecret.txt",
    "secret.txt%00.mvt",
    "..",
    ".",
]
TEMPLATES = [
    "/tiles/{p}/14/13697/6739.mvt",
    "/tiles/roads/{p}/13697/6739.mvt",
    "/tiles/roads/14/{p}/6739.mvt",
    "/tiles/roads/14/13697/{p}.mvt",
    "/tiles/roads/14/13697/6739.{p}",
    "/tiles/dem/14/13697/6739@{p}x.png",
    "/tiles/{p}/tilejson.json",
    "/collections/{p}",
    "/collections/{p}/tiles",
    "/collections/roads/tiles/{p}",
    "/collections/roads/tiles/{p}/14/6739/13697",
    "/collections/roads/tiles/WebMercatorQuad/{p}/6739/13697",
    "/tileMatrixSets/{p}",
    "/static/{p}",
    "/{p}",
]


@pytest.mark.parametrize("template", TEMPLATES)
def test_path_traversal_in_every_path_parameter(
    hostile: tuple[TestClient, Path], template: str
) -> None:
    client, _ = hostile
    for payload in TRAVERSALS:
        url = template.format(p=payload)
        r = client.get(url)
        assert r.status_code < 500, (url, r.status_code, r.text[:200])
        assert SECRET not in r.text and "root:x:0:0" not in r.text, url
        if r.status_code == 200 and payload not in (".", ".."):  # dot segments: the client
            # resolves them (RFC 3986) before sending, so they reach an ordinary route
            # only the viewer and the landing page answer 200 to these: never a file
            assert template in ("/{p}", "/tiles/roads/14/13697/6739.{p}") or "/static/" in url, url


@pytest.mark.parametrize(
    "url",
    [
        "/tiles/roads/2147483648/0/0.mvt",
        "/tiles/roads/9223372036854775808/0/0.mvt",
        f"/tiles/roads/{10**40}/0/0.mvt",
        f"/tiles/roads/20/{2**62}/{2**62}.mvt",
        f"/tiles/roads/30/{2**30 - 1}/{2**30 - 1}.mvt",
        "/tiles/roads/-1/0/0.mvt",
        "/tiles/roads/1e3/0/0.mvt",
        "/tiles/roads/0x10/0/0.mvt",
        "/tiles/dem/99/0/0@4x.png",
        "/collections/roads/tiles/WebMercatorQuad/99999999999/0/0",
        f"/collections/roads/tiles/WorldCRS84Quad/5/{2**40}/0",
        "/tiles/" + ",".join(["roads"] * 200) + "/14/13697/6739.mvt",
        "/tiles/" + "a" * 5000 + "/14/13697/6739.mvt",
    ],
)
def test_extreme_numbers_and_sizes_are_4xx(hostile: tuple[TestClient, Path], url: str) -> None:
    client, _ = hostile
    r = client.get(url)
    assert 400 <= r.status_code < 500, (url, r.status_code, r.text[:200])


def test_huge_query_strings_are_not_5xx(hostile: tuple[TestClient, Path]) -> None:
    client, _ = hostile
    big = "9" * 30_000  # httpx refuses URLs over 64 KiB
    for url in (
        f"/tiles/dem/14/13697/6739.png?rescale={big},{big}",
        f"/tiles/dem/14/13697/6739.png?colormap_name={'v' * 60_000}",
        f"/tiles/roads/tilejson.json?tms={'W' * 60_000}",
        "/tiles/roads/14/13697/6739.mvt?" + "&".join(f"k{i}=v" for i in range(5000)),
        f"/catalog?x={big}",
    ):
        r = client.get(url)
        assert r.status_code < 500, (url[:80], r.status_code)
        assert len(r.content) < 10_000 or r.status_code == 200, url[:80]


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/?f=json",
        "/style.json",
        "/catalog",
        "/tiles/roads/tilejson.json",
        "/tiles/dem/tilejson.json",
        "/tiles/roads,villages/tilejson.json",
        "/collections",
        "/collections/roads",
        "/collections/roads/tiles",
        "/collections/roads/tiles/WebMercatorQuad",
        "/tileMatrixSets",
        "/tileMatrixSets/WebMercatorQuad",
        "/conformance",
    ],
)
def test_host_header_never_reflected(hostile: tuple[TestClient, Path], path: str) -> None:
    client, _ = hostile
    evil = {
        "Host": "evil.example",
        "X-Forwarded-Host": "evil2.example",
        "X-Forwarded-Proto": "gopher",
        "Forwarded": "host=evil3.example;proto=https",
        "X-Original-URL": "/etc/passwd",
    }
    r = client.get(path, headers=evil)
    assert r.status_code == 200, (path, r.status_code)
    blob = r.text + " ".join(f"{k}: {v}" for k, v in r.headers.items())
    for word in ("evil.example", "evil2.example", "evil3.example", "gopher"):
        assert word not in blob, (path, word)


def test_xss_in_names_and_properties_is_escaped(hostile: tuple[TestClient, Path]) -> None:
    client, _ = hostile
    page = client.get("/")
    assert page.headers["content-type"].startswith("text/html")
    assert XSS_NAME not in page.text and "<img src=x" not in page.text
    assert "<b>&amp;</b>" not in page.text  # the layer title is text, not markup
    # A payload in the URL comes back as JSON, never as HTML.
    payload = "%3Cscript%3Ealert(1)%3C%2Fscript%3E"
    for url in (f"/tiles/{payload}/tilejson.json", f"/collections/{payload}", f"/{payload}"):
        r = client.get(url)
        assert r.status_code == 404
        assert r.headers["content-type"].startswith("application/json"), url
        assert "<script>" not in r.text or r.headers["content-type"] != "text/html"


@pytest.mark.parametrize(
    "path",
    [
        "/tiles/dem/14/13697/6739.png",
        "/tiles/roads/14/13697/6739.mvt",
        "/tiles/roads/tilejson.json",
        "/style.json",
        "/collections/roads/tiles/WebMercatorQuad/14/6739/13697",
    ],
)
def test_no_parameter_reads_a_file_or_url(hostile: tuple[TestClient, Path], path: str) -> None:
    client, root = hostile
    plain = client.get(path)
    tricks = {
        "url": "file:///etc/passwd",
        "path": str(root / "secret.txt"),
        "file": "/tmp/secret.txt",
        "catalog": str(root / "secret.txt"),
        "expression": "__import__('os').system('id')",
        "layer": "../secret.txt",
        "tms": "WebMercatorQuad",
    }
    tricked = client.get(path, params=tricks)
    assert tricked.status_code == plain.status_code
    assert tricked.content == plain.content
    assert SECRET not in tricked.text


def test_gdal_vrt_driver_is_skipped(tmp_path: Path) -> None:
    """A VRT can point GDAL at any file; the server's GDAL must refuse to open one."""
    target = tmp_path / "plain.tif"
    vrt = tmp_path / "evil.vrt"
    code = f"""
import numpy as np, rasterio
from rasterio.transform import from_origin
from tiles import create_app
create_app({str(tmp_path / "catalog.json")!r})   # what every server process does first
import os
assert os.environ.get("GDAL_SKIP") == "VRT", os.environ.get("GDAL_SKIP")
with rasterio.open({str(target)!r}, "w", driver="GTiff", width=4, height=4, count=1,
                   dtype="uint8", crs="EPSG:4326", transform=from_origin(0, 4, 1, 1)) as d:
    d.write(np.ones((1, 4, 4), dtype="uint8"))
open({str(vrt)!r}, "w").write(
    '<VRTDataset rasterXSize="4" rasterYSize="4"><VRTRasterBand dataType="Byte" band="1">'
    '<SimpleSource><SourceFilename>{target}</SourceFilename><SourceBand>1</SourceBand>'
    '</SimpleSource></VRTRasterBand></VRTDataset>')
try:
    rasterio.open({str(vrt)!r})
except rasterio.errors.RasterioIOError:
    print("refused")
else:
    print("opened")
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=free_env(), timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "refused"
