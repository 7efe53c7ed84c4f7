"""The ``roads`` builder through real workspace builds: Helsinki, a synthetic grid with zones."""

from __future__ import annotations

import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import Geod

from tests.layers.test_roads_topology import write_pbf
from tiles.catalog import read_catalog
from twin.builders import get_builder
from twin.errors import BuildError
from twin.workspace import Twin

HELSINKI = Path(__file__).resolve().parents[1] / "data" / "Helsinki.osm.pbf"

HELSINKI_TOML = """
[region]
name = "Helsinki centre"
crs = "EPSG:3067"

[sources.osm]
path = "sources/helsinki.osm.pbf"
attribution = "© OpenStreetMap contributors (ODbL)"

[layers.roads]
builder = "roads"
inputs = { osm = "osm" }
params = { network = "drive", consolidate_m = 8 }
"""


def test_helsinki_build_publishes_edges_and_nodes(tmp_path: Path) -> None:
    root = tmp_path / "hel"
    (root / "sources").mkdir(parents=True)
    shutil.copy(HELSINKI, root / "sources" / "helsinki.osm.pbf")
    (root / "twin.toml").write_text(HELSINKI_TOML, encoding="utf-8")
    twin = Twin.open(root)
    report = twin.build()
    assert set(report.built) >= {"roads"}
    cat = read_catalog(twin.catalog_path)
    roads, nodes = cat.layers["roads"], cat.layers["roads_nodes"]
    assert roads.geometry_type == "LineString" and nodes.geometry_type == "Point"
    assert roads.version == nodes.version
    edges = twin.layer("roads")
    assert isinstance(edges, gpd.GeoDataFrame) and edges.crs.to_epsg() == 3067
    assert roads.count == len(edges)
    assert roads.stats["length_km"] == pytest.approx(edges["length_m"].sum() / 1000, abs=1e-3)
    by_class = {k[3:]: v for k, v in roads.stats.items() if k.startswith("km_")}
    assert sum(by_class.values()) == pytest.approx(roads.stats["length_km"], rel=1e-3)
    assert roads.stats["missing_nodes"] > 0  # the extract is clipped
    node_ids = set(twin.layer("roads_nodes")["node_id"])
    assert set(edges["u"]) | set(edges["v"]) <= node_ids
    road_km = twin.stats().loc["road_km"]
    # the figure is rounded to 0.1 km (24.05 shows as 24.1)
    assert road_km["value"] == pytest.approx(roads.stats["length_km"], abs=0.0501)
    assert road_km["unit"] == "km" and road_km["layer"] == "roads"
    # a second build is a no-op (same fingerprint)
    again = twin.build()
    assert "roads" not in again.built


LON0, LAT0, STEP = 120.0, 30.5, 0.001


def _length(geod: Geod, points: list[tuple[float, float]]) -> float:
    return float(geod.line_length([p[0] for p in points], [p[1] for p in points]))


def _synthetic(root: Path) -> dict[int, tuple[float, float]]:
    """A 5 x 5 grid of residential streets with one primary road across it."""
    nodes = {j * 10 + i + 1: (LON0 + i * STEP, LAT0 + j * STEP) for i in range(5) for j in range(5)}
    ways = []
    for j in range(5):
        tags = {"highway": "primary" if j == 2 else "residential", "maxspeed": "CN:urban"}
        ways.append((100 + j, [j * 10 + i + 1 for i in range(5)], tags))
    for i in range(5):
        ways.append((200 + i, [j * 10 + i + 1 for j in range(5)], {"highway": "residential"}))
    ways.append((300, [1, 2], {"highway": "footway"}))
    write_pbf(root / "sources" / "roads.osm.pbf", nodes, ways)
    return nodes


GRID_TOML = """
[region]
name = "Grid"
crs = "EPSG:4549"

[sources.osm]
path = "sources/roads.osm.pbf"
synthetic = true

[sources.villages]
path = "sources/villages.geojson"

[layers.roads]
builder = "roads"
inputs = { osm = "osm", zones = "villages" }
params = { network = "drive", zone_id = "village" }
"""


def grid_workspace(root: Path) -> dict:
    """The street grid with two zones split between columns 2 and 3 (WGS84), and its twin.toml."""
    (root / "sources").mkdir(parents=True)
    nodes = _synthetic(root)
    mid = LON0 + 2.5 * STEP
    west = shapely.box(LON0 - STEP, LAT0 - STEP, mid, LAT0 + 5 * STEP)
    east = shapely.box(mid, LAT0 - STEP, LON0 + 5 * STEP, LAT0 + 5 * STEP)
    gpd.GeoDataFrame({"village": ["W", "E"]}, geometry=[west, east], crs=4326).to_file(
        root / "sources" / "villages.geojson", driver="GeoJSON"
    )
    (root / "twin.toml").write_text(GRID_TOML, encoding="utf-8")
    return nodes


def test_synthetic_build_with_zones(tmp_path: Path) -> None:
    root = tmp_path / "syn"
    nodes = grid_workspace(root)
    twin = Twin.open(root)
    twin.build()
    edges = twin.layer("roads")
    assert "footway" not in set(edges["road_class"])
    geod = Geod(ellps="WGS84")
    row = [nodes[k] for k in range(1, 6)]
    col = [nodes[k] for k in range(1, 51, 10)]
    want = 5 * _length(geod, row) + 5 * _length(geod, col)
    assert edges["length_m"].sum() == pytest.approx(want, rel=1e-3)
    # rows carry maxspeed=CN:urban (50); columns have none and take their class's mean (50)
    assert (edges["maxspeed"] == 50).sum() == 5 * 4
    assert edges["maxspeed"].isna().sum() == 5 * 4
    np.testing.assert_allclose(edges["speed_kph"], 50.0)
    zones = twin.layer("roads_zones")
    z = zones.set_index("village")
    col_m = _length(geod, col)
    seg_m = _length(geod, row[:2])  # one east-west block
    assert z.loc["W", "road_km"] == pytest.approx((3 * col_m + 5 * 2.5 * seg_m) / 1000, rel=1e-3)
    assert z.loc["E", "road_km"] == pytest.approx((2 * col_m + 5 * 1.5 * seg_m) / 1000, rel=1e-3)
    assert z.loc["W", "km_primary"] == pytest.approx(2.5 * seg_m / 1000, rel=1e-3)
    assert (z["density_km_per_km2"] > 0).all()


def test_corrupt_pbf_fails_the_build_and_publishes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "bad"
    (root / "sources").mkdir(parents=True)
    data = HELSINKI.read_bytes()
    (root / "sources" / "helsinki.osm.pbf").write_bytes(data[: len(data) // 3])
    (root / "twin.toml").write_text(HELSINKI_TOML, encoding="utf-8")
    twin = Twin.open(root)
    with pytest.raises(BuildError, match=r"helsinki\.osm\.pbf"):
        twin.build()
    assert "roads" not in twin.catalog.layers


def test_builder_is_registered_with_its_contract() -> None:
    builder = get_builder("roads")
    assert builder is not None
    assert builder.inputs == ("osm",) and builder.optional_inputs == ("zones",)
    params = builder.params.model_validate({"network": "walk", "consolidate_m": 5})
    assert params.network == "walk"
    with pytest.raises(ValueError):
        builder.params.model_validate({"network": "boat"})
    with pytest.raises(ValueError):
        builder.params.model_validate({"consolidate_m": 0})
    assert np.isfinite(params.snap_m)


def test_line_source_clipped_to_the_region(tmp_path: Path) -> None:
    root = tmp_path / "lines"
    (root / "sources").mkdir(parents=True)
    x0, y0 = 500_000.0, 3_375_000.0
    lines = [
        shapely.LineString([(x0, y0), (x0 + 2000, y0)]),
        shapely.LineString([(x0 + 500, y0 - 500), (x0 + 500, y0 + 500)]),
    ]
    gpd.GeoDataFrame(
        {"GRADE": ["省道", "村道"], "NAME": ["S201", None]}, geometry=lines, crs="EPSG:4549"
    ).to_file(root / "sources" / "bureau.gpkg", engine="pyogrio")
    county = shapely.box(x0 - 100, y0 - 1000, x0 + 1000, y0 + 1000)  # cuts the S201 at 1 km
    gpd.GeoDataFrame({"name": ["C"]}, geometry=[county], crs="EPSG:4549").to_file(
        root / "sources" / "county.gpkg", engine="pyogrio"
    )
    (root / "twin.toml").write_text(
        """
[region]
name = "Lines"
crs = "EPSG:4549"
boundary = "county"

[sources.county]
path = "sources/county.gpkg"

[sources.bureau]
path = "sources/bureau.gpkg"

[layers.roads]
builder = "roads"
inputs = { osm = "bureau" }
params = { clip_to_region = true, columns = { road_class = "GRADE", name = "NAME" } }
""",
        encoding="utf-8",
    )
    twin = Twin.open(root)
    twin.build()
    edges = twin.layer("roads")
    assert set(edges["road_class"]) == {"primary", "unclassified"}
    # lines are cut exactly at the boundary; the two roads cross without a shared vertex,
    # so they do not meet (a bridge, as in OSM)
    assert edges.geometry.within(county.buffer(1e-6)).all()
    primary = edges[edges["road_class"] == "primary"]
    assert primary["length_m"].sum() == pytest.approx(1000.0)
    assert edges.loc[edges["road_class"] == "unclassified", "length_m"].sum() == pytest.approx(
        1000.0
    )
    assert edges["component"].nunique() == 2
    assert twin.stats().loc["road_density", "value"] == pytest.approx(
        2.0 / (county.area / 1e6), rel=1e-3
    )


def test_line_shapefile_read_with_its_declared_encoding(tmp_path: Path) -> None:
    """A bureau's Big5 shapefile without a .cpg: the source's ``encoding`` decodes it."""
    root = tmp_path / "big5"
    (root / "sources").mkdir(parents=True)
    x0, y0 = 500_000.0, 3_375_000.0
    lines = [
        shapely.LineString([(x0, y0), (x0 + 1000, y0)]),
        shapely.LineString([(x0, y0 + 500), (x0 + 1000, y0 + 500)]),
    ]
    shp = root / "sources" / "bureau.shp"
    gpd.GeoDataFrame(
        {"GRADE": ["省道", "村道"], "NAME": ["中山路", "後村路"]}, geometry=lines, crs="EPSG:4549"
    ).to_file(shp, engine="pyogrio", encoding="big5")
    shp.with_suffix(".cpg").unlink(missing_ok=True)
    (root / "twin.toml").write_text(
        """
[region]
name = "Big5"
crs = "EPSG:4549"

[sources.bureau]
path = "sources/bureau.shp"
encoding = "big5"

[layers.roads]
builder = "roads"
inputs = { osm = "bureau" }
params = { columns = { road_class = "GRADE", name = "NAME" } }
""",
        encoding="utf-8",
    )
    Twin.open(root).build()
    edges = Twin.open(root).layer("roads").sort_values("name")
    assert edges["name"].tolist() == ["中山路", "後村路"]
    assert edges["road_class"].tolist() == ["primary", "unclassified"]
