"""The county dashboard in a real headless Chromium, and the villages JSON it reads.

A small workspace with a villages layer shaped like the villages builder's (five domain
scores, indicators prefixed by domain, lagging flags, codes, pinyin), a county boundary,
roads and a raster. MapLibre is answered from the npm package on disk; every other request
off the test server is aborted, so the page must work offline.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from playwright.sync_api import Browser, Page, Route
from rasterio.warp import transform_bounds

from tests.tiles.conftest import CRS, X0, XSS_NAME, Y0, _write_cog, make_client
from tests.tiles.test_browser import WAIT_IDLE, serving
from tiles.catalog import (
    Band,
    Catalog,
    Figure,
    LayerEntry,
    Provenance,
    RegionInfo,
    read_catalog,
    write_catalog,
)
from tiles.settings import Settings
from tiles.store import CatalogStore
from tiles.viewer import viewer_config

DOMAINS = ("business", "services", "supervision", "governance", "infrastructure")
PREFIX = {"business": "biz", "services": "svc", "supervision": "sup", "governance": "gov"}
PREFIX["infrastructure"] = "inf"
LAG = 40.0
N = 3  # villages per side
SIZE = 1500.0  # metres
NAMES = ["青山村", "明上村", "仙溪村", "东和村", XSS_NAME, "南湖村", "凤民村", "港庙村", "永云村"]
PINYIN = ["Qingshan Cun", "Mingshang Cun", "Xianxi Cun", "Donghe Cun", "Xss Cun"]
PINYIN += ["Nanhu Cun", "Fengmin Cun", "Gangmiao Cun", "Yongyun Cun"]
VIEW = "() => [window.map.getCenter().lng, window.map.getCenter().lat, window.map.getZoom()]"


def _villages() -> gpd.GeoDataFrame:
    rng = np.random.default_rng(7)
    rows = []
    for i in range(N):
        for j in range(N):
            k = i * N + j
            x, y = X0 + 500 + i * SIZE, Y0 + 500 + j * SIZE
            scores = {
                f"score_{d}": round(float(v), 2)
                for d, v in zip(DOMAINS, rng.uniform(10, 95, 5), strict=True)
            }
            rows.append(
                {
                    "village_code": f"3305210012{k:02d}",
                    "name": NAMES[k],
                    "pinyin": PINYIN[k],
                    "town_name": "武康街道" if i < 2 else "乾元镇",
                    "gov_population": int(rng.integers(500, 3000)),
                    "biz_enterprises": int(rng.integers(0, 300)),
                    "inf_5g_share": round(float(rng.uniform(0.6, 1.0)), 3),
                    "svc_clinic_dist_m": None if k == 8 else float(rng.uniform(100, 5000)),
                    **scores,
                    "score_total": round(float(np.mean(list(scores.values()))), 2),
                    "lagging": ",".join(d for d in DOMAINS if scores[f"score_{d}"] < LAG),
                    "geometry": shapely.box(x, y, x + SIZE, y + SIZE),
                }
            )
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=CRS)


def _bounds(gdf: gpd.GeoDataFrame) -> tuple[float, float, float, float]:
    w, s, e, n = gdf.to_crs("EPSG:4326").total_bounds
    return (float(w), float(s), float(e), float(n))


def _entry(name: str, gdf: gpd.GeoDataFrame, builder: str, **extra: object) -> LayerEntry:
    types = {"int64": "int", "float64": "float", "object": "string", "str": "string"}
    fields = {c: types.get(str(gdf[c].dtype), "string") for c in gdf.columns if c != "geometry"}
    return LayerEntry(
        kind="vector",
        title=name.title(),
        version="v1",
        artifacts={"data": f"{name}/v1/data.parquet"},
        crs=CRS,
        bounds=_bounds(gdf),
        geometry_type=gdf.geometry.iloc[0].geom_type,
        fields=fields,
        count=len(gdf),
        provenance=Provenance(
            builder=builder,
            builder_version="1",
            params={"lag_threshold": LAG} if builder == "villages" else {},
            fingerprint="sha256:test",
            built_at="2026-11-28T05:00:00Z",
        ),
        **extra,
    )


def build_dashboard(root: Path) -> Path:
    """The dashboard's test workspace under ``root``; returns the catalog path."""
    build = root / "build"
    villages = _villages()
    county = gpd.GeoDataFrame({"name": ["测试县"]}, geometry=[villages.union_all()], crs=CRS)
    roads = gpd.GeoDataFrame(
        {"road_class": ["primary"], "length_m": [4000.0]},
        geometry=[shapely.LineString([(X0 + 600, Y0 + 2000), (X0 + 4800, Y0 + 2600)])],
        crs=CRS,
    )
    layers: dict[str, LayerEntry] = {}
    for name, gdf, builder, style in (
        ("county", county, "vector", {"color": "#333333"}),
        ("roads", roads, "roads", {"color": "#e4572e"}),
        (
            "villages",
            villages,
            "villages",
            {
                "property": "score_total",
                "range": [0, 100],
                "label": "name",
                "id": "village_code",
                "units": {"gov_population": "people", "inf_5g_share": "share 0-1"},
                "lower_better": ["svc_clinic_dist_m", "no_such_field"],
                "labels": {"gov_population": {"zh": "人口", "en": "Population"}},
            },
        ),
    ):
        (build / name / "v1").mkdir(parents=True)
        gdf.to_parquet(build / name / "v1" / "data.parquet")
        stats = {"domains": ",".join(DOMAINS)} if name == "villages" else {}
        layers[name] = _entry(name, gdf, builder, style=style, stats=stats)
    (build / "dem" / "v1").mkdir(parents=True)
    _write_cog(build / "dem" / "v1" / "data.tif")
    with rasterio.open(build / "dem" / "v1" / "data.tif") as src:
        dem_bounds = transform_bounds(src.crs, "EPSG:4326", *src.bounds)
    layers["dem"] = LayerEntry(
        kind="raster",
        title="Elevation",
        version="v1",
        artifacts={"data": "dem/v1/data.tif"},
        crs=CRS,
        bounds=dem_bounds,
        bands=[Band(name="elevation", dtype="float32", nodata=-9999.0, unit="m", min=0, max=305)],
        style={"colormap": "terrain", "rescale": [0, 300]},
        provenance=Provenance(
            builder="raster", builder_version="1", fingerprint="x", built_at="2026-11-28T05:00:00Z"
        ),
    )
    catalog = Catalog(
        workspace="Test County",
        updated="2026-11-28T05:00:00Z",
        region=RegionInfo(name="Test County", crs=CRS, bounds=layers["county"].bounds),
        figures=[
            Figure(name="villages", label="Villages", value=N * N),
            Figure(name="population", label="Population", value=12345, unit="people"),
        ],
        layers=layers,
    )
    path = build / "catalog.json"
    write_catalog(catalog, path)
    return path


@pytest.fixture(scope="module")
def dashboard_catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_dashboard(tmp_path_factory.mktemp("dashboard"))


# -- the villages JSON and the config (no browser) ------------------------------------------------


def test_villages_json_gives_attributes_points_and_boxes(dashboard_catalog: Path) -> None:
    villages = gpd.read_parquet(dashboard_catalog.parent / "villages" / "v1" / "data.parquet")
    with make_client(dashboard_catalog) as client:
        r = client.get("/viewer/villages.json")
    assert r.status_code == 200
    data = r.json()
    assert data["layer"] == "villages" and data["version"] == "v1" and not data["truncated"]
    assert "geometry" not in data["columns"]
    rows = [dict(zip(data["columns"], row, strict=True)) for row in data["rows"]]
    assert [row["village_code"] for row in rows] == villages["village_code"].tolist()
    assert rows[4]["name"] == XSS_NAME
    assert rows[8]["svc_clinic_dist_m"] is None  # missing stays missing, not NaN
    assert rows[0]["score_total"] == villages["score_total"].iloc[0]
    wgs = villages.to_crs("EPSG:4326")
    for point, box, geom in zip(data["points"], data["bboxes"], wgs.geometry, strict=True):
        assert geom.contains(shapely.Point(point))
        assert np.allclose(box, geom.bounds, atol=1e-6)


def test_villages_json_is_404_without_a_villages_layer(
    workspace_catalog: Path, tmp_path: Path
) -> None:
    catalog = read_catalog(workspace_catalog)
    layers = {k: v for k, v in catalog.layers.items() if k != "villages"}
    path = tmp_path / "catalog.json"
    for name in layers:  # artifacts are relative to the catalog: point at the originals
        layers[name] = layers[name].model_copy(
            update={
                "artifacts": {
                    "data": str(workspace_catalog.parent / layers[name].artifacts["data"])
                }
            }
        )
    write_catalog(catalog.model_copy(update={"layers": layers}), path)
    with make_client(path) as client:
        assert client.get("/viewer/villages.json").status_code == 404
        config = viewer_config(client.app.state.store.current(), Settings())
    assert config["villages"] is None
    # a plain layer viewer: every main layer on
    assert {item["name"]: item["visible"] for item in config["layers"]} == {
        "roads": True,
        "sites": True,
        "dem": True,
    }


def test_config_describes_the_dashboard(dashboard_catalog: Path) -> None:
    snap = CatalogStore(dashboard_catalog).load()
    config = viewer_config(snap, Settings(public_url="http://x.test"), lang="zh")
    assert config["lang"] == "zh"
    spec = config["villages"]
    assert spec["layer"] == "villages" and spec["url"] == "http://x.test/viewer/villages.json"
    assert (spec["id"], spec["name"], spec["pinyin"], spec["lagging"]) == (
        "village_code",
        "name",
        "pinyin",
        "lagging",
    )
    assert spec["domains"] == list(DOMAINS) and spec["lagThreshold"] == LAG
    assert "score_total" in spec["numeric"] and "name" not in spec["numeric"]
    assert spec["lowerBetter"] == ["svc_clinic_dist_m"]  # a field the layer lacks is left out
    roles = {item["name"]: (item["role"], item["visible"]) for item in config["layers"]}
    assert roles == {
        "county": ("boundary", True),
        "roads": ("roads", True),
        "villages": ("villages", True),
        "dem": ("other", False),
    }
    assert config["units"]["villages"]["inf_5g_share"] == "share 0-1"
    assert config["labels"]["villages"]["gov_population"]["zh"] == "人口"
    # the view opens on the region
    (w, s), (e, n) = config["bounds"]
    assert [w, s, e, n] == pytest.approx(list(snap.catalog.region.bounds))


# -- in the browser -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(dashboard_catalog: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serving(dashboard_catalog, tmp_path_factory.getbasetemp() / "dashboard.log") as url:
        yield url


class Opened:
    """A page of the dashboard and the errors it raised."""

    def __init__(self, page: Page, errors: list[str]) -> None:
        self.page = page
        self.errors = errors

    def idle(self) -> None:
        self.page.wait_for_function("() => !window.map.isMoving()")
        self.page.evaluate(WAIT_IDLE)

    def check_clean(self) -> None:
        assert self.errors == []
        assert self.page.evaluate("() => window.twinErrors") == []
        assert self.page.evaluate("() => window.__xss") is None


Opener = Callable[..., Opened]


@pytest.fixture
def open_page(chromium: Browser, server: str) -> Iterator[Opener]:
    pages: list[Page] = []

    def opener(path: str = "/?lang=en", width: int = 1280, height: int = 800) -> Opened:
        page = chromium.new_page(viewport={"width": width, "height": height}, accept_downloads=True)
        pages.append(page)
        page.set_default_timeout(60_000)
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))

        def route(r: Route) -> None:
            url = r.request.url
            if url.startswith(server):  # MapLibre and its glyphs come from the server too
                r.continue_()
            else:
                r.abort()

        page.route("**/*", route)
        page.goto(server + path, wait_until="load")
        page.wait_for_function("() => window.twinReady === true")
        opened = Opened(page, errors)
        opened.idle()
        return opened

    yield opener
    for page in pages:
        page.close()


def _css_rgb(hex_colour: str) -> str:
    h = hex_colour.lstrip("#")
    return "rgb({}, {}, {})".format(*(int(h[i : i + 2], 16) for i in (0, 2, 4)))


def _rendered(opened: Opened, layer: str) -> set[str]:
    return set(
        opened.page.evaluate(
            f"() => window.map.queryRenderedFeatures({{layers: ['{layer}']}})"
            ".map(f => f.properties.village_code)"
        )
    )


VILLAGES = _villages()


@pytest.mark.slow
def test_legend_is_the_style_for_every_domain(open_page: Opener) -> None:
    opened = open_page()
    page = opened.page
    # opens on the county boundary, the villages and the roads; the raster is off
    visibility = page.evaluate(
        "() => ['county-outline', 'roads-line', 'villages-fill', 'dem']"
        ".map(id => window.map.getLayoutProperty(id, 'visibility') || 'visible')"
    )
    assert visibility == ["visible", "visible", "visible", "none"]
    assert _rendered(opened, "villages-fill") == set(VILLAGES["village_code"])
    options = page.eval_on_selector_all("#indicator option", "els => els.map(e => e.value)")
    assert page.input_value("#indicator") == "score_total"  # the composite first
    wanted = ["score_total", *(f"score_{d}" for d in DOMAINS), "gov_population"]
    assert set(wanted) <= set(options)
    for field in wanted:
        page.select_option("#indicator", field)
        opened.idle()
        paint = page.evaluate("() => window.map.getPaintProperty('villages-fill', 'fill-color')")
        interpolate = paint[2]
        assert interpolate[:3] == ["interpolate", ["linear"], ["get", field]]
        stops = list(zip(interpolate[3::2], interpolate[4::2], strict=True))
        legend = page.eval_on_selector_all(
            ".ramp-legend .stop:not(.no-data)",
            "els => els.map(e => [Number(e.dataset.value),"
            " getComputedStyle(e.querySelector('i')).backgroundColor])",
        )
        assert [v for v, _ in legend] == [v for v, _ in stops], field
        assert [c for _, c in legend] == [_css_rgb(c) for _, c in stops], field
        values = VILLAGES[field].astype(float)
        assert stops[0][0] <= values.min() and stops[-1][0] >= values.max()
        # the outlined villages are the ones lagging in the indicator's domain
        if field == "score_total":
            expected = set(VILLAGES.loc[VILLAGES["score_total"] < LAG, "village_code"])
        else:
            domain = next(d for d in DOMAINS if field in (f"score_{d}", f"{PREFIX[d]}_population"))
            expected = set(VILLAGES.loc[VILLAGES["lagging"].str.contains(domain), "village_code"])
        page.wait_for_function(
            "n => window.map.queryRenderedFeatures({layers: ['villages-lagging']})"
            ".map(f => f.properties.village_code).filter((v, i, a) => a.indexOf(v) === i)"
            ".length === n",
            arg=len(expected),
        )
        assert _rendered(opened, "villages-lagging") == expected, field
    opened.check_clean()


@pytest.mark.slow
def test_search_flies_to_the_village_and_the_link_restores_the_screen(open_page: Opener) -> None:
    opened = open_page()
    page = opened.page
    page.select_option("#indicator", "score_governance")
    for query, code in (
        ("仙溪", "330521001202"),
        ("xianxi", "330521001202"),
        ("1207", "330521001207"),
    ):
        page.fill("#village-search", query)
        keys = page.eval_on_selector_all(
            "#village-list button.village", "els => els.map(e => e.dataset.key)"
        )
        assert keys == [code], query
    page.fill("#village-search", "Xian Xi")  # pinyin as typed with a space
    page.locator("#village-list button.village").click()
    page.wait_for_function("() => location.hash.includes('v=330521001202')")
    opened.idle()
    # the village is in view, in the part of the map the panel and the card leave free
    village = VILLAGES.to_crs("EPSG:4326").geometry.iloc[2].representative_point()
    xy = page.evaluate(f"() => window.map.project([{village.x}, {village.y}])")
    panel = page.locator("#panel").bounding_box()
    card = page.locator("#card").bounding_box()
    assert panel["x"] + panel["width"] < xy["x"] < card["x"] and 0 < xy["y"] < 800
    assert "仙溪村" in page.locator("#card").inner_text()
    hash_ = page.evaluate("() => location.hash")
    assert re.search(r"by=score_governance", hash_) and "layers=" in hash_
    view = page.evaluate(VIEW)

    again = open_page("/?lang=en" + hash_)
    restored = again.page.evaluate(VIEW)
    assert restored[:2] == pytest.approx(view[:2], abs=1e-4)
    assert restored[2] == pytest.approx(view[2], abs=0.01)
    assert again.page.input_value("#indicator") == "score_governance"
    assert "仙溪村" in again.page.locator("#card").inner_text()
    assert _rendered(again, "villages-selected") == {"330521001202"}
    opened.check_clean()
    again.check_clean()


@pytest.mark.slow
def test_lang_zh_shows_the_panel_in_chinese(open_page: Opener) -> None:
    zh = open_page("/?lang=zh")
    page = zh.page
    assert page.evaluate("() => document.documentElement.lang") == "zh-CN"
    assert page.locator("#figures summary").inner_text() == "关键指标"
    assert page.locator("#indicator option[value=score_total]").inner_text() == "综合得分"
    assert page.locator("#indicator option[value=score_business]").inner_text() == "经营"
    assert page.get_attribute("#village-search", "placeholder") == "搜索村名、拼音或代码"
    assert "红色边框" in page.locator("#lagging-note").inner_text()
    page.locator("#village-list button.village").first.click()
    page.locator(".card-tab[data-tab=governance]").click()
    assert "人口" in page.locator("#card").inner_text()  # the catalog's label for the field
    zh.check_clean()
    en = open_page("/?lang=en")
    assert en.page.locator("#figures summary").inner_text() == "Key figures"
    assert en.page.locator("#indicator option[value=score_total]").inner_text() == "Composite score"


@pytest.mark.slow
def test_on_a_phone_the_map_fills_the_screen(open_page: Opener) -> None:
    opened = open_page("/?lang=zh", 390, 844)
    page = opened.page
    assert not page.locator("#panel").is_visible()
    canvas = page.locator("#map canvas").bounding_box()
    assert (canvas["x"], canvas["y"], canvas["width"], canvas["height"]) == (0, 0, 390, 844)
    # the county is framed in the whole screen
    bounds = page.evaluate("() => window.map.getBounds().toArray()")
    w, s, e, n = VILLAGES.to_crs("EPSG:4326").total_bounds
    assert bounds[0][0] <= w and bounds[0][1] <= s and bounds[1][0] >= e and bounds[1][1] >= n
    page.locator("#panel-toggle").click()
    assert page.locator("#panel").is_visible()
    page.locator("#village-list button.village").first.click()
    assert not page.locator("#panel").is_visible()  # the card takes over, the panel steps aside
    card = page.locator("#card").bounding_box()
    assert card["y"] >= 0 and card["y"] + card["height"] <= 844 + 0.5 and card["width"] <= 390
    opened.check_clean()


@pytest.mark.slow
def test_the_card_fits_the_window_and_scrolls_inside(open_page: Opener) -> None:
    opened = open_page("/?lang=en", 900, 360)
    page = opened.page
    page.locator("#village-list button.village").first.click()
    page.select_option(".card-compare", "330521001204")
    box = page.locator("#card").bounding_box()
    assert box["x"] >= 0 and box["y"] >= 0
    assert box["x"] + box["width"] <= 900 and box["y"] + box["height"] <= 360
    body = page.locator("#card .card-body")
    sizes = body.evaluate("e => [e.scrollHeight, e.clientHeight, getComputedStyle(e).overflowY]")
    assert sizes[0] > sizes[1] and sizes[2] == "auto"  # taller than the card: it scrolls
    # the compared village stands beside the first, each value with its rank
    text = page.locator("#card").inner_text()
    assert XSS_NAME in text and " of 9" in text
    assert _rendered(opened, "villages-selected") >= {"330521001204"}
    opened.check_clean()


@pytest.mark.slow
def test_a_raster_turns_village_fills_to_outlines(open_page: Opener) -> None:
    opened = open_page()
    page = opened.page
    opacity = "() => window.map.getPaintProperty('villages-fill', 'fill-opacity')"
    assert page.evaluate(opacity) > 0.5
    assert page.evaluate("() => window.map.getPaintProperty('county-fill', 'fill-opacity')") == 0
    page.locator("#layers summary").click()
    page.locator("#layer-list input[data-layer=dem]").check()
    assert page.evaluate(opacity) == 0 and page.locator("#fill-note").is_visible()
    assert "dem" in page.evaluate("() => location.hash")
    page.locator("#layer-list input[data-layer=dem]").uncheck()
    assert page.evaluate(opacity) > 0.5 and not page.locator("#fill-note").is_visible()
    opened.check_clean()


@pytest.mark.slow
def test_save_png_writes_the_screen(open_page: Opener, tmp_path: Path) -> None:
    opened = open_page()
    page = opened.page
    with page.expect_download() as download:
        page.locator("#save-png").click()
    path = tmp_path / "screen.png"
    download.value.save_as(path)
    with rasterio.open(path) as png:
        size = (png.width, png.height)
        pixels = png.read()[:3]
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert size == tuple(
        page.evaluate("() => [window.map.getCanvas().width, window.map.getCanvas().height]")
    )
    assert pixels.reshape(3, -1).std(axis=1).max() > 10  # the map, not a blank canvas
    opened.check_clean()


FIELD_TEXT = """async ([config, lang]) => {
  const { fieldText } = await import('/static/i18n.js');
  const ft = fieldText(config, lang, 'villages');
  return [ft.label('a'), ft.value('a', 0.5), ft.label('b'), ft.value('b', 1234.4), ft.label('c'),
          ft.label('name', 'roads'), ft.value('x', 0.25)];
}"""


@pytest.mark.slow
def test_field_text_reads_both_shapes_of_labels(open_page: Opener) -> None:
    page = open_page().page
    # per layer, already in the page's language (the catalog's field information)
    per_layer = {
        "labels": {"villages": {"a": "5G 覆盖率", "b": "人口"}, "roads": {"name": "路名"}},
        "units": {"villages": {"a": "%", "b": "人"}},
        "scales": {"villages": {"a": 100}},
    }
    got = page.evaluate(FIELD_TEXT, [per_layer, "zh"])
    assert got == ["5G 覆盖率", "50 %", "人口", "1,234 人", "c", "路名", "0.25"]
    # per field in both languages, units as the builders write them (style hints)
    flat = {
        "labels": {"a": {"zh": "五G", "en": "5G share"}},
        "units": {"a": "share 0-1", "b": "people", "x": "share 0-1"},
    }
    assert page.evaluate(FIELD_TEXT, [flat, "en"]) == [
        "5G share",
        "50 %",
        "b",
        "1,234 people",
        "c",
        "name",
        "25 %",
    ]
    assert page.evaluate(FIELD_TEXT, [flat, "zh"])[3] == "1,234 人"


def test_a_distance_ranks_the_nearest_village_first(open_page: Opener) -> None:
    """Rank 1 of a lower-is-better indicator (the style's ``lower_better``) is its lowest value."""
    opened = open_page("/?lang=en")
    page = opened.page
    page.select_option("#indicator", "svc_clinic_dist_m")
    villages = VILLAGES.dropna(subset=["svc_clinic_dist_m"]).sort_values("svc_clinic_dist_m")
    listed = page.locator("#village-list button.village").all_inner_texts()
    assert villages["name"].iloc[0] in listed[0] and villages["name"].iloc[-1] in listed[-2]
    page.locator("#village-list button.village").first.click()
    page.locator(".card-tab[data-tab=services]").click()
    row = page.locator("#card tr[data-field=svc_clinic_dist_m]")
    assert f"1 of {len(villages)}" in row.inner_text()
    opened.check_clean()
