"""GCJ-02 and BD-09: the shifted coordinates of Chinese web maps, to and from WGS84.

Boundaries traced on Chinese web maps (AMap/Gaode, Tencent) and most Chinese
POI tables are in GCJ-02, WGS84 passed through a published obfuscation that
moves points by 300-700 m; Baidu's BD-09 adds a further rotation and shift
on top. Neither is a CRS PROJ knows: read as WGS84 they land hundreds of
metres off. The forward transforms below follow the widely published
algorithm (Krasovsky 1940 ellipsoid constants and polynomial offsets); the
inverses iterate the forward transform until it lands within a millimetre of
the input. Points outside mainland China's rough bounding box are left as
they are, as the forward algorithm does.

All functions take and return longitude/latitude in degrees as numpy arrays.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal

import numpy as np
import shapely

__all__ = [
    "CHINA_CRS",
    "bd09_to_gcj02",
    "china_crs",
    "from_wgs84",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "to_wgs84",
    "wgs84_to_gcj02",
]

ChinaCRS = Literal["GCJ-02", "BD-09"]
_XY = tuple[np.ndarray, np.ndarray]
#: The names accepted, in their canonical spelling.
CHINA_CRS: tuple[ChinaCRS, ...] = ("GCJ-02", "BD-09")

# Krasovsky 1940: semi-major axis and first eccentricity squared, as the algorithm uses them.
_A = 6378245.0
_EE = 0.00669342162296594323
_X_PI = np.pi * 3000.0 / 180.0
#: Inverses stop once the forward transform of the estimate is this close (degrees, ~1 mm).
_TOLERANCE = 1e-8
_MAX_ITERATIONS = 30


def china_crs(value: str | None) -> ChinaCRS | None:
    """``"GCJ-02"`` / ``"BD-09"`` when ``value`` names one (gcj02, GCJ_02, bd-09 ...), else None."""
    if value is None:
        return None
    key = re.sub(r"[\s_\-]", "", value).upper()
    return {"GCJ02": "GCJ-02", "BD09": "BD-09"}.get(key)  # type: ignore[return-value]


def _outside(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    return (lon < 72.004) | (lon > 137.8347) | (lat < 0.8293) | (lat > 55.8271)


def _dlat(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    out = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    out += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    out += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    out += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    return out


def _dlon(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    out = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    out += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    out += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    out += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    return out


def wgs84_to_gcj02(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 longitude/latitude of WGS84 ``lon``/``lat`` (outside China: unchanged)."""
    lon = np.asarray(lon, dtype="float64")
    lat = np.asarray(lat, dtype="float64")
    dlat = _dlat(lon - 105.0, lat - 35.0)
    dlon = _dlon(lon - 105.0, lat - 35.0)
    rad = lat / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(rad) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrt_magic * np.cos(rad) * np.pi)
    out = _outside(lon, lat)
    return np.where(out, lon, lon + dlon), np.where(out, lat, lat + dlat)


def gcj02_to_bd09(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """BD-09 longitude/latitude of GCJ-02 ``lon``/``lat`` (outside China: unchanged)."""
    lon = np.asarray(lon, dtype="float64")
    lat = np.asarray(lat, dtype="float64")
    z = np.sqrt(lon * lon + lat * lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    out = _outside(lon, lat)
    return (
        np.where(out, lon, z * np.cos(theta) + 0.0065),
        np.where(out, lat, z * np.sin(theta) + 0.006),
    )


def _invert(
    forward: Callable[[np.ndarray, np.ndarray], _XY], lon: np.ndarray, lat: np.ndarray
) -> _XY:
    """Solve ``forward(x) = (lon, lat)`` by fixed-point iteration (the shift is smooth, small)."""
    lon = np.asarray(lon, dtype="float64")
    lat = np.asarray(lat, dtype="float64")
    x, y = lon.copy(), lat.copy()
    for _ in range(_MAX_ITERATIONS):
        fx, fy = forward(x, y)
        ex, ey = fx - lon, fy - lat
        x, y = x - ex, y - ey
        if np.all(np.abs(ex[np.isfinite(ex)]) < _TOLERANCE) and np.all(
            np.abs(ey[np.isfinite(ey)]) < _TOLERANCE
        ):
            break
    return x, y


def gcj02_to_wgs84(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 longitude/latitude of GCJ-02 ``lon``/``lat``, to a millimetre of the forward."""
    return _invert(wgs84_to_gcj02, lon, lat)


def bd09_to_gcj02(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 longitude/latitude of BD-09 ``lon``/``lat``, to a millimetre of the forward."""
    return _invert(gcj02_to_bd09, lon, lat)


def _to_wgs84_xy(
    which: ChinaCRS, lon: np.ndarray, lat: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    if which == "BD-09":
        lon, lat = bd09_to_gcj02(lon, lat)
    return gcj02_to_wgs84(lon, lat)


def _from_wgs84_xy(
    which: ChinaCRS, lon: np.ndarray, lat: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    lon, lat = wgs84_to_gcj02(lon, lat)
    return gcj02_to_bd09(lon, lat) if which == "BD-09" else (lon, lat)


def to_wgs84(geometry: np.ndarray, which: ChinaCRS) -> np.ndarray:
    """Shapely geometries in ``which`` (lon/lat) moved to WGS84 lon/lat (z kept)."""
    return _move(geometry, lambda x, y: _to_wgs84_xy(which, x, y))


def from_wgs84(geometry: np.ndarray, which: ChinaCRS) -> np.ndarray:
    """Shapely geometries in WGS84 lon/lat moved to ``which`` (for Chinese web basemaps)."""
    return _move(geometry, lambda x, y: _from_wgs84_xy(which, x, y))


def _move(geometry: np.ndarray, fn: Callable[[np.ndarray, np.ndarray], _XY]) -> np.ndarray:
    geometry = np.asarray(geometry, dtype=object)
    include_z = bool(shapely.has_z(geometry).any())

    def move(xyz: np.ndarray) -> np.ndarray:
        return np.column_stack([*fn(xyz[:, 0], xyz[:, 1]), xyz[:, 2:]])

    return shapely.transform(geometry, move, include_z=include_z)
