"""The notebook API: the Layers table, stats(), explore() from data and from a server, progress."""

from __future__ import annotations

import base64
import html
import io
import re
from html.parser import HTMLParser
from pathlib import Path

import matplotlib
import numpy as np
import pytest
import rasterio
import shapely
from matplotlib import colormaps
from pyproj import Transformer

from tests.twin.conftest import X0, Y0
from tiles.catalog import LayerEntry, Provenance
from twin.errors import TwinError
from twin.notebook import (
    BackgroundServer,
    ExploreMap,
    Layers,
    NotebookProgress,
    add_scale_bar,
    decorate_map,
    in_notebook,
    nice_length,
)
from twin.workspace import Twin

matplotlib.use("Agg")

TO_WGS84 = Transformer.from_crs("EPSG:4549", "EPSG:4326", always_xy=True)
TO_4549 = Transformer.from_crs("EPSG:3857", "EPSG:4549", always_xy=True)
FROM_WGS84 = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)


class _Table(HTMLParser):
    """Rows of the first table as lists of cell texts (tags dropped, entities decoded)."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "br" and self._cell is not None:
            self._cell.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _rows(markup: str) -> dict[str, list[str]]:
    parser = _Table()
    parser.feed(markup)
    header, *body = parser.rows
    assert header[:4] == ["layer", "kind", "version", "features / pixels"]
    return {row[0].split()[0]: row for row in body}


@pytest.fixture
def built(twin: Twin) -> Twin:
    twin.build()
    return twin


def test_layers_table_shows_every_layer(built: Twin) -> None:
    layers = built.layers
    rows = _rows(layers._repr_html_())
    assert set(rows) == {"zones", "points", "dem"}
    cat = built.catalog.layers
    for name, row in rows.items():
        assert row[1].startswith(cat[name].kind)
        assert row[2] == cat[name].version
    # 12 one-km squares and 12 points were written by the fixture.
    assert rows["zones"][3] == "12 features"
    assert rows["points"][3] == "12 features"
    assert rows["zones"][1] == "vector Polygon"
    # Pixels: the valid pixels of the published COG, read independently.
    with rasterio.open(built.build_dir / cat["dem"].artifacts["data"]) as src:
        valid = int(src.read_masks(1).astype(bool).sum())
        res = src.res[0]
    assert rows["dem"][3] == f"{valid:,} pixels at {res:g} m"
    # Bounds: the fixture's 4 km x 3 km block, projected to WGS84 by hand.
    west, south = TO_WGS84.transform(X0, Y0)
    east, north = TO_WGS84.transform(X0 + 4000, Y0 + 3000)
    shown = [float(v) for v in rows["zones"][4].split(",")]
    assert shown == pytest.approx([west, south, east, north], abs=2e-4)
    # Fields with their types; raster rows list bands instead.
    assert "code string" in rows["zones"][5] and "pop int" in rows["zones"][5]
    assert "float32" in rows["dem"][5]
    assert "3 layers in <b>Test County</b>" in layers._repr_html_()


def test_layers_is_a_read_only_mapping(built: Twin) -> None:
    layers = built.layers
    assert layers == built.catalog.layers
    assert layers["zones"].version == built.catalog.layers["zones"].version
    assert list(layers) == list(built.catalog.layers)
    with pytest.raises(TypeError):
        layers["zones"] = layers["dem"]  # type: ignore[index]
    frame = layers.to_frame()
    assert frame.loc["zones", "count"] == 12
    assert frame.loc["dem", "kind"] == "raster"
    assert "zones" in repr(layers) and "12 features" in repr(layers)


def test_layers_before_any_build(twin: Twin) -> None:
    assert len(twin.layers) == 0
    assert "none published yet" in twin.layers._repr_html_()
    assert twin.layers.to_frame().empty


def _entry(**kw: object) -> LayerEntry:
    prov = Provenance(builder="vector", builder_version="1", fingerprint="f", built_at="now")
    base = {
        "kind": "vector",
        "title": "T",
        "version": "v1",
        "artifacts": {"data": "d"},
        "crs": "EPSG:4549",
        "bounds": (120, 30, 120.1, 30.1),
        "provenance": prov,
    }
    return LayerEntry(**{**base, **kw})


def test_layers_table_escapes_all_text() -> None:
    evil = "<img src=x onerror=alert(1)>"
    entry = _entry(
        title=evil,
        version="v1<script>",
        geometry_type="Point<b>",
        fields={f"{evil}{i}": "string" for i in range(10)},
    )
    markup = Layers({"evil": entry}, workspace=f"W {evil}", updated="<now>")._repr_html_()
    assert "<img" not in markup and "<script" not in markup and "<now>" not in markup
    assert html.escape(evil) in markup
    # Ten fields fold into a <details> element; the escaped names are all there.
    assert "<details><summary>10 fields</summary>" in markup
    assert markup.count(html.escape(evil)) == 1 + 1 + 10


def test_stats_is_a_frame_of_the_catalog_figures(built: Twin) -> None:
    stats = built.stats()
    assert list(stats.columns) == ["label", "value", "unit", "layer"]
    assert list(stats.index) == [f.name for f in built.catalog.figures]
    # The county is the fixture's 4 km x 3 km block.
    assert stats.loc["area_km2", "value"] == pytest.approx(12.0)
    assert stats.loc["area_km2", "unit"] == "km²"


def _of_kind(m: ExploreMap, kind: str) -> list[dict]:
    return [layer for layer in m.layers if layer["kind"] == kind]


def test_explore_from_data_draws_vectors_in_wgs84(built: Twin, tmp_path: Path) -> None:
    m = built.explore(["zones", "points"])
    layers = {g["title"]: g for g in _of_kind(m, "geojson")}
    assert set(layers) == {"Zones", "Points"}
    assert layers["Zones"]["geometry"] == "polygon" and layers["Points"]["geometry"] == "point"
    features = layers["Zones"]["data"]["features"]
    assert len(features) == 12
    zones = built.layer("zones").sort_values("code")
    expected = {
        code: TO_WGS84.transform(*np.asarray(geom.exterior.coords).T)
        for code, geom in zip(zones["code"], zones.geometry, strict=True)
    }
    for feature in features:
        ring = np.asarray(feature["geometry"]["coordinates"][0])
        lon, lat = expected[feature["properties"]["code"]]
        # Squares have nothing to simplify; coordinates are rounded to 1e-6 degree.
        want = np.column_stack([lon, lat])
        assert len(ring) == len(want)
        nearest = np.abs(ring[:, None, :] - want[None, :, :]).max(axis=2).min(axis=1)
        assert nearest.max() <= 1e-6
    # one document with MapLibre inside and nothing to fetch: no URL to load a script,
    # a style sheet or tiles from
    page = m.save(tmp_path / "map.html").read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>") and "maplibregl" in page
    assert not re.search(r"<(script|link)[^>]+(src|href)=", page)
    assert "openstreetmap" not in page.lower() and "unpkg" not in page and "cdn" not in page
    # and so in a notebook, inside an iframe
    assert m._repr_html_().startswith("<iframe srcdoc=")
    assert html.unescape(m._repr_html_().split('srcdoc="', 1)[1].split('" style=', 1)[0]) == page


def test_explore_caps_features_and_says_so(built: Twin) -> None:
    m = built.explore("points", max_features=5)
    (layer,) = _of_kind(m, "geojson")
    assert len(layer["data"]["features"]) == 5
    assert layer["title"] == "Points (5 of 12)"
    ids = {f["properties"]["id"] for f in layer["data"]["features"]}
    assert len(ids) == 5


def test_explore_rejects_unknown_layers(built: Twin) -> None:
    with pytest.raises(TwinError, match="no published layer 'nope'"):
        built.explore(["zones", "nope"])


def test_explore_colours_the_raster_with_its_style(built: Twin) -> None:
    # The published DEM is 40 x 30 pixels (100 m); the overlay is asked for at most 24.
    m = built.explore("dem", raster_size=24)
    (overlay,) = _of_kind(m, "image")
    png = base64.b64decode(overlay["url"].split(",", 1)[1])
    import PIL.Image

    image = np.asarray(PIL.Image.open(io.BytesIO(png)).convert("RGBA"))
    assert max(image.shape[:2]) == 24
    (west, north), (east, _), (_, south), _ = overlay["coordinates"]
    # The overlay covers the DEM's extent (the fixture's source DEM is 4 km x 3 km).
    entry = built.catalog.layers["dem"]
    assert (west, south, east, north) == pytest.approx(entry.bounds, abs=2e-3)
    # Pixel colours: the fixture's DEM is 100 + 5 col - 2 row per 50 m source pixel, a plane;
    # style hints colour it with 'terrain' between 0 and 500 m.
    x0, y0 = FROM_WGS84.transform(west, north)
    x1, y1 = FROM_WGS84.transform(east, south)
    h, w = image.shape[:2]
    cmap = colormaps["terrain"]
    for fi, fj in [(0.5, 0.5), (0.3, 0.2), (0.7, 0.8)]:
        i, j = int(h * fi), int(w * fj)
        mx = x0 + (j + 0.5) * (x1 - x0) / w
        my = y0 + (i + 0.5) * (y1 - y0) / h
        x, y = TO_4549.transform(mx, my)
        col, row = (x - X0) / 50 - 0.5, (Y0 + 3000 - y) / 50 - 0.5
        value = 100 + 5 * col - 2 * row
        expected = np.array(cmap(value / 500)) * 255
        assert image[i, j, 3] == 255
        assert np.abs(image[i, j, :3] - expected[:3]).max() <= 12, (value, image[i, j])


def test_explore_from_a_running_tile_server(built: Twin) -> None:
    import httpx
    import mapbox_vector_tile
    import morecantile
    import PIL.Image

    server = BackgroundServer(built)
    with server as url:
        assert server.running
        m = built.explore(["zones", "dem"], server=url)
        ((tiles,),) = [layer["tiles"] for layer in _of_kind(m, "raster")]
        ((grid,),) = [layer["tiles"] for layer in _of_kind(m, "vector")]
        assert tiles.startswith(f"{url}/tiles/dem/{{z}}/{{x}}/{{y}}.png")
        assert grid == f"{url}/tiles/zones/{{z}}/{{x}}/{{y}}.mvt"
        assert _of_kind(m, "vector")[0]["sourceLayer"] == "zones"
        # The URLs serve the layers: a tile over the block's middle has zones and pixels.
        lon, lat = TO_WGS84.transform(X0 + 2000, Y0 + 1500)
        tile = morecantile.tms.get("WebMercatorQuad").tile(lon, lat, 13)
        fill = {"z": tile.z, "x": tile.x, "y": tile.y}
        mvt = httpx.get(grid.format(**fill), timeout=30)
        assert mvt.status_code == 200
        decoded = mapbox_vector_tile.decode(mvt.content)
        assert decoded["zones"]["features"]
        dem = built.catalog.layers["dem"]
        tile = morecantile.tms.get("WebMercatorQuad").tile(lon, lat, dem.maxzoom)
        png = httpx.get(tiles.format(z=tile.z, x=tile.x, y=tile.y), timeout=30)
        assert png.status_code == 200
        assert PIL.Image.open(io.BytesIO(png.content)).size == (256, 256)
    assert not server.running
    with pytest.raises(TwinError, match="cannot reach the tile server"):
        built.explore(server=url, timeout=2)


def test_background_server_needs_a_catalog(twin: Twin) -> None:
    with pytest.raises(TwinError, match="no catalog to serve"):
        BackgroundServer(twin).start()


def test_progress_reports_each_layer(twin: Twin) -> None:
    out = io.StringIO()
    events = NotebookProgress(file=out)
    twin.build(events=events)
    assert sorted(line.split()[1] for line in events.lines) == ["dem", "points", "zones"]
    assert all(line.startswith("built ") for line in events.lines)
    assert "3/3" in out.getvalue()
    again = NotebookProgress(file=io.StringIO())
    twin.build(events=again)
    assert sorted(again.lines) == [f"skipped {n}: up to date" for n in ("dem", "points", "zones")]


def test_progress_is_off_outside_jupyter_unless_asked(
    twin: Twin, capsys: pytest.CaptureFixture[str]
) -> None:
    assert not in_notebook()
    twin.build()
    quiet = capsys.readouterr()
    assert "built" not in quiet.out + quiet.err
    twin.build(progress=True, force=True)
    shown = capsys.readouterr()
    assert "3/3" in shown.err  # the bar
    assert "built zones" in shown.out  # one line per layer


@pytest.mark.parametrize(
    ("span", "expected"), [(40_000, 10_000), (7_300, 1_000), (900, 200), (1, 0.2), (55, 10)]
)
def test_nice_length(span: float, expected: float) -> None:
    got = nice_length(span)
    assert got == pytest.approx(expected)
    # 1, 2 or 5 times a power of ten, no longer than a quarter of the span.
    mantissa = got / 10 ** np.floor(np.log10(got))
    assert round(mantissa, 9) in (1, 2, 5) and got <= span / 4


def test_decorate_map_adds_scale_bar_and_north_arrow(tmp_path: Path) -> None:
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    fig, ax = plt.subplots()
    ax.plot([480_000, 520_000], [3_370_000, 3_390_000])
    ax.set_xlim(480_000, 520_000)
    ax.set_ylim(3_370_000, 3_390_000)
    decorate_map(ax, title="t", crs="EPSG:4549")
    assert ax.get_xlim() == (480_000, 520_000)
    bars = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert sum(b.get_width() for b in bars) == pytest.approx(10_000)
    assert {t.get_text() for t in ax.texts} >= {"N", "10 km"}
    assert "EPSG:4549" in ax.get_xlabel() and "m" in ax.get_ylabel()
    assert add_scale_bar(ax, units_per_metre=1 / 1000) == pytest.approx(10_000_000)
    fig.savefig(tmp_path / "map.png")
    plt.close(fig)


def test_explore_thins_pixel_traced_polygons(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import geopandas as gpd
    import rasterio.features
    from rasterio.transform import from_origin
    from shapely.geometry import shape

    from twin.notebook import _explore

    # A disk of 1.5 km radius traced from 20 m pixels, as coverage polygons are.
    yy, xx = np.mgrid[0:150, 0:200]
    disk = ((xx - 100) ** 2 + (yy - 75) ** 2 <= 75**2).astype("uint8")
    transform = from_origin(X0, Y0 + 3000, 20, 20)
    (geom, _), *_ = rasterio.features.shapes(disk, mask=disk.astype(bool), transform=transform)
    traced = gpd.GeoDataFrame({"fid": [1]}, geometry=[shape(geom)], crs="EPSG:4549")
    traced.to_file(workspace / "sources" / "traced.geojson", driver="GeoJSON")
    toml = workspace / "twin.toml"
    toml.write_text(
        toml.read_text(encoding="utf-8")
        + '\n[sources.traced]\npath = "sources/traced.geojson"\n'
        + '\n[layers.traced]\nbuilder = "vector"\ninputs = { source = "traced" }\n'
        + 'params = { id = "fid" }\n',
        encoding="utf-8",
    )
    twin = Twin.open(workspace)
    twin.build(["traced"])
    vertices = len(traced.geometry.iloc[0].exterior.coords)
    assert vertices > 300
    monkeypatch.setattr(_explore, "MAX_VERTICES", 100)
    m = twin.explore("traced")
    (layer,) = _of_kind(m, "geojson")
    (feature,) = layer["data"]["features"]
    shown = shape(feature["geometry"])
    assert len(shapely.get_coordinates(shown)) <= 100
    assert "simplified to" in layer["title"]
    # The outline still encloses the disk's area (in WGS84 degrees², compared as a ratio).
    expected = traced.to_crs(4326).geometry.iloc[0]
    assert shown.area == pytest.approx(expected.area, rel=0.03)
