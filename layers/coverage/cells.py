"""The cell table: one row per cell (sector × band), validated, with its link budget.

Expected columns (other names map through ``columns={"canonical": "theirs"}``):

========================  ========================================================
``cell_id``               unique id of the cell (required)
``site_id``               site the cell belongs to (default: the cell id)
``height_m``              antenna height above ground, m (required, > 0)
``azimuth_deg``           compass bearing of the boresight (required)
``downtilt_deg``          mechanical down-tilt, degrees (default 0)
``etilt_deg``             electrical down-tilt, degrees (default: parameter)
``band``                  band name, e.g. ``n78`` (default: from the frequency)
``freq_mhz``              carrier frequency, MHz (required)
``bandwidth_mhz``         channel bandwidth, MHz (required)
``scs_khz``               sub-carrier spacing (default 15 kHz below 3 GHz, else 30)
``tx_power_dbm``          total transmit power of the cell, dBm (required)
``scenario``              ``RMa`` / ``UMa`` / ``UMi`` (default: parameter)
``gain_dbi``              antenna gain at boresight, dBi (default: parameter, 8 dBi)
========================  ========================================================

The power per resource element is ``tx_power_dbm - 10 log10(12 N_RB)`` with
``N_RB`` from TS 38.104 Table 5.3.2-1 (maximum transmission bandwidth
configuration) for the bandwidth and sub-carrier spacing.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import CRS

from layers.coverage.propagation import SCENARIOS, VALIDITY
from layers.errors import ParameterError, SourceError

REQUIRED = ("cell_id", "height_m", "azimuth_deg", "freq_mhz", "bandwidth_mhz", "tx_power_dbm")
OPTIONAL = ("site_id", "downtilt_deg", "etilt_deg", "band", "scs_khz", "scenario", "gain_dbi")

#: N_RB per (sub-carrier spacing kHz, bandwidth MHz), TS 38.104 Table 5.3.2-1 (FR1).
N_RB: dict[tuple[int, int], int] = {
    **{
        (15, bw): n
        for bw, n in [
            (5, 25),
            (10, 52),
            (15, 79),
            (20, 106),
            (25, 133),
            (30, 160),
            (35, 188),
            (40, 216),
            (45, 242),
            (50, 270),
        ]
    },
    **{
        (30, bw): n
        for bw, n in [
            (5, 11),
            (10, 24),
            (15, 38),
            (20, 51),
            (25, 65),
            (30, 78),
            (35, 92),
            (40, 106),
            (45, 119),
            (50, 133),
            (60, 162),
            (70, 189),
            (80, 217),
            (90, 245),
            (100, 273),
        ]
    },
    **{
        (60, bw): n
        for bw, n in [
            (10, 11),
            (15, 18),
            (20, 24),
            (25, 31),
            (30, 38),
            (35, 44),
            (40, 51),
            (45, 58),
            (50, 65),
            (60, 79),
            (70, 93),
            (80, 107),
            (90, 121),
            (100, 135),
        ]
    },
}


def resource_blocks(bandwidth_mhz: float, scs_khz: float) -> int:
    """``N_RB`` of TS 38.104 Table 5.3.2-1.

    Raises
    ------
    ParameterError
        When the combination is not in the table.
    """
    key = (round(scs_khz), round(bandwidth_mhz))
    if key not in N_RB or abs(bandwidth_mhz - key[1]) > 1e-6 or abs(scs_khz - key[0]) > 1e-6:
        raise ParameterError(
            f"bandwidth {bandwidth_mhz:g} MHz at {scs_khz:g} kHz sub-carrier spacing is not a "
            "TS 38.104 Table 5.3.2-1 configuration"
        )
    return N_RB[key]


def power_per_re(tx_power_dbm: float, bandwidth_mhz: float, scs_khz: float) -> float:
    """Transmit power per resource element, dBm (total power spread over all sub-carriers)."""
    return tx_power_dbm - 10 * np.log10(12 * resource_blocks(bandwidth_mhz, scs_khz))


def prepare_cells(
    cells: gpd.GeoDataFrame,
    crs: CRS | str,
    columns: dict[str, str] | None = None,
    scenario: str = "UMa",
    gain_dbi: float = 8.0,
    etilt_deg: float = 0.0,
    origin: str = "cells",
) -> tuple[pd.DataFrame, list[str]]:
    """Validate a cell table and return one tidy row per cell, plus warnings.

    Parameters
    ----------
    cells
        Point GeoDataFrame with a CRS, one row per cell.
    crs
        The working CRS (metric): ``x`` and ``y`` come out in it.
    columns
        ``canonical name -> column name in cells`` for tables that name things differently.
    scenario, gain_dbi, etilt_deg
        Defaults for cells whose table has no such column (or an empty value).
    origin
        Named in error messages (the source file).

    Returns
    -------
    tuple
        A DataFrame with the canonical columns plus ``x``, ``y``, ``power_re_dbm``
        and ``fc_ghz``; warnings about values the models had to clamp.

    Raises
    ------
    SourceError
        Missing columns, missing or non-numeric values, duplicate ids, bad geometry.
    ParameterError
        Non-physical values: heights ≤ 0, frequency ≤ 0, unknown scenario,
        bandwidth/SCS pairs outside TS 38.104.
    """
    if cells.crs is None:
        raise SourceError(f"{origin}: declares no CRS")
    rename = {theirs: ours for ours, theirs in (columns or {}).items()}
    missing_mapped = [theirs for theirs in rename if theirs not in cells.columns]
    if missing_mapped:
        raise SourceError(f"{origin}: mapped column(s) {', '.join(missing_mapped)} not found")
    df = pd.DataFrame(cells.drop(columns=cells.geometry.name)).rename(columns=rename)
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise SourceError(
            f"{origin}: missing column(s) {', '.join(missing)} (map other names with 'columns')"
        )
    geom = cells.geometry
    if geom.is_empty.any() or geom.isna().any() or (geom.geom_type != "Point").any():
        raise SourceError(f"{origin}: every cell needs a point location")
    pts = geom.to_crs(crs)
    out = pd.DataFrame({"cell_id": df["cell_id"].astype(str)})
    dup = out["cell_id"][out["cell_id"].duplicated()]
    if len(dup):
        raise SourceError(f"{origin}: cell_id {dup.iloc[0]!r} appears more than once")
    out["site_id"] = _text(df, "site_id", out["cell_id"])
    out["x"] = pts.x.to_numpy()
    out["y"] = pts.y.to_numpy()
    for name in ("height_m", "azimuth_deg", "freq_mhz", "bandwidth_mhz", "tx_power_dbm"):
        out[name] = _numbers(df, name, None, origin, out["cell_id"])
    out["downtilt_deg"] = _numbers(df, "downtilt_deg", 0.0, origin, out["cell_id"])
    out["etilt_deg"] = _numbers(df, "etilt_deg", etilt_deg, origin, out["cell_id"])
    out["gain_dbi"] = _numbers(df, "gain_dbi", gain_dbi, origin, out["cell_id"])
    default_scs = np.where(out["freq_mhz"] < 3000, 15.0, 30.0)
    out["scs_khz"] = _numbers(df, "scs_khz", default_scs, origin, out["cell_id"])
    out["band"] = _text(df, "band", out["freq_mhz"].map(lambda f: f"{f:g}MHz"))
    out["scenario"] = _text(df, "scenario", pd.Series(scenario, index=out.index))
    _check(out, origin)
    out["fc_ghz"] = out["freq_mhz"] / 1000.0
    out["power_re_dbm"] = [
        _power(r.tx_power_dbm, r.bandwidth_mhz, r.scs_khz, r.cell_id, origin)
        for r in out.itertuples()
    ]
    return out.reset_index(drop=True), _warnings(out, origin)


def _numbers(df, name, default, origin, ids) -> pd.Series:
    if name not in df.columns:
        return pd.Series(np.broadcast_to(default, len(df)), index=df.index, dtype=float)
    values = pd.to_numeric(df[name], errors="coerce")
    if default is not None:
        values = values.fillna(pd.Series(np.broadcast_to(default, len(df)), index=df.index))
    bad = ~np.isfinite(values.to_numpy(dtype=float))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise SourceError(
            f"{origin}: cell {ids.iloc[row]!r}: column {name!r} needs a number, "
            f"got {df[name].iloc[row]!r}"
        )
    return values.astype(float)


def _text(df, name, default: pd.Series) -> pd.Series:
    if name not in df.columns:
        return default.astype(str)
    values = df[name].astype("string").str.strip()
    return values.mask(values.isna() | (values == ""), default.astype(str)).astype(str)


def _check(out: pd.DataFrame, origin: str) -> None:
    def first(mask: pd.Series) -> str | None:
        return str(out["cell_id"][mask].iloc[0]) if mask.any() else None

    if (cid := first(out["height_m"] <= 0)) is not None:
        raise ParameterError(f"{origin}: cell {cid!r}: height_m must be above the ground (> 0 m)")
    if (cid := first(out["freq_mhz"] <= 0)) is not None:
        raise ParameterError(f"{origin}: cell {cid!r}: freq_mhz must be positive")
    if (cid := first(out["bandwidth_mhz"] <= 0)) is not None:
        raise ParameterError(f"{origin}: cell {cid!r}: bandwidth_mhz must be positive")
    if (cid := first((out["downtilt_deg"].abs() > 90) | (out["etilt_deg"].abs() > 90))) is not None:
        raise ParameterError(f"{origin}: cell {cid!r}: tilts must lie within ±90°")
    bad = ~out["scenario"].isin(SCENARIOS)
    if (cid := first(bad)) is not None:
        raise ParameterError(
            f"{origin}: cell {cid!r}: scenario {out['scenario'][bad].iloc[0]!r} is not one of "
            f"{', '.join(SCENARIOS)}"
        )


def _power(tx: float, bw: float, scs: float, cell_id: str, origin: str) -> float:
    try:
        return float(power_per_re(tx, bw, scs))
    except ParameterError as exc:
        raise ParameterError(f"{origin}: cell {cell_id!r}: {exc}") from None


def _warnings(out: pd.DataFrame, origin: str) -> list[str]:
    """Values the 3GPP models will clamp, one message per scenario and limit."""
    warnings = []
    for scenario, group in out.groupby("scenario"):
        v = VALIDITY[str(scenario)]
        fc = group["fc_ghz"]
        bad = group[(fc < v.fc_ghz[0]) | (fc > v.fc_ghz[1])]
        if len(bad):
            warnings.append(
                f"{origin}: {len(bad)} {scenario} cell(s) (e.g. {bad['cell_id'].iloc[0]!r}, "
                f"{bad['freq_mhz'].iloc[0]:g} MHz) are outside the model's "
                f"{v.fc_ghz[0]:g}-{v.fc_ghz[1]:g} GHz; frequency clamped"
            )
        h = group["height_m"]
        lo, hi = v.h_bs
        off = group[(h < lo) | (h > hi)]
        # UMa/UMi name a nominal height, not a range: real heights are used as is
        # (the per-pixel flags still record it); only true clamps are worth a warning.
        if len(off) and lo != hi:
            warnings.append(
                f"{origin}: {len(off)} {scenario} cell(s) (e.g. {off['cell_id'].iloc[0]!r}, "
                f"{off['height_m'].iloc[0]:g} m) have antenna heights outside "
                f"{lo:g}-{hi:g} m; clamped"
            )
    return warnings


__all__ = ["N_RB", "OPTIONAL", "REQUIRED", "power_per_re", "prepare_cells", "resource_blocks"]
