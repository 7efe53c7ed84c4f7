"""Where a layer's features lie with respect to the region's boundary.

Data that lies outside the region is usually a mistake in the source: points
from the neighbouring county, a wrong CRS, or longitude and latitude swapped
(``60.17, 24.94`` read as lon/lat is a valid point in Iran, 3,500 km from
Helsinki). A swap keeps the coordinates valid, so nothing fails on its own:
this module counts what lies outside, and tells whether swapping the two
coordinates would bring it in.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

__all__ = ["inside_if_swapped", "outside_region"]


def _region(boundary: gpd.GeoDataFrame, crs: object) -> shapely.Geometry:
    region = shapely.union_all(boundary.to_crs(crs).geometry.to_numpy())
    shapely.prepare(region)
    return region


def outside_region(gdf: gpd.GeoDataFrame, boundary: gpd.GeoDataFrame) -> np.ndarray:
    """A mask of the features of ``gdf`` that do not touch the ``boundary`` polygons.

    The boundary is reprojected to ``gdf``'s CRS. Missing or empty geometries
    count as outside.
    """
    if not len(gdf):
        return np.zeros(0, dtype=bool)
    return ~shapely.intersects(gdf.geometry.to_numpy(), _region(boundary, gdf.crs))


def inside_if_swapped(gdf: gpd.GeoDataFrame, boundary: gpd.GeoDataFrame) -> int:
    """How many features of ``gdf`` would touch ``boundary`` with their x and y swapped.

    ``gdf`` is the source as read, in its own CRS (lon/lat for a CSV of
    points, or a projected CRS whose x/y columns were given the wrong way
    round, as with surveyors' X = northing); the boundary is brought to that
    CRS, so no swapped coordinate has to be projected.
    """
    if not len(gdf):
        return 0
    swapped = shapely.transform(gdf.geometry.to_numpy(), lambda xy: xy[:, ::-1])
    return int(shapely.intersects(swapped, _region(boundary, gdf.crs)).sum())
