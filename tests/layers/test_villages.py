"""Village aggregates, join problems, service reach and scores on hand-built fixtures."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import LineString, Point, box

from layers.errors import ParameterError, ValidationError
from layers.villages import (
    JoinReport,
    aggregate_points,
    check_boundaries,
    domain_scores,
    join_tables,
    lagging,
    service_distances,
)

X0, Y0 = 480_000.0, 3_380_000.0
CRS = "EPSG:4549"


@pytest.fixture
def villages() -> gpd.GeoDataFrame:
    # Three 1 km squares side by side: A | B | C.
    return gpd.GeoDataFrame(
        {"code": ["A", "B", "C"]},
        geometry=[box(X0 + i * 1000, Y0, X0 + (i + 1) * 1000, Y0 + 1000) for i in range(3)],
        crs=CRS,
    )


def _points(xy: list[tuple[float, float]], **cols: list[object]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(cols, geometry=[Point(X0 + x, Y0 + y) for x, y in xy], crs=CRS)


def test_points_counted_once_on_shared_boundaries(villages: gpd.GeoDataFrame) -> None:
    pts = _points(
        [(100, 100), (500, 500), (1000, 500), (1500, 200), (5000, 5000)],
        industry=["farm", "tech", "tech", "farm", "farm"],
        revenue=[10.0, 20.0, 30.0, 40.0, 50.0],
    )
    report = JoinReport()
    out = aggregate_points(
        villages, pts, "ent", category="industry", sums=["revenue"], report=report
    )
    # The point on the A/B border counts once, in A (the first village).
    assert out["ent"].tolist() == [3, 1, 0]
    assert out["ent_tech"].tolist() == [2, 0, 0]
    assert out["ent_farm"].tolist() == [1, 1, 0]
    assert out["revenue"].tolist() == [60.0, 40.0, 0.0]
    assert out["ent"].sum() == 4  # the point far away is outside every village ...
    assert report.points_outside == {"ent": 1}  # ... and reported
    with pytest.raises(ValidationError, match="no column 'sector'"):
        aggregate_points(villages, pts, "ent", category="sector")


def test_points_in_other_crs_are_reprojected(villages: gpd.GeoDataFrame) -> None:
    pts = _points([(250, 250), (2500, 750)]).to_crs(4326)
    out = aggregate_points(villages, pts, "n")
    assert out["n"].tolist() == [1, 0, 1]


def test_join_problems_are_reported_with_codes(villages: gpd.GeoDataFrame) -> None:
    table = pd.DataFrame(
        {"code": ["A", "A", "B", "Z"], "population": [100, 999, 200, 5], "homestays": [1, 1, 2, 3]}
    )
    other = pd.DataFrame({"code": ["A", "B", "C"], "population": [0, 0, 0], "sensors": [4, 5, 6]})
    report = JoinReport()
    joined = join_tables(villages["code"], {"indicators": table, "iot": other}, "code", report)
    assert report.duplicate_codes == {"indicators": ["A"]}
    assert report.unknown_codes == {"indicators": ["Z"]}
    assert report.missing_rows == {"indicators": ["C"]}
    assert joined.loc["A", "population"] == 100  # the first row wins, the first table wins
    assert math.isnan(joined.loc["C", "population"])
    assert joined["sensors"].tolist() == [4, 5, 6]
    stats = report.as_stats()
    assert stats["join_duplicate_codes"] == 1 and stats["join_unknown_codes"] == 1
    assert stats["join_missing_rows"] == 1
    assert "indicators: 1 code(s) with no village boundary: Z" in str(stats["join_problems"])


def test_overlaps_and_gaps_with_areas(villages: gpd.GeoDataFrame) -> None:
    bad = villages.copy()
    # B grows 10 m into C (10 000 m² of overlap); C loses a 20 m strip on its east side.
    bad.loc[1, "geometry"] = box(X0 + 1000, Y0, X0 + 2010, Y0 + 1000)
    bad.loc[2, "geometry"] = box(X0 + 2000, Y0, X0 + 2980, Y0 + 1000)
    dup = gpd.GeoDataFrame({"code": ["A"]}, geometry=[box(X0, Y0, X0 + 1, Y0 + 1)], crs=CRS)
    bad = pd.concat([bad, dup], ignore_index=True)
    region = box(X0, Y0, X0 + 3000, Y0 + 1000)
    report = JoinReport()
    kept = check_boundaries(bad, "code", report, region=region)
    assert kept["code"].tolist() == ["A", "B", "C"]
    assert report.duplicate_codes == {"boundaries": ["A"]}
    assert [(a, b) for a, b, _ in report.overlaps] == [("B", "C")]
    assert report.overlaps[0][2] == pytest.approx(10_000)
    assert report.gaps == [pytest.approx(20_000)]
    clean = JoinReport()
    check_boundaries(villages, "code", clean, region=region)
    assert clean.ok and clean.messages() == []


def test_network_distance_against_straight_line() -> None:
    # An L-shaped road: centre at the origin, clinic 1 km east and 1 km north.
    edges = gpd.GeoDataFrame(
        {"u": [1, 2], "v": [2, 3], "length_m": [1000.0, 1000.0]},
        geometry=[
            LineString([(X0, Y0), (X0 + 1000, Y0)]),
            LineString([(X0 + 1000, Y0), (X0 + 1000, Y0 + 1000)]),
        ],
        crs=CRS,
    )
    centres = gpd.GeoSeries([Point(X0, Y0 - 30), Point(X0 + 5000, Y0 + 5000)], crs=CRS)
    facilities = _points([(1000, 1040), (4000, 5000)], type=["clinic", "school"])
    out = service_distances(centres, facilities, "type", ["clinic", "school", "bus_stop"], edges)
    # Walk 30 m to the network, 2 000 m along it, 40 m off it to the clinic.
    assert out.loc[0, "clinic_dist_m"] == pytest.approx(2070.0)
    assert out.loc[0, "clinic_method"] == "network"
    straight = service_distances(centres, facilities, "type", ["clinic"])
    assert straight.loc[0, "clinic_dist_m"] == pytest.approx(math.hypot(1000, 1070))
    assert straight.loc[0, "clinic_method"] == "straight"
    # Schools: both the centre and the school snap to the network, so the network is used:
    # school (4000, 5000) walks to node (1000, 1000) = 5000 m, then 2000 m, then 30 m.
    assert out.loc[0, "school_dist_m"] == pytest.approx(5000 + 2000 + 30)
    # No bus stop anywhere: NaN, said so.
    assert np.isnan(out.loc[0, "bus_stop_dist_m"]) and out.loc[0, "bus_stop_method"] == "none"


def test_disconnected_network_falls_back_to_straight_line() -> None:
    edges = gpd.GeoDataFrame(
        {"u": [1, 3], "v": [2, 4], "length_m": [100.0, 100.0]},
        geometry=[
            LineString([(X0, Y0), (X0 + 100, Y0)]),
            LineString([(X0 + 900, Y0), (X0 + 1000, Y0)]),
        ],
        crs=CRS,
    )
    centres = gpd.GeoSeries([Point(X0, Y0)], crs=CRS)
    facilities = _points([(1000, 0)], type=["clinic"])
    out = service_distances(centres, facilities, "type", ["clinic"], edges)
    assert out.loc[0, "clinic_method"] == "straight"
    assert out.loc[0, "clinic_dist_m"] == pytest.approx(1000.0)


def test_minmax_scores_with_weights_and_direction() -> None:
    table = pd.DataFrame({"a": [0.0, 5.0, 10.0], "b": [30.0, 20.0, 10.0], "c": [1.0, 1.0, 1.0]})
    scores = domain_scores(table, {"x": {"a": 3, "b": -1}, "y": {"c": 1}})
    # a normalised: 0, .5, 1; b normalised 1, .5, 0 but lower is better: 0, .5, 1.
    expected = [100 * (3 * a + 1 * b) / 4 for a, b in [(0, 0), (0.5, 0.5), (1, 1)]]
    assert scores["score_x"].tolist() == pytest.approx(expected)
    assert scores["score_y"].tolist() == [50.0, 50.0, 50.0]  # a constant tells nothing
    assert scores["score_total"].tolist() == pytest.approx([(e + 50) / 2 for e in expected])
    assert lagging(scores, 40).tolist() == ["x", "", ""]


def test_rank_scores_and_missing_values() -> None:
    table = pd.DataFrame({"a": [3.0, 1.0, 2.0, np.nan], "b": [1.0, 2.0, 3.0, 4.0]})
    scores = domain_scores(table, {"x": {"a": 1}, "z": {"a": 1, "b": 1}}, method="rank")
    assert scores["score_x"].iloc[:3].tolist() == [100.0, 0.0, 50.0]
    assert np.isnan(scores["score_x"].iloc[3])
    # The fourth village is scored on b alone.
    assert scores["score_z"].iloc[3] == 100.0
    with pytest.raises(ParameterError, match=r"scores\.x: no indicator column 'q'"):
        domain_scores(table, {"x": {"q": 1}})
    with pytest.raises(ParameterError, match="'minmax' or 'rank'"):
        domain_scores(table, {"x": {"a": 1}}, method="zscore")  # type: ignore[arg-type]


def test_build_villages_end_to_end(villages: gpd.GeoDataFrame) -> None:
    from affine import Affine

    from layers.types import RasterData
    from layers.villages import PointLayer, build_villages

    # RSRP on a 100 m grid over the three villages: covered (-90) west of x0+1500, else -120.
    cols = np.arange(30)
    values = np.where(cols < 15, -90.0, -120.0)[None, :].repeat(10, axis=0).astype("float32")
    rsrp = RasterData(values, Affine(100, 0, X0, 0, -100, Y0 + 1000), crs=CRS, nodata=np.nan)
    # A primary road along y = 500 through all three villages, and a residential one in A.
    edges = gpd.GeoDataFrame(
        {
            "u": [1, 2, 4],
            "v": [2, 3, 5],
            "length_m": [1500.0, 1500.0, 500.0],
            "road_class": ["primary", "primary", "residential"],
        },
        geometry=[
            LineString([(X0, Y0 + 500), (X0 + 1500, Y0 + 500)]),
            LineString([(X0 + 1500, Y0 + 500), (X0 + 3000, Y0 + 500)]),
            LineString([(X0 + 200, Y0 + 100), (X0 + 200, Y0 + 600)]),
        ],
        crs=CRS,
    )
    table = pd.DataFrame(
        {
            "code": ["A", "B", "C"],
            "population": [1000, 2000, 0],
            "reported_issues": [10, 0, 4],
            "resolved_issues": [5, 0, 4],
            "fibre_coverage": [0.9, 0.5, 1.0],
        }
    )
    clinics = _points([(200, 500), (2900, 500)], type=["clinic", "clinic"])
    result = build_villages(
        villages,
        "code",
        tables={"t": table},
        points=[PointLayer("fac", clinics, domain="services", category="type", reach=["clinic"])],
        edges=edges,
        coverage=rsrp,
        threshold_dbm=-105,
    )
    v = result.villages.set_index("code")
    assert v["inf_5g_share"].tolist() == pytest.approx([1.0, 0.5, 0.0])
    # road km are measured on the ellipsoid: grid metres here are 5 ppm long
    assert v["inf_road_km"].tolist() == pytest.approx([1.5, 1.0, 1.0], rel=1e-5)
    assert v["inf_road_km_primary"].tolist() == pytest.approx([1.0, 1.0, 1.0], rel=1e-5)
    # Smart roads: main roads under coverage, so the primary road west of x0+1500.
    assert v["inf_smart_road_km"].tolist() == pytest.approx([1.0, 0.5, 0.0], abs=0.06)
    assert v["gov_resolution_rate"].iloc[0] == 0.5 and np.isnan(v["gov_resolution_rate"].iloc[1])
    assert v["gov_issues_per_1000"].iloc[0] == 10.0
    assert v["inf_fibre_coverage"].tolist() == [0.9, 0.5, 1.0]
    assert v["svc_fac_clinic"].tolist() == [1, 0, 1]
    # Village B's centre (x0+1500, y0+500) is a node of the primary road. The east
    # clinic walks 100 m to the road's end node, then 1500 m along it: 1600 m. The west
    # clinic's nearest node is on the residential road, which does not join the primary.
    centre = result.villages.geometry.representative_point().iloc[1]
    assert (centre.x, centre.y) == (X0 + 1500, Y0 + 500)
    assert v.loc["B", "svc_clinic_dist_m"] == pytest.approx(1600.0, rel=1e-5)
    assert result.figures["villages"] == 3 and result.figures["population"] == 3000
    assert result.figures["coverage_share_pct"] == pytest.approx(50.0)
    assert {f"score_{d}" for d in ("services", "governance", "infrastructure")} <= set(v.columns)
    assert result.units["inf_5g_share"] == "share 0-1"
