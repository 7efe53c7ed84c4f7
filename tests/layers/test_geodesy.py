"""Areas and lengths on the ellipsoid, the CRS that fits a region, features outside it."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import CRS, Geod
from shapely.geometry import Polygon

from layers.crs import crs_misfit, suggest_crs
from layers.geodesy import geodesic_area, geodesic_length
from layers.region import inside_if_swapped, outside_region

GEOD = Geod(ellps="WGS84")
HELSINKI = Polygon([(24.78, 60.13), (25.25, 60.15), (25.25, 60.30), (24.95, 60.30), (24.78, 60.22)])
DEQING = Polygon(
    [(119.78, 30.45), (120.15, 30.42), (120.32, 30.55), (120.20, 30.70), (119.85, 30.66)]
)


def test_known_values_on_the_wgs84_ellipsoid() -> None:
    cell = shapely.box(0, 0, 1, 1)
    area = geodesic_area([cell], "EPSG:4326")[0]
    assert area == pytest.approx(abs(GEOD.geometry_area_perimeter(cell)[0]), rel=1e-12)
    assert area / 1e6 == pytest.approx(12_308.78, rel=1e-5)  # a 1x1 degree cell at the equator
    arc = shapely.linestrings([[0, 0], [0, 1]])
    assert geodesic_length([arc], "EPSG:4326")[0] == pytest.approx(110_574.389, abs=1e-3)


def test_parts_rings_holes_and_missing_geometries() -> None:
    ring = shapely.box(0, 0, 1, 1).difference(shapely.box(0.25, 0.25, 0.75, 0.75))
    two = shapely.MultiLineString([[(0, 0), (0, 1)], [(5, 0), (5, 1)]])
    lengths = geodesic_length([two, None, shapely.Point(1, 1), ring], "EPSG:4326")
    arc = GEOD.inv(0, 0, 0, 1)[2]
    # the two parts apart: no segment from (0, 1) to (5, 0)
    assert lengths[0] == pytest.approx(2 * arc)
    assert lengths[1] == 0 and lengths[2] == 0
    rings = GEOD.geometry_length(ring.exterior) + GEOD.geometry_length(ring.interiors[0])
    assert lengths[3] == pytest.approx(rings)  # a polygon's length: all its rings
    # the hole is subtracted whatever the orientation of the rings
    reversed_ring = shapely.reverse(ring)
    areas = geodesic_area([ring, reversed_ring, None, two], "EPSG:4326")
    full = abs(GEOD.geometry_area_perimeter(shapely.box(0, 0, 1, 1))[0])
    hole = abs(GEOD.geometry_area_perimeter(shapely.box(0.25, 0.25, 0.75, 0.75))[0])
    np.testing.assert_allclose(areas, [full - hole, full - hole, 0, 0], rtol=1e-12)
    assert len(geodesic_length([], "EPSG:4326")) == 0


def test_a_badly_fitting_crs_changes_planar_figures_not_geodesic_ones() -> None:
    """Helsinki in CGCS2000 GK CM 120E (as `twin init` once defaulted to) and in UTM 35N."""
    roads = [
        shapely.LineString([(24.80 + 0.02 * i, 60.14), (24.82 + 0.02 * i, 60.28)])
        for i in range(20)
    ]
    figures = {}
    for crs in ("EPSG:32635", "EPSG:4549"):
        area = gpd.GeoSeries([HELSINKI], crs=4326).to_crs(crs)
        lines = gpd.GeoSeries(roads, crs=4326).to_crs(crs)
        figures[crs] = (
            geodesic_area(area.values, crs)[0],
            geodesic_length(lines.values, crs).sum(),
            area.area.iloc[0],
            lines.length.sum(),
        )
    good, bad = figures["EPSG:32635"], figures["EPSG:4549"]
    truth_area = abs(GEOD.geometry_area_perimeter(HELSINKI)[0])
    assert good[0] == pytest.approx(truth_area, rel=1e-9)
    assert bad[0] == pytest.approx(good[0], rel=1e-3)
    assert bad[1] == pytest.approx(good[1], rel=1e-3)
    assert good[2] == pytest.approx(truth_area, rel=1e-3)  # planar in a fitting CRS is close
    assert bad[2] / truth_area > 1.2  # planar far from the meridian is not
    assert bad[3] / good[1] > 1.1


@pytest.mark.parametrize("meridian", range(75, 136, 3))
def test_cgcs2000_zone_codes_follow_the_meridians(meridian: int) -> None:
    code = 4534 + (meridian - 75) // 3
    assert CRS.from_epsg(code).name == f"CGCS2000 / 3-degree Gauss-Kruger CM {meridian}E"
    area = CRS.from_epsg(code).area_of_use
    assert area is not None
    lat = (area.south + area.north) / 2
    # a small county in the middle of the zone's area of use gets that zone
    bounds = (meridian - 0.2, lat - 0.1, meridian + 0.2, lat + 0.1)
    if area.west <= meridian - 0.2 and meridian + 0.2 <= area.east:
        assert suggest_crs(bounds).to_epsg() == code


def test_suggested_crs_inside_and_outside_china() -> None:
    assert suggest_crs(DEQING.bounds).to_string() == "EPSG:4549"
    assert suggest_crs(HELSINKI.bounds).to_string() == "EPSG:32635"
    assert suggest_crs((-43.8, -23.1, -43.1, -22.7)).to_string() == "EPSG:32723"  # Rio
    assert suggest_crs((-74.1, 40.5, -73.7, 40.9)).to_string() == "EPSG:32618"  # New York


def test_misfit_names_the_crs_where_it_is_made_for_and_the_fitting_one() -> None:
    assert crs_misfit("EPSG:4549", DEQING.bounds) is None
    assert crs_misfit("EPSG:32635", HELSINKI.bounds) is None
    assert crs_misfit("EPSG:4549", HELSINKI.bounds) == (
        "EPSG:4549 (CGCS2000 / 3-degree Gauss-Kruger CM 120E) is made for 118.5°E–121.5°E, "
        "24.4°N–53.4°N; the region lies at 24.7°E–25.3°E, 60.1°N–60.3°N: "
        "use EPSG:32635 (WGS 84 / UTM zone 35N)"
    )
    # a county just over a zone's edge still fits (tolerance), one a zone away does not
    assert crs_misfit("EPSG:4549", (121.4, 30.0, 121.8, 30.3)) is None
    assert "use EPSG:4550" in (crs_misfit("EPSG:4549", (122.6, 30.0, 123.0, 30.3)) or "")


def test_outside_and_swapped() -> None:
    boundary = gpd.GeoDataFrame(geometry=[HELSINKI], crs=4326).to_crs("EPSG:32635")
    pts = gpd.GeoDataFrame(
        geometry=gpd.points_from_xy([24.9, 25.0, 26.5], [60.2, 60.25, 60.2]), crs=4326
    )
    assert outside_region(pts, boundary).tolist() == [False, False, True]
    swapped = gpd.GeoDataFrame(geometry=gpd.points_from_xy([60.2, 60.25], [24.9, 25.0]), crs=4326)
    assert outside_region(swapped, boundary).all()
    assert inside_if_swapped(swapped, boundary) == 2
    assert inside_if_swapped(pts, boundary) == 0
    assert len(outside_region(pts.iloc[:0], boundary)) == 0
