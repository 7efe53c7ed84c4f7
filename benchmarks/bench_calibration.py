"""Calibration benchmark: Huber fit and route-grouped cross-validation, 750 cells, 10k-100k points.

Run (each size in its own subprocess, so peak memory is that case's)::

    .venv/bin/python benchmarks/bench_calibration.py [--sizes 10000 30000 100000]

A synthetic drive test (random-walk routes over 60 km x 60 km, 750 cells at random
positions, the nearest one serving, 5 classes, planted per-class and per-cell offsets,
a distance slope and Gudmundson shadowing of 8 dB over 50 m): the time to cut the
routes into segments and folds, the 5-fold cross-validation (5 fits) and the final
fit, the process's peak RSS, and the largest error of the recovered offsets.
Prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def case(n: int, n_cells: int = 750, seed: int = 0) -> dict[str, float]:
    from scipy.spatial import cKDTree

    from layers.coverage.calibration import (
        cross_validate,
        fit_calibration,
        route_segments,
        segment_folds,
    )
    from layers.coverage.shadowing import gudmundson_shadowing

    rng = np.random.default_rng(seed)
    per_route = 500
    xs, ys = [], []
    for _ in range(n // per_route):
        h = rng.uniform(0, 2 * np.pi) + np.cumsum(rng.normal(0, 0.05, per_route))
        x0, y0 = rng.uniform(0, 60_000, 2)
        xs.append(x0 + np.cumsum(25 * np.cos(h)))
        ys.append(y0 + np.cumsum(25 * np.sin(h)))
    x, y = np.concatenate(xs), np.concatenate(ys)
    cell_xy = rng.uniform(0, 60_000, (n_cells, 2))
    ids = np.array([f"C{i}" for i in range(n_cells)], dtype=object)
    cell_off = rng.uniform(-6, 6, n_cells)
    _, serving = cKDTree(cell_xy).query(np.c_[x, y])
    d = np.hypot(x - cell_xy[serving, 0], y - cell_xy[serving, 1])
    names = np.array(["water", "farmland", "village", "town", "forest"])
    classes = names[rng.integers(0, 5, len(x) // 100).repeat(100)[: len(x)]]
    class_off = dict(zip(names, [-4.0, 1.0, 6.0, 11.0, 8.0], strict=True))
    shadow = gudmundson_shadowing(x, y, 8.0, 50.0, rng)
    error = -(np.array([class_off[c] for c in classes]) + cell_off[serving] + shadow)
    cells = ids[serving]

    t0 = time.perf_counter()
    folds = segment_folds(route_segments(x, y), k=5)
    t1 = time.perf_counter()
    cv = cross_validate(error, d, folds, classes=classes, cells=cells)
    t2 = time.perf_counter()
    cal = fit_calibration(error, d, classes=classes, cells=cells)
    t3 = time.perf_counter()
    fitted = list(cal.cell_offsets_db)
    mean_planted = np.mean([cell_off[int(c[1:])] for c in fitted])
    cell_err = np.array(
        [abs(cal.cell_offsets_db[c] - (cell_off[int(c[1:])] - mean_planted)) for c in fitted]
    )
    class_err = max(abs(cal.class_offsets_db[c] - (v + mean_planted)) for c, v in class_off.items())
    return {
        "points": n,
        "cells_fitted": len(fitted),
        "segments_s": t1 - t0,
        "cv_s": t2 - t1,
        "fit_s": t3 - t2,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rmse_after_db": cv.after["rmse_db"],
        "max_class_err_db": class_err,
        "median_cell_err_db": float(np.median(cell_err)),
        "max_cell_err_db": float(cell_err.max()),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 30_000, 100_000])
    ap.add_argument("--case", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.case:
        print(json.dumps(case(args.case)))
        return
    print(
        "| points | cells fitted | segments+folds s | 5-fold CV s | final fit s | peak MB "
        "| held-out RMSE dB | max class err dB | median / max cell err dB |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in args.sizes:
        out = subprocess.run(
            [sys.executable, __file__, "--case", str(n)],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        )
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"| {r['points']:,} | {r['cells_fitted']} | {r['segments_s']:.2f} | {r['cv_s']:.1f} "
            f"| {r['fit_s']:.1f} | {r['peak_mb']:.0f} | {r['rmse_after_db']:.2f} "
            f"| {r['max_class_err_db']:.2f} "
            f"| {r['median_cell_err_db']:.2f} / {r['max_cell_err_db']:.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
