"""A coverage run checked against (and with ``calibrate`` tuned to) drive-test measurements.

:func:`measure` is what :func:`~layers.coverage.pipeline.run_coverage` calls between
the model run and its outputs, on the model's grids (NaN for no signal): it samples
the best-server RSRP at the points, reports the error, and with
``params.calibrate`` fits a :class:`~layers.coverage.calibration.Calibration` with
route-grouped cross-validation and adds it to the RSRP grid in place, so that the
published raster, polygons and shares are the calibrated ones.

What is exact and what is approximate:

- the grid holds the best server only, so a point's prediction is the best
  server's RSRP, also where the measurement names another serving cell (said in
  the warnings with a count);
- the correction of a pixel uses its serving cell's offset and its exact
  horizontal distance to that cell; the best server is not re-chosen after the
  per-cell offsets, and SINR is not recalibrated (the interferers' offsets are
  not in the grids);
- without a per-pixel class grid every pixel takes the overall offset.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
from numpy.typing import NDArray

from layers.coverage.calibration import (
    Calibration,
    apply_calibration,
    cross_validate,
    error_stats,
    fit_calibration,
    read_measurements,
    route_segments,
    sample_grid,
    segment_folds,
)
from layers.coverage.params import CoverageParams
from layers.coverage.shadowing import share_at_reliability
from layers.errors import SourceError
from layers.types import RasterData


@dataclass
class Measured:
    """The measurements' side of a coverage run.

    Attributes
    ----------
    points
        The points with ``rsrp_dbm``, ``predicted_dbm``, ``cell_id``, ``band``,
        ``error_before_db`` and (calibrated) ``error_after_db`` (held out).
    stats
        Flat figures for the catalog (``calib_*``, ``shadowing_sigma_db``, ...).
    warnings
        Dropped points, approximations, terms not fitted or at their bound.
    calibration
        The fit on every point (``None`` without ``calibrate``).
    """

    points: gpd.GeoDataFrame
    stats: dict[str, float | int | str]
    warnings: list[str] = field(default_factory=list)
    calibration: Calibration | None = None


def measure(
    rsrp: RasterData,
    serving: RasterData,
    cells: pd.DataFrame,
    gdf: gpd.GeoDataFrame,
    params: CoverageParams,
    *,
    region: NDArray[np.bool_] | None = None,
    classes: NDArray[np.integer] | None = None,
    class_names: dict[int, str] | None = None,
    origin: str = "measurements",
) -> Measured:
    """Error of the run at the points in ``gdf`` and, with ``params.calibrate``, calibrate.

    ``rsrp`` (NaN: no signal) is modified in place when calibrating. ``cells`` is the
    model's cells table (``cell_id``, ``x``, ``y``, ``band``); ``classes`` an optional
    per-pixel class grid on ``rsrp``'s grid with ``class_names`` naming its codes.
    """
    grid = rsrp.data[0]
    m = read_measurements(gdf, column=params.measurement_column, bounds=rsrp.bounds, origin=origin)
    warnings = list(m.warnings)
    pred = sample_grid(grid, rsrp.transform, m.x, m.y, method="bilinear")
    ok = np.isfinite(pred)
    if not ok.any():
        raise SourceError(f"{origin}: no point where the model has a signal")
    if not ok.all():
        warnings.append(f"{origin}: {int((~ok).sum())} points where no cell reaches, not used")
    x, y, meas, pred = m.x[ok], m.y[ok], m.rsrp[ok], pred[ok]
    time = None if m.time is None else m.time[ok]
    model_idx = sample_grid(serving.data[0], serving.transform, x, y, method="nearest")
    idx = np.nan_to_num(model_idx, nan=-1).astype(np.int64)
    ids = cells["cell_id"].astype(str).to_numpy()
    measured_cell = None
    if m.cell is not None:
        lookup = {c: i for i, c in enumerate(ids)}
        named = m.cell[ok]
        found = np.array([lookup.get(c, -1) if c is not None else -1 for c in named])
        unknown = int(sum(c is not None for c in named) - (found >= 0).sum())
        if unknown:
            warnings.append(
                f"{origin}: {unknown} points name a cell not in the sites table "
                "(PCI?); the model's best server is used for them"
            )
        differ = int(((found >= 0) & (found != idx)).sum())
        if differ:
            warnings.append(
                f"{origin}: {differ} points served by another cell than the model's best "
                "server; their prediction is the best server's RSRP (no per-cell grid)"
            )
        idx = np.where(found >= 0, found, idx)
        measured_cell = np.array([ids[i] if i >= 0 else None for i in idx], dtype=object)
    known = idx >= 0
    cx = cells["x"].to_numpy(float)
    cy = cells["y"].to_numpy(float)
    dist = np.where(known, np.hypot(x - cx[idx], y - cy[idx]), np.nan)
    dist = np.nan_to_num(dist, nan=float(np.nanmedian(dist)) if known.any() else 1000.0)
    band = np.where(known, cells["band"].astype(str).to_numpy()[idx], "")
    point_class = None
    if classes is not None and class_names:
        codes = sample_grid(classes, rsrp.transform, x, y, method="nearest")
        point_class = np.array(
            [class_names.get(int(c), "") if np.isfinite(c) else "" for c in codes]
        )
    error = pred - meas
    before = error_stats(error)["all"]
    stats: dict[str, float | int | str] = {
        "calib_points": len(error),
        "calib_mean_before_db": round(before["mean_db"], 2),
        "calib_rmse_before_db": round(before["rmse_db"], 2),
        "calib_std_before_db": round(before["std_db"], 2),
    }
    for name, groups in (("band", band), ("class", point_class)):
        if groups is None:
            continue
        for g, s in error_stats(error, groups).items():
            if g not in ("all", ""):
                stats[f"calib_rmse_before_{name}_{g}_db"] = round(s["rmse_db"], 2)
                stats[f"calib_mean_before_{name}_{g}_db"] = round(s["mean_db"], 2)
    points = gpd.GeoDataFrame(
        {
            "rsrp_dbm": meas,
            "predicted_dbm": pred.round(2),
            "cell_id": [ids[i] if i >= 0 else None for i in idx],
            "band": band,
            "distance_m": dist.round(1),
            "error_before_db": error.round(2),
        },
        geometry=gpd.points_from_xy(x, y),
        crs=rsrp.crs,
    )
    if point_class is not None:
        points["clutter"] = point_class
    sigma = before["std_db"]
    cal = None
    if params.calibrate:
        lo, bound = params.calibration_min_points, params.calibration_bound_db
        folds = segment_folds(route_segments(x, y, time), k=params.calibration_folds)
        cv = cross_validate(
            error,
            dist,
            folds,
            classes=point_class,
            cells=measured_cell,
            min_points=lo,
            bound_db=bound,
        )
        cal = fit_calibration(
            error, dist, classes=point_class, cells=measured_cell, min_points=lo, bound_db=bound
        )
        apply_calibration(
            grid,
            rsrp.transform,
            cal,
            serving=serving.data[0],
            cell_x=cx,
            cell_y=cy,
            cell_ids=ids,
            classes=classes,
            class_names=class_names,
        )
        sigma = cv.sigma_db
        points["error_after_db"] = cv.residual_after.round(2)
        stats.update(
            {f"calib_class_{k}_db": round(v, 2) for k, v in sorted(cal.class_offsets_db.items())}
        )
        warnings += [f"{origin}: calibration: {n}" for n in cal.notes]
        stats.update(
            {
                "calib_folds": params.calibration_folds,
                "calib_rmse_heldout_before_db": round(cv.before["rmse_db"], 2),
                "calib_rmse_after_db": round(cv.after["rmse_db"], 2),
                "calib_mean_after_db": round(cv.after["mean_db"], 2),
                "calib_slope_db_per_decade": round(cal.slope_db_per_decade, 2),
                "calib_offset_db": round(cal.offset_db, 2),
            }
        )
    else:
        warnings.append(
            f"{origin}: not calibrated (params.calibrate = false); the shadowing sigma is "
            "the std of the raw errors"
        )
    stats["shadowing_sigma_db"] = round(sigma, 2)
    pct = round(100 * params.reliability)
    stats[f"coverage_share_{pct}_pct"] = round(
        share_at_reliability(grid, params.threshold_dbm, sigma, params.reliability, region=region),
        2,
    )
    return Measured(points, stats, warnings, cal)


__all__ = ["Measured", "measure"]
