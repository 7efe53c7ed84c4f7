"""Whether two CRSs are the same, by what they mean rather than how one PROJ copy prints them.

rasterio ships its own PROJ database, often older or newer than pyproj's. The
same GeoTIFF key (EPSG:3067) then reads back as a WKT whose datum is called
"EUREF-FIN" where pyproj says "European Terrestrial Reference System 1989
ensemble", and :meth:`pyproj.CRS.equals` calls them different. Every place
that compares CRSs (artifact round trips, reprojection decisions, partition
checks) asks :func:`same_crs`, and every rasterio CRS becomes a pyproj one
through :func:`as_crs`, so the answer does not depend on which library printed
the definition.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

from pyproj import CRS
from pyproj.exceptions import CRSError

from layers.errors import SourceError

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


__all__ = ["as_crs", "parse_crs", "same_crs"]
