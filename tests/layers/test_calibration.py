"""Calibration against a synthetic drive test with planted offsets and correlated shadowing."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from affine import Affine
from scipy.spatial import cKDTree
from scipy.stats import norm

from layers.coverage.calibration import (
    apply_calibration,
    cross_validate,
    error_stats,
    fit_calibration,
    read_measurements,
    route_segments,
    sample_grid,
    segment_folds,
)
from layers.coverage.shadowing import edge_probability, gudmundson_shadowing, share_at_reliability
from layers.errors import SourceError

SIGMA = 8.0
CLASSES = {"water": -4.0, "farmland": 2.0, "forest": 9.0, "town": 12.0}
SLOPE = -3.0


def drive_test(n: int = 8000, spacing: float = 40.0, seed: int = 1):
    """Routes as random walks over 20 km, 6 cells, classes by quadrant, planted truth."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    per_route = 400
    for _ in range(n // per_route):
        heading = rng.uniform(0, 2 * np.pi)
        heading = heading + np.cumsum(rng.normal(0, 0.05, per_route))
        x0, y0 = rng.uniform(0, 20_000, 2)
        xs.append(x0 + np.cumsum(spacing * np.cos(heading)))
        ys.append(y0 + np.cumsum(spacing * np.sin(heading)))
    x, y = np.concatenate(xs), np.concatenate(ys)
    cell_xy = rng.uniform(0, 20_000, (6, 2))
    cell_ids = np.array([f"C{i}" for i in range(6)], dtype=object)
    cell_off = rng.uniform(-6, 6, 6)
    cell_off -= cell_off.mean()
    _, serving = cKDTree(cell_xy).query(np.c_[x, y])
    d = np.hypot(x - cell_xy[serving, 0], y - cell_xy[serving, 1])
    names = np.array(list(CLASSES))
    classes = names[(x > 10_000).astype(int) * 2 + (y > 10_000).astype(int)]
    class_off = np.array([CLASSES[c] for c in classes])
    shadow = gudmundson_shadowing(x, y, SIGMA, 50.0, rng)
    pred = rng.uniform(-120, -70, len(x))
    slope_term = SLOPE * (np.log10(np.maximum(d, 1)) - np.median(np.log10(np.maximum(d, 1))))
    meas = pred + class_off + cell_off[serving] + slope_term + shadow
    return {
        "x": x,
        "y": y,
        "d": d,
        "pred": pred,
        "meas": meas,
        "classes": classes,
        "cells": cell_ids[serving],
        "cell_off": dict(zip(cell_ids, cell_off, strict=True)),
    }


@pytest.fixture(scope="module")
def dt():
    return drive_test()


def test_fit_recovers_planted_offsets(dt):
    cal = fit_calibration(
        dt["pred"] - dt["meas"], dt["d"], classes=dt["classes"], cells=dt["cells"]
    )
    for c, v in CLASSES.items():
        assert cal.class_offsets_db[c] == pytest.approx(v, abs=1.0), c
    for c, v in dt["cell_off"].items():
        assert cal.cell_offsets_db[c] == pytest.approx(v, abs=1.0), c
    assert cal.slope_db_per_decade == pytest.approx(SLOPE, abs=1.0)
    assert cal.notes == []


def test_held_out_rmse_near_planted_sigma(dt):
    folds = segment_folds(route_segments(dt["x"], dt["y"]), k=5)
    cv = cross_validate(
        dt["pred"] - dt["meas"], dt["d"], folds, classes=dt["classes"], cells=dt["cells"]
    )
    assert cv.before["rmse_db"] > 1.2 * SIGMA
    assert cv.after["rmse_db"] == pytest.approx(SIGMA, rel=0.10)
    assert cv.sigma_db == pytest.approx(SIGMA, rel=0.10)


def test_folds_separate_neighbours(dt):
    x, y = dt["x"], dt["y"]
    seg = route_segments(x, y, length_m=500)
    folds = segment_folds(seg, k=5)
    # each segment in one fold, segments are runs of consecutive points ~500 m long
    for s in np.unique(seg):
        assert len(np.unique(folds[seg == s])) == 1
        idx = np.flatnonzero(seg == s)
        assert np.all(np.diff(idx) == 1)
    far = []
    for f in range(5):
        test, train = folds == f, folds != f
        dist, _ = cKDTree(np.c_[x[train], y[train]]).query(np.c_[x[test], y[test]])
        far.append(dist > 50.0)
    assert np.mean(np.concatenate(far)) > 0.8
    # a route's time gap starts a new segment even where the points are close
    t = np.arange(len(x), dtype=float)
    t[100:] += 3600
    seg_t = route_segments(x, y, t)
    assert seg_t[99] != seg_t[100]


def test_too_few_points_not_fitted_and_bounds_reported(dt):
    classes = dt["classes"].copy()
    classes[:10] = "marsh"
    err = dt["pred"] - dt["meas"]
    err[dt["cells"] == "C0"] -= 40  # far beyond the bound
    cal = fit_calibration(err, dt["d"], classes=classes, cells=dt["cells"])
    assert "marsh" not in cal.class_offsets_db
    assert any("marsh (10)" in n for n in cal.notes)
    assert any("bound" in n for n in cal.notes)


def test_without_classes_or_cells_fits_an_overall_offset(dt):
    err = dt["pred"] - dt["meas"]
    cal = fit_calibration(err, dt["d"])
    assert cal.class_offsets_db == {} and cal.cell_offsets_db == {}
    planted = np.mean([CLASSES[c] for c in dt["classes"]])
    assert cal.offset_db == pytest.approx(planted, abs=1.5)


def test_edge_probability_matches_normal_cdf():
    med = np.array([-120.0, -105.0, -95.0, -90.0])
    p = edge_probability(med, -105.0, 8.0)
    np.testing.assert_allclose(p, norm.cdf((med + 105.0) / 8.0))
    assert p[1] == pytest.approx(0.5)
    assert edge_probability(np.array([-105 + 1.645 * 8]), -105, 8)[0] == pytest.approx(
        0.95, abs=1e-3
    )


def test_share_at_reliability_below_median_share():
    rsrp = np.linspace(-130, -70, 100 * 100).reshape(100, 100).astype(np.float32)
    rsrp[0, :10] = -9999.0
    median = share_at_reliability(rsrp, -105, 0.0, nodata=-9999.0)
    at95 = share_at_reliability(rsrp, -105, 8.0, 0.95, nodata=-9999.0)
    expected = 100 * np.mean(rsrp >= -105 + norm.ppf(0.95) * 8)
    assert at95 == pytest.approx(expected)
    assert at95 < median


def test_sample_grid_bilinear_and_nearest():
    t = Affine(10, 0, 0, 0, -10, 100)
    grid = np.arange(100, dtype=np.float32).reshape(10, 10)
    # centre of pixel (row 0, col 0) is (5, 95); halfway to col 1 -> 0.5
    assert sample_grid(grid, t, np.array([5.0]), np.array([95.0]))[0] == pytest.approx(0)
    assert sample_grid(grid, t, np.array([10.0]), np.array([95.0]))[0] == pytest.approx(0.5)
    assert sample_grid(grid, t, np.array([14.0]), np.array([95.0]), method="nearest")[0] == 1
    assert np.isnan(sample_grid(grid, t, np.array([-5.0]), np.array([95.0]))[0])


def test_apply_calibration_adds_offsets_per_serving_cell():
    t = Affine(100, 0, 0, 0, -100, 1000)
    rsrp = np.full((10, 10), -100, np.float32)
    rsrp[0, 0] = -9999
    serving = np.zeros((10, 10), np.int32)
    serving[:, 5:] = 1
    serving[9, 9] = -1
    from layers.coverage.calibration import Calibration

    cal = Calibration(offset_db=2.0, cell_offsets_db={"A": -3.0, "B": 3.0})
    apply_calibration(
        rsrp,
        t,
        cal,
        serving=serving,
        cell_x=np.array([0.0, 1000.0]),
        cell_y=np.array([0.0, 0.0]),
        cell_ids=np.array(["A", "B"]),
        nodata=-9999,
    )
    assert rsrp[0, 0] == -9999 and rsrp[9, 9] == -100
    assert rsrp[5, 2] == pytest.approx(-101) and rsrp[5, 7] == pytest.approx(-95)


def _points(values, column="rsrp", x=(500.0,), y=(500.0,)):
    n = len(values)
    xs = np.resize(np.asarray(x), n)
    ys = np.resize(np.asarray(y), n)
    return gpd.GeoDataFrame(
        {column: values, "cell_id": ["A"] * n}, geometry=gpd.points_from_xy(xs, ys), crs=4549
    )


def test_bad_measurement_files_one_line_each():
    with pytest.raises(SourceError, match=r"dt.csv: no RSRP column; expected one of rsrp"):
        read_measurements(_points([-90.0], column="level"), origin="dt.csv")
    with pytest.raises(SourceError, match=r"2 rsrp values outside -150..-20 dBm \(first at row 2"):
        read_measurements(_points([-90.0, 30.0, -200.0]), origin="dt.csv")
    with pytest.raises(SourceError, match="all 2 points are outside the region"):
        read_measurements(_points([-90.0, -80.0]), bounds=(0, 0, 100, 100), origin="dt.csv")
    m = read_measurements(
        _points([-90.0, -80.0], x=(50.0, 500.0), y=(50.0, 500.0)), bounds=(0, 0, 100, 100)
    )
    assert len(m) == 1 and "1 of 2 points outside the region" in m.warnings[0]
    m = read_measurements(_points([-90.0], column="SS_RSRP"))
    assert m.rsrp[0] == -90.0 and m.cell[0] == "A"
    frame = _points([-90.0, -91.0])
    frame["timestamp"] = pd.to_datetime(["2026-01-01 10:00:00", "2026-01-01 10:00:05"])
    assert read_measurements(frame).time.tolist() == [0.0, 5.0]


def test_error_stats_per_group():
    e = np.array([1.0, -1.0, 3.0, np.nan])
    s = error_stats(e, np.array(["a", "a", "b", "b"]))
    assert s["all"]["n"] == 3 and s["a"]["mean_db"] == 0 and s["b"]["rmse_db"] == 3


def test_huber_fit_matches_scipy_least_squares():
    import scipy.sparse as sp
    from scipy.optimize import least_squares

    from layers.coverage.calibration import huber_fit

    rng = np.random.default_rng(5)
    a = sp.random(600, 8, density=0.4, random_state=6, format="csr")
    e = rng.normal(0, 8, 600) + rng.standard_t(2, 600) * 5
    e[:5] += 60  # outliers
    for bound in (30.0, 3.0):  # free, then some parameters at their bound
        ours = huber_fit(a, e, bound, 6.0)
        ref = least_squares(
            lambda p: a @ p + e, np.zeros(8), bounds=(-bound, bound), loss="huber", f_scale=6.0
        ).x
        np.testing.assert_allclose(ours, ref, atol=0.02)
    assert np.isclose(np.abs(ours), 3.0).any()
