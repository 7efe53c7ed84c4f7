"""Labels in real headless Chromium with nothing but the server reachable.

The test workspace's villages get Chinese names (one without a name, which
shows its code) and its roads names and refs; the browser may reach the test
server only. MapLibre, its stylesheet and the Latin glyphs come from the
server; Chinese is drawn by the browser (``localIdeographFontFamily``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import geopandas as gpd
import pytest
from playwright.sync_api import Browser, Route
from pyproj import Transformer

from tests.tiles.conftest import CRS, X0, Y0, build_workspace
from tests.tiles.test_browser import WAIT_IDLE, serving
from tiles.catalog import read_catalog, write_catalog

pytestmark = pytest.mark.slow

FONT = "DejaVu Sans Book"
SHIPPED = {
    f.stem
    for f in (Path(__file__).resolve().parents[2] / "tiles/fonts/dejavu-sans-book").glob("*.pbf")
}
VILLAGE_NAMES = ["南湖村", None, "Xiaoshan Cun", ""]  # the last two fall back to the code
CODES = ["330521101", "330521102", "330521103", "330521104"]


def _label_workspace(root: Path) -> Path:
    """The test workspace, its villages named (in Chinese, in pinyin, not at all), roads too."""
    catalog_path = build_workspace(root)
    catalog = read_catalog(catalog_path)
    build = catalog_path.parent
    villages = gpd.read_parquet(build / "villages/v1/data.parquet")
    villages["name"] = VILLAGE_NAMES
    villages["code"] = CODES
    villages.to_parquet(build / "villages/v1/data.parquet")
    roads = gpd.read_parquet(build / "roads/v1/data.parquet")
    roads["name"] = ["长深高速", None, "Dongtiao Road"]
    roads["ref"] = ["G25", "S13", None]
    roads.to_parquet(build / "roads/v1/data.parquet")
    layers = dict(catalog.layers)
    v = layers["villages"]
    layers["villages"] = v.model_copy(
        update={
            "fields": {**v.fields, "code": "string"},
            "style": {**v.style, "label": "name", "id": "code"},
        }
    )
    r = layers["roads"]
    layers["roads"] = r.model_copy(
        update={"fields": {**r.fields, "name": "string", "ref": "string"}}
    )
    write_catalog(catalog.model_copy(update={"layers": layers}), catalog_path)
    return catalog_path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    catalog = _label_workspace(tmp_path_factory.mktemp("labels"))
    with serving(catalog, tmp_path_factory.getbasetemp() / "uvicorn-labels.log") as url:
        yield url


def _labels(page, layer_id: str) -> list[str]:  # type: ignore[no-untyped-def]
    return page.evaluate(
        f"() => window.map.queryRenderedFeatures({{layers: ['{layer_id}']}})"
        ".map(f => f.layer.layout['text-field'] ? "
        "  (f.properties.name || f.properties.ref || f.properties.code) : null)"
    )


def test_labels_render_offline_in_latin_and_chinese(
    server: str, chromium: Browser, tmp_path_factory: pytest.TempPathFactory
) -> None:
    aborted: list[str] = []
    fonts: list[str] = []
    errors: list[str] = []
    to_lonlat = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)
    page = chromium.new_page(viewport={"width": 1000, "height": 800})
    page.set_default_timeout(60_000)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))

    def route(r: Route) -> None:
        url = r.request.url
        if not url.startswith(server + "/"):
            aborted.append(url)
            r.abort()
            return
        if "/fonts/" in url:
            fonts.append(unquote(url.split("/fonts/", 1)[1]))
        r.continue_()

    page.route("**/*", route)
    page.goto(server + "/", wait_until="load")
    page.wait_for_function("() => window.map !== undefined")
    page.evaluate(WAIT_IDLE)

    # zoom 12 over the villages: village names are drawn
    lon, lat = to_lonlat.transform(X0 + 2500, Y0 + 2500)
    page.evaluate(f"() => window.map.jumpTo({{center: [{lon}, {lat}], zoom: 12}})")
    page.evaluate(WAIT_IDLE)
    at12 = page.evaluate(
        "() => window.map.queryRenderedFeatures({layers: ['villages-label']}).length"
    )
    assert at12 > 0, "no village label at zoom 12"

    # closer in, every village is named, the unnamed ones by their codes
    page.evaluate(f"() => window.map.jumpTo({{center: [{lon}, {lat}], zoom: 13.5}})")
    page.evaluate(WAIT_IDLE)
    shown = set(_labels(page, "villages-label"))
    assert {"南湖村", "Xiaoshan Cun", CODES[1], CODES[3]} <= shown, shown
    assert "" not in shown
    page.screenshot(path=str(tmp_path_factory.getbasetemp() / "labels-z13.png"))

    # roads: names along the lines, a ref where there is no name
    page.evaluate(f"() => window.map.jumpTo({{center: [{lon}, {lat}], zoom: 14}})")
    page.evaluate(WAIT_IDLE)
    roads = set(_labels(page, "roads-label"))
    assert roads & {"长深高速", "S13", "Dongtiao Road"}, roads
    page.screenshot(path=str(tmp_path_factory.getbasetemp() / "labels-z14.png"))

    # nothing left the server; glyphs came from it, Latin ranges only
    assert aborted == []
    assert fonts, "no glyphs were fetched"
    for item in fonts:
        stack, rng = item.split("?")[0].rsplit("/", 1)
        assert stack == FONT and rng.removesuffix(".pbf") in SHIPPED, item
    assert page.evaluate("() => window.twinErrors || []") == []
    assert errors == []
