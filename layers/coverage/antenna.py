"""The 3GPP sector antenna of TR 38.901 Table 7.3-1, with azimuth and down-tilt.

The element pattern is

- vertical cut ``A_V(θ'') = -min(12 ((θ'' - 90°) / θ_3dB)², SLA_V)``,
- horizontal cut ``A_H(φ'') = -min(12 (φ'' / φ_3dB)², A_max)``,
- combined ``A(θ'', φ'') = -min(-(A_V + A_H), A_max)``, plus the element gain
  ``G_E,max`` (8 dBi),

with ``θ_3dB = φ_3dB = 65°`` and ``SLA_V = A_max = 30 dB``. Mechanical
down-tilt rotates the antenna's local coordinate system as in TR 38.901
eq. 7.1-7 and 7.1-8 (bearing α, down-tilt β, slant γ = 0); electrical
down-tilt shifts the vertical cut (``θ'' - 90° - θ_etilt``), as a phased
array steers its beam without moving the panel.

Angles are in degrees. Zenith angle θ is 0° straight up, 90° at the horizon
and above 90° below it; azimuths are compass bearings (clockwise from north).

Examples
--------
>>> float(sector_gain(azimuth_deg=0.0, zenith_deg=90.0, boresight_deg=0.0))
8.0
>>> round(float(sector_gain(azimuth_deg=32.5, zenith_deg=90.0, boresight_deg=0.0)), 2)
5.0
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

BEAMWIDTH_DEG = 65.0
SLA_V_DB = 30.0
A_MAX_DB = 30.0
ELEMENT_GAIN_DBI = 8.0


def element_pattern(
    theta_deg: ArrayLike,
    phi_deg: ArrayLike,
    beamwidth_h_deg: float = BEAMWIDTH_DEG,
    beamwidth_v_deg: float = BEAMWIDTH_DEG,
    sla_v_db: float = SLA_V_DB,
    a_max_db: float = A_MAX_DB,
) -> NDArray[np.float64]:
    """Relative element pattern ``A(θ'', φ'')`` in the antenna's own coordinates, dB (≤ 0).

    Parameters
    ----------
    theta_deg
        Local zenith angle θ'' (90° = boresight elevation).
    phi_deg
        Local azimuth φ'' (0° = boresight), any range (wrapped to ±180°).
    """
    theta = np.asarray(theta_deg, dtype=np.float64)
    phi = (np.asarray(phi_deg, dtype=np.float64) + 180.0) % 360.0 - 180.0
    a_v = -np.minimum(12.0 * ((theta - 90.0) / beamwidth_v_deg) ** 2, sla_v_db)
    a_h = -np.minimum(12.0 * (phi / beamwidth_h_deg) ** 2, a_max_db)
    return -np.minimum(-(a_v + a_h), a_max_db)


def to_local(
    azimuth_deg: ArrayLike, zenith_deg: ArrayLike, boresight_deg: ArrayLike, tilt_deg: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Global (compass azimuth, zenith) -> local (θ', φ') of a panel with bearing and down-tilt.

    TR 38.901 eq. 7.1-7/7.1-8 with γ = 0. The standard measures φ counter-
    clockwise; a compass bearing runs clockwise, which only mirrors φ' and the
    pattern is symmetric in φ'.
    """
    beta = np.radians(np.asarray(tilt_deg, dtype=np.float64))
    theta = np.radians(np.asarray(zenith_deg, dtype=np.float64))
    dphi = np.radians(np.asarray(azimuth_deg, dtype=np.float64) - np.asarray(boresight_deg))
    cos_b, sin_b = np.cos(beta), np.sin(beta)
    cos_t, sin_t = np.cos(theta), np.sin(theta)
    cos_p = np.cos(dphi)
    local_theta = np.degrees(np.arccos(np.clip(cos_b * cos_t + sin_b * cos_p * sin_t, -1.0, 1.0)))
    local_phi = np.degrees(np.arctan2(np.sin(dphi) * sin_t, cos_b * sin_t * cos_p - sin_b * cos_t))
    return local_theta, local_phi


def sector_gain(
    azimuth_deg: ArrayLike,
    zenith_deg: ArrayLike,
    boresight_deg: ArrayLike,
    mechanical_tilt_deg: ArrayLike = 0.0,
    electrical_tilt_deg: ArrayLike = 0.0,
    max_gain_dbi: ArrayLike = ELEMENT_GAIN_DBI,
) -> NDArray[np.float64]:
    """Gain of a 3GPP sector antenna towards (azimuth, zenith), dBi.

    Parameters
    ----------
    azimuth_deg
        Compass bearing from the antenna to the point.
    zenith_deg
        Zenith angle from the antenna to the point (``90 + depression angle``).
    boresight_deg
        The antenna's azimuth (compass bearing of its boresight).
    mechanical_tilt_deg, electrical_tilt_deg
        Down-tilts, positive pointing down.
    max_gain_dbi
        Gain at boresight: the element's 8 dBi, or more for an array's beam.
    """
    theta, phi = to_local(azimuth_deg, zenith_deg, boresight_deg, mechanical_tilt_deg)
    theta = theta - np.asarray(electrical_tilt_deg, dtype=np.float64)
    return np.asarray(max_gain_dbi, dtype=np.float64) + element_pattern(theta, phi)


def sector_gain_trig(
    cos_bearing: NDArray[np.float32],
    sin_bearing: NDArray[np.float32],
    cos_zenith: NDArray[np.float32],
    sin_zenith: NDArray[np.float32],
    zenith_deg: NDArray[np.float32],
    boresight_deg: float,
    mechanical_tilt_deg: float = 0.0,
    electrical_tilt_deg: float = 0.0,
    max_gain_dbi: float = ELEMENT_GAIN_DBI,
) -> NDArray[np.float32]:
    """:func:`sector_gain` from precomputed cosines and sines of the directions (float32).

    The sectors of a site look at the same pixels: their directions' trigonometry
    is computed once per site, and each sector only rotates it (``cos(b - α)``,
    ``sin(b - α)`` by the angle-difference identities).
    """
    a = np.radians(boresight_deg)
    ca, sa = np.float32(np.cos(a)), np.float32(np.sin(a))
    cos_d = cos_bearing * ca + sin_bearing * sa
    sin_d = sin_bearing * ca - cos_bearing * sa
    if mechanical_tilt_deg == 0.0:
        theta = zenith_deg
        phi = np.degrees(np.arctan2(sin_d, cos_d))
    else:
        b = np.radians(mechanical_tilt_deg)
        cb, sb = np.float32(np.cos(b)), np.float32(np.sin(b))
        theta = np.degrees(np.arccos(np.clip(cb * cos_zenith + sb * cos_d * sin_zenith, -1, 1)))
        phi = np.degrees(np.arctan2(sin_d * sin_zenith, cb * sin_zenith * cos_d - sb * cos_zenith))
    v = (theta - np.float32(90.0 + electrical_tilt_deg)) / np.float32(BEAMWIDTH_DEG)
    h = phi / np.float32(BEAMWIDTH_DEG)
    # phi is already within ±180°: the pattern without element_pattern's wrap
    a_v = np.minimum(np.float32(12.0) * v * v, np.float32(SLA_V_DB))
    a_h = np.minimum(np.float32(12.0) * h * h, np.float32(A_MAX_DB))
    return np.float32(max_gain_dbi) - np.minimum(a_v + a_h, np.float32(A_MAX_DB))


__all__ = [
    "A_MAX_DB",
    "BEAMWIDTH_DEG",
    "ELEMENT_GAIN_DBI",
    "SLA_V_DB",
    "element_pattern",
    "sector_gain",
    "sector_gain_trig",
    "to_local",
]
