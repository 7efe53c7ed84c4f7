"""Drive-test measurements against the coverage model: error, calibration, shadowing.

Pure functions (numpy/scipy) on points already in the working CRS:

- :func:`read_measurements`: a points table with RSRP (dBm), optionally the serving
  cell and a timestamp, checked (one line per problem);
- :func:`sample_grid`: a published grid read at the points (bilinear or nearest);
- :func:`error_stats`: mean, RMSE and std of prediction minus measurement, per group;
- :func:`route_segments`, :func:`segment_folds`: the drive test cut into runs of
  consecutive points and whole runs dealt to folds, so that a test point's correlated
  neighbours are never in the training set;
- :func:`fit_calibration`, :func:`cross_validate`: per-class and per-cell offsets and a
  distance slope by robust (Huber) least squares (:func:`huber_fit`), with bounds,
  and its held-out error;
- :func:`apply_calibration`: the fitted correction added to an RSRP grid.

Log-normal shadowing (edge probability, the share at a reliability, correlated
shadowing for synthetic drive tests) is :mod:`layers.coverage.shadowing`.

The corrected prediction of a point is ``pred + offset(class) + offset(cell) +
slope * (log10 d - log10 d_ref)``, ``d`` the horizontal distance to the serving
cell. Class offsets absorb the overall bias (points of a class with too few points
take the overall offset); cell offsets sum to zero over the fitted cells so the two
sets are identifiable.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import scipy.sparse as sp
from affine import Affine
from numpy.typing import NDArray

from layers.errors import ParameterError, SourceError

#: Column names read as RSRP (dBm), first present wins.
RSRP_COLUMNS = ("rsrp", "rsrp_dbm", "ss_rsrp")
#: Column names read as the serving cell.
CELL_COLUMNS = ("cell_id", "pci")
#: Column names read as the time of a measurement.
TIME_COLUMNS = ("timestamp", "time", "datetime")
#: Plausible RSRP, dBm: outside this a value is a unit or column mistake.
RSRP_RANGE_DBM = (-150.0, -20.0)

Array = NDArray[np.float64]


@dataclass
class Measurements:
    """Drive-test points in the working CRS.

    Attributes
    ----------
    x, y
        Coordinates, m.
    rsrp
        Measured RSRP, dBm.
    cell
        Serving cell id per point (``None`` where unknown), or ``None`` without a column.
    time
        Seconds since the first point, or ``None`` without a time column.
    warnings
        What was dropped, with counts.
    """

    x: Array
    y: Array
    rsrp: Array
    cell: NDArray[np.object_] | None = None
    time: Array | None = None
    warnings: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rsrp)


def _column(gdf: gpd.GeoDataFrame, names: tuple[str, ...]) -> str | None:
    lower = {str(c).strip().lower(): str(c) for c in gdf.columns}
    return next((lower[n] for n in names if n in lower), None)


def read_measurements(
    gdf: gpd.GeoDataFrame,
    *,
    column: str | None = None,
    bounds: tuple[float, float, float, float] | None = None,
    origin: str = "measurements",
) -> Measurements:
    """Measurement points checked and reduced to arrays.

    Parameters
    ----------
    gdf
        Points in the working CRS (as :func:`layers.vector.read_vector` gives them).
    column
        The RSRP column; by default the first of :data:`RSRP_COLUMNS` present.
    bounds
        ``(xmin, ymin, xmax, ymax)`` of the region: points outside are dropped (with a
        warning); all outside is an error.
    origin
        The source's name in messages.

    Raises
    ------
    SourceError
        No RSRP column, non-numeric or implausible values (outside
        :data:`RSRP_RANGE_DBM`), no points, or no point inside ``bounds``.
    """
    name = column if column is not None and column in gdf.columns else None
    if column is not None and name is None:
        raise SourceError(f"{origin}: no column {column!r} (params.measurement_column)")
    name = name or _column(gdf, RSRP_COLUMNS)
    if name is None:
        raise SourceError(
            f"{origin}: no RSRP column; expected one of {', '.join(RSRP_COLUMNS)} "
            f"(or params.measurement_column), found {', '.join(map(str, gdf.columns))}"
        )
    if len(gdf) == 0:
        raise SourceError(f"{origin}: no measurement points")
    try:
        rsrp = gdf[name].astype(float).to_numpy()
    except (TypeError, ValueError):
        raise SourceError(f"{origin}: column {name!r} is not numeric RSRP in dBm") from None
    lo, hi = RSRP_RANGE_DBM
    bad = ~((rsrp >= lo) & (rsrp <= hi))
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise SourceError(
            f"{origin}: {int(bad.sum())} {name} values outside {lo:g}..{hi:g} dBm "
            f"(first at row {first + 1}: {rsrp[first]!r}); expected RSRP in dBm"
        )
    geom = gdf.geometry
    x, y = geom.x.to_numpy(float), geom.y.to_numpy(float)
    keep = np.isfinite(x) & np.isfinite(y)
    warnings = []
    if bounds is not None:
        xmin, ymin, xmax, ymax = bounds
        inside = keep & (x >= xmin) & (x <= xmax) & (y >= ymin) & (y <= ymax)
        n_out = int(keep.sum() - inside.sum())
        if not inside.any():
            raise SourceError(f"{origin}: all {len(gdf)} points are outside the region")
        if n_out:
            warnings.append(f"{origin}: {n_out} of {len(gdf)} points outside the region, dropped")
        keep = inside
    cell_col = _column(gdf, CELL_COLUMNS)
    cell = None
    if cell_col is not None:
        values = gdf[cell_col].to_numpy(object)[keep]
        cell = np.array([None if _missing(v) else str(v) for v in values], dtype=object)
    time_col = _column(gdf, TIME_COLUMNS)
    time = None
    if time_col is not None:
        import pandas as pd

        stamps = pd.to_datetime(gdf[time_col], errors="coerce").to_numpy()[keep]
        if not np.isnat(stamps).any():
            time = (stamps - stamps.min()) / np.timedelta64(1, "s")
            time = time.astype(float)
        else:
            warnings.append(f"{origin}: column {time_col!r} has unreadable times, not used")
    return Measurements(x[keep], y[keep], rsrp[keep], cell, time, warnings)


def _missing(v: object) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v)) or str(v).strip() == ""


def sample_grid(
    grid: NDArray[np.floating] | NDArray[np.integer],
    transform: Affine,
    x: Array,
    y: Array,
    *,
    nodata: float | None = None,
    method: str = "bilinear",
) -> Array:
    """``grid`` at the points: bilinear between pixel centres, or the nearest pixel.

    NaN off the grid, at ``nodata`` (bilinear: where any of the four neighbours is
    nodata, the nearest pixel's value is taken instead, NaN if that is nodata too).
    """
    inv = ~transform
    col, row = inv * (np.asarray(x), np.asarray(y))
    h, w = grid.shape

    def take(r: NDArray[np.int64], c: NDArray[np.int64]) -> Array:
        # only the pixels asked for: the grid may be a file larger than memory
        v = np.asarray(grid[r, c], dtype=np.float64)
        return v if nodata is None else np.where(v == nodata, np.nan, v)

    ci, ri = np.floor(col).astype(np.int64), np.floor(row).astype(np.int64)
    inside = (ci >= 0) & (ci < w) & (ri >= 0) & (ri < h)
    out = np.full(len(col), np.nan)
    out[inside] = take(ri[inside], ci[inside])
    if method == "nearest":
        return out
    if method != "bilinear":
        raise ParameterError(f"sample_grid: method {method!r}; expected bilinear or nearest")
    # Pixel centres sit at +0.5: interpolate between the four centres around the point.
    fc, fr = col - 0.5, row - 0.5
    c0 = np.clip(np.floor(fc).astype(np.int64), 0, w - 1)
    r0 = np.clip(np.floor(fr).astype(np.int64), 0, h - 1)
    c1, r1 = np.minimum(c0 + 1, w - 1), np.minimum(r0 + 1, h - 1)
    tc, tr = np.clip(fc - c0, 0, 1), np.clip(fr - r0, 0, 1)
    v = (
        take(r0, c0) * (1 - tc) * (1 - tr)
        + take(r0, c1) * tc * (1 - tr)
        + take(r1, c0) * (1 - tc) * tr
        + take(r1, c1) * tc * tr
    )
    ok = inside & np.isfinite(v)
    out[ok] = v[ok]
    return out


def error_stats(error: Array, groups: NDArray | None = None) -> dict[str, dict[str, float]]:
    """Mean, RMSE, std and count of ``error`` (prediction - measurement, dB), per group.

    The key ``"all"`` holds every finite error; with ``groups`` (one label per point)
    each label gets its own entry.
    """
    ok = np.isfinite(error)

    def one(e: Array) -> dict[str, float]:
        if len(e) == 0:
            return {"n": 0, "mean_db": np.nan, "rmse_db": np.nan, "std_db": np.nan}
        return {
            "n": len(e),
            "mean_db": float(e.mean()),
            "rmse_db": float(np.sqrt(np.mean(e**2))),
            "std_db": float(e.std()),
        }

    out = {"all": one(error[ok])}
    if groups is not None:
        labels = np.asarray(groups)
        for g in np.unique(labels[ok].astype(str)):
            out[g] = one(error[ok & (labels.astype(str) == g)])
    return out


def route_segments(
    x: Array,
    y: Array,
    time: Array | None = None,
    *,
    length_m: float = 500.0,
    gap_m: float = 200.0,
    gap_s: float = 60.0,
) -> NDArray[np.int64]:
    """Segment id of each point: runs of consecutive points of ``length_m`` of track.

    Points are taken in file order (a drive test's order); a jump of more than
    ``gap_m`` between consecutive points or a pause of more than ``gap_s`` starts a
    new segment as well.
    """
    step = np.hypot(np.diff(x), np.diff(y))
    new = step > gap_m
    if time is not None:
        new |= np.diff(time) > gap_s
    track = np.concatenate([[0.0], np.cumsum(np.where(new, 0.0, step))])
    run = np.concatenate([[0], np.cumsum(new)])
    seg = np.zeros(len(x), dtype=np.int64)
    # Within a run, a new segment every length_m of track.
    for r in np.unique(run):
        idx = np.flatnonzero(run == r)
        seg[idx] = np.floor((track[idx] - track[idx[0]]) / length_m).astype(np.int64)
    keys = run.astype(np.int64) * (seg.max() + 1) + seg
    return np.unique(keys, return_inverse=True)[1].astype(np.int64)


def segment_folds(segments: NDArray[np.int64], k: int = 5, seed: int = 0) -> NDArray[np.int64]:
    """Fold of each point: whole segments dealt at random to ``k`` folds, balanced by size."""
    ids, counts = np.unique(segments, return_counts=True)
    if len(ids) < k:
        raise ParameterError(f"calibration: {len(ids)} route segments for {k} folds")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(ids))
    load = np.zeros(k)
    fold_of = np.empty(len(ids), dtype=np.int64)
    for i in order:  # the next segment to the lightest fold
        f = int(np.argmin(load))
        fold_of[i] = f
        load[f] += counts[i]
    return fold_of[np.searchsorted(ids, segments)]


@dataclass
class Calibration:
    """A fitted correction; see the module docstring for its form.

    Attributes
    ----------
    offset_db
        The offset of points whose class is not fitted (or without classes).
    class_offsets_db, cell_offsets_db
        Fitted offsets by label; labels not here take ``offset_db`` / 0.
    slope_db_per_decade, log10_ref
        The distance correction, ``slope * (log10 d - log10_ref)``.
    notes
        Classes and cells not fitted (too few points), offsets at their bound.
    """

    offset_db: float = 0.0
    class_offsets_db: dict[str, float] = field(default_factory=dict)
    cell_offsets_db: dict[str, float] = field(default_factory=dict)
    slope_db_per_decade: float = 0.0
    log10_ref: float = 3.0
    notes: list[str] = field(default_factory=list)

    def correction(
        self, distance_m: Array, classes: NDArray | None = None, cells: NDArray | None = None
    ) -> Array:
        """The correction (dB) to add to the prediction at each point."""
        n = len(distance_m)
        out = np.full(n, self.offset_db)
        if classes is not None:
            labels = np.asarray(classes).astype(str)
            for c, v in self.class_offsets_db.items():
                out[labels == c] = v
        if cells is not None:
            for c, v in self.cell_offsets_db.items():
                out[cells == c] += v
        d = np.maximum(np.asarray(distance_m, float), 1.0)
        return out + self.slope_db_per_decade * (np.log10(d) - self.log10_ref)


def huber_fit(
    a: sp.csr_matrix, e: Array, bound: float, f_scale: float, max_iter: int = 100
) -> Array:
    """``p`` minimising the Huber loss of ``a @ p + e`` with ``|p| <= bound``.

    Iteratively reweighted least squares (weights ``min(1, f_scale / |r|)``) on the
    normal equations: ``a`` has one column per offset, so ``aᵀWa`` is small and
    dense even for 100,000 points, where scipy's ``least_squares(loss="huber")``
    (the same minimum, see the tests) iterates with LSMR for minutes. A parameter
    that leaves its bound is held at it and the others refitted (active set).
    """
    n_par = a.shape[1]
    p = np.zeros(n_par)
    fixed = np.zeros(n_par, bool)
    at = sp.csc_matrix(a).T.tocsr()
    for _ in range(max_iter):
        r = a @ p + e
        w = np.minimum(1.0, f_scale / np.maximum(np.abs(r), 1e-12))
        atw = at.multiply(w).tocsr()
        m = (atw @ a).toarray()
        b = -(atw @ e)
        free = ~fixed
        rhs = b[free] - m[np.ix_(free, fixed)] @ p[fixed]
        mf = m[np.ix_(free, free)] + 1e-9 * np.eye(int(free.sum()))
        new = p.copy()
        new[free] = np.linalg.solve(mf, rhs)
        out = np.abs(new) > bound
        fixed |= out
        new = np.clip(new, -bound, bound)
        done = np.max(np.abs(new - p)) < 1e-4 and not out.any()  # dB, far below 0.01
        p = new
        if done:
            break
    return p


def fit_calibration(
    error: Array,
    distance_m: Array,
    *,
    classes: NDArray | None = None,
    cells: NDArray | None = None,
    min_points: int = 30,
    bound_db: float = 20.0,
    f_scale_db: float = 6.0,
    slope: bool = True,
) -> Calibration:
    """Offsets and slope that minimise the Huber loss of ``error + correction``.

    Parameters
    ----------
    error
        Prediction minus measurement, dB (finite).
    distance_m
        Horizontal distance to the serving cell, m.
    classes, cells
        Per-point class labels and serving cell ids (``None`` entries: unknown), or
        ``None`` for no per-class / per-cell terms.
    min_points
        A class or cell with fewer points is not fitted (said in ``notes``).
    bound_db
        Offsets are bounded to ``±bound_db`` (and the slope to ``±bound_db`` per decade).
    f_scale_db
        Huber threshold: residuals beyond it weigh linearly, not quadratically.
    """
    n = len(error)
    notes: list[str] = []
    fitted_classes: list[str] = []
    class_idx = np.full(n, -1)
    if classes is not None:
        labels = np.asarray(classes).astype(str)
        names, inv, counts = np.unique(labels, return_inverse=True, return_counts=True)
        small = [f"{c} ({k})" for c, k in zip(names, counts, strict=True) if k < min_points]
        if small:
            notes.append(f"classes not fitted (< {min_points} points): {', '.join(small)}")
        keep = counts >= min_points
        remap = np.where(keep, np.cumsum(keep) - 1, -1)
        class_idx = remap[inv]
        fitted_classes = list(names[keep])
    fitted_cells: list[str] = []
    cell_idx = np.full(n, -1)
    if cells is not None:
        known = np.array([c is not None for c in cells])
        ids = np.where(known, cells, "").astype(str)
        names, inv, counts = np.unique(ids, return_inverse=True, return_counts=True)
        keep = (counts >= min_points) & (names != "")
        n_small = int(((counts < min_points) & (names != "")).sum())
        if n_small:
            notes.append(f"{n_small} cells not fitted (< {min_points} points)")
        if keep.sum() == 1:  # one cell: its offset is the overall offset's
            keep[:] = False
        remap = np.where(keep, np.cumsum(keep) - 1, -1)
        cell_idx = remap[inv]
        fitted_cells = list(names[keep])
    has_global = bool((class_idx < 0).any())
    nc, nm = len(fitted_classes), len(fitted_cells)
    # Columns: [global?] + classes + (cells - 1, the last is minus their sum) + [slope]
    cols: list[sp.spmatrix] = []
    rows = np.arange(n)
    if has_global:
        cols.append(sp.csr_matrix((class_idx < 0).astype(float)[:, None]))
    if nc:
        m = class_idx >= 0
        cols.append(sp.csr_matrix((np.ones(m.sum()), (rows[m], class_idx[m])), shape=(n, nc)))
    if nm > 1:
        m = cell_idx >= 0
        last = cell_idx == nm - 1
        mm = m & ~last
        a = sp.csr_matrix((np.ones(mm.sum()), (rows[mm], cell_idx[mm])), shape=(n, nm - 1))
        b = sp.csr_matrix(
            (
                -np.ones(last.sum() * (nm - 1)),
                (np.repeat(rows[last], nm - 1), np.tile(np.arange(nm - 1), last.sum())),
            ),
            shape=(n, nm - 1),
        )
        cols.append(a + b)
    logd = np.log10(np.maximum(np.asarray(distance_m, float), 1.0))
    log_ref = float(np.median(logd))
    if slope:
        cols.append(sp.csr_matrix((logd - log_ref)[:, None]))
    a_mat = sp.hstack(cols).tocsr()
    p = huber_fit(a_mat, error, bound_db, f_scale_db)
    i = 0
    cal = Calibration(log10_ref=log_ref, notes=notes)
    if has_global:
        cal.offset_db = float(p[0])
        i = 1
    cal.class_offsets_db = {c: float(v) for c, v in zip(fitted_classes, p[i : i + nc], strict=True)}
    i += nc
    if nm > 1:
        free = p[i : i + nm - 1]
        values = np.append(free, -free.sum())
        cal.cell_offsets_db = {c: float(v) for c, v in zip(fitted_cells, values, strict=True)}
        i += nm - 1
    if slope:
        cal.slope_db_per_decade = float(p[i])
    at_bound = [
        k
        for k, v in [
            ("overall", cal.offset_db),
            *cal.class_offsets_db.items(),
            *cal.cell_offsets_db.items(),
        ]
        if abs(v) >= bound_db - 1e-6
    ]
    if at_bound:
        notes.append(f"offsets at the ±{bound_db:g} dB bound: {', '.join(at_bound)}")
    return cal


@dataclass
class CrossValidation:
    """Held-out error of a calibration, every point predicted by a fit without its fold.

    Attributes
    ----------
    before, after
        :func:`error_stats` of the held-out points before and after calibration.
    sigma_db
        Std of the held-out residuals after calibration: the shadowing spread.
    residual_after
        Per point, the held-out residual after calibration (dB).
    """

    before: dict[str, float]
    after: dict[str, float]
    sigma_db: float
    residual_after: Array


def cross_validate(
    error: Array,
    distance_m: Array,
    folds: NDArray[np.int64],
    *,
    classes: NDArray | None = None,
    cells: NDArray | None = None,
    **fit: float | int | bool,
) -> CrossValidation:
    """Fit on all folds but one, predict that one, for each fold (see :func:`segment_folds`)."""
    after = np.full(len(error), np.nan)
    for f in np.unique(folds):
        test, train = folds == f, folds != f
        cal = fit_calibration(
            error[train],
            distance_m[train],
            classes=None if classes is None else classes[train],
            cells=None if cells is None else cells[train],
            **fit,  # type: ignore[arg-type]
        )
        after[test] = error[test] + cal.correction(
            distance_m[test],
            None if classes is None else classes[test],
            None if cells is None else cells[test],
        )
    before_s, after_s = error_stats(error)["all"], error_stats(after)["all"]
    return CrossValidation(before_s, after_s, after_s["std_db"], after)


def apply_calibration(
    rsrp: NDArray[np.floating],
    transform: Affine,
    cal: Calibration,
    *,
    serving: NDArray[np.integer],
    cell_x: Array,
    cell_y: Array,
    cell_ids: NDArray,
    classes: NDArray | None = None,
    class_names: dict[int, str] | None = None,
    nodata: float | None = None,
) -> None:
    """Add ``cal``'s correction to an RSRP grid in place, row block by row block.

    Exact per pixel: the serving cell (``serving``, an index into ``cell_x``/``cell_y``
    /``cell_ids``) gives the cell offset and the horizontal distance of the slope term;
    ``classes`` (codes, named by ``class_names``) the class offset. Without
    ``classes`` every pixel takes the overall offset.
    """
    cell_off = np.array([cal.cell_offsets_db.get(str(c), 0.0) for c in cell_ids] + [0.0])
    h, w = rsrp.shape
    step = max(1, 1_000_000 // max(w, 1))
    cols = np.arange(w) + 0.5
    for r in range(0, h, step):
        rows = np.arange(r, min(r + step, h)) + 0.5
        cc, rr = np.meshgrid(cols, rows)
        x, y = transform * (cc, rr)
        block = np.asarray(rsrp[r : r + step])
        srv = np.asarray(serving[r : r + step]).astype(np.int64)
        ok = np.isfinite(block) & (srv >= 0)
        if nodata is not None:
            ok &= block != nodata
        s = np.where(ok, srv, len(cell_ids))
        base = np.full(block.shape, cal.offset_db)
        if classes is not None and class_names:
            codes = np.asarray(classes[r : r + step])
            for code, name in class_names.items():
                if name in cal.class_offsets_db:
                    base[codes == code] = cal.class_offsets_db[name]
        sx = np.append(cell_x, 0.0)[s]
        sy = np.append(cell_y, 0.0)[s]
        d = np.maximum(np.hypot(x - sx, y - sy), 1.0)
        corr = base + cell_off[s] + cal.slope_db_per_decade * (np.log10(d) - cal.log10_ref)
        block[ok] = (block[ok] + corr[ok]).astype(block.dtype)
        rsrp[r : r + step] = block


__all__ = [
    "CELL_COLUMNS",
    "RSRP_COLUMNS",
    "RSRP_RANGE_DBM",
    "Calibration",
    "CrossValidation",
    "Measurements",
    "apply_calibration",
    "cross_validate",
    "error_stats",
    "fit_calibration",
    "huber_fit",
    "read_measurements",
    "route_segments",
    "sample_grid",
    "segment_folds",
]
