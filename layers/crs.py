"""CRSs: whether two are the same, and which projected CRS fits a region.

Comparing
---------
rasterio ships its own PROJ database, often older or newer than pyproj's. The
same GeoTIFF key (EPSG:3067) then reads back as a WKT whose datum is called
"EUREF-FIN" where pyproj says "European Terrestrial Reference System 1989
ensemble", and :meth:`pyproj.CRS.equals` calls them different. Every place
that compares CRSs (artifact round trips, reprojection decisions, partition
checks) asks :func:`same_crs`, and every rasterio CRS becomes a pyproj one
through :func:`as_crs`, so the answer does not depend on which library printed
the definition.

Choosing
--------
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
import os
import warnings
from typing import TYPE_CHECKING, Any

from pyproj import CRS
from pyproj.exceptions import CRSError

from layers.errors import SourceError

if TYPE_CHECKING:  # layers.types builds on this module
    from layers.types import BBox

__all__ = [
    "TOLERANCE_DEG",
    "as_crs",
    "crs_misfit",
    "describe_crs",
    "parse_crs",
    "same_crs",
    "suggest_crs",
]

#: An EPSG identification at least this sure names the CRS (pyproj's own default).
MIN_CONFIDENCE = 70


def as_crs(value: Any) -> CRS:
    """``value`` (a pyproj or rasterio CRS, ``"EPSG:4549"``, WKT ...) as a pyproj CRS.

    A rasterio CRS that its own PROJ identifies by an authority code (what a
    GeoTIFF's key declares) becomes pyproj's definition of that code, when both
    define the same coordinates; otherwise its WKT is taken as it is.
    """
    if isinstance(value, CRS):
        return value
    to_authority = getattr(value, "to_authority", None)
    to_wkt = getattr(value, "to_wkt", None)
    if callable(to_authority) and callable(to_wkt) and not isinstance(value, str):
        wkt = CRS.from_wkt(to_wkt())
        auth = to_authority()
        if auth:
            try:
                declared = CRS.from_authority(*auth)
            except CRSError:
                return wkt
            if declared.equals(wkt, ignore_axis_order=True) or _same_proj(declared, wkt):
                return declared
        return wkt
    return CRS.from_user_input(value)


def parse_crs(value: str | CRS, origin: str | os.PathLike[str]) -> CRS:
    """``value`` (a source's ``crs`` key) as a CRS, or a :class:`SourceError` naming ``origin``."""
    try:
        return CRS.from_user_input(value)
    except CRSError:
        raise SourceError(f"{origin}: crs {value!r} is not a CRS pyproj knows") from None


def same_crs(a: Any, b: Any) -> bool:
    """Whether ``a`` and ``b`` place coordinates alike (anything :func:`as_crs` takes).

    True when pyproj finds them equivalent (axis order aside), when both are
    identified as the same EPSG code, or when their PROJ definitions agree once
    names are set aside (the datum called "EUREF-FIN" by one PROJ database and
    "ETRS89 ensemble" by another).

    Examples
    --------
    >>> same_crs("EPSG:4549", CRS.from_epsg(4549).to_wkt())
    True
    >>> same_crs("EPSG:4549", "EPSG:4326")
    False
    """
    if a is None or b is None:
        return a is None and b is None
    ca, cb = as_crs(a), as_crs(b)
    if ca.equals(cb, ignore_axis_order=True):
        return True
    ea, eb = ca.to_epsg(MIN_CONFIDENCE), cb.to_epsg(MIN_CONFIDENCE)
    if ea is not None and ea == eb:
        return True
    if ca.is_projected != cb.is_projected or ca.is_geographic != cb.is_geographic:
        return False
    return _same_proj(ca, cb)


def _same_proj(a: CRS, b: CRS) -> bool:
    pa = _proj(a)
    return pa is not None and pa == _proj(b)


def _proj(crs: CRS) -> str | None:
    """The PROJ string of ``crs`` with its parameters sorted (None if it has none).

    A PROJ string keeps what moves coordinates (projection, parameters,
    ellipsoid, datum shift) and drops the names; that is the comparison wanted.
    """
    with warnings.catch_warnings():
        # pyproj warns that a PROJ string loses information: names, which is the point
        warnings.simplefilter("ignore", UserWarning)
        try:
            text = crs.to_proj4()
        except CRSError:
            return None
    if not text:
        return None
    return " ".join(sorted(t for t in text.split() if t not in ("+no_defs", "+type=crs")))


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
