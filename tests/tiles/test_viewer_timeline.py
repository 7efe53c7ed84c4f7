"""The dynamic map in the viewer: the period slider, trend lines, what changed most, versions.

The dashboard's test workspace (``test_viewer_dashboard``) gets a villages layer with
three months of indicators (the long table the villages builder writes beside the layer:
the latest month is the layer's own values, village 8 has no row in the first month) and
a roads layer with an older version still servable. Every expectation is computed here
from the Parquet table the test wrote, never from what the server answers.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from playwright.sync_api import Response

from tests.tiles import test_viewer_dashboard as dashboard
from tests.tiles.conftest import CRS, X0, Y0, make_client
from tests.tiles.test_browser import serving
from tests.tiles.test_viewer_dashboard import DOMAINS, LAG, Opened, Opener, build_dashboard
from tiles._viewer_periods import VillagePeriods
from tiles.catalog import VERSION_MANIFEST, VersionManifest, read_catalog, write_catalog
from tiles.settings import Settings
from tiles.store import CatalogStore
from tiles.style import BACKGROUND
from tiles.viewer import viewer_config

# the dashboard's pages, on this module's server
open_page = dashboard.open_page
MONTHS = ["2026-09", "2026-10", "2026-11"]
SCORES = ["score_total", *(f"score_{d}" for d in DOMAINS)]
PERIOD_FIELDS = [*SCORES, "biz_enterprises"]
MISSING = 8  # the village with no row in the first month
OLD_ROADS = "v0"


def _long_table(villages: gpd.GeoDataFrame) -> pd.DataFrame:
    """Three months of every period indicator; the last is the layer's, the others drift."""
    rng = np.random.default_rng(11)
    codes = villages["village_code"].tolist()
    frames = {}
    for back, month in enumerate(reversed(MONTHS)):
        frame = villages[PERIOD_FIELDS].astype("float64").copy()
        if back:
            frame += rng.uniform(-25, 25, size=frame.shape).round(2)
            frame[SCORES] = frame[SCORES].clip(0, 100)
            frame["biz_enterprises"] = frame["biz_enterprises"].clip(0).round()
        frame.index = codes
        if month == MONTHS[0]:
            frame = frame.drop(index=codes[MISSING])
        frames[month] = frame
    rows = []
    for i, month in enumerate(MONTHS):
        frame = frames[month]
        for code, row in frame.iterrows():
            lag = ",".join(d for d in DOMAINS if row[f"score_{d}"] < LAG)
            for field in PERIOD_FIELDS:
                prev = frames[MONTHS[i - 1]] if i else None
                known = prev is not None and code in prev.index
                before = prev.loc[code, field] if known else np.nan
                rows.append(
                    {
                        "code": code,
                        "name": villages.set_index("village_code").loc[code, "name"],
                        "period": month,
                        "indicator": field,
                        "value": float(row[field]),
                        "change": float(row[field] - before),
                        "lagging": lag,
                    }
                )
    long = pd.DataFrame(rows)
    long["rank"] = (
        (-long["value"]).groupby([long["period"], long["indicator"]]).rank(method="min")
    ).astype("Int64")
    cols = ["code", "name", "period", "indicator", "value", "change", "rank", "lagging"]
    return long[cols]


def build_timeline(root: Path) -> Path:
    """The dashboard workspace with periods on the villages and two versions of the roads."""
    path = build_dashboard(root)
    build = path.parent
    catalog = read_catalog(path)
    layers = dict(catalog.layers)
    villages = gpd.read_parquet(build / "villages" / "v1" / "data.parquet")
    _long_table(villages).to_parquet(build / "villages" / "v1" / "periods.parquet")
    entry = layers["villages"]
    layers["villages"] = entry.model_copy(
        update={
            "artifacts": {**entry.artifacts, "periods": "villages/v1/periods.parquet"},
            "stats": {
                **entry.stats,
                "period_kind": "month",
                "periods": ",".join(MONTHS),
                "period_count": len(MONTHS),
            },
        }
    )
    # an older roads version, published a month before, still on disk with its manifest
    roads = layers["roads"]
    old_dir = build / "roads" / OLD_ROADS
    old_dir.mkdir(parents=True)
    gpd.GeoDataFrame(
        {"road_class": ["track"], "length_m": [3000.0]},
        geometry=[shapely.LineString([(X0 + 600, Y0 + 1000), (X0 + 4800, Y0 + 1200)])],
        crs=CRS,
    ).to_parquet(old_dir / "data.parquet")
    old = roads.model_copy(
        update={
            "version": OLD_ROADS,
            "artifacts": {"data": f"roads/{OLD_ROADS}/data.parquet"},
            "provenance": roads.provenance.model_copy(update={"built_at": "2026-10-01T00:00:00Z"}),
        }
    )
    manifest = VersionManifest(layers={"roads": old})
    (old_dir / VERSION_MANIFEST).write_text(manifest.model_dump_json(), encoding="utf-8")
    layers["roads"] = roads.model_copy(update={"history": [OLD_ROADS]})
    write_catalog(catalog.model_copy(update={"layers": layers}), path)
    return path


@pytest.fixture(scope="module")
def timeline_catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_timeline(tmp_path_factory.mktemp("timeline"))


@pytest.fixture(scope="module")
def long(timeline_catalog: Path) -> pd.DataFrame:
    return pd.read_parquet(timeline_catalog.parent / "villages" / "v1" / "periods.parquet")


@pytest.fixture(scope="module")
def villages(timeline_catalog: Path) -> gpd.GeoDataFrame:
    return gpd.read_parquet(timeline_catalog.parent / "villages" / "v1" / "data.parquet")


@pytest.fixture(scope="module")
def server(timeline_catalog: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serving(timeline_catalog, tmp_path_factory.getbasetemp() / "timeline.log") as url:
        yield url


# -- the JSON and the config (no browser) ---------------------------------------------------------


def test_periods_json_is_the_long_table_column_wise(
    timeline_catalog: Path, long: pd.DataFrame
) -> None:
    with make_client(timeline_catalog) as client:
        every = client.get("/viewer/periods.json")
        one = client.get(
            "/viewer/periods.json", params={"period": "2026-10", "indicator": "score_total"}
        )
        assert client.get("/viewer/periods.json", params={"period": "2026-13"}).status_code == 404
        assert client.get("/viewer/periods.json", params={"period": "2025-01"}).status_code == 404
        bad = client.get("/viewer/periods.json", params={"indicator": "nope"})
        assert bad.status_code == 404 and "nope" in bad.json()["detail"]
    assert every.status_code == 200 and one.status_code == 200
    data = every.json()
    assert data["periods"] == MONTHS and data["kind"] == "month"
    assert sorted(data["indicators"]) == sorted(PERIOD_FIELDS)
    codes = data["codes"]
    for row in long.itertuples():
        at = codes.index(row.code)
        assert data["value"][row.indicator][row.period][at] == pytest.approx(row.value)
        change = data["change"][row.indicator][row.period][at]
        assert change is None if np.isnan(row.change) else change == pytest.approx(row.change)
    missing = long[long["period"] == MONTHS[0]]["code"]
    lost = sorted(set(codes) - set(missing))
    assert len(lost) == 1 and data["value"]["score_total"][MONTHS[0]][codes.index(lost[0])] is None
    assert data["lagging"][MONTHS[0]][codes.index(lost[0])] is None
    values = long.loc[long["indicator"] == "score_total", "value"]
    assert data["range"]["score_total"] == pytest.approx([values.min(), values.max()])
    # the document is its model's, exactly
    assert VillagePeriods.model_validate(data).model_dump(mode="json") == data
    small = one.json()
    assert list(small["value"]) == ["score_total"] and list(small["value"]["score_total"]) == [
        "2026-10"
    ]


def test_config_names_the_periods_and_the_versions(timeline_catalog: Path) -> None:
    snap = CatalogStore(timeline_catalog).load()
    config = viewer_config(snap, Settings(public_url="http://x.test"))
    spec = config["villages"]
    assert spec["periods"] == MONTHS and spec["periodKind"] == "month"
    assert spec["periodsUrl"] == "http://x.test/viewer/periods.json"
    assert config["tilesUrl"] == "http://x.test/tiles"
    versions = {item["name"]: item["versions"] for item in config["layers"]}
    assert [v["version"] for v in versions["roads"]] == ["v1", OLD_ROADS]
    assert versions["roads"][1]["published"] == "2026-10-01T00:00:00Z"
    assert [v["version"] for v in versions["villages"]] == ["v1"]


# -- in the browser -------------------------------------------------------------------------------


def _values(long: pd.DataFrame, field: str, month: str) -> dict[str, float]:
    rows = long[(long["indicator"] == field) & (long["period"] == month)]
    return dict(zip(rows["code"], rows["value"], strict=True))


def _rgb(hex_colour: str) -> np.ndarray:
    h = hex_colour.lstrip("#")
    return np.array([int(h[i : i + 2], 16) for i in (0, 2, 4)], dtype=float)


def _ramp_colour(stops: list[tuple[float, str]], value: float) -> np.ndarray:
    """The ramp's colour of ``value``: linear in RGB between the stops, as MapLibre does."""
    if value <= stops[0][0]:
        return _rgb(stops[0][1])
    for (v0, c0), (v1, c1) in itertools.pairwise(stops):
        if value <= v1:
            f = (value - v0) / (v1 - v0)
            return _rgb(c0) + (_rgb(c1) - _rgb(c0)) * f
    return _rgb(stops[-1][1])


PIXEL = """([lon, lat]) => {
  const source = window.map.getCanvas();
  const p = window.map.project([lon, lat]);
  const scale = source.width / source.clientWidth;
  const canvas = document.createElement('canvas');
  canvas.width = source.width; canvas.height = source.height;
  const ctx = canvas.getContext('2d');
  ctx.drawImage(source, 0, 0);
  return Array.from(ctx.getImageData(Math.round(p.x * scale), Math.round(p.y * scale), 1, 1).data);
}"""


def _fill(opened: Opened, code: str, villages: gpd.GeoDataFrame) -> tuple[np.ndarray, list]:
    """The rendered colour inside a village (a quarter in from its corner) and the ramp stops."""
    w, s, e, n = villages.to_crs("EPSG:4326").set_index("village_code").loc[code].geometry.bounds
    pixel = opened.page.evaluate(PIXEL, [w + (e - w) / 4, s + (n - s) / 4])
    paint = opened.page.evaluate("() => window.map.getPaintProperty('villages-fill', 'fill-color')")
    interpolate = paint[2]
    stops = list(zip(interpolate[3::2], interpolate[4::2], strict=True))
    return np.array(pixel[:3], dtype=float), stops


def _expected(stops: list, value: float, opacity: float) -> np.ndarray:
    return opacity * _ramp_colour(stops, value) + (1 - opacity) * _rgb(BACKGROUND)


def _slide(opened: Opened, month: str) -> None:
    opened.page.locator("#period").fill(str(MONTHS.index(month)))
    opened.page.wait_for_function(
        "m => document.querySelector('#period-label').textContent === m"
        " && document.querySelector('#timeline').dataset.shown === m",
        arg=month,
    )
    opened.idle()


@pytest.mark.slow
def test_the_slider_recolours_the_villages(
    open_page: Opener, long: pd.DataFrame, villages: gpd.GeoDataFrame
) -> None:
    opened = open_page()
    page = opened.page
    assert page.locator("#timeline").is_visible()
    assert page.locator("#period-label").inner_text() == MONTHS[-1]
    now, then = _values(long, "score_total", MONTHS[-1]), _values(long, "score_total", MONTHS[0])
    # a village of the top row (no road, no label where we look) that moved the most
    top_row = [c for c in villages["village_code"] if c in then and int(c[-2:]) % 3 == 2]
    code = max(top_row, key=lambda c: abs(now[c] - then[c]))
    opacity = page.evaluate("() => window.map.getPaintProperty('villages-fill', 'fill-opacity')")
    pixel, stops = _fill(opened, code, villages)
    assert np.abs(pixel - _expected(stops, now[code], opacity)).max() <= 4
    _slide(opened, MONTHS[0])
    assert "p=2026-09" in page.evaluate("() => location.hash")
    pixel_then, stops_then = _fill(opened, code, villages)
    assert stops_then == stops  # one ramp for every period: colours compare
    assert np.abs(pixel_then - _expected(stops, then[code], opacity)).max() <= 4
    assert np.abs(pixel_then - pixel).max() > 10
    # the expression holds that month's values, and the village without a row has none
    paint = page.evaluate("() => window.map.getPaintProperty('villages-fill', 'fill-color')")
    shown = paint[2][2][2][1]
    assert shown == pytest.approx(then)
    missing = villages["village_code"].iloc[MISSING]
    assert missing not in shown
    # the list ranks that month
    first = page.eval_on_selector("#village-list button.village", "e => e.dataset.key")
    assert first == max(then, key=then.get)
    # back to the latest: the layer's own colours
    _slide(opened, MONTHS[-1])
    pixel_back, _ = _fill(opened, code, villages)
    assert np.abs(pixel_back - pixel).max() <= 2
    opened.check_clean()


@pytest.mark.slow
def test_the_card_draws_a_trend_per_score(open_page: Opener, long: pd.DataFrame) -> None:
    opened = open_page()
    page = opened.page
    page.locator("#village-list button.village").first.click()
    code = page.evaluate("() => new URLSearchParams(location.hash.slice(1)).get('v')")
    page.wait_for_selector("#card svg.sparkline")
    for field in SCORES:
        dots = page.eval_on_selector_all(
            f"#card svg.sparkline[data-field={field}] circle",
            "els => els.map(e => [e.dataset.period, Number(e.dataset.value)])",
        )
        rows = long[(long["code"] == code) & (long["indicator"] == field)]
        assert [p for p, _ in dots] == rows["period"].tolist() == MONTHS
        assert [v for _, v in dots] == pytest.approx(rows["value"].tolist())
    opened.check_clean()


@pytest.mark.slow
def test_changed_most_lists_the_largest_drop_and_flies_to_it(
    open_page: Opener, long: pd.DataFrame, villages: gpd.GeoDataFrame
) -> None:
    opened = open_page("/?lang=zh")
    page = opened.page
    assert page.locator("#changes summary").inner_text() == "变化最大"
    assert "统计期" in page.locator("#timeline label").inner_text()
    latest = long[(long["period"] == MONTHS[-1]) & (long["indicator"] == "score_total")]
    change = latest.set_index("code")["change"].dropna()
    drops = page.eval_on_selector_all(
        ".changes.drops button", "els => els.map(e => [e.dataset.key, Number(e.dataset.change)])"
    )
    assert drops[0][0] == change.idxmin() and drops[0][1] == pytest.approx(change.min())
    expected = change[change < 0].sort_values().head(5)
    assert [k for k, _ in drops] == expected.index.tolist()
    gains = page.eval_on_selector_all(".changes.gains button", "els => els.map(e => e.dataset.key)")
    assert gains[0] == change.idxmax()
    page.locator(".changes.drops button").first.click()
    page.wait_for_function("k => location.hash.includes('v=' + k)", arg=drops[0][0])
    name = latest.set_index("code").loc[drops[0][0], "name"]
    assert name in page.locator("#card").inner_text()
    opened.idle()
    # the village is in view
    point = (
        villages.to_crs("EPSG:4326").set_index("village_code").loc[drops[0][0]].geometry.centroid
    )
    xy = page.evaluate(f"() => window.map.project([{point.x}, {point.y}])")
    assert 0 < xy["x"] < 1280 and 0 < xy["y"] < 800
    # an earlier month: its changes, since the month before it
    _slide(opened, MONTHS[1])
    mid = long[(long["period"] == MONTHS[1]) & (long["indicator"] == "score_total")]
    first = page.eval_on_selector(".changes.drops button", "e => e.dataset.key")
    assert first == mid.set_index("code")["change"].idxmin()
    opened.check_clean()


@pytest.mark.slow
def test_the_version_picker_swaps_the_roads_tiles(open_page: Opener) -> None:
    opened = open_page()
    page = opened.page
    tiles: list[tuple[str, int]] = []

    def seen(response: Response) -> None:
        if "/tiles/roads@" in response.url:
            tiles.append((response.url, response.status))

    page.on("response", seen)
    page.locator("#layers summary").click()
    assert page.locator("select.layer-version").count() == 1  # roads only: two versions
    page.select_option("select.layer-version[data-layer=roads]", OLD_ROADS)
    page.wait_for_function(
        "() => window.map.getStyle().sources.roads.url.includes('/tiles/roads@v0/tilejson.json')"
    )
    opened.idle()
    mvt = [(u, s) for u, s in tiles if u.endswith(".mvt")]
    assert mvt and all(s == 200 for _, s in tiles), tiles
    # the old road is drawn: its class is 'track'
    classes = page.evaluate(
        "() => window.map.queryRenderedFeatures({layers: ['roads-line']})"
        ".map(f => f.properties.road_class)"
    )
    assert set(classes) == {"track"}
    # the link keeps the version picked: opened again, the old roads are drawn
    link = page.evaluate("() => location.hash")
    assert f"ver=roads%40{OLD_ROADS}" in link
    again = open_page("/" + link)
    again.page.wait_for_function(
        "() => window.map.getStyle().sources.roads.url.includes('/tiles/roads@v0/tilejson.json')"
    )
    again.page.locator("#layers summary").click()
    assert again.page.input_value("select.layer-version[data-layer=roads]") == OLD_ROADS
    again.idle()
    again.check_clean()
    # a date picks the version in force then; a date before any: the current one, said so
    page.locator("#as-of-date").fill("2026-11-01")
    assert page.input_value("select.layer-version[data-layer=roads]") == OLD_ROADS
    page.locator("#as-of-date").fill("2026-12-01")
    assert page.input_value("select.layer-version[data-layer=roads]") == ""
    page.wait_for_function(
        "() => window.map.getStyle().sources.roads.url.endsWith('/tiles/roads/tilejson.json')"
    )
    page.locator("#as-of-date").fill("2026-09-01")
    assert page.locator("#as-of .note").is_visible()
    opened.idle()
    opened.check_clean()
