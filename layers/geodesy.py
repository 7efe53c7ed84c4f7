"""Areas and lengths on the ellipsoid, whatever the projection the geometries are in.

A projected CRS distorts areas and lengths, little near its central meridian
and a lot far from it (a Gauss-Kruger zone used 95 degrees away inflates
areas by a third). The key figures of a layer (a county's area, road km,
road density) are therefore measured on the ellipsoid: the vertices are
taken back to longitude/latitude on the CRS's own datum and measured with
:class:`pyproj.Geod` (Karney's algorithms), so the same data gives the same
figures in any working CRS.

Examples
--------
>>> import shapely
>>> from layers.geodesy import geodesic_length
>>> arc = shapely.linestrings([[0.0, 0.0], [0.0, 1.0]])  # one degree along a meridian
>>> round(float(geodesic_length([arc], "EPSG:4326")[0]) / 1000, 3)
110.574
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import shapely
from pyproj import CRS, Geod, Transformer

__all__ = ["geodesic_area", "geodesic_length", "to_lonlat"]


@lru_cache(maxsize=32)
def _lonlat(crs_wkt: str) -> tuple[Transformer, Geod]:
    crs = CRS.from_wkt(crs_wkt)
    # The CRS's own geographic CRS: no datum shift, only the inverse projection.
    geographic = crs.geodetic_crs if crs.is_projected else crs
    if geographic is None:
        raise ValueError(f"{crs.to_string()} has no geodetic CRS to measure on")
    tr = Transformer.from_crs(crs, geographic, always_xy=True)
    return tr, crs.get_geod() or Geod(ellps="WGS84")


def _parse(crs: CRS | str) -> CRS:
    return crs if isinstance(crs, CRS) else CRS.from_user_input(crs)


def to_lonlat(
    geoms: Sequence[shapely.Geometry] | np.ndarray, crs: CRS | str
) -> tuple[np.ndarray, Geod]:
    """``geoms`` with their coordinates as longitude/latitude on ``crs``'s datum, and its Geod."""
    tr, geod = _lonlat(_parse(crs).to_wkt())
    arr = np.asarray(geoms, dtype=object)

    def project(xy: np.ndarray) -> np.ndarray:
        lon, lat = tr.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([lon, lat])

    return shapely.transform(arr, project), geod


def geodesic_length(geoms: Sequence[shapely.Geometry] | np.ndarray, crs: CRS | str) -> np.ndarray:
    """Length in metres of each geometry on the ellipsoid (polygons: their rings' length).

    Each segment between two vertices is measured as the geodesic between
    them. All coordinates are transformed at once and all segments measured
    in one :meth:`pyproj.Geod.inv` call.

    Parameters
    ----------
    geoms
        Lines (or polygons, points: 0) in ``crs``; missing geometries measure 0.
    crs
        The CRS of the coordinates, projected or geographic.
    """
    arr = np.asarray(geoms, dtype=object)
    out = np.zeros(len(arr))
    if not len(arr):
        return out
    lonlat, geod = to_lonlat(arr, crs)
    # Parts and rings apart, so that no segment joins the end of one to the start of the next.
    parts, geom_of_part = shapely.get_parts(lonlat, return_index=True)
    polygonal = shapely.get_type_id(parts) == 3
    rings, ring_of_part = shapely.get_rings(parts[polygonal], return_index=True)
    lines = np.concatenate([parts[~polygonal], rings])
    geom_of_line = np.concatenate(
        [geom_of_part[~polygonal], geom_of_part[np.flatnonzero(polygonal)][ring_of_part]]
    )
    coords, line_of_coord = shapely.get_coordinates(lines, return_index=True)
    same = line_of_coord[1:] == line_of_coord[:-1]
    if not same.any():
        return out
    a, b = coords[:-1][same], coords[1:][same]
    _, _, dist = geod.inv(a[:, 0], a[:, 1], b[:, 0], b[:, 1])
    geom_of_segment = geom_of_line[line_of_coord[1:][same]]
    return np.bincount(geom_of_segment, weights=dist, minlength=len(arr))


def geodesic_area(geoms: Sequence[shapely.Geometry] | np.ndarray, crs: CRS | str) -> np.ndarray:
    """Area in square metres of each geometry on the ellipsoid (lines and points: 0).

    Holes are subtracted; the result does not depend on the rings' orientation.

    Parameters
    ----------
    geoms
        Polygons or multipolygons in ``crs``; missing geometries measure 0.
    crs
        The CRS of the coordinates, projected or geographic.
    """
    arr = np.asarray(geoms, dtype=object)
    out = np.zeros(len(arr))
    if not len(arr):
        return out
    lonlat, geod = to_lonlat(arr, crs)
    parts, geom_of_part = shapely.get_parts(lonlat, return_index=True)
    polygonal = shapely.get_type_id(parts) == 3
    parts, geom_of_part = parts[polygonal], geom_of_part[polygonal]
    rings, part_of_ring = shapely.get_rings(parts, return_index=True)
    # get_rings lists each polygon's exterior first, then its holes.
    first = np.r_[True, part_of_ring[1:] != part_of_ring[:-1]] if len(rings) else np.array([])
    areas = np.empty(len(rings))
    for i, ring in enumerate(rings):
        xy = shapely.get_coordinates(ring)
        areas[i] = abs(geod.polygon_area_perimeter(xy[:, 0], xy[:, 1])[0])
    signed = np.where(first, areas, -areas)
    return np.bincount(geom_of_part[part_of_ring], weights=signed, minlength=len(arr))
