"""The synthetic demo county: determinism, shapes, counts and the road network read back.

Most checks use a generation at 100 m (the DEM is the only file the
resolution changes); the DEM checks use the default 20 m generation, made once.
"""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path

import geopandas as gpd
import numpy as np
import osmium
import osmium.io
import pandas as pd
import pyogrio
import pytest
import rasterio
import shapely
from pyproj import Transformer

from layers.coverage.clutter import DEFAULT_CLUTTER
from twin.builders import get_builder
from twin.config import dump_config, parse_config
from twin.demo import DEFAULT_SEED, GENERATOR_VERSION, demo_config, generate_sources
from twin.errors import TwinError

DEQING = (119.76, 30.43, 120.34, 30.69)
FILES = {
    "README.md",
    "cell_sites.csv",
    "county.gpkg",
    "dem.tif",
    "drive_test.csv",
    "enterprises.csv",
    "facilities.csv",
    "landcover.gpkg",
    "buildings.gpkg",
    "roads.osm.pbf",
    "townships.gpkg",
    "village_indicators.csv",
    "villages.gpkg",
    "water.gpkg",
}
HIGHWAYS = {
    "motorway",
    "motorway_link",
    "trunk",
    "primary",
    "secondary",
    "tertiary",
    "unclassified",
    "residential",
}
TO_WORK = Transformer.from_crs("EPSG:4326", "EPSG:4549", always_xy=True)


def _hashes(root: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted((root / "sources").iterdir())
    }


@pytest.fixture(scope="module")
def coarse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("coarse")
    generate_sources(root, resolution=100)
    return root


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("full")
    paths = generate_sources(root)
    assert all(p.exists() for p in paths.values())
    return root


@pytest.fixture(scope="module")
def src(coarse: Path) -> Path:
    return coarse / "sources"


@pytest.fixture(scope="module")
def county(src: Path) -> shapely.Polygon:
    gdf = gpd.read_file(src / "county.gpkg", layer="county")
    assert gdf.crs.to_epsg() == 4549
    assert len(gdf) == 1
    return gdf.geometry.iloc[0]


@pytest.fixture(scope="module")
def villages(src: Path) -> gpd.GeoDataFrame:
    return gpd.read_file(src / "villages.gpkg", layer="villages")


def _work_points(df: pd.DataFrame) -> np.ndarray:
    x, y = TO_WORK.transform(df["lon"].to_numpy(), df["lat"].to_numpy())
    return np.column_stack([x, y])


def _all_inside(county: shapely.Polygon, df: pd.DataFrame) -> bool:
    xy = _work_points(df)
    return bool(shapely.contains_xy(county, xy[:, 0], xy[:, 1]).all())


# -- determinism --------------------------------------------------------------------------


def test_same_seed_gives_identical_files(coarse: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    paths = generate_sources(again, resolution=100)
    first, second = _hashes(coarse), _hashes(again)
    assert set(first) == FILES
    assert first == second
    # Regenerating over existing files (what `twin demo` does to a workspace) too.
    generate_sources(again, resolution=100)
    assert _hashes(again) == first
    assert {p.name for p in paths.values()} <= FILES


def test_other_seed_changes_every_file(coarse: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    generate_sources(other, seed=DEFAULT_SEED + 1, resolution=100)
    first, second = _hashes(coarse), _hashes(other)
    assert [name for name in FILES if first[name] == second[name]] == []
    # Another county altogether, with the same invariants.
    county = gpd.read_file(other / "sources" / "county.gpkg").geometry.iloc[0]
    villages = gpd.read_file(other / "sources" / "villages.gpkg")
    towns = gpd.read_file(other / "sources" / "townships.gpkg")
    assert 900e6 <= county.area <= 1000e6 and len(villages) == 137 and len(towns) == 13
    union = shapely.union_all(villages.geometry.to_numpy())
    assert shapely.symmetric_difference(union, county).area < 1.0


def test_resolution_changes_only_the_dem(coarse: Path, full: Path) -> None:
    a, b = _hashes(coarse), _hashes(full)
    # the drive test is the model's RSRP on that DEM plus the hidden offsets and shadowing
    changed = {name for name in FILES if a[name] != b[name]}
    assert changed == {"dem.tif", "README.md", "drive_test.csv"}


def test_drive_test(src: Path, county: shapely.Polygon) -> None:
    drive = pd.read_csv(src / "drive_test.csv")
    cells = pd.read_csv(src / "cell_sites.csv")
    # only the measurements: no model value, offset or shadowing column leaks the truth
    assert list(drive.columns) == ["lon", "lat", "ss_rsrp", "cell_id", "timestamp"]
    assert 2500 <= len(drive) <= 3000
    assert drive["ss_rsrp"].between(-140, -30).all()
    assert set(drive["cell_id"]) <= set(cells["cell_id"]) and drive["cell_id"].nunique() > 50
    x, y = TO_WORK.transform(drive["lon"].to_numpy(), drive["lat"].to_numpy())
    inside = shapely.contains_xy(county.buffer(100), x, y)
    assert inside.mean() > 0.99
    t = pd.to_datetime(drive["timestamp"])
    assert t.is_monotonic_increasing
    # 25 m a second along a road: consecutive points of a route are one step apart
    step = np.hypot(np.diff(x), np.diff(y))
    assert np.median(step) == pytest.approx(25, abs=1)


def test_bad_resolution_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TwinError, match="resolution"):
        generate_sources(tmp_path, resolution=0)


# -- boundaries ---------------------------------------------------------------------------


def test_county_area_and_extent(county: shapely.Polygon) -> None:
    assert county.is_valid and county.geom_type == "Polygon"
    assert 900e6 <= county.area <= 1000e6
    lonlat = gpd.GeoSeries([county], crs=4549).to_crs(4326).total_bounds
    w, s, e, n = DEQING
    assert lonlat[0] >= w and lonlat[1] >= s and lonlat[2] <= e and lonlat[3] <= n
    # Irregular, not a box or an ellipse: the outline is far from convex.
    assert county.convex_hull.area - county.area > 10e6


def test_villages_tile_the_county(county: shapely.Polygon, villages: gpd.GeoDataFrame) -> None:
    assert len(villages) == 137
    assert villages.crs.to_epsg() == 4549
    assert villages["village_code"].is_unique
    assert villages.geometry.is_valid.all()
    assert (villages.geom_type == "Polygon").all()
    assert villages.geometry.covered_by(county.buffer(0.01)).all()
    union = shapely.union_all(villages.geometry.to_numpy())
    assert abs(union.area - county.area) < 1.0
    assert shapely.symmetric_difference(union, county).area < 1.0
    geoms = villages.geometry.to_numpy()
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    pairs = left < right
    overlaps = shapely.area(shapely.intersection(geoms[left[pairs]], geoms[right[pairs]]))
    assert pairs.sum() > 137  # neighbours touch ...
    assert overlaps.max() < 1.0  # ... but do not overlap
    assert abs(villages.geometry.area.sum() - county.area) < 1.0


def test_village_codes_and_townships(src: Path, villages: gpd.GeoDataFrame) -> None:
    towns = gpd.read_file(src / "townships.gpkg", layer="townships")
    assert len(towns) == 13
    assert towns["town_code"].is_unique and towns["name"].is_unique
    assert towns["name"].str.endswith(("镇", "街道")).all()
    assert towns["town_code"].str.fullmatch(r"330521\d{3}").all()
    assert villages["village_code"].str.fullmatch(r"330521\d{6}").all()
    assert (villages["village_code"].str[:9] == villages["town_code"]).all()
    assert villages["name"].str.endswith("村").all() and villages["name"].is_unique
    names = dict(zip(towns["town_code"], towns["name"], strict=True))
    assert (villages["town_name"] == villages["town_code"].map(names)).all()
    for _, town in towns.iterrows():
        members = villages[villages["town_code"] == town["town_code"]]
        assert len(members) >= 3
        union = shapely.union_all(members.geometry.to_numpy())
        assert shapely.symmetric_difference(union, town.geometry).area < 1.0
        assert town.geometry.geom_type == "Polygon"  # contiguous
        assert town["villages"] == len(members)


def test_water_is_consistent_with_the_dem(src: Path) -> None:
    water = gpd.read_file(src / "water.gpkg", layer="water")
    canals = gpd.read_file(src / "water.gpkg", layer="canals")
    assert {"lake", "canal"} <= set(water["kind"])
    assert len(canals) == (water["kind"] != "lake").sum()
    lakes = water[water["kind"] == "lake"]
    inner = lakes.geometry.buffer(-150)
    pts = inner[~inner.is_empty].representative_point()
    with rasterio.open(src / "dem.tif") as dem:
        values = np.array([v[0] for v in dem.sample([(p.x, p.y) for p in pts])])
    assert len(values) >= 3 and (values < 2.0).all()


def test_landcover_tiles_the_county_and_its_water_is_the_lakes(src: Path) -> None:
    county = gpd.read_file(src / "county.gpkg").geometry[0]
    cover = gpd.read_file(src / "landcover.gpkg", layer="landcover")
    assert cover["landcover_id"].is_unique and cover.geometry.is_valid.all()
    assert set(cover["class"]) == {"water", "dense_urban", "urban", "village", "forest", "farmland"}
    # every class is known to the coverage model's table
    assert set(cover["class"]) <= set(DEFAULT_CLUTTER)
    union = shapely.union_all(cover.geometry.to_numpy())
    assert shapely.symmetric_difference(union, county).area < 1e-6 * county.area
    assert cover.area.sum() == pytest.approx(county.area, rel=1e-6)  # no overlaps
    water = gpd.read_file(src / "water.gpkg", layer="water")
    wet = shapely.union_all(water.geometry.to_numpy()).intersection(county)
    lc_wet = shapely.union_all(cover.geometry[cover["class"] == "water"].to_numpy())
    assert shapely.symmetric_difference(wet, lc_wet).area < 1e-4 * wet.area
    # the forest is the western hills: high ground, west of the plain's towns
    area = cover.assign(a=cover.area).groupby("class")["a"].sum() / county.area
    assert 0.15 < area["forest"] < 0.5 and area["farmland"] > 0.4
    x0, _, x1, _ = county.bounds
    forest_x = cover[cover["class"] == "forest"].dissolve().centroid.x.iloc[0]
    assert forest_x < x0 + 0.4 * (x1 - x0)
    with rasterio.open(src / "dem.tif") as dem:
        pts = cover[cover["class"] == "forest"].representative_point()
        heights = np.array([v[0] for v in dem.sample([(p.x, p.y) for p in pts])])
    assert np.median(heights) > 30


# -- DEM ----------------------------------------------------------------------------------


def test_dem_at_default_resolution(full: Path) -> None:
    county = gpd.read_file(full / "sources" / "county.gpkg").geometry.iloc[0]
    with rasterio.open(full / "sources" / "dem.tif") as dem:
        assert dem.crs.to_epsg() == 4549
        assert dem.res == (20.0, 20.0)
        assert dem.dtypes[0] == "float32" and dem.nodata == -9999
        assert dem.tags()["SYNTHETIC"] == "yes"
        assert dem.profile["tiled"] and dem.block_shapes[0] == (256, 256)
        left, bottom, right, top = dem.bounds
        cx0, cy0, cx1, cy1 = county.bounds
        assert min(cx0 - left, cy0 - bottom, right - cx1, top - cy1) >= 1900
        z = dem.read(1)
        xs = dem.xy(0, np.arange(dem.width))[0]
    assert (z != -9999).all() and np.isfinite(z).all()
    mid = (cx0 + cx1) / 2
    west, east = z[:, np.asarray(xs) < mid], z[:, np.asarray(xs) >= mid]
    assert 600 <= west.max() <= 750
    assert np.median(east) < 12 and east.min() >= 0
    assert np.percentile(east, 95) < 15


# -- points and tables --------------------------------------------------------------------


def test_cell_sites(src: Path, county: shapely.Polygon) -> None:
    cells = pd.read_csv(src / "cell_sites.csv")
    assert list(cells.columns) == [
        "site_id",
        "cell_id",
        "lon",
        "lat",
        "height_m",
        "azimuth_deg",
        "downtilt_deg",
        "band",
        "freq_mhz",
        "bandwidth_mhz",
        "tx_power_dbm",
        "scenario",
    ]
    assert cells["cell_id"].is_unique
    per_site = cells.groupby("site_id")
    assert 230 <= per_site.ngroups <= 270
    assert (per_site.size() == 3).all()
    assert (per_site[["lon", "lat", "band", "height_m"]].nunique() == 1).all().all()
    for _, site in per_site:
        az = np.sort(site["azimuth_deg"].to_numpy())
        gaps = np.diff(np.r_[az, az[0] + 360])
        assert np.all(np.abs(gaps - 120) <= 25)
    assert cells["height_m"].between(25, 45).all()
    assert cells["downtilt_deg"].between(2, 10).all()
    assert cells["azimuth_deg"].between(0, 360, inclusive="left").all()
    combos = set(
        map(
            tuple,
            cells[["band", "freq_mhz", "bandwidth_mhz", "tx_power_dbm", "scenario"]]
            .drop_duplicates()
            .to_numpy()
            .tolist(),
        )
    )
    assert combos == {("n78", 3500, 100, 53.0, "UMa"), ("n28", 700, 20, 49.0, "RMa")}
    assert _all_inside(county, cells)
    # Towns are denser: n78 sites sit closer to their nearest neighbour than n28 sites.
    sites = per_site.first()
    xy = _work_points(sites)
    d = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
    np.fill_diagonal(d, np.inf)
    nearest = d.min(axis=1)
    town = (sites["band"] == "n78").to_numpy()
    assert np.median(nearest[town]) * 2 < np.median(nearest[~town])
    # Sparse in the hills, but present.
    with rasterio.open(src / "dem.tif") as dem:
        elev = np.array([v[0] for v in dem.sample(map(tuple, xy))])
    assert 3 <= (elev > 100).sum() < len(elev) / 3


def test_enterprises(src: Path, county: shapely.Polygon) -> None:
    firms = pd.read_csv(src / "enterprises.csv", keep_default_na=False)
    assert 13_500 <= len(firms) <= 14_500
    assert firms["enterprise_id"].is_unique
    assert set(firms["industry"]) == {
        "manufacturing",
        "agriculture",
        "tourism",
        "retail",
        "services",
        "logistics",
        "tech",
    }
    assert (firms["revenue_10k_cny"] > 0).all() and (firms["employees"] >= 1).all()
    assert _all_inside(county, firms)
    stays = firms[firms["subtype"] == "homestay"]
    assert len(stays) >= 200 and (stays["industry"] == "tourism").all()
    x0, _, x1, _ = county.bounds
    stay_x = _work_points(stays)[:, 0]
    assert np.quantile(stay_x, 0.9) < x0 + 0.5 * (x1 - x0)  # in the western hills
    # Clustered: the busiest tenth of occupied 1 km cells holds far more than a tenth.
    xy = _work_points(firms)
    cells = pd.Series(list(zip(*(np.floor(xy / 1000).astype(int).T), strict=True)))
    counts = cells.value_counts().to_numpy()
    top = counts[: max(1, len(counts) // 10)].sum()
    assert top / len(firms) > 0.4


def test_facilities(src: Path, county: shapely.Polygon) -> None:
    fac = pd.read_csv(src / "facilities.csv")
    assert list(fac.columns) == ["facility_id", "name", "type", "lon", "lat"]
    assert 200 <= len(fac) <= 800
    assert fac["facility_id"].is_unique
    assert set(fac["type"]) == {"clinic", "school", "elderly_care", "bus_stop"}
    assert _all_inside(county, fac)


def test_village_indicators(src: Path, villages: gpd.GeoDataFrame) -> None:
    monthly = pd.read_csv(src / "village_indicators.csv", dtype={"village_code": str})
    months = ["2025-12", *(f"2026-{m:02d}" for m in range(1, 12))]
    assert monthly["period"].unique().tolist() == months
    # one row per village and month, but one village's June is missing (the data gap)
    per_month = monthly.groupby("period")["village_code"].nunique()
    assert per_month.drop("2026-06").eq(len(villages)).all() and per_month["2026-06"] == 137 - 1
    assert not monthly.duplicated(["village_code", "period"]).any()
    assert (monthly.drop(columns=["village_code", "period"]) >= 0).all().all()
    assert (monthly["resolved_issues"] <= monthly["reported_issues"]).all()
    assert monthly["fibre_coverage"].between(0, 1).all()
    # most villages' collective income grows over the year; some stall or fall back
    income = monthly.pivot(
        index="village_code", columns="period", values="collective_income_10k_cny"
    )
    grew = (income["2026-11"] > income["2025-12"]).mean()
    assert 0.6 < grew < 0.97
    table = monthly[monthly["period"] == "2026-11"].drop(columns="period")
    assert list(table.columns) == [
        "village_code",
        "population",
        "households",
        "collective_income_10k_cny",
        "homestays",
        "reported_issues",
        "resolved_issues",
        "inspections",
        "sensors",
        "fibre_coverage",
    ]
    assert sorted(table["village_code"]) == sorted(villages["village_code"])
    assert (table["resolved_issues"] <= table["reported_issues"]).all()
    assert (table["households"] < table["population"]).all()
    assert (table.drop(columns="village_code") >= 0).all().all()
    assert table["fibre_coverage"].between(0, 1).all()
    # The homestay count is the number of homestay enterprises inside each village.
    firms = pd.read_csv(src / "enterprises.csv", keep_default_na=False)
    stays = firms[firms["subtype"] == "homestay"]
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(stays["lon"], stays["lat"]), crs=4326)
    joined = gpd.sjoin(pts.to_crs(4549), villages[["village_code", "geometry"]], predicate="within")
    counted = joined["village_code"].value_counts()
    expected = table.set_index("village_code")["homestays"]
    assert (counted.reindex(expected.index, fill_value=0) == expected).all()


# -- roads --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def osm(src: Path) -> tuple[dict[int, tuple[float, float]], list[tuple[int, list[int], dict]]]:
    nodes: dict[int, tuple[float, float]] = {}
    ways: list[tuple[int, list[int], dict]] = []
    for obj in osmium.FileProcessor(str(src / "roads.osm.pbf")):
        assert obj.id > 0 and obj.version >= 1
        assert obj.timestamp.timestamp() == 0  # no timestamps written
        if obj.is_node():
            nodes[obj.id] = (obj.location.lon, obj.location.lat)
        elif obj.is_way():
            ways.append((obj.id, [n.ref for n in obj.nodes], dict(obj.tags)))
    return nodes, ways


def test_pbf_header_and_ids(src: Path, osm) -> None:
    nodes, ways = osm
    header = osmium.io.Reader(str(src / "roads.osm.pbf")).header()
    assert "SYNTHETIC" in header.get("generator")
    assert len({w[0] for w in ways}) == len(ways)
    assert all(ref in nodes for _, refs, _ in ways for ref in refs)
    assert all(len(refs) >= 2 for _, refs, _ in ways)
    lon = np.array([p[0] for p in nodes.values()])
    lat = np.array([p[1] for p in nodes.values()])
    assert lon.min() > 119.6 and lon.max() < 120.5 and lat.min() > 30.3 and lat.max() < 30.8


def test_pbf_tags(osm) -> None:
    _, ways = osm
    tags = [t for _, _, t in ways]
    assert {t["highway"] for t in tags} == HIGHWAYS
    motorway = [t for t in tags if t["highway"] == "motorway"]
    assert all(t["oneway"] == "yes" and t["ref"] == "G25" for t in motorway)
    assert any(t.get("bridge") == "yes" and t.get("layer") == "1" for t in motorway)
    ramps = [t for t in tags if t["highway"] == "motorway_link"]
    assert len(ramps) >= 8 and all(t["oneway"] == "yes" for t in ramps)  # two diamonds
    assert any(t.get("bridge") == "yes" for t in tags if t["highway"] == "residential")
    assert {"yes", "-1"} <= {t["oneway"] for t in tags if "oneway" in t}
    speeds = {t["maxspeed"] for t in tags if "maxspeed" in t}
    assert {"80", "60", "CN:urban", "50 mph"} <= speeds
    assert {"2", "4"} <= {t["lanes"] for t in tags if "lanes" in t}
    refs = {t.get("ref", "") for t in tags}
    assert "G104" in refs and any(r.startswith("S") for r in refs)
    assert any(r.startswith("X") for r in refs)
    assert sum(1 for t in tags if t["highway"] == "residential" and "name" in t) > 50


def test_crossings_share_nodes(osm) -> None:
    nodes, ways = osm
    lines = np.array([shapely.LineString([nodes[r] for r in refs]) for _, refs, _ in ways])
    left, right = shapely.STRtree(lines).query(lines, predicate="intersects")
    checked = 0
    for i, j in zip(left.tolist(), right.tolist(), strict=True):
        if i >= j:
            continue
        ti, tj = ways[i][2], ways[j][2]
        shared = set(ways[i][1]) & set(ways[j][1])
        if ti["highway"] == "motorway" or tj["highway"] == "motorway":
            other = tj if ti["highway"] == "motorway" else ti
            if other["highway"] not in ("motorway", "motorway_link"):
                assert not shared  # the expressway never meets a road at grade
                continue
        bridged = "bridge" in ti or "bridge" in tj or ti.get("layer") != tj.get("layer")
        if bridged:
            continue
        checked += 1
        assert shared, f"ways {ways[i][0]} and {ways[j][0]} cross without a shared node"
    assert checked > 500


def test_network_is_connected_and_reaches_every_village(osm, villages) -> None:
    nodes, ways = osm
    parent = {n: n for n in nodes}

    def find(n: int) -> int:
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    for _, refs, _ in ways:
        for a, b in itertools.pairwise(refs):
            parent[find(a)] = find(b)
    used = {r for _, refs, _ in ways for r in refs}
    assert len({find(n) for n in used}) == 1
    ids = np.array(sorted(used))
    ll = np.array([nodes[i] for i in ids])
    x, y = TO_WORK.transform(ll[:, 0], ll[:, 1])
    pts = shapely.points(x, y)
    has_node = [bool(shapely.contains(v, pts).any()) for v in villages.geometry]
    assert all(has_node)


# -- buildings ----------------------------------------------------------------------------


def test_buildings_front_the_roads_with_believable_floors(src: Path, county, osm) -> None:
    houses = gpd.read_file(src / "buildings.gpkg", layer="buildings")
    assert 2000 <= len(houses) <= 8000 and houses["building_id"].is_unique
    assert houses.crs.to_epsg() == 4549
    geoms = houses.geometry.to_numpy()
    assert shapely.contains(county, geoms).all()
    # rectangles of houses and blocks, standing clear of each other
    assert (shapely.area(geoms) > 60).all() and (shapely.area(geoms) < 500).all()
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    assert (left == right).all()
    village, town = houses[houses["kind"] == "village"], houses[houses["kind"] == "town"]
    assert set(village["floors"]) == {1, 2, 3}
    assert set(village["village_code"]) <= set(gpd.read_file(src / "villages.gpkg")["village_code"])
    assert village["village_code"].nunique() > 120  # nearly every village has houses
    assert town["town_code"].nunique() == 13
    tallest = town.groupby("town_code")["floors"].max()
    assert tallest.max() >= 14 and (tallest >= 8).all()  # town centres rise
    # clear of the roads, each turned to the road it fronts
    nodes, ways = osm
    lon_lat = [np.array([nodes[r] for r in refs]) for _, refs, _ in ways]
    roads = np.array(
        [shapely.LineString(np.column_stack(TO_WORK.transform(*c.T))) for c in lon_lat]
    )
    tree = shapely.STRtree(roads)
    assert len(tree.query(geoms, predicate="dwithin", distance=3.0)[0]) == 0
    sample = houses.sample(300, random_state=1).geometry.to_numpy()
    nearest = roads[tree.nearest(sample)]
    turns = []
    for house, road in zip(sample, nearest, strict=True):
        ring = np.asarray(house.exterior.coords)
        edge = np.degrees(np.arctan2(*(ring[1] - ring[0])[::-1]))
        at = road.project(house.centroid)
        a, b = road.interpolate(max(at - 5, 0)), road.interpolate(min(at + 5, road.length))
        along = np.degrees(np.arctan2(b.y - a.y, b.x - a.x))
        turn = (edge - along) % 90
        turns.append(min(turn, 90 - turn))
    # (a house on a corner or a bend may be nearer another road than the one it fronts)
    assert np.mean(np.array(turns) < 5) > 0.9, np.percentile(turns, [50, 90, 99])


# -- metadata and config ------------------------------------------------------------------


def test_every_file_says_synthetic(src: Path) -> None:
    for name, layers in [
        ("county.gpkg", ["county"]),
        ("townships.gpkg", ["townships"]),
        ("villages.gpkg", ["villages"]),
        ("water.gpkg", ["water", "canals"]),
    ]:
        for layer in layers:
            meta = pyogrio.read_info(src / name, layer=layer)["layer_metadata"]
            assert meta["SYNTHETIC"] == "yes" and "SYNTHETIC" in meta["DESCRIPTION"]
    readme = (src / "README.md").read_text(encoding="utf-8")
    assert "synthetic" in readme.lower()
    assert str(DEFAULT_SEED) in readme and f"v{GENERATOR_VERSION}" in readme


def test_demo_config_points_at_the_files(coarse: Path, src: Path) -> None:
    config = demo_config(resolution=100)
    assert config.region.crs == "EPSG:4549"
    assert config.region.boundary in config.sources
    assert parse_config(dump_config(config)) == config
    for name, source in config.sources.items():
        assert source.synthetic and source.description, name
        assert (coarse / source.path).exists(), name
    assert all(get_builder(layer.builder) for layer in config.layers.values())
    for name, layer in config.layers.items():
        if layer.builder == "vector":
            source = config.sources[layer.inputs["source"]]
            path = coarse / source.path
            if path.suffix == ".csv":
                columns = set(pd.read_csv(path, nrows=1).columns)
            else:
                columns = set(pyogrio.read_info(path, layer=source.layer)["fields"])
            assert layer.params["id"] in columns, name
            # buildings are drawn from a town's zoom; every other layer from the county's
            zooms = (13, 18) if name == "buildings" else (8, 18)
            assert (layer.tiles.minzoom, layer.tiles.maxzoom) == zooms, name
    assert (
        demo_config(resolution=10).layers["dem"].tiles.maxzoom > config.layers["dem"].tiles.maxzoom
    )


def test_demo_config_builds(coarse: Path) -> None:
    from twin.workspace import Twin

    (coarse / "twin.toml").write_text(dump_config(demo_config(resolution=100)), encoding="utf-8")
    twin = Twin.open(coarse)
    twin.build()
    villages = twin.layer("village_boundaries")
    assert len(villages) == 137 and villages.crs.to_epsg() == 4549
    assert len(twin.layer("cell_sites")) == len(pd.read_csv(coarse / "sources" / "cell_sites.csv"))
    assert set(twin.catalog.layers) >= set(demo_config().layers)
    # buildings stand floors x 3 m tall on the DEM's terrain in the viewer's 3D view
    houses = twin.layer("buildings")
    assert (houses["height_m"] == houses["floors"] * 3.0).all()
    assert twin.catalog.layers["buildings"].style["extrude"] == "height_m"
    assert twin.catalog.layers["dem"].style["terrain"] is True
