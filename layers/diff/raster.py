"""Two versions of a raster compared pixel by pixel, block by block.

The difference is ``after - before`` on the pixels valid in both versions
(neither nodata nor non-finite). Pixels valid in one version only are counted
as *gained* (valid in ``after`` only) or *lost* (valid in ``before`` only). A
pixel is *changed* when ``|after - before| > tolerance``.

The grids are read one block at a time (:mod:`layers.blocks`): they may be
:func:`layers.raster.open_raster` files larger than memory. Statistics are
merged across blocks with Chan's parallel update, so the mean and standard
deviation (population, ``ddof=0``) match a single pass over all pixels.

Examples
--------
>>> import numpy as np
>>> from affine import Affine
>>> from layers.types import RasterData
>>> t = Affine(10, 0, 0, 0, -10, 100)
>>> a = RasterData(np.array([[1, 2], [3, -1]], "float32"), t, "EPSG:4549", nodata=-1)
>>> b = RasterData(np.array([[1, 4], [-1, 5]], "float32"), t, "EPSG:4549", nodata=-1)
>>> d = raster_diff(a, b)
>>> d.stats["pixels"], d.stats["changed"], d.stats["gained"], d.stats["lost"], d.stats["mean"]
(2, 1, 1, 1, 1.0)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from numpy.typing import NDArray

from layers.blocks import BLOCK_PX, Window, windows
from layers.coverage.zones import ZoneLabeller, meets_thresholds
from layers.errors import ParameterError
from layers.types import RasterData, valid_pixels


@dataclass
class RasterDiff:
    """What changed between two versions of a raster.

    Attributes
    ----------
    stats
        ``pixels`` valid in both, ``min``, ``max``, ``mean``, ``std`` of the
        difference on them (None without any), ``changed`` (pixels with
        ``|difference| > tolerance``), ``gained`` and ``lost`` (valid in one
        version only), ``tolerance``, ``pixel_km2``.
    zones
        With zones: one row per zone with the same figures (``zone``, ``pixels``,
        ``min``, ``max``, ``mean``, ``std``, ``changed``, ``gained``, ``lost``);
        else None.
    unit
        The band's unit, if the rasters name one.
    """

    stats: dict[str, Any]
    zones: pd.DataFrame | None
    unit: str | None = None


def check_same_grid(before: RasterData, after: RasterData) -> None:
    """:class:`ParameterError` unless the two rasters share CRS, transform and size."""
    problems = []
    if (before.height, before.width) != (after.height, after.width):
        problems.append(
            f"size {before.width}x{before.height} vs {after.width}x{after.height} pixels"
        )
    if not before.transform.almost_equals(after.transform, precision=1e-6):
        problems.append(
            f"origin or pixel size ({tuple(before.transform)[:6]} vs {tuple(after.transform)[:6]})"
        )
    if before.crs != after.crs:
        problems.append(f"CRS {before.crs.to_string()} vs {after.crs.to_string()}")
    if problems:
        raise ParameterError(
            "the two versions lie on different grids (" + "; ".join(problems) + "): "
            "a difference needs the same grid (same resolution and extent)"
        )


class _Moments:
    """Count, mean, M2, min and max per label, merged block by block (Chan et al.)."""

    def __init__(self, n: int) -> None:
        self.count = np.zeros(n, dtype=np.int64)
        self.mean = np.zeros(n)
        self.m2 = np.zeros(n)
        self.min = np.full(n, np.inf)
        self.max = np.full(n, -np.inf)

    def add(self, labels: NDArray[np.integer], values: NDArray[np.floating]) -> None:
        n = len(self.count)
        cnt = np.bincount(labels, minlength=n)
        if not cnt.any():
            return
        total = np.bincount(labels, weights=values, minlength=n)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_b = np.where(cnt > 0, total / np.maximum(cnt, 1), 0.0)
        m2_b = np.bincount(labels, weights=(values - mean_b[labels]) ** 2, minlength=n)
        merged = self.count + cnt
        with np.errstate(invalid="ignore", divide="ignore"):
            delta = mean_b - self.mean
            self.mean = np.where(merged > 0, self.mean + delta * cnt / np.maximum(merged, 1), 0.0)
            self.m2 = self.m2 + m2_b + delta**2 * self.count * cnt / np.maximum(merged, 1)
        self.count = merged
        np.minimum.at(self.min, labels, values)
        np.maximum.at(self.max, labels, values)

    def table(self) -> dict[str, NDArray[Any]]:
        some = self.count > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            std = np.sqrt(self.m2 / np.maximum(self.count, 1))
        return {
            "pixels": self.count,
            "min": np.where(some, self.min, np.nan),
            "max": np.where(some, self.max, np.nan),
            "mean": np.where(some, self.mean, np.nan),
            "std": np.where(some, std, np.nan),
        }


def _zone_ids(zones: gpd.GeoDataFrame, zone_id: str | None) -> NDArray[Any]:
    if zone_id is None:
        return zones.index.to_numpy()
    if zone_id not in zones.columns:
        raise ParameterError(f"zones: no column {zone_id!r}")
    return zones[zone_id].to_numpy()


def _labels(labeller: ZoneLabeller | None, b: Window) -> NDArray[np.int32]:
    if labeller is None:
        return np.zeros(b.shape, dtype=np.int32)
    return labeller.labels(b)


def raster_diff(
    before: RasterData,
    after: RasterData,
    zones: gpd.GeoDataFrame | None = None,
    zone_id: str | None = None,
    band: int = 1,
    tolerance: float = 0.0,
    out: NDArray[np.floating] | None = None,
    out_nodata: float = np.nan,
    block_px: int = BLOCK_PX,
) -> RasterDiff:
    """Statistics of ``after - before`` over the whole grid and per zone.

    Parameters
    ----------
    before, after
        The two versions, on one grid (:func:`check_same_grid`).
    zones
        Polygons (any CRS) to sum up the change in; a pixel belongs to the zone
        its centre lies in (later zones win overlaps).
    zone_id
        Column naming each zone (default: the zones' index).
    band
        The band compared (1-based).
    tolerance
        A pixel changed when ``|after - before| > tolerance``; at least 0.
    out
        A 2-D float array of the grid's shape to write the difference into
        (``out_nodata`` where a version has no value), e.g. a
        :func:`layers.blocks.disk_array`.
    block_px
        Edge of the blocks read at once, pixels.
    """
    check_same_grid(before, after)
    if not 1 <= band <= min(before.count, after.count):
        raise ParameterError(f"band {band}: the rasters have {min(before.count, after.count)}")
    if not tolerance >= 0:
        raise ParameterError(f"tolerance must be at least 0, got {tolerance!r}")
    shape = (after.height, after.width)
    if out is not None and out.shape != shape:
        raise ParameterError(f"out: shape {out.shape}, expected {shape}")
    labeller = None if zones is None else ZoneLabeller(zones, after)
    n = 1 + (0 if zones is None else len(zones))
    overall = _Moments(1)
    per_zone = _Moments(n)
    changed = np.zeros(n, dtype=np.int64)
    gained = np.zeros(n, dtype=np.int64)
    lost = np.zeros(n, dtype=np.int64)
    totals = np.zeros(3, dtype=np.int64)  # changed, gained, lost over the whole grid
    i = band - 1
    for b in windows(shape, block_px):
        rows, cols = b.slices
        va = np.asarray(before.data[i, rows, cols])
        vb = np.asarray(after.data[i, rows, cols])
        ok_a, ok_b = valid_pixels(va, before.nodata), valid_pixels(vb, after.nodata)
        both = ok_a & ok_b
        d = vb[both].astype(np.float64) - va[both].astype(np.float64)
        moved = np.abs(d) > tolerance
        overall.add(np.zeros(d.size, dtype=np.intp), d)
        totals += [int(moved.sum()), int((ok_b & ~ok_a).sum()), int((ok_a & ~ok_b).sum())]
        if out is not None:
            block = np.full(b.shape, out_nodata, dtype=out.dtype)
            block[both] = d
            out[rows, cols] = block
        if labeller is not None:
            labels = _labels(labeller, b)
            in_both = labels[both]
            per_zone.add(in_both, d)
            changed += np.bincount(in_both[moved], minlength=n)
            gained += np.bincount(labels[ok_b & ~ok_a], minlength=n)
            lost += np.bincount(labels[ok_a & ~ok_b], minlength=n)
    whole = overall.table()
    stats: dict[str, Any] = {
        "pixels": int(whole["pixels"][0]),
        **{k: _num(whole[k][0]) for k in ("min", "max", "mean", "std")},
        "changed": int(totals[0]),
        "gained": int(totals[1]),
        "lost": int(totals[2]),
        "tolerance": float(tolerance),
        "pixel_km2": after.resolution[0] * after.resolution[1] / 1e6,
    }
    table = None
    if zones is not None:
        frame = {k: v[1:] for k, v in per_zone.table().items()}
        table = pd.DataFrame(
            {
                "zone": _zone_ids(zones, zone_id),
                **frame,
                "changed": changed[1:],
                "gained": gained[1:],
                "lost": lost[1:],
            }
        )
    unit = after.units[i] if after.units else None
    return RasterDiff(stats=stats, zones=table, unit=unit)


def _num(value: float) -> float | None:
    return None if not np.isfinite(value) else float(value)


@dataclass
class Covered:
    """One version of a coverage layer and what counts as covered in it.

    A pixel is covered when its RSRP is at least ``threshold_dbm`` and, with a
    SINR raster, its SINR at least ``sinr_threshold_db`` (as
    :func:`layers.coverage.zones.coverage_share` counts it).
    """

    rsrp: RasterData
    threshold_dbm: float = -105.0
    sinr: RasterData | None = None
    sinr_threshold_db: float = -3.0

    def mask(self, b: Window) -> NDArray[np.bool_]:
        rows, cols = b.slices
        s = None if self.sinr is None else np.asarray(self.sinr.data[0, rows, cols])
        return meets_thresholds(
            np.asarray(self.rsrp.data[0, rows, cols]), self.threshold_dbm, s, self.sinr_threshold_db
        )


def coverage_change(
    before: Covered,
    after: Covered,
    zones: gpd.GeoDataFrame | None = None,
    zone_id: str | None = None,
    block_px: int = BLOCK_PX,
) -> pd.DataFrame:
    """The share of each zone covered before and after, and the shares gained and lost.

    Each version counts as covered by its own thresholds. Shares are of the
    zone's pixels (pixel centres inside the zone) on the grid.

    Parameters
    ----------
    before, after
        The two versions (on one grid).
    zones
        The zones; ``None``: one row, ``region``, for the whole grid.
    zone_id
        Column naming each zone (default: the zones' index).

    Returns
    -------
    pandas.DataFrame
        One row per zone: ``zone``, ``area_km2``, ``share_before``,
        ``share_after``, ``gained`` (share newly covered), ``lost`` (share no
        longer covered), ``change`` (``share_after - share_before`` = gained -
        lost), all shares 0-1 (NaN for a zone without a pixel on the grid).
    """
    for c in (before, after):
        if c.sinr is not None:
            check_same_grid(c.rsrp, c.sinr)
    check_same_grid(before.rsrp, after.rsrp)
    grid = after.rsrp
    labeller = None if zones is None else ZoneLabeller(zones, grid)
    n = 1 + (1 if zones is None else len(zones))
    sums = np.zeros((5, n), dtype=np.int64)  # pixels, before, after, gained, lost
    for b in windows((grid.height, grid.width), block_px):
        labels = _labels(labeller, b) if labeller is not None else np.ones(b.shape, np.int32)
        ca, cb = before.mask(b), after.mask(b)
        for k, mask in enumerate((None, ca, cb, cb & ~ca, ca & ~cb)):
            sums[k] += np.bincount(labels.ravel() if mask is None else labels[mask], minlength=n)
    total, *counts = sums[:, 1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        share = [np.where(total > 0, c / np.maximum(total, 1), np.nan) for c in counts]
    ids = np.asarray(["region"], dtype=object) if zones is None else _zone_ids(zones, zone_id)
    px_km2 = grid.resolution[0] * grid.resolution[1] / 1e6
    return pd.DataFrame(
        {
            "zone": ids,
            "area_km2": total * px_km2,
            "share_before": share[0],
            "share_after": share[1],
            "gained": share[2],
            "lost": share[3],
            "change": share[1] - share[0],
        }
    )


__all__ = ["Covered", "RasterDiff", "check_same_grid", "coverage_change", "raster_diff"]
