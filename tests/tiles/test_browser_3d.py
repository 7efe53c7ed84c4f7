"""The viewer's 2D/3D button in real headless Chromium: terrain, pitch and standing buildings."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Response

from tests.tiles._terrain_ws import X0, Y0, build_terrain_workspace
from tests.tiles.conftest import to_lonlat
from tests.tiles.test_browser import WAIT_IDLE, serving

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    catalog = build_terrain_workspace(tmp_path_factory.mktemp("browser3d"))
    with serving(catalog, tmp_path_factory.getbasetemp() / "uvicorn-3d.log") as url:
        yield url


def _rendered(page: Page, layer: str) -> list[dict]:
    return page.evaluate(
        f"() => window.map.queryRenderedFeatures({{layers: ['{layer}']}}).map(f => f.properties)"
    )


def test_the_3d_button_sets_terrain_and_stands_buildings_up(server: str, chromium: Browser) -> None:
    lon, lat = to_lonlat().transform(X0 + 2460, Y0 + 2400)  # the middle of the buildings
    page = chromium.new_page(viewport={"width": 800, "height": 600})
    page.set_default_timeout(60_000)
    errors: list[str] = []

    def on_console(m: ConsoleMessage) -> None:
        # a browser asks for /favicon.ico on its own (the page has none)
        if m.type == "error" and not m.location["url"].endswith("/favicon.ico"):
            errors.append(f"{m.text} {m.location['url']}")

    page.on("console", on_console)
    page.on("pageerror", lambda e: errors.append(str(e)))
    terrain_tiles: list[int] = []
    failed: list[str] = []

    def on_response(r: Response) -> None:
        if "encoding=terrarium" in r.url:
            terrain_tiles.append(r.status)
        if r.status >= 400:
            failed.append(f"{r.status} {r.url}")

    page.on("response", on_response)
    page.goto(f"{server}/?lang=en#16.5/{lat}/{lon}", wait_until="load")
    page.wait_for_function("() => window.map !== undefined && window.twinReady")
    page.evaluate(WAIT_IDLE)

    # 2D: flat footprints, no terrain
    button = page.locator("#view-toggle")
    button.wait_for(state="visible")
    assert button.inner_text() == "3D" and button.get_attribute("aria-pressed") == "false"
    assert page.evaluate("() => window.map.getTerrain()") is None
    assert page.evaluate("() => window.map.getPitch()") == 0
    assert len(_rendered(page, "buildings-fill")) > 0
    assert _rendered(page, "buildings-extrusion") == []

    # 3D: the DEM's terrain under a pitched camera, the buildings standing on it
    button.click()
    page.evaluate(WAIT_IDLE)
    assert page.evaluate("() => window.map.getTerrain()") == {
        "source": "relief-terrain",
        "exaggeration": 2,
    }
    assert page.evaluate("() => window.map.getPitch()") > 0
    standing = _rendered(page, "buildings-extrusion")
    assert len(standing) > 0
    assert all(f["height_m"] == 3 * f["floors"] for f in standing)
    assert _rendered(page, "buildings-fill") == []  # not drawn flat as well
    assert button.inner_text() == "2D" and button.get_attribute("aria-pressed") == "true"
    assert terrain_tiles and all(s == 200 for s in terrain_tiles)
    assert "view=3d" in page.evaluate("() => window.location.hash")

    # the link opens in 3D (terrain set as the style loads, before any tile)
    page.reload(wait_until="load")
    page.wait_for_function("() => window.map !== undefined && window.map.getTerrain()")
    assert page.evaluate("() => window.map.getPitch()") > 0
    assert (
        page.evaluate("() => window.map.getLayoutProperty('buildings-extrusion', 'visibility')")
        == "visible"
    )

    # and back to 2D
    page.locator("#view-toggle").click()
    page.evaluate(WAIT_IDLE)
    assert page.evaluate("() => window.map.getTerrain()") is None
    assert page.evaluate("() => window.map.getPitch()") == 0
    assert _rendered(page, "buildings-extrusion") == []
    assert len(_rendered(page, "buildings-fill")) > 0
    assert "view=3d" not in page.evaluate("() => window.location.hash")

    # the button speaks Chinese on a Chinese page
    page.goto(f"{server}/?lang=zh#16.5/{lat}/{lon}", wait_until="load")
    page.locator("#view-toggle").wait_for(state="visible")
    assert page.locator("#view-toggle").inner_text() == "三维"

    assert failed == []
    assert page.evaluate("() => window.twinErrors") == []
    assert errors == []
