"""``Twin.explore()``'s saved HTML in a real headless Chromium with the network off.

Every request the page makes is aborted (and recorded): the map must draw its
layers from the one file alone. ``twin.toml``'s ``[region] lang = "zh"`` puts
the titles and field labels in Chinese.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import Browser, Route

from tests.tiles.test_browser import WAIT_IDLE, _png_pixels
from twin.workspace import Twin

pytestmark = pytest.mark.slow


def test_explore_html_renders_offline_in_chromium(
    twin: Twin, tmp_path: Path, chromium: Browser
) -> None:
    toml = twin.root / "twin.toml"
    text = toml.read_text(encoding="utf-8").replace(
        'crs = "EPSG:4549"\n', 'crs = "EPSG:4549"\nlang = "zh"\n', 1
    )
    toml.write_text(text + 'title_i18n = { zh = "高程" }\n', encoding="utf-8")
    twin = Twin.open(twin.root)
    twin.build()
    path = twin.explore().save(tmp_path / "map.html")
    url = path.as_uri()

    requested: list[str] = []
    errors: list[str] = []
    page = chromium.new_page(viewport={"width": 900, "height": 700})
    page.set_default_timeout(60_000)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    def route(r: Route) -> None:
        if r.request.url == url:
            r.continue_()
        else:
            requested.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.goto(url, wait_until="load")
    page.wait_for_function("() => window.map !== undefined")
    page.evaluate(WAIT_IDLE)

    for layer_id in ("zones-fill", "zones-line", "points-circle"):
        n = page.evaluate(
            f"() => window.map.queryRenderedFeatures({{layers: ['{layer_id}']}}).length"
        )
        assert n > 0, layer_id
    codes = page.evaluate(
        "() => new Set(window.map.queryRenderedFeatures({layers: ['zones-fill']})"
        ".map(f => f.properties.code)).size"
    )
    assert codes == 12  # the whole block is in view
    # the layer switcher in the workspace's language
    switcher = page.locator("#twin-layers").inner_text()
    assert "高程" in switcher and "Zones" in switcher
    assert page.locator("html").get_attribute("lang") == "zh-CN"

    # the raster draws: switching it off changes the pixels under it
    for name in ("zones", "points"):
        page.locator(f"#twin-layers input[data-layer={name}]").uncheck()
    page.evaluate(WAIT_IDLE)
    with_raster = _png_pixels(page.locator("#map canvas").screenshot())
    page.locator("#twin-layers input[data-layer=dem]").uncheck()
    page.evaluate(WAIT_IDLE)
    without = _png_pixels(page.locator("#map canvas").screenshot())
    changed = np.abs(with_raster - without).sum(axis=1) > 30
    assert changed.mean() > 0.2, "the raster drew nothing"
    # without it, a plain background: no basemap from anywhere
    background = np.array([0xF4, 0xF2, 0xEE])
    assert (np.abs(without[changed] - background).sum(axis=1) < 10).mean() > 0.9

    # a click on a zone shows its fields as text
    page.locator("#twin-layers input[data-layer=zones]").check()
    page.evaluate(WAIT_IDLE)
    box = page.locator("#map").bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    popup = page.locator(".maplibregl-popup-content")
    popup.wait_for(timeout=10_000)
    assert "Zones" in popup.inner_text() and "Z0" in popup.inner_text()

    assert page.evaluate("() => window.twinErrors") == []
    assert errors == []
    assert requested == []  # nothing was even asked of the network
