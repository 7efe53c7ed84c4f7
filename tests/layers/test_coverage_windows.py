"""Coverage computed window by window equals the whole-grid model, with bounded windows."""

from __future__ import annotations

import numpy as np
import pytest
from affine import Affine

from layers.coverage import CoverageModel, CoverageParams
from layers.coverage.cells import prepare_cells
from layers.coverage.windows import run_window, run_windowed, window_tasks, windows
from layers.errors import LayerError
from layers.types import RasterData
from tests.layers._coverage_fixtures import CRS, RES, X0, Y1, cell, cells_frame, centre

N = 120


def hilly_dem() -> RasterData:
    """Ridges and a nodata hole, so the sweep and the nodata fill both matter."""
    yy, xx = np.mgrid[0:N, 0:N].astype(np.float32)
    z = 40 * np.sin(xx / 9) * np.cos(yy / 13) + 0.5 * xx + 20
    z[60:64, 10:14] = -9999.0
    return RasterData(z[None].astype(np.float32), Affine(RES, 0, X0, 0, -RES, Y1), CRS, -9999.0)


def model(max_radius_m: float = 900.0) -> CoverageModel:
    rows = [
        cell(f"{n}-{k}", *centre(r, c), azimuth_deg=120.0 * k, height_m=20.0 + 5 * k)
        for n, (r, c) in (("A", (20, 25)), ("B", (80, 90)), ("C", (30, 100)))
        for k in range(3)
    ]
    rows.append(
        cell("D-1", *centre(100, 20), band="n28", freq_mhz=700.0, bandwidth_mhz=20.0,
             scenario="RMa", height_m=30.0)
    )  # fmt: skip
    cells, _ = prepare_cells(cells_frame(rows), CRS)
    region = np.ones((N, N), dtype=bool)
    region[:, :5] = False
    params = CoverageParams(max_radius_km=max_radius_m / 1000, los_mode="terrain")
    return CoverageModel(hilly_dem(), cells, params, region=region, workers=1, keep=False)


def assert_same(a, b) -> None:
    np.testing.assert_allclose(a.rsrp.data, b.rsrp.data, rtol=0, atol=1e-4, equal_nan=True)
    np.testing.assert_allclose(a.sinr.data, b.sinr.data, rtol=0, atol=1e-4, equal_nan=True)
    np.testing.assert_array_equal(a.serving.data, b.serving.data)
    assert a.flags == b.flags
    assert a.cell_ids == b.cell_ids


@pytest.mark.parametrize("size", [32, 50, N])
def test_windows_equal_the_whole_grid(size):
    m = model()
    whole = m.run()
    assert np.isfinite(whole.rsrp.data).sum() > N * N // 4  # the cells reach a lot of pixels
    assert_same(run_windowed(m, size=size), whole)


def test_windows_tile_the_grid_once():
    cover = np.zeros((N, 70), dtype=int)
    for w in windows((N, 70), 32):
        cover[w.row0 : w.row1, w.col0 : w.col1] += 1
    assert (cover == 1).all()


def test_a_window_holds_its_halo_not_the_grid():
    m = model(max_radius_m=300.0)
    size = 16
    radius_px = max(m.radius(r) for _, r in m.cells.iterrows()) / RES
    seen: list[int] = []
    run_windowed(m, size=size, on_result=lambda r: seen.append(r.nbytes))
    assert len(seen) == len(windows(m.shape, size))
    # a window plus, each side, the reach of a cell just outside it: a diameter (and the
    # sweep's 2-pixel margins)
    edge = size + 4 * (int(np.ceil(radius_px)) + 2)
    assert edge < N
    assert max(seen) <= edge * edge * 37  # bytes per pixel: see WindowTask.nbytes


def test_cells_are_given_only_to_windows_they_reach():
    m = model()
    for task in window_tasks(m, 40):
        for _, c in task.cells.iterrows():
            # the nearest pixel of the window lies within the cell's radius (plus a pixel)
            w = task.window
            dr = max(w.row0 - c["row"], 0, c["row"] - w.row1)
            dc = max(w.col0 - c["col"], 0, c["col"] - w.col1)
            assert np.hypot(dr, dc) * RES <= m.radius(c) + 2 * RES


def test_a_failing_window_is_named():
    m = model()
    tasks = list(window_tasks(m, 40))
    tasks[4].z[0, 0] = np.nan  # a corrupt DEM window
    with pytest.raises(LayerError, match=rf"coverage window {tasks[4].window}: SourceError"):
        run_windowed(m, tasks=iter(tasks))
    with pytest.raises(LayerError, match="non-finite"):
        run_window(tasks[4])
