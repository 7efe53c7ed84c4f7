"""The villages layer from whatever inputs a county has: boundaries alone, or with one more.

Four 1 km villages in a row (EPSG:4549); V2's name is missing and V4's blank.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin
from shapely.geometry import LineString, box
from typer.testing import CliRunner

from layers.villages import PREFIX
from tests.tiles.conftest import make_client
from twin.cli import app
from twin.workspace import Twin

X0, Y0 = 480_000.0, 3_380_000.0
CODES = ["V1", "V2", "V3", "V4"]
NAMES = ["东村", None, "西村", " "]

SOURCES = """
[region]
name = "Villages"
crs = "EPSG:4549"

[sources.villages]
path = "sources/villages.gpkg"
[sources.indicators]
path = "sources/indicators.csv"
[sources.roads]
path = "sources/roads.geojson"
[sources.rsrp]
path = "sources/rsrp.tif"
"""

INPUTS = {
    "boundaries": ('{ boundaries = "villages" }', "{}"),
    "indicators": (
        '{ boundaries = "villages", indicators = "indicators" }',
        '{ tables = ["indicators"] }',
    ),
    "roads": ('{ boundaries = "villages", roads = "roads" }', "{}"),
    "coverage": ('{ boundaries = "villages", coverage = "rsrp" }', "{}"),
}


def _sources(src: Path) -> None:
    src.mkdir(parents=True)
    gpd.GeoDataFrame(
        {"village_code": CODES, "name": NAMES},
        geometry=[box(X0 + i * 1000, Y0, X0 + (i + 1) * 1000, Y0 + 1000) for i in range(4)],
        crs="EPSG:4549",
    ).to_file(src / "villages.gpkg")
    # V2 resolves least and has the most issues per person: it scores lowest, V4 next
    (src / "indicators.csv").write_text(
        "village_code,population,households,reported_issues,resolved_issues\n"
        "V1,1000,300,10,9\nV2,500,150,20,2\nV3,2000,600,10,8\nV4,800,250,8,4\n",
        encoding="utf-8",
    )
    # a primary road along y0+500 across V1..V3 (3 km), none in V4
    gpd.GeoDataFrame(
        {"u": [1, 2, 3], "v": [2, 3, 4], "length_m": [1000.0] * 3, "road_class": ["primary"] * 3},
        geometry=[
            LineString([(X0 + i * 1000, Y0 + 500), (X0 + (i + 1) * 1000, Y0 + 500)])
            for i in range(3)
        ],
        crs="EPSG:4549",
    ).to_file(src / "roads.geojson")
    # RSRP: covered (-90 dBm) west of x0+1500, -120 east of it
    cols = np.arange(40)
    rsrp = np.where(cols < 15, -90.0, -120.0)[None, :].repeat(10, axis=0).astype("float32")
    with rasterio.open(
        src / "rsrp.tif", "w", driver="GTiff", width=40, height=10, count=1, dtype="float32",
        crs="EPSG:4549", transform=from_origin(X0, Y0 + 1000, 100, 100), nodata=-9999,
    ) as dst:  # fmt: skip
        dst.write(rsrp, 1)


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("villages") / "sources"
    _sources(src)
    return src


def _built(tmp_path: Path, sources: Path, inputs: str) -> Twin:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "sources").symlink_to(sources)
    wiring, params = INPUTS[inputs]
    (root / "twin.toml").write_text(
        SOURCES
        + f'\n[layers.villages]\nbuilder = "villages"\ninputs = {wiring}\nparams = {params}\n',
        encoding="utf-8",
    )
    twin = Twin.open(root)
    twin.build()
    return twin


def _domains(gdf: gpd.GeoDataFrame) -> set[str]:
    return {d for d, p in PREFIX.items() if any(c.startswith(p + "_") for c in gdf.columns)}


def _no_nan_columns(gdf: gpd.GeoDataFrame) -> None:
    empty = [c for c in gdf.columns if c != "name" and gdf[c].isna().all()]
    assert empty == []


def test_boundaries_alone_build(tmp_path: Path, sources: Path) -> None:
    twin = _built(tmp_path, sources, "boundaries")
    v = twin.layer("villages")
    assert v["village_code"].tolist() == CODES and len(v) == 4
    assert _domains(v) == set()
    assert not [c for c in v.columns if c.startswith("score_") or c == "lagging"]
    _no_nan_columns(v)
    entry = twin.catalog.layers["villages"]
    assert entry.stats["domains"] == "" and entry.stats["villages"] == 4
    assert entry.style["property"] == "area_km2"
    assert "lowest_scoring" not in {f.name for f in twin.catalog.figures}


def test_boundaries_and_indicators(tmp_path: Path, sources: Path) -> None:
    twin = _built(tmp_path, sources, "indicators")
    v = twin.layer("villages").set_index("village_code")
    assert _domains(v) == {"governance"}
    assert v["gov_population"].tolist() == [1000, 500, 2000, 800]
    assert v["gov_resolution_rate"].tolist() == pytest.approx([0.9, 0.1, 0.8, 0.5])
    scores = [c for c in v.columns if c.startswith("score_")]
    assert sorted(scores) == ["score_governance", "score_total"]
    assert (v["score_total"] == v["score_governance"]).all()
    assert v["score_total"].idxmin() == "V2" and v.loc["V2", "lagging"] == "governance"
    _no_nan_columns(v)
    entry = twin.catalog.layers["villages"]
    assert entry.stats["domains"] == "governance" and entry.style["property"] == "score_total"


def test_boundaries_and_roads(tmp_path: Path, sources: Path) -> None:
    twin = _built(tmp_path, sources, "roads")
    v = twin.layer("villages").set_index("village_code")
    assert _domains(v) == {"infrastructure"}
    # 1 km in the working CRS; road km are measured on the ellipsoid (GK scale ~5e-6 here)
    assert v["inf_road_km"].tolist() == pytest.approx([1.0, 1.0, 1.0, 0.0], rel=1e-5)
    assert "inf_5g_share" not in v and "inf_smart_road_km" not in v
    assert {c for c in v.columns if c.startswith("score_")} == {
        "score_infrastructure",
        "score_total",
    }
    assert v.loc["V4", "score_infrastructure"] < v.loc["V1", "score_infrastructure"]
    _no_nan_columns(v)
    assert twin.catalog.layers["villages"].stats["domains"] == "infrastructure"


def test_boundaries_and_coverage(tmp_path: Path, sources: Path) -> None:
    twin = _built(tmp_path, sources, "coverage")
    v = twin.layer("villages").set_index("village_code")
    assert _domains(v) == {"infrastructure"}
    assert v["inf_5g_share"].tolist() == pytest.approx([1.0, 0.5, 0.0, 0.0])
    assert "inf_road_km" not in v
    _no_nan_columns(v)
    assert twin.catalog.layers["villages"].stats["domains"] == "infrastructure"


def test_villages_without_a_name_show_their_code(tmp_path: Path, sources: Path) -> None:
    twin = _built(tmp_path, sources, "indicators")
    res = CliRunner().invoke(app, ["-w", str(twin.root), "stats", "--json"])
    assert res.exit_code == 0, res.output
    figures = {f["name"]: f["value"] for f in json.loads(res.stdout)["figures"]}
    # the three lowest: V2 (no name), V4 (blank name), V3 (V1, 东村, scores best)
    assert figures["lowest_scoring"] == "V2, V4, 西村"
    table = CliRunner().invoke(app, ["-w", str(twin.root), "stats"])
    assert "V2, V4, 西村" in table.stdout and "nan" not in table.stdout.lower()
    # the viewer names a clicked feature by its name, else its code
    with make_client(twin.build_dir / "catalog.json") as client:
        page = client.get("/", headers={"Accept": "text/html"}).text
    config = json.loads(
        re.search(
            r'<script id="twin-config" type="application/json">(.*?)</script>', page, re.S
        ).group(1)
    )
    (layer,) = [item for item in config["layers"] if item["name"] == "villages"]
    assert layer["label"] == ["name", "village_code"]
    # the notebook map's tooltip, likewise
    (layer,) = twin.explore("villages").layers
    names = [f["properties"]["name"] for f in layer["data"]["features"]]
    assert sorted(names) == ["V2", "V4", "东村", "西村"]
