"""The uvicorn entry points and the raster source's safety rules."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import morecantile
import numpy as np
import pytest
from fastapi.testclient import TestClient
from pyproj import Transformer
from rasterio.io import MemoryFile

from tests.tiles.conftest import CRS, PUBLIC_URL, X0, Y0, make_client
from tiles.catalog import read_catalog, write_catalog
from tiles.errors import CatalogError
from tiles.server import app_from_env, serve

MERCATOR = morecantile.tms.get("WebMercatorQuad")


def _dem_tile(z: int = 14) -> morecantile.Tile:
    lon, lat = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True).transform(
        X0 + 3000, Y0 + 3000
    )
    return MERCATOR.tile(lon, lat, z)


def test_factory_reads_the_environment(
    workspace_catalog: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TWIN_CATALOG", str(workspace_catalog))
    monkeypatch.setenv("TWIN_PUBLIC_URL", "https://maps.example.cn/twin/")
    monkeypatch.setenv("TWIN_EXTENT", "8192")
    with TestClient(app_from_env()) as client:
        doc = client.get("/tiles/roads/tilejson.json").json()
        assert doc["tiles"][0].startswith("https://maps.example.cn/twin/tiles/roads/")
        assert client.app.state.settings.extent == 8192


def test_serve_refuses_a_missing_catalog(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="no catalog"):
        serve(tmp_path / "build" / "catalog.json")


def test_a_vrt_artifact_is_never_read(own_catalog: Path) -> None:
    # a VRT can point GDAL at any file; the server must not follow one even if the catalog says so
    vrt = own_catalog.parent / "dem" / "v1" / "data.vrt"
    vrt.write_text(
        '<VRTDataset rasterXSize="600" rasterYSize="600">'
        '<VRTRasterBand dataType="Float32" band="1"><SimpleSource>'
        '<SourceFilename relativeToVRT="1">data.tif</SourceFilename><SourceBand>1</SourceBand>'
        "</SimpleSource></VRTRasterBand></VRTDataset>"
    )
    catalog = read_catalog(own_catalog)
    catalog.layers["dem"].artifacts["data"] = "dem/v1/data.vrt"
    write_catalog(catalog, own_catalog)
    t = _dem_tile()
    with make_client(own_catalog) as c:
        r = c.get(f"/tiles/dem/{t.z}/{t.x}/{t.y}.png")
        assert r.status_code == 503
        assert "data.vrt" in r.json()["detail"]


def test_server_process_skips_the_vrt_driver(workspace_catalog: Path) -> None:
    code = (
        "import os, rasterio; from tiles import create_app; "
        f"create_app({str(workspace_catalog)!r}); "
        "from rasterio.drivers import raster_driver_extensions; "
        "print(os.environ['GDAL_SKIP'], 'vrt' in raster_driver_extensions())"
    )
    env_clean = {k: v for k, v in os.environ.items() if k != "GDAL_SKIP"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env_clean
    )
    assert out.stdout.split() == ["VRT", "False"], out.stderr


def test_empty_raster_tile_as_transparent_image_when_configured(workspace_catalog: Path) -> None:
    # inside the COG's bounds, but all nodata (its north-west corner) at a deep zoom
    lon, lat = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True).transform(X0 + 100, Y0 + 5900)
    t = MERCATOR.tile(lon, lat, 18)
    url = f"/tiles/dem/{t.z}/{t.x}/{t.y}.png"
    with make_client(workspace_catalog) as c:
        assert c.get(url).status_code == 204
    with make_client(workspace_catalog, empty_tile_status=200) as c:
        r = c.get(url)
        assert r.status_code == 200 and r.headers["content-type"] == "image/png"
        with MemoryFile(r.content) as mem, mem.open() as ds:
            img = ds.read()
        assert img.shape[1:] == (256, 256) and np.all(img[-1] == 0)


def test_tile_latency_is_measured(client: TestClient) -> None:
    t = _dem_tile()
    client.get(f"/tiles/dem/{t.z}/{t.x}/{t.y}.png")
    text = client.get("/metrics").text
    assert 'twin_tile_seconds_count{kind="raster"} 1' in text
    assert PUBLIC_URL not in text
