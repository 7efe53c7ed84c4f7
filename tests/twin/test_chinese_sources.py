"""A county's own files through the CLI: GBK text, GCJ-02 coordinates, Chinese headers."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from shapely.geometry import Point

from layers.chinacrs import wgs84_to_gcj02
from tests.twin.conftest import X0, Y0
from tests.twin.test_cli import invoke

NAMES = ["吴兴区", "德清县", "武康街道"]


def _add(ws: Path, toml: str) -> None:
    with (ws / "twin.toml").open("a", encoding="utf-8") as fh:
        fh.write(toml)


def _data(ws: Path, layer: str) -> gpd.GeoDataFrame:
    catalog = json.loads((ws / "build" / "catalog.json").read_text("utf-8"))
    return gpd.read_parquet(ws / "build" / catalog["layers"][layer]["artifacts"]["data"])


def _gbk_towns(ws: Path) -> None:
    pts = gpd.GeoSeries([Point(X0 + 500 + i * 1000, Y0 + 500) for i in range(3)], crs="EPSG:4549")
    gdf = gpd.GeoDataFrame({"name": NAMES, "town_code": ["001", "002", "003"]}, geometry=pts)
    pyogrio.write_dataframe(gdf.to_crs(4326), ws / "sources" / "towns.shp", encoding="GBK")
    (ws / "sources" / "towns.cpg").unlink()  # as Windows desktop GIS writes them


TOWNS = """
[sources.towns]
path = "sources/towns.shp"
{extra}
[layers.towns]
builder = "vector"
inputs = {{ source = "towns" }}
params = {{ id = "town_code" }}
"""


def test_gbk_shapefile_without_cpg_builds_right_names_with_a_warning(workspace: Path) -> None:
    _gbk_towns(workspace)
    _add(workspace, TOWNS.format(extra=""))
    res = invoke("build", "--json", cwd=workspace)
    assert res.exit_code == 0, res.output
    assert _data(workspace, "towns")["name"].tolist() == NAMES
    assert _data(workspace, "towns")["town_code"].tolist() == ["001", "002", "003"]
    warnings = json.loads(res.stdout)["warnings"]["towns"]
    assert len(warnings) == 1
    assert (
        "towns.shp: text is not UTF-8 and no encoding is declared (.cpg); read as GB18030"
        in (warnings[0])
    )
    assert 'set encoding = "GBK" on the source' in warnings[0]


def test_declared_encoding_builds_without_a_warning(workspace: Path) -> None:
    _gbk_towns(workspace)
    _add(workspace, TOWNS.format(extra='encoding = "GBK"'))
    res = invoke("build", cwd=workspace)
    assert res.exit_code == 0, res.output
    assert "warning" not in res.stderr
    assert _data(workspace, "towns")["name"].tolist() == NAMES
    # declaring it changes how the source is read: the layer is rebuilt
    text = (workspace / "twin.toml").read_text("utf-8").replace('"GBK"', '"GB18030"')
    (workspace / "twin.toml").write_text(text, "utf-8")
    res = invoke("build", "towns", "--json", cwd=workspace)
    assert "towns" in json.loads(res.stdout)["built"]


def test_unknown_encoding_is_a_config_error(workspace: Path) -> None:
    _gbk_towns(workspace)
    _add(workspace, TOWNS.format(extra='encoding = "GBKK"'))
    res = invoke("validate", cwd=workspace)
    assert res.exit_code != 0
    errors = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(errors) == 1
    assert "sources.towns.encoding: 'GBKK' is not a text encoding" in errors[0]


def test_undecodable_csv_says_the_same_in_validate_and_build(workspace: Path) -> None:
    (workspace / "sources" / "points.csv").write_bytes(
        b"id,lon,lat,kind\n1,119.9,30.5," + b"\xff\xfe\x80\x80\n"
    )
    build = invoke("build", "points", cwd=workspace)
    assert build.exit_code == 1
    validate = invoke("validate", cwd=workspace)
    assert validate.exit_code == 1
    message = "points.csv: text is neither UTF-8 nor GB18030 and no encoding is declared"
    (line,) = [ln for ln in build.stderr.splitlines() if "twin: error:" in ln]
    (problem,) = [ln for ln in validate.stderr.splitlines() if "points.csv" in ln]
    assert message in line and message in problem
    assert problem.endswith(line[line.index(str(workspace)) :])
    assert 'set encoding = "..." on the source' in problem


def test_chinese_headers_and_codes_keep_their_zeros(workspace: Path) -> None:
    pts = gpd.GeoSeries([Point(X0 + 500, Y0 + 500), Point(X0 + 1500, Y0 + 800)], crs=4549)
    ll = pts.to_crs(4326)
    rows = [f"00{123 + i},33052100{i + 1},村{i},{p.x:.8f},{p.y:.8f}\n" for i, p in enumerate(ll)]
    (workspace / "sources" / "villages.csv").write_bytes(
        ("id,行政区划代码,名称,经度(°),纬度(°)\n" + "".join(rows)).encode("gbk")
    )
    _add(
        workspace,
        """
[sources.villages]
path = "sources/villages.csv"
encoding = "GBK"

[layers.village_points]
builder = "vector"
inputs = { source = "villages" }
params = { id = "id" }
""",
    )
    res = invoke("build", "village_points", cwd=workspace)
    assert res.exit_code == 0, res.output
    gdf = _data(workspace, "village_points")
    assert gdf["id"].tolist() == ["00123", "00124"]
    assert gdf["行政区划代码"].tolist() == ["330521001", "330521002"]
    assert gdf["名称"].tolist() == ["村0", "村1"]
    assert gdf.geometry.distance(pts.reset_index(drop=True)).max() < 0.01


def test_excel_sheet_of_points_builds(workspace: Path) -> None:
    path = workspace / "sources" / "sites.xlsx"
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame({"说明": ["站点表"]}).to_excel(writer, sheet_name="readme", index=False)
        pd.DataFrame(
            {"site_id": ["0001", "0002"], "E": [X0 + 100.0, X0 + 900.0], "N": [Y0 + 10, Y0 + 20]}
        ).to_excel(writer, sheet_name="sites", index=False)
    _add(
        workspace,
        """
[sources.sites]
path = "sources/sites.xlsx"
layer = "sites"
crs = "EPSG:4549"
x = "E"
y = "N"

[layers.sites]
builder = "vector"
inputs = { source = "sites" }
params = { id = "site_id" }
""",
    )
    assert invoke("validate", cwd=workspace).exit_code == 0
    res = invoke("build", "sites", cwd=workspace)
    assert res.exit_code == 0, res.output
    gdf = _data(workspace, "sites")
    assert gdf["site_id"].tolist() == ["0001", "0002"]
    assert [(p.x, p.y) for p in gdf.geometry] == [(X0 + 100, Y0 + 10), (X0 + 900, Y0 + 20)]


GCJ = """
[sources.shifted]
path = "sources/shifted.geojson"
crs = "gcj02"

[layers.shifted]
builder = "vector"
inputs = { source = "shifted" }
"""


def _gcj_source(ws: Path) -> gpd.GeoSeries:
    """Points from a Chinese web map: GCJ-02 of known positions; returns the true ones."""
    truth = gpd.GeoSeries(
        [Point(X0 + 300 + 700 * i, Y0 + 400 + 500 * i) for i in range(4)], crs="EPSG:4549"
    )
    ll = truth.to_crs(4326)
    lon, lat = wgs84_to_gcj02(ll.x.to_numpy(), ll.y.to_numpy())
    shifted = gpd.GeoDataFrame({"n": range(4)}, geometry=gpd.points_from_xy(lon, lat), crs=4326)
    shifted.to_file(ws / "sources" / "shifted.geojson")
    return truth


def test_gcj02_source_builds_at_wgs84_positions(workspace: Path) -> None:
    truth = _gcj_source(workspace)
    _add(workspace, GCJ)
    res = invoke("build", "shifted", cwd=workspace)
    assert res.exit_code == 0, res.output
    gdf = _data(workspace, "shifted")
    assert gdf.crs.to_epsg() == 4549
    assert gdf.geometry.distance(truth).max() < 0.01  # metres, in the working CRS
    # read as WGS84 they would have landed hundreds of metres off
    naive = gpd.read_file(workspace / "sources" / "shifted.geojson").to_crs(4549)
    assert naive.geometry.distance(truth).min() > 300


def test_export_in_gcj02_for_chinese_basemaps(workspace: Path, tmp_path: Path) -> None:
    truth = _gcj_source(workspace)
    _add(workspace, GCJ)
    assert invoke("build", "shifted", cwd=workspace).exit_code == 0
    for fmt in ("geojson", "gpkg"):
        out = tmp_path / f"shifted.{fmt}"
        res = invoke(
            "export", "shifted", "-f", fmt, "--crs", "GCJ-02", "-o", str(out), cwd=workspace
        )
        assert res.exit_code == 0, res.output
        back = gpd.read_file(out)
        assert back.crs.to_epsg() == 4326
        source = gpd.read_file(workspace / "sources" / "shifted.geojson")
        assert np.allclose(back.geometry.x, source.geometry.x, atol=1e-7)  # ~1 cm
        assert np.allclose(back.geometry.y, source.geometry.y, atol=1e-7)
    out = tmp_path / "cgcs.gpkg"
    res = invoke(
        "export", "shifted", "-f", "gpkg", "--crs", "EPSG:4490", "-o", str(out), cwd=workspace
    )
    assert res.exit_code == 0, res.output
    assert gpd.read_file(out).crs.to_epsg() == 4490
    assert gpd.read_file(out).to_crs(4549).geometry.distance(truth).max() < 0.01
    res = invoke("export", "shifted", "-f", "pmtiles", "--crs", "GCJ-02", cwd=workspace)
    assert res.exit_code == 1
    assert "--crs" in res.stderr and not (workspace / "shifted.pmtiles").exists()


def test_shifted_crs_on_a_raster_is_refused_in_one_line(workspace: Path) -> None:
    text = (workspace / "twin.toml").read_text("utf-8")
    text = text.replace('path = "sources/dem.tif"', 'path = "sources/dem.tif"\ncrs = "BD-09"')
    (workspace / "twin.toml").write_text(text, "utf-8")
    build = invoke("build", "dem", cwd=workspace)
    assert build.exit_code == 1
    (line,) = [ln for ln in build.stderr.splitlines() if ln.strip()]
    assert "sources.dem: crs = 'BD-09' is supported for vector sources only" in line
    validate = invoke("validate", cwd=workspace)
    assert "sources.dem: crs = 'BD-09' is supported for vector sources only" in validate.stderr


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (
            ('params = { id = "id" }', 'params = { id = "ID" }'),
            "layers.points.params.id: source 'points' has no column 'ID'",
        ),
        (
            ('path = "sources/points.csv"', 'path = "sources/points.csv"\nx = "lng"'),
            "points.csv: no column 'lng' for x (longitude)",
        ),
        (
            ('path = "sources/points.csv"', 'path = "sources/points.csv"\ny = "纬度"'),
            "points.csv: no column '纬度' for y (latitude)",
        ),
        (
            ('params = { id = "code" }', 'params = { id = "code", columns = ["name", "code"] }'),
            "layers.zones.params.columns: source 'zones' has no column 'name'",
        ),
        (
            ('params = { id = "code" }', 'params = { id = "code", rename = { code = "c" } }'),
            "layers.zones.params.id: source 'zones' has no column 'code'",
        ),
    ],
)
def test_validate_reports_missing_columns(
    workspace: Path, edit: tuple[str, str], problem: str
) -> None:
    assert invoke("validate", cwd=workspace).exit_code == 0
    text = (workspace / "twin.toml").read_text("utf-8")
    assert edit[0] in text
    (workspace / "twin.toml").write_text(text.replace(edit[0], edit[1], 1), "utf-8")
    res = invoke("validate", cwd=workspace)
    assert res.exit_code == 1
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and problem in lines[0]
