"""Which projected CRS fits a region, and whether a given one does.

A transverse Mercator zone is accurate near its central meridian only: a
Gauss-Kruger zone used for data 95 degrees away (the CGCS2000 CM 120E zone for
Helsinki) inflates areas by a third. Inside China the fitting CRS is the
CGCS2000 3-degree Gauss-Kruger zone of the region's central meridian (what
county offices use), elsewhere the WGS 84 UTM zone.

Examples
--------
>>> from layers.crs import suggest_crs
>>> suggest_crs((119.75, 30.38, 120.35, 30.73)).to_string()  # Deqing
'EPSG:4549'
>>> suggest_crs((24.78, 60.13, 25.25, 60.30)).to_string()  # Helsinki
'EPSG:32635'
"""

from __future__ import annotations

import math

from pyproj import CRS

from layers.types import BBox

__all__ = ["TOLERANCE_DEG", "crs_misfit", "describe_crs", "suggest_crs"]

#: EPSG code of the CGCS2000 3-degree Gauss-Kruger zone with central meridian 75E; the
#: zones up to 135E follow in steps of 3 degrees (EPSG:4534..4554, "... CM 75E" .. "CM 135E").
CGCS2000_GK3_FIRST = 4534
CGCS2000_GK3_MERIDIANS = range(75, 136, 3)

#: How far (degrees) a region may reach beyond a CRS's area of use and still fit it:
#: a county on a zone's edge, an island just offshore of the "onshore" area.
TOLERANCE_DEG = 0.5


def suggest_crs(bounds: BBox) -> CRS:
    """The projected CRS in metres that fits a region with lon/lat ``bounds``.

    Inside China (the CGCS2000 zone's area of use holds the region), the
    CGCS2000 3-degree Gauss-Kruger zone of the region's central meridian;
    elsewhere the WGS 84 UTM zone of its centre (326xx north, 327xx south).

    Parameters
    ----------
    bounds
        ``(west, south, east, north)`` in degrees (WGS 84 or CGCS2000).
    """
    west, south, east, north = bounds
    lon, lat = (west + east) / 2, (south + north) / 2
    meridian = 3 * math.floor(lon / 3 + 0.5)
    if meridian in CGCS2000_GK3_MERIDIANS:
        gk = CRS.from_epsg(CGCS2000_GK3_FIRST + (meridian - 75) // 3)
        if _inside(gk, bounds):
            return gk
    zone = min(60, max(1, math.floor((lon + 180) / 6) + 1))
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def crs_misfit(crs: CRS | str, bounds: BBox, tolerance: float = TOLERANCE_DEG) -> str | None:
    """Why ``crs`` does not fit a region with lon/lat ``bounds``, or None when it does.

    A CRS fits when its area of use (:attr:`pyproj.CRS.area_of_use`), widened
    by ``tolerance`` degrees, holds the region. A CRS without an area of use
    (a custom PROJ string) is taken to fit.

    Returns
    -------
    One line: what the CRS is made for, where the region lies, which CRS to use.
    """
    crs = crs if isinstance(crs, CRS) else CRS.from_user_input(crs)
    if crs.area_of_use is None or _inside(crs, bounds, tolerance):
        return None
    made_for = _extent(crs.area_of_use.bounds)
    better = suggest_crs(bounds)
    return (
        f"{describe_crs(crs)} is made for {made_for}; the region lies at {_extent(bounds)}: "
        f"use {describe_crs(better)}"
    )


def describe_crs(crs: CRS) -> str:
    """``EPSG:4549 (CGCS2000 / 3-degree Gauss-Kruger CM 120E)``, or its name alone."""
    code = crs.to_authority()
    return f"{code[0]}:{code[1]} ({crs.name})" if code else crs.name


def _inside(crs: CRS, bounds: BBox, tolerance: float = TOLERANCE_DEG) -> bool:
    area = crs.area_of_use
    if area is None:
        return True
    west, south, east, north = bounds
    if area.west > area.east:  # an area of use across the antimeridian
        return True
    return (
        west >= area.west - tolerance
        and east <= area.east + tolerance
        and south >= area.south - tolerance
        and north <= area.north + tolerance
    )


def _extent(bounds: BBox | tuple[float, ...]) -> str:
    """``24.7°E–25.3°E, 60.1°N–60.3°N``: rounded outwards to 0.1 degree."""
    west, south, east, north = bounds
    lo = [math.floor(v * 10 + 1e-9) / 10 for v in (west, south)]
    hi = [math.ceil(v * 10 - 1e-9) / 10 for v in (east, north)]
    return (
        f"{_deg(lo[0], 'E', 'W')}–{_deg(hi[0], 'E', 'W')}, "
        f"{_deg(lo[1], 'N', 'S')}–{_deg(hi[1], 'N', 'S')}"
    )


def _deg(value: float, positive: str, negative: str) -> str:
    return f"{abs(value):g}°{positive if value >= 0 else negative}"
