"""The viewer in a real headless Chromium, against the server under uvicorn.

MapLibre comes from the server itself (the copy the package ships, /assets):
every request off the test server is aborted, as on an intranet with no internet.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import pytest
from playwright.sync_api import Browser, Route
from pyproj import Transformer
from rasterio.io import MemoryFile

from tests.tiles.conftest import CRS, X0, XSS_NAME, Y0, build_workspace
from tiles.assets import maplibre_version

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(catalog: Path, log_path: Path) -> Iterator[str]:
    """``tiles.server.serve`` on ``catalog`` in a subprocess: yields its URL, then kills it."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TWIN_")}
    code = (
        "from pathlib import Path; from tiles.server import serve; "
        f"serve(Path({str(catalog)!r}), port={port})"
    )
    log = log_path.open("w")
    proc = subprocess.Popen(
        [sys.executable, "-c", code], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start (exit {proc.poll()})")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
        log.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The server on a fresh test workspace."""
    catalog = build_workspace(tmp_path_factory.mktemp("browser"))
    with serving(catalog, tmp_path_factory.getbasetemp() / "uvicorn.log") as url:
        yield url


def _png_pixels(png: bytes) -> np.ndarray:
    with MemoryFile(png) as mem, mem.open() as ds:
        return ds.read()[:3].transpose(1, 2, 0).reshape(-1, 3).astype(int)


WAIT_IDLE = """() => new Promise((resolve) => {
  const done = () => resolve(true);
  if (window.map.loaded() && window.map.areTilesLoaded() && !window.map.isMoving()) { done(); }
  else { window.map.once('idle', done); }
})"""


def test_viewer_draws_every_layer_in_chromium(server: str, chromium: Browser) -> None:
    aborted: list[str] = []
    page = chromium.new_page(viewport={"width": 1000, "height": 800})
    page.set_default_timeout(60_000)
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: console_errors.append(str(e)))

    def route(r: Route) -> None:
        if r.request.url.startswith(server + "/"):
            r.continue_()
        else:
            aborted.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.goto(server + "/", wait_until="load")
    page.wait_for_function("() => window.map !== undefined")
    page.evaluate(WAIT_IDLE)
    assert aborted == []  # nothing but the server was even asked for
    assert page.evaluate("() => maplibregl.getVersion()") == maplibre_version()

    # a dashboard (the workspace has a villages layer) opens on villages and roads;
    # the points and the raster are one click away in the layer list
    page.locator("#layers summary").click()
    assert not page.locator("#layer-list input[data-layer=sites]").is_checked()
    assert not page.locator("#layer-list input[data-layer=dem]").is_checked()
    page.locator("#layer-list input[data-layer=sites]").check()
    page.evaluate(WAIT_IDLE)

    # every vector layer rendered features
    for layer_id in ("villages-fill", "villages-outline", "roads-line", "sites-circle"):
        n = page.evaluate(
            f"() => window.map.queryRenderedFeatures({{layers: ['{layer_id}']}}).length"
        )
        assert n > 0, layer_id
    names = page.evaluate(
        "() => [...new Set(window.map.queryRenderedFeatures()"
        ".map(f => f.properties.name).filter(Boolean))]"
    )
    assert '<img src=x onerror="window.__xss=1">&</script>' in names  # drawn as data...
    assert page.evaluate("() => window.__xss") is None  # ...never run as HTML
    # key figures and the layer switcher are on the page
    assert page.locator("#figure-list dd").count() == 3
    assert page.locator("#layer-list input[type=checkbox]").count() == 4

    # raster: with the vector layers switched off, the canvas shows the DEM's colours
    page.locator("#layer-list input[data-layer=dem]").check()
    for name in ("villages", "roads", "sites"):
        page.locator(f"#layer-list input[data-layer={name}]").uncheck()
    page.evaluate(WAIT_IDLE)
    assert page.evaluate("() => window.map.queryRenderedFeatures().length") == 0
    with_raster = _png_pixels(page.locator("#map canvas").screenshot())
    page.locator("#layer-list input[data-layer=dem]").uncheck()
    page.evaluate(WAIT_IDLE)
    without = _png_pixels(page.locator("#map canvas").screenshot())
    # (the screenshot includes the panel and controls above the canvas: compare the two)
    changed = np.abs(with_raster - without).sum(axis=1) > 30
    assert changed.mean() > 0.05, "the raster layer drew nothing"
    background = np.array([0xF4, 0xF2, 0xEE])
    # where the raster drew, the map is bare background without it (bar the panel)
    assert (np.abs(without[changed] - background).sum(axis=1) < 10).mean() > 0.8

    # a click on a village opens its card, with its indicators as text
    page.locator("#layer-list input[data-layer=villages]").check()
    page.evaluate(WAIT_IDLE)
    # the middle of village 11 (north-east, clear of the panel)
    lon, lat = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True).transform(
        X0 + 3500, Y0 + 3500
    )
    point = page.evaluate(f"() => window.map.project([{lon}, {lat}])")
    page.mouse.click(point["x"], point["y"])
    card = page.locator("#card")
    card.wait_for(timeout=10_000)
    text = card.inner_text()
    assert XSS_NAME in text and "population" in text  # the name as text, not markup

    assert page.evaluate("() => window.twinErrors") == []
    assert console_errors == []
