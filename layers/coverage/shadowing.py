"""Log-normal shadowing: location reliability of coverage and correlated synthetic shadowing.

The RSRP a model gives is the median of the local mean; around it the local mean
in dB is normal with the shadowing spread σ (fitted as the held-out residual std of
a calibration, :mod:`layers.coverage.calibration`).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.stats import norm

Array = NDArray[np.float64]


def gudmundson_shadowing(
    x: Array, y: Array, sigma_db: float, decorrelation_m: float, rng: np.random.Generator
) -> Array:
    """Log-normal shadowing along a track, correlated as ``exp(-d / decorrelation_m)``.

    Gudmundson's model (Electronics Letters 27(23), 1991): a first-order
    autoregression on the distance travelled between consecutive points, each
    sample normal with std ``sigma_db``. For synthetic drive tests.
    """
    step = np.concatenate([[np.inf], np.hypot(np.diff(x), np.diff(y))])
    a = np.exp(-step / decorrelation_m)
    z = rng.standard_normal(len(x)) * sigma_db
    out = np.empty(len(x))
    prev = 0.0
    for i in range(len(x)):
        prev = a[i] * prev + np.sqrt(1 - a[i] ** 2) * z[i]
        out[i] = prev
    return out


def edge_probability(median_dbm: Array, threshold_dbm: float, sigma_db: float) -> Array:
    """Probability that RSRP exceeds ``threshold_dbm`` where the model gives ``median_dbm``.

    Log-normal shadowing: the local mean in dB is normal around the median with
    std ``sigma_db``, so ``P = Φ((median - threshold) / σ)`` — the edge reliability
    of Jakes, *Microwave Mobile Communications* (1974), §2.4, after Reudink; a
    planner's "95 % location reliability" is ``median >= threshold + 1.645 σ``.
    """
    if sigma_db <= 0:
        return (np.asarray(median_dbm) >= threshold_dbm).astype(float)
    return norm.cdf((np.asarray(median_dbm, float) - threshold_dbm) / sigma_db)


def share_at_reliability(
    rsrp: NDArray[np.floating],
    threshold_dbm: float,
    sigma_db: float,
    reliability: float = 0.95,
    *,
    region: NDArray[np.bool_] | None = None,
    nodata: float | None = None,
) -> float:
    """Share (%) of the region's pixels covered with probability ``reliability`` or more.

    A pixel counts where its median is at least ``threshold + z σ``, ``z =
    Φ⁻¹(reliability)`` (see :func:`edge_probability`); pixels without signal count
    as not covered. Reads ``rsrp`` row block by row block (it may be a file).
    """
    margin = float(norm.ppf(reliability)) * max(sigma_db, 0.0)
    covered = total = 0
    step = max(1, 4_000_000 // max(rsrp.shape[1], 1))
    for r in range(0, rsrp.shape[0], step):
        block = np.asarray(rsrp[r : r + step], dtype=np.float64)
        inside = np.ones(block.shape, bool) if region is None else region[r : r + step]
        ok = np.isfinite(block) & (block != nodata if nodata is not None else True)
        covered += int((inside & ok & (block >= threshold_dbm + margin)).sum())
        total += int(inside.sum())
    return 100.0 * covered / total if total else float("nan")


__all__ = ["edge_probability", "gudmundson_shadowing", "share_at_reliability"]
