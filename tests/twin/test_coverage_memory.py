"""A window-by-window coverage build never holds a whole grid in one process's memory.

Memory is measured with :mod:`tracemalloc` (numpy reports its buffers to it)
against the size of the largest chunk a step works on, not by wall time.
Disk-backed grids (:func:`layers.blocks.disk_array`) are pages of a file and
count for nothing; every array a step allocates counts.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from affine import Affine

from layers.blocks import BLOCK_PX, disk_array, windows
from layers.coverage import CoverageModel, CoverageParams
from layers.coverage.cells import prepare_cells
from layers.coverage.windows import run_windowed
from layers.coverage.zones import coverage_polygons, coverage_share
from layers.types import RasterData
from tests.layers._coverage_fixtures import CRS, RES, X0, Y1, cell, cells_frame, centre
from twin import artifacts


def peak_of(fn: Callable[[], Any]) -> tuple[Any, int]:
    """``fn()`` and the most bytes it had allocated at once."""
    tracemalloc.start()
    try:
        value = fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return value, peak


def grid_model(n: int) -> CoverageModel:
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32)
    z = (30 * np.sin(xx / 15) * np.cos(yy / 21) + 20).astype(np.float32)
    dem = RasterData(z[None], Affine(RES, 0, X0, 0, -RES, Y1), CRS, None)
    rng = np.random.default_rng(1)
    rows = [
        cell(f"S{i}-{k}", *centre(int(r), int(c)), azimuth_deg=120.0 * k, height_m=25.0)
        for i, (r, c) in enumerate(rng.integers(20, n - 20, (50, 2)))
        for k in range(3)
    ]
    cells, _ = prepare_cells(cells_frame(rows), CRS)
    params = CoverageParams(max_radius_km=0.6, los_mode="terrain")
    return CoverageModel(dem, cells, params, workers=1, keep=False)


@pytest.mark.slow
def test_windowed_run_holds_a_few_windows_not_the_grids(tmp_path: Path) -> None:
    m = grid_model(1000)
    size = 64
    grid_bytes = 3 * 4 * m.shape[0] * m.shape[1]  # rsrp, sinr (float32), serving (int32)

    out = (
        disk_array(tmp_path / "r.npy", m.shape, np.float32, np.nan),
        disk_array(tmp_path / "s.npy", m.shape, np.float32, np.nan),
        disk_array(tmp_path / "v.npy", m.shape, np.int32, -1),
    )
    held: list[int] = []
    result, peak = peak_of(
        lambda: run_windowed(m, size, out=out, on_result=lambda r: held.append(r.nbytes))  # type: ignore[arg-type]
    )
    assert isinstance(result.rsrp.data.base, np.memmap) or isinstance(result.rsrp.data, np.memmap)
    assert np.isfinite(result.rsrp.data).mean() > 0.1  # the cells reach much of the grid
    assert len(held) == len(windows(m.shape, size))
    # a window task, its model's working arrays and the results in flight
    assert peak < 4 * max(held)
    assert peak < grid_bytes / 4
    # the measure would catch whole grids: a run into in-memory grids (in larger windows,
    # which recompute less of their halo: the grids are the same size)
    _, peak_in_memory = peak_of(lambda: run_windowed(m, 4 * size))
    assert peak_in_memory >= grid_bytes


def smooth_grids(tmp_path: Path, n: int) -> tuple[RasterData, RasterData]:
    """RSRP falling away from two centres and a SINR field, written block by block."""
    t = Affine(10, 0, X0, 0, -10, Y1)
    r = disk_array(tmp_path / "rsrp.npy", (1, n, n), np.float32, np.nan)
    s = disk_array(tmp_path / "sinr.npy", (1, n, n), np.float32, np.nan)
    for b in windows((n, n)):
        yy, xx = np.mgrid[b.row0 : b.row1, b.col0 : b.col1].astype(np.float32)
        d = np.minimum(np.hypot(yy - n / 3, xx - n / 3), np.hypot(yy - 2 * n / 3, xx - n / 2))
        r[0][b.slices] = -60 - 60 * d / n
        s[0][b.slices] = 20 * np.cos(xx / 97) * np.sin(yy / 61)
    r[0, : n // 10] = np.nan
    return RasterData(r, t, CRS, float("nan"), ["rsrp"]), RasterData(s, t, CRS, float("nan"))


@pytest.mark.slow
def test_summaries_and_the_cog_are_made_block_by_block(tmp_path: Path) -> None:
    n = 4 * BLOCK_PX  # sixteen blocks
    rsrp, sinr = smooth_grids(tmp_path, n)
    # a step works on one block at a time: at most a few arrays of a block's size
    bound = 16 * BLOCK_PX * BLOCK_PX
    assert bound <= 4 * n * n / 4  # a quarter of one float32 grid
    x0, y1 = rsrp.transform.c, rsrp.transform.f
    zones = gpd.GeoDataFrame(
        {"code": ["w", "e"]},
        geometry=[
            shapely.box(x0, y1 - 10 * n, x0 + 5 * n, y1),
            shapely.box(x0 + 5 * n, y1 - 10 * n, x0 + 10 * n, y1),
        ],
        crs=CRS,
    )
    shares, peak = peak_of(lambda: coverage_share(rsrp, zones, -100.0, sinr, -3.0, "code"))
    assert peak < bound
    with np.errstate(invalid="ignore"):
        covered = int(np.count_nonzero((rsrp.data[0] >= -100) & (sinr.data[0] >= -3)))
    assert shares["covered_km2"].sum() == pytest.approx(covered * 1e-4)

    polys, peak = peak_of(lambda: coverage_polygons(rsrp, sinr, (-90.0,)))
    assert peak < bound
    assert polys.geometry.is_valid.all()
    assert polys["area_km2"].iloc[0] == pytest.approx(
        np.count_nonzero(np.nan_to_num(rsrp.data[0], nan=-999) >= -90) * 1e-4
    )

    path = tmp_path / "rsrp.tif"
    _, peak = peak_of(lambda: artifacts.write_raster(rsrp, path, {"layer": "x"}))
    assert peak < bound
    desc, peak = peak_of(lambda: artifacts.describe_raster(rsrp))
    assert peak < bound
    with rasterio.open(path) as src:
        back = src.read(1)
        assert src.overviews(1) and src.profile["blockxsize"] == 512
    np.testing.assert_array_equal(back, rsrp.data[0])
    finite = back[np.isfinite(back)]
    assert desc["count"] == finite.size
    assert desc["bands"][0].min == float(finite.min())
    assert desc["bands"][0].mean == pytest.approx(float(finite.mean(dtype=np.float64)))
