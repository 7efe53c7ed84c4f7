"""Path loss: 3GPP TR 38.901 Table 7.4.1-1 (RMa, UMa, UMi-Street Canyon), free space, COST-231 Hata.

Every function is vectorised over numpy arrays (distances, heights and
frequency broadcast together) and returns a :class:`PathLoss`: the loss in dB
and a bit mask of the validity limits that were hit. Inputs outside a model's
validity range are **clamped** to the range and the clamp is recorded in
``flags``; nothing is silently extrapolated.

Units: distances and heights in metres, frequency in GHz, losses in dB. The
speed of light is the standard's ``c = 3.0e8`` m/s.

Examples
--------
>>> pl = uma_los(d2d=100.0, d3d=102.72, h_bs=25.0, h_ut=1.5, fc_ghz=3.5)
>>> round(float(pl.loss), 2)
83.14
>>> int(pl.flags)
0
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntFlag
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from layers.errors import ParameterError

C = 3.0e8  # TR 38.901 uses c = 3.0e8 m/s

#: float32 or float64 arrays (float32 rasters compute in float32)
Floats = NDArray[np.floating[Any]]


class Flag(IntFlag):
    """Validity limits hit while computing a path loss (bits of :attr:`PathLoss.flags`)."""

    NONE = 0
    DISTANCE_MIN = 1  # 2-D distance below the model's minimum (clamped up)
    DISTANCE_MAX = 2  # 2-D distance above the model's maximum (clamped down)
    FREQUENCY = 4  # carrier frequency outside the model's range (clamped)
    BS_HEIGHT = 8  # base station height outside the range (clamped) or off the nominal value
    UT_HEIGHT = 16  # user terminal height outside the range (clamped)
    ENVIRONMENT = 32  # average building height / street width outside the range (clamped)


@dataclass(frozen=True)
class PathLoss:
    """A path loss and the validity flags of each value.

    Parameters
    ----------
    loss
        Path loss in dB (float64 array, or a 0-d array for scalar input).
    flags
        :class:`Flag` bits per value (uint8 array of the same shape).
    """

    loss: Floats
    flags: NDArray[np.uint8]


@dataclass(frozen=True)
class Validity:
    """Validity ranges of one scenario of Table 7.4.1-1."""

    fc_ghz: tuple[float, float]
    d2d_los: tuple[float, float]
    d2d_nlos: tuple[float, float]
    h_bs: tuple[float, float]
    h_ut: tuple[float, float]


#: Validity ranges per scenario (TR 38.901 Table 7.4.1-1 and its notes; RMa is
#: specified up to 30 GHz, the others over the whole 0.5-100 GHz of the report).
VALIDITY: dict[str, Validity] = {
    "RMa": Validity((0.5, 30.0), (10.0, 10_000.0), (10.0, 5_000.0), (10.0, 150.0), (1.0, 10.0)),
    "UMa": Validity((0.5, 100.0), (10.0, 5_000.0), (10.0, 5_000.0), (25.0, 25.0), (1.5, 22.5)),
    "UMi": Validity((0.5, 100.0), (10.0, 5_000.0), (10.0, 5_000.0), (10.0, 10.0), (1.5, 22.5)),
}
SCENARIOS = tuple(VALIDITY)


def _clamp(value: Floats, lo: float, hi: float, flag: Flag, flags: NDArray[np.uint8]) -> Floats:
    out = (value < lo) | (value > hi)
    if out.any():
        flags |= np.where(out, np.uint8(flag), np.uint8(0))
    return np.clip(value, lo, hi)


def _arrays(*values: ArrayLike) -> list[NDArray[np.floating]]:
    """Inputs as arrays of one float type, not broadcast (scalars stay 0-d).

    float32 arrays (with scalars) compute in float32, twice as fast over a
    raster and still exact to 1e-4 dB; anything else computes in float64.
    """
    arrays = [np.asarray(v) for v in values]
    shaped = [a for a in arrays if a.ndim]
    single = bool(shaped) and all(a.dtype == np.float32 for a in shaped)
    dtype = np.float32 if single else np.float64
    return [a.astype(dtype, copy=False) for a in arrays]


def _flags(*arrays: NDArray[np.floating]) -> NDArray[np.uint8]:
    return np.zeros(np.broadcast_shapes(*(a.shape for a in arrays)), dtype=np.uint8)


def _distances(
    d2d: Floats,
    d3d: Floats,
    lo: float,
    hi: float,
    flags: NDArray[np.uint8],
) -> tuple[Floats, Floats]:
    """Clamp the 2-D distance to [lo, hi], moving the 3-D distance with it.

    The height difference ``sqrt(d3d² - d2d²)`` is kept, so the clamped pair is
    still a consistent geometry.
    """
    low = d2d < lo
    high = d2d > hi
    if not (low.any() or high.any()):
        return d2d, d3d
    if d2d.ndim and d2d.shape == d3d.shape == flags.shape and flags.flags.c_contiguous:
        # A raster has few pixels out of range (the site's own, a far rim): fix those alone.
        sel = np.flatnonzero(low | high)
        d2s, d3s = d2d.reshape(-1)[sel], d3d.reshape(-1)[sel]
        d2c, d3c = d2d.copy(), d3d.copy()
        clipped = np.clip(d2s, lo, hi)
        d2c.reshape(-1)[sel] = clipped
        d3c.reshape(-1)[sel] = np.sqrt(clipped * clipped + np.maximum(d3s * d3s - d2s * d2s, 0.0))
        flags.reshape(-1)[sel] |= np.where(
            low.reshape(-1)[sel], np.uint8(Flag.DISTANCE_MIN), np.uint8(Flag.DISTANCE_MAX)
        )
        return d2c, d3c
    flags |= np.where(low, np.uint8(Flag.DISTANCE_MIN), np.uint8(0))
    flags |= np.where(high, np.uint8(Flag.DISTANCE_MAX), np.uint8(0))
    d2c = np.clip(d2d, lo, hi)
    dz2 = np.maximum(d3d * d3d - d2d * d2d, 0.0)
    return d2c, np.where(low | high, np.sqrt(d2c * d2c + dz2), d3d)


def _prepare(
    scenario: str,
    los: bool,
    d2d: ArrayLike,
    d3d: ArrayLike,
    h_bs: ArrayLike,
    h_ut: ArrayLike,
    fc_ghz: ArrayLike,
    *,
    nominal_bs: bool,
) -> tuple[Floats, Floats, Floats, Floats, Floats, NDArray[np.uint8]]:
    d2, d3, hb, hu, fc = _arrays(d2d, d3d, h_bs, h_ut, fc_ghz)
    flags = _flags(d2, d3, hb, hu, fc)
    v = VALIDITY[scenario]
    fc = _clamp(fc, *v.fc_ghz, Flag.FREQUENCY, flags)
    hu = _clamp(hu, *v.h_ut, Flag.UT_HEIGHT, flags)
    if nominal_bs:
        # UMa and UMi give a nominal height, not a range: keep the real height
        # (it sets the breakpoint) and flag that the model was fitted elsewhere.
        off = hb != v.h_bs[0]
        if off.any():
            flags |= np.where(off, np.uint8(Flag.BS_HEIGHT), np.uint8(0))
    else:
        hb = _clamp(hb, *v.h_bs, Flag.BS_HEIGHT, flags)
    lo, hi = v.d2d_los if los else v.d2d_nlos
    d2, d3 = _distances(d2, d3, lo, hi, flags)
    return d2, d3, hb, hu, fc, flags


# --------------------------------------------------------------------------- RMa


def _rma_pl1(d3d: Floats, fc: Floats, h: Floats):
    return (
        20 * np.log10(40 * np.pi * d3d * fc / 3)
        + np.minimum(0.03 * h**1.72, 10) * np.log10(d3d)
        - np.minimum(0.044 * h**1.72, 14.77)
        + 0.002 * np.log10(h) * d3d
    )


def rma_breakpoint(h_bs: ArrayLike, h_ut: ArrayLike, fc_ghz: ArrayLike) -> Floats:
    """RMa breakpoint distance ``d_BP = 2 π h_BS h_UT f_c / c`` (Table 7.4.1-1, note 5), m."""
    hb, hu, fc = _arrays(h_bs, h_ut, fc_ghz)
    return 2 * np.pi * hb * hu * fc * 1e9 / C


def rma_los(
    d2d: ArrayLike,
    d3d: ArrayLike,
    h_bs: ArrayLike = 35.0,
    h_ut: ArrayLike = 1.5,
    fc_ghz: ArrayLike = 0.7,
    h: float = 5.0,
    w: float = 20.0,
    *,
    _nlos_range: bool = False,
) -> PathLoss:
    """RMa LOS path loss: PL1 up to the breakpoint, PL2 beyond (10 m ≤ d2D ≤ 10 km).

    Parameters
    ----------
    d2d, d3d
        2-D and 3-D distances between base station and terminal, m.
    h_bs, h_ut
        Antenna heights, m (valid 10-150 m and 1-10 m).
    fc_ghz
        Carrier frequency, GHz (valid 0.5-30 GHz).
    h, w
        Average building height and street width, m (valid 5-50 m each).
    """
    d2, d3, hb, hu, fc, flags = _prepare(
        "RMa", not _nlos_range, d2d, d3d, h_bs, h_ut, fc_ghz, nominal_bs=False
    )
    h_arr = _clamp(np.asarray(h, dtype=d2.dtype), 5.0, 50.0, Flag.ENVIRONMENT, flags)
    _clamp(np.asarray(w, dtype=d2.dtype), 5.0, 50.0, Flag.ENVIRONMENT, flags)
    dbp = 2 * np.pi * hb * hu * fc * 1e9 / C
    pl1 = _rma_pl1(d3, fc, h_arr)
    pl2 = _rma_pl1(dbp, fc, h_arr) + 40 * np.log10(d3 / dbp)
    return PathLoss(np.where(d2 <= dbp, pl1, pl2), flags)


def rma_nlos(
    d2d: ArrayLike,
    d3d: ArrayLike,
    h_bs: ArrayLike = 35.0,
    h_ut: ArrayLike = 1.5,
    fc_ghz: ArrayLike = 0.7,
    h: float = 5.0,
    w: float = 20.0,
) -> PathLoss:
    """RMa NLOS path loss ``max(PL_RMa-LOS, PL'_RMa-NLOS)`` (10 m ≤ d2D ≤ 5 km)."""
    los = rma_los(d2d, d3d, h_bs, h_ut, fc_ghz, h, w, _nlos_range=True)
    return _max(los, _rma_nlos_prime(d2d, d3d, h_bs, h_ut, fc_ghz, h, w))


def _rma_nlos_prime(d2d, d3d, h_bs, h_ut, fc_ghz, h=5.0, w=20.0) -> PathLoss:
    _, d3, hb, hu, fc, flags = _prepare(
        "RMa", False, d2d, d3d, h_bs, h_ut, fc_ghz, nominal_bs=False
    )
    hh = float(np.clip(h, 5.0, 50.0))
    ww = float(np.clip(w, 5.0, 50.0))
    nlos = (
        161.04
        - 7.1 * np.log10(ww)
        + 7.5 * np.log10(hh)
        - (24.37 - 3.7 * (hh / hb) ** 2) * np.log10(hb)
        + (43.42 - 3.1 * np.log10(hb)) * (np.log10(d3) - 3)
        + 20 * np.log10(fc)
        - (3.2 * np.log10(11.75 * hu) ** 2 - 4.97)
    )
    return PathLoss(nlos, flags)


def _max(los: PathLoss, prime: PathLoss) -> PathLoss:
    return PathLoss(np.maximum(los.loss, prime.loss), los.flags | prime.flags)


# --------------------------------------------------------------------------- UMa / UMi


def uma_breakpoint(h_bs: ArrayLike, h_ut: ArrayLike, fc_ghz: ArrayLike) -> Floats:
    """UMa / UMi breakpoint ``d'_BP = 4 h'_BS h'_UT f_c / c`` with ``h_E = 1 m`` (note 1), m.

    ``h_E = 1 m`` is exact for UMi and for UMa terminals below 13 m (where
    ``C(d2D, h_UT) = 0``); the model's random ``h_E`` of taller UMa terminals
    is not drawn: coverage maps need a deterministic value.
    """
    hb, hu, fc = _arrays(h_bs, h_ut, fc_ghz)
    return 4 * (hb - 1.0) * (hu - 1.0) * fc * 1e9 / C


def _breakpoint_los(
    scenario: str,
    a: float,
    b1: float,
    b2: float,
    bp_term: float,
    d2d: ArrayLike,
    d3d: ArrayLike,
    h_bs: ArrayLike,
    h_ut: ArrayLike,
    fc_ghz: ArrayLike,
    nlos_range: bool,
) -> PathLoss:
    d2, d3, hb, hu, fc, flags = _prepare(
        scenario, not nlos_range, d2d, d3d, h_bs, h_ut, fc_ghz, nominal_bs=True
    )
    dbp = 4 * (hb - 1.0) * (hu - 1.0) * fc * 1e9 / C
    pl1 = a + b1 * np.log10(d3) + 20 * np.log10(fc)
    pl2 = a + b2 * np.log10(d3) + 20 * np.log10(fc) - bp_term * np.log10(dbp**2 + (hb - hu) ** 2)
    return PathLoss(np.where(d2 <= dbp, pl1, pl2), flags)


def uma_los(
    d2d: ArrayLike,
    d3d: ArrayLike,
    h_bs: ArrayLike = 25.0,
    h_ut: ArrayLike = 1.5,
    fc_ghz: ArrayLike = 3.5,
    *,
    _nlos_range: bool = False,
) -> PathLoss:
    """UMa LOS path loss: PL1 up to ``d'_BP``, PL2 beyond (10 m ≤ d2D ≤ 5 km, h_UT 1.5-22.5 m)."""
    return _breakpoint_los("UMa", 28.0, 22.0, 40.0, 9.0, d2d, d3d, h_bs, h_ut, fc_ghz, _nlos_range)


def uma_nlos(
    d2d: ArrayLike,
    d3d: ArrayLike,
    h_bs: ArrayLike = 25.0,
    h_ut: ArrayLike = 1.5,
    fc_ghz: ArrayLike = 3.5,
) -> PathLoss:
    """UMa NLOS path loss ``max(PL_UMa-LOS, PL'_UMa-NLOS)`` (10 m ≤ d2D ≤ 5 km)."""
    los = uma_los(d2d, d3d, h_bs, h_ut, fc_ghz, _nlos_range=True)
    return _max(los, _uma_nlos_prime(d2d, d3d, h_bs, h_ut, fc_ghz))


def _uma_nlos_prime(d2d, d3d, h_bs, h_ut, fc_ghz, h=5.0, w=20.0) -> PathLoss:
    _, d3, _, hu, fc, flags = _prepare("UMa", False, d2d, d3d, h_bs, h_ut, fc_ghz, nominal_bs=True)
    return PathLoss(13.54 + 39.08 * np.log10(d3) + 20 * np.log10(fc) - 0.6 * (hu - 1.5), flags)


def umi_los(
    d2d: ArrayLike,
    d3d: ArrayLike,
    h_bs: ArrayLike = 10.0,
    h_ut: ArrayLike = 1.5,
    fc_ghz: ArrayLike = 3.5,
    *,
    _nlos_range: bool = False,
) -> PathLoss:
    """UMi-Street Canyon LOS path loss: PL1 up to ``d'_BP``, PL2 beyond (10 m ≤ d2D ≤ 5 km)."""
    return _breakpoint_los("UMi", 32.4, 21.0, 40.0, 9.5, d2d, d3d, h_bs, h_ut, fc_ghz, _nlos_range)


def umi_nlos(
    d2d: ArrayLike,
    d3d: ArrayLike,
    h_bs: ArrayLike = 10.0,
    h_ut: ArrayLike = 1.5,
    fc_ghz: ArrayLike = 3.5,
) -> PathLoss:
    """UMi-Street Canyon NLOS path loss ``max(PL_UMi-LOS, PL'_UMi-NLOS)`` (10 m ≤ d2D ≤ 5 km)."""
    los = umi_los(d2d, d3d, h_bs, h_ut, fc_ghz, _nlos_range=True)
    return _max(los, _umi_nlos_prime(d2d, d3d, h_bs, h_ut, fc_ghz))


def _umi_nlos_prime(d2d, d3d, h_bs, h_ut, fc_ghz, h=5.0, w=20.0) -> PathLoss:
    _, d3, _, hu, fc, flags = _prepare("UMi", False, d2d, d3d, h_bs, h_ut, fc_ghz, nominal_bs=True)
    return PathLoss(35.3 * np.log10(d3) + 22.4 + 21.3 * np.log10(fc) - 0.3 * (hu - 1.5), flags)


def _los(
    scenario: str,
    d2d: ArrayLike,
    d3d: ArrayLike,
    h_bs: ArrayLike,
    h_ut: ArrayLike,
    fc_ghz: ArrayLike,
    h: float,
    w: float,
    nlos_range: bool,
) -> PathLoss:
    if scenario == "RMa":
        return rma_los(d2d, d3d, h_bs, h_ut, fc_ghz, h, w, _nlos_range=nlos_range)
    if scenario == "UMa":
        return uma_los(d2d, d3d, h_bs, h_ut, fc_ghz, _nlos_range=nlos_range)
    return umi_los(d2d, d3d, h_bs, h_ut, fc_ghz, _nlos_range=nlos_range)


_NLOS_PRIME = {"RMa": _rma_nlos_prime, "UMa": _uma_nlos_prime, "UMi": _umi_nlos_prime}


def _check_scenario(scenario: str) -> None:
    if scenario not in VALIDITY:
        raise ParameterError(f"scenario {scenario!r} is not one of {', '.join(SCENARIOS)}")


def path_loss(
    scenario: str,
    los: bool,
    d2d: ArrayLike,
    d3d: ArrayLike,
    h_bs: ArrayLike,
    h_ut: ArrayLike,
    fc_ghz: ArrayLike,
    h: float = 5.0,
    w: float = 20.0,
) -> PathLoss:
    """Dispatch to the Table 7.4.1-1 model of ``scenario`` ("RMa", "UMa", "UMi").

    ``h`` and ``w`` (average building height, street width) matter for RMa only.

    Raises
    ------
    ParameterError
        When ``scenario`` is not one of :data:`SCENARIOS`.
    """
    return los_nlos(scenario, d2d, d3d, h_bs, h_ut, fc_ghz, h, w)[0 if los else 1]


def los_nlos(
    scenario: str,
    d2d: ArrayLike,
    d3d: ArrayLike,
    h_bs: ArrayLike,
    h_ut: ArrayLike,
    fc_ghz: ArrayLike,
    h: float = 5.0,
    w: float = 20.0,
) -> tuple[PathLoss, PathLoss]:
    """LOS and NLOS path loss of ``scenario`` together, the LOS formula evaluated once.

    The NLOS value is ``max(PL_LOS, PL'_NLOS)`` with the LOS term clamped to the
    NLOS distance range, as the standard defines it.
    """
    _check_scenario(scenario)
    los = _los(scenario, d2d, d3d, h_bs, h_ut, fc_ghz, h, w, False)
    v = VALIDITY[scenario]
    if v.d2d_los == v.d2d_nlos or not (np.asarray(d2d) > v.d2d_nlos[1]).any():
        los_in_nlos_range = PathLoss(los.loss, los.flags)
    else:
        los_in_nlos_range = _los(scenario, d2d, d3d, h_bs, h_ut, fc_ghz, h, w, True)
    prime = _NLOS_PRIME[scenario](d2d, d3d, h_bs, h_ut, fc_ghz, h, w)
    return los, _max(los_in_nlos_range, prime)


def los_probability(scenario: str, d2d: ArrayLike, h_ut: ArrayLike = 1.5) -> Floats:
    """LOS probability of TR 38.901 Table 7.4.2-1 (outdoor terminals)."""
    d, hu = _arrays(d2d, h_ut)
    d = np.maximum(d, 1e-9)
    if scenario == "RMa":
        return np.where(d <= 10, 1.0, np.exp(-(d - 10) / 1000))
    if scenario == "UMi":
        return np.where(d <= 18, 1.0, 18 / d + np.exp(-d / 36) * (1 - 18 / d))
    if scenario == "UMa":
        c = np.where(hu <= 13, 0.0, (np.maximum(hu - 13, 0) / 10) ** 1.5)
        p = (18 / d + np.exp(-d / 63) * (1 - 18 / d)) * (
            1 + c * 5 / 4 * (d / 100) ** 3 * np.exp(-d / 150)
        )
        return np.where(d <= 18, 1.0, p)
    raise ParameterError(f"scenario {scenario!r} is not one of {', '.join(SCENARIOS)}")


# --------------------------------------------------------------------------- references


def free_space(d3d: ArrayLike, fc_ghz: ArrayLike) -> Floats:
    """Free-space path loss ``20 log10(4 π d f / c)``, dB (ITU-R P.525)."""
    d, fc = _arrays(d3d, fc_ghz)
    return 20 * np.log10(4 * np.pi * np.maximum(d, 1e-3) * fc * 1e9 / C)


def cost231_hata(
    d2d: ArrayLike,
    f_mhz: ArrayLike,
    h_bs: ArrayLike,
    h_ut: ArrayLike = 1.5,
    metropolitan: bool = False,
) -> PathLoss:
    """COST-231 Hata path loss (1500-2000 MHz, 1-20 km, h_BS 30-200 m, h_UT 1-10 m), dB.

    Medium-city / suburban form (``C_m = 0``) unless ``metropolitan``
    (``C_m = 3 dB``). Out-of-range inputs are clamped and flagged like the 3GPP
    models, so using it at 700 or 3500 MHz is visible in the flags.
    """
    d, f, hb, hu = _arrays(d2d, f_mhz, h_bs, h_ut)
    flags = _flags(d, f, hb, hu)
    f = _clamp(f, 1500.0, 2000.0, Flag.FREQUENCY, flags)
    hb = _clamp(hb, 30.0, 200.0, Flag.BS_HEIGHT, flags)
    hu = _clamp(hu, 1.0, 10.0, Flag.UT_HEIGHT, flags)
    if (d < 1000).any():
        flags |= np.where(d < 1000, np.uint8(Flag.DISTANCE_MIN), np.uint8(0))
    if (d > 20_000).any():
        flags |= np.where(d > 20_000, np.uint8(Flag.DISTANCE_MAX), np.uint8(0))
    d_km = np.clip(d, 1000.0, 20_000.0) / 1000
    a_hm = (1.1 * np.log10(f) - 0.7) * hu - (1.56 * np.log10(f) - 0.8)
    loss = (
        46.3
        + 33.9 * np.log10(f)
        - 13.82 * np.log10(hb)
        - a_hm
        + (44.9 - 6.55 * np.log10(hb)) * np.log10(d_km)
        + (3.0 if metropolitan else 0.0)
    )
    return PathLoss(loss, flags)


__all__ = [
    "SCENARIOS",
    "VALIDITY",
    "C",
    "Flag",
    "PathLoss",
    "cost231_hata",
    "free_space",
    "los_nlos",
    "los_probability",
    "path_loss",
    "rma_breakpoint",
    "rma_los",
    "rma_nlos",
    "uma_breakpoint",
    "uma_los",
    "uma_nlos",
    "umi_los",
    "umi_nlos",
]
