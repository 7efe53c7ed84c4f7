"""Per-zone road figures, coverage along edges, and roads from OGR line sources."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from affine import Affine

from layers.errors import ParameterError, SourceError
from layers.roads import edge_coverage, read_line_roads, read_roads, zone_figures
from layers.types import RasterData

CRS = "EPSG:4549"
X0, Y0 = 500_000.0, 3_375_000.0  # metres, inside EPSG:4549's zone


def _edges(lines: list[list[tuple[float, float]]], classes: list[str]) -> gpd.GeoDataFrame:
    geoms = [shapely.LineString([(X0 + x, Y0 + y) for x, y in line]) for line in lines]
    return gpd.GeoDataFrame({"road_class": classes}, geometry=geoms, crs=CRS)


def _zones() -> gpd.GeoDataFrame:
    boxes = [
        shapely.box(X0, Y0, X0 + 1000, Y0 + 1000),
        shapely.box(X0 + 1000, Y0, X0 + 2000, Y0 + 1000),
        shapely.box(X0 + 5000, Y0, X0 + 6000, Y0 + 1000),
    ]
    return gpd.GeoDataFrame({"village": ["a", "b", "empty"]}, geometry=boxes, crs=CRS)


def test_zone_figures_split_edges_across_borders() -> None:
    # a primary road from x=500 to x=1800 (500 m in a, 800 m in b), a residential loop in a
    edges = _edges(
        [[(500, 500), (1800, 500)], [(100, 100), (100, 400)]], ["primary", "residential"]
    )
    got = zone_figures(edges, _zones(), zone_id="village")
    assert list(got.index) == ["a", "b", "empty"]
    assert got.loc["a", "km_primary"] == pytest.approx(0.5)
    assert got.loc["b", "km_primary"] == pytest.approx(0.8)
    assert got.loc["a", "km_residential"] == pytest.approx(0.3)
    assert got.loc["b", "km_residential"] == 0
    assert got.loc["a", "road_km"] == pytest.approx(0.8)
    assert got.loc["empty", "road_km"] == 0
    # measured on the ellipsoid: 5 km off the central meridian a grid km² is 0.75 m² less
    np.testing.assert_allclose(got["area_km2"], [1.0, 1.0, 1.0], rtol=1e-5)
    np.testing.assert_allclose(got["density_km_per_km2"], [0.8, 0.8, 0.0], rtol=1e-5)


def test_zone_figures_reprojects_zones_and_checks_crs() -> None:
    edges = _edges([[(500, 500), (1800, 500)]], ["primary"])
    zones = _zones().to_crs(4326)
    got = zone_figures(edges, zones, zone_id="village")
    assert got.loc["b", "road_km"] == pytest.approx(0.8, rel=1e-3)
    with pytest.raises(ParameterError, match="projected"):
        zone_figures(edges.to_crs(4326), zones)


def test_edge_coverage_against_a_half_covered_raster() -> None:
    # 100 m pixels; columns 0-9 cover x in [0, 1000); covered where x < 600
    transform = Affine(100.0, 0, X0, 0, -100.0, Y0 + 1000)
    rsrp = np.full((10, 10), -120.0)
    rsrp[:, :6] = -90.0
    edges = _edges(
        [[(100, 500), (900, 500)], [(50, 50), (50, 950)], [(700, 500), (900, 500)]], ["primary"] * 3
    )
    got = edge_coverage(edges, rsrp, transform, threshold=-105)
    np.testing.assert_allclose(got["covered_m"], [500.0, 900.0, 0.0], atol=1.0)
    np.testing.assert_allclose(got["covered_share"], [500 / 800, 1.0, 0.0], atol=1e-3)
    # a RasterData with nodata gives the same, and nodata pixels never count
    rsrp[:, 0] = -9999.0
    raster = RasterData(rsrp, transform, CRS, nodata=-9999.0)
    got = edge_coverage(edges, raster, threshold=-105)
    np.testing.assert_allclose(got["covered_m"], [500.0, 0.0, 0.0], atol=1.0)


def test_edge_coverage_outside_raster_and_crs_mismatch() -> None:
    transform = Affine(100.0, 0, X0 + 10_000, 0, -100.0, Y0 + 1000)
    edges = _edges([[(100, 500), (900, 500)]], ["primary"])
    got = edge_coverage(edges, np.ones((10, 10), dtype=bool), transform)
    assert got["covered_m"].iloc[0] == 0
    with pytest.raises(ParameterError, match="differs from the edges' CRS"):
        edge_coverage(edges, np.ones((10, 10)), transform, threshold=0, crs="EPSG:3857")


def test_zone_figures_carry_coverage() -> None:
    transform = Affine(100.0, 0, X0, 0, -100.0, Y0 + 1000)
    mask = np.zeros((10, 20), dtype=bool)
    mask[:, :6] = True  # x < 600 covered
    edges = _edges([[(500, 500), (1800, 500)]], ["primary"])
    edges = edges.join(edge_coverage(edges, mask, transform))
    got = zone_figures(edges, _zones(), zone_id="village")
    share = 100 / 1300  # 100 m of 1300 m covered
    assert got.loc["a", "covered_km"] == pytest.approx(0.5 * share, rel=1e-2)
    assert got.loc["a", "covered_share"] == pytest.approx(share, rel=1e-2)


def _write_lines(path: Path, crs: str | None = CRS) -> Path:
    lines = [
        [(0, 0), (500, 0), (1000, 0)],  # GRADE 国道, crosses the next at (500, 0)
        [(500, -500), (500, 0), (500, 500)],
        [(1000, 0), (1500, 0)],  # continues the first line end to end
        [(0, 900), (300, 900)],
    ]
    gdf = gpd.GeoDataFrame(
        {
            "GRADE": ["国道", "县道", "国道", "footway"],
            "NAME": ["G104", "X001", "G104", None],
            "SPEED": ["80", "40 km/h", "80", None],
            "DIR": ["no", "yes", "no", None],
            "lanes": [4, 2, 4, None],
        },
        geometry=[shapely.LineString([(X0 + x, Y0 + y) for x, y in line]) for line in lines],
        crs=crs,
    )
    gdf.to_file(path, driver="GPKG", engine="pyogrio")
    return path


def test_line_source_with_column_mapping(tmp_path: Path) -> None:
    path = _write_lines(tmp_path / "bureau.gpkg")
    cols = {"road_class": "GRADE", "name": "NAME", "maxspeed": "SPEED", "oneway": "DIR"}
    net = read_line_roads(path, columns=cols, network="drive", simplify=False)
    e = net.edges
    assert e.crs == CRS
    assert "footway" not in set(e["road_class"])  # drive leaves the footway out
    assert sorted(e["road_class"]) == ["secondary", "secondary", "trunk", "trunk", "trunk"]
    # the trunk splits at the crossing (500, 0) and at the end-to-end join (1000, 0)
    # lengths on the ellipsoid: 20 km off the zone's meridian a grid metre is 5 ppm short
    trunk = sorted(e.loc[e["road_class"] == "trunk", "length_m"])
    assert trunk == pytest.approx([500, 500, 500], rel=1e-5)
    assert e.loc[e["road_class"] == "secondary", "maxspeed"].tolist() == [40.0, 40.0]
    assert e.loc[e["road_class"] == "secondary", "oneway"].all()
    lanes = e.groupby("road_class")["lanes"].agg(lambda s: sorted(set(s.astype(int))))
    assert lanes.to_dict() == {"secondary": [2], "trunk": [4]}
    crossing = net.nodes[net.nodes["degree"] == 4]
    assert len(crossing) == 1
    assert shapely.get_coordinates(crossing.geometry.iloc[0]).tolist() == [[X0 + 500, Y0]]
    # simplified: the trunk merges through (1000, 0), where only it continues
    simple = read_line_roads(path, columns=cols, network="drive")
    trunk = sorted(simple.edges.loc[simple.edges["road_class"] == "trunk", "length_m"])
    assert trunk == pytest.approx([500, 1000], rel=1e-5)


def test_read_roads_dispatches_on_suffix_and_reports_bad_sources(tmp_path: Path) -> None:
    path = _write_lines(tmp_path / "roads.gpkg")
    net = read_roads(path, columns={"road_class": "GRADE"})
    assert len(net.edges) > 0
    with pytest.raises(SourceError, match=r"roads\.gpkg: no column 'KIND'"):
        read_line_roads(path, columns={"road_class": "KIND"})
    with pytest.raises(ParameterError, match="unknown field"):
        read_line_roads(path, columns={"colour": "GRADE"})
    points = tmp_path / "points.gpkg"
    gpd.GeoDataFrame(geometry=[shapely.Point(X0, Y0)], crs=CRS).to_file(points, engine="pyogrio")
    with pytest.raises(SourceError, match=r"points\.gpkg: has no line geometries"):
        read_line_roads(points)
