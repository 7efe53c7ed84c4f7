"""Small synthetic grids and cell tables for the coverage tests."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
from affine import Affine
from shapely.geometry import Point

from layers.types import RasterData

X0, Y1, RES = 500_000.0, 3_400_000.0, 20.0
CRS = "EPSG:4549"
C = 3.0e8


def flat_dem(n: int = 101, height: float = 0.0, res: float = RES) -> RasterData:
    return RasterData(
        np.full((n, n), height, dtype=np.float32), Affine(res, 0, X0, 0, -res, Y1), CRS, -9999.0
    )


def centre(row: int, col: int, res: float = RES) -> tuple[float, float]:
    """Map coordinates of the centre of pixel (row, col)."""
    return X0 + (col + 0.5) * res, Y1 - (row + 0.5) * res


def cell(cell_id: str, x: float, y: float, **kw) -> dict:
    row = {
        "cell_id": cell_id,
        "site_id": cell_id.split("-")[0],
        "x": x,
        "y": y,
        "height_m": 25.0,
        "azimuth_deg": 0.0,
        "downtilt_deg": 0.0,
        "band": "n78",
        "freq_mhz": 3500.0,
        "bandwidth_mhz": 100.0,
        "tx_power_dbm": 49.0,
        "scenario": "UMa",
    }
    row.update(kw)
    return row


def cells_frame(rows: list[dict], crs: str = CRS) -> gpd.GeoDataFrame:
    df = pd.DataFrame(rows)
    geom = [Point(x, y) for x, y in zip(df.pop("x"), df.pop("y"), strict=True)]
    return gpd.GeoDataFrame(df, geometry=geom, crs=crs)


# -- the link budget written out independently of layers.* -------------------------------


def uma_los_db(d2d: float, d3d: float, h_bs: float, h_ut: float, fc: float) -> float:
    dbp = 4 * (h_bs - 1) * (h_ut - 1) * fc * 1e9 / C
    if d2d <= dbp:
        return 28.0 + 22 * math.log10(d3d) + 20 * math.log10(fc)
    return (
        28.0
        + 40 * math.log10(d3d)
        + 20 * math.log10(fc)
        - 9 * math.log10(dbp**2 + (h_bs - h_ut) ** 2)
    )


def uma_nlos_db(d2d: float, d3d: float, h_bs: float, h_ut: float, fc: float) -> float:
    prime = 13.54 + 39.08 * math.log10(d3d) + 20 * math.log10(fc) - 0.6 * (h_ut - 1.5)
    return max(uma_los_db(d2d, d3d, h_bs, h_ut, fc), prime)


def gain_db(bearing: float, zenith: float, azimuth: float, g_max: float = 8.0) -> float:
    """3GPP element pattern, no tilt."""
    phi = (bearing - azimuth + 180) % 360 - 180
    a_v = -min(12 * ((zenith - 90) / 65) ** 2, 30)
    a_h = -min(12 * (phi / 65) ** 2, 30)
    return g_max - min(-(a_v + a_h), 30)


def rsrp_by_hand(
    site: tuple[float, float],
    px: tuple[float, float],
    azimuth: float,
    h_bs: float = 25.0,
    power_dbm: float = 49.0,
    n_rb: int = 273,
    nlos_extra: float | None = None,
) -> float:
    """RSRP on flat ground at height 0: LOS formula, or NLOS + ``nlos_extra`` dB."""
    dx, dy = px[0] - site[0], px[1] - site[1]
    d2d = math.hypot(dx, dy)
    dz = h_bs - 1.5
    d3d = math.hypot(d2d, dz)
    bearing = math.degrees(math.atan2(dx, dy)) % 360
    zenith = 90 + math.degrees(math.atan2(dz, d2d))
    p_re = power_dbm - 10 * math.log10(12 * n_rb)
    if nlos_extra is None:
        pl = uma_los_db(d2d, d3d, h_bs, 1.5, 3.5)
    else:
        pl = uma_nlos_db(d2d, d3d, h_bs, 1.5, 3.5) + nlos_extra
    return p_re + gain_db(bearing, zenith, azimuth) - pl
