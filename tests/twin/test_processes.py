"""twin's forked pools: what they hand layers and tiles gives the same results as this
process alone, their workers leave Ctrl-C to the parent, die with it and are ended at once
on an error, and the coverage sums' workers reuse freed memory."""

from __future__ import annotations

import ctypes
import multiprocessing as mp
import os
import resource
import signal
import sys
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import shapely
from affine import Affine

from layers.coverage import CoverageModel, CoverageParams, CoverageResult
from layers.coverage.cells import prepare_cells
from layers.types import RasterData
from tests.layers._coverage_fixtures import CRS, RES, X0, Y1, cell, cells_frame, centre
from tiles.errors import InvalidParameterError
from tiles.export import ExportOptions, export_vector
from twin._executors import _keep_freed_memory, forked_pool, forked_process, running
from twin.builders._coverage_dask import run_model


def _faults_of_a_second_big_array(keep: bool) -> int:
    """Minor page faults while filling a 64 MB array after one was freed (in a fresh child).

    64 MB is above the largest threshold glibc ever serves from the heap by default.
    """
    # Count 4 KiB pages: with transparent huge pages a fresh 64 MB array faults only a few
    # times, as few as the Python objects of the measure itself (PR_SET_THP_DISABLE = 41).
    ctypes.CDLL(None, use_errno=True).prctl(41, 1, 0, 0, 0)
    if keep:
        _keep_freed_memory()
    a = np.ones(1 << 23)
    del a
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    b = np.ones(1 << 23)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    del b
    return after - before


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_a_worker_reuses_the_pages_numpy_freed():
    # Fresh interpreters (spawn), not forks of this one: a fork inherits the allocator's
    # state and heap of a test process that has run the rest of the suite.
    with mp.get_context("spawn").Pool(1) as pool:
        default = pool.apply(_faults_of_a_second_big_array, (False,))
    with mp.get_context("spawn").Pool(1) as pool:
        kept = pool.apply(_faults_of_a_second_big_array, (True,))
    assert default > 0  # the allocator hands back fresh pages by default
    assert kept * 4 < default  # a few faults of Python objects, none for the array


# -- twin's forked pools, handed to layers and tiles ----------------------------------------

N = 90


def _model(workers: int = 2, max_radius_km: float = 0.7) -> CoverageModel:
    """Two bands over ridges: three sites of three sectors, and one low-band site."""
    yy, xx = np.mgrid[0:N, 0:N].astype(np.float32)
    z = 40 * np.sin(xx / 9) * np.cos(yy / 13) + 0.5 * xx + 20
    dem = RasterData(z[None], Affine(RES, 0, X0, 0, -RES, Y1), CRS, -9999.0)
    rows = [
        cell(f"{n}-{k}", *centre(r, c), azimuth_deg=120.0 * k, height_m=20.0 + 5 * k)
        for n, (r, c) in (("A", (20, 25)), ("B", (60, 70)), ("C", (25, 75)))
        for k in range(3)
    ]
    rows.append(
        cell("D-1", *centre(75, 15), band="n28", freq_mhz=700.0, bandwidth_mhz=20.0,
             scenario="RMa", height_m=30.0)
    )  # fmt: skip
    cells, _ = prepare_cells(cells_frame(rows), CRS)
    params = CoverageParams(max_radius_km=max_radius_km, los_mode="terrain")
    return CoverageModel(dem, cells, params, workers=workers, keep=False)


def _serial_submit(fn: Callable[..., Any], *args: Any) -> Future[Any]:
    """``Executor.submit`` run at once in this process."""
    done: Future[Any] = Future()
    done.set_result(fn(*args))
    return done


def _pids(pool: ProcessPoolExecutor) -> set[int]:
    return set(pool._processes)  # the workers the pool forked


def _assert_identical(a: CoverageResult, b: CoverageResult) -> None:
    for x, y in ((a.rsrp, b.rsrp), (a.sinr, b.sinr), (a.serving, b.serving)):
        np.testing.assert_array_equal(x.data, y.data)
    assert a.flags == b.flags and a.cell_ids == b.cell_ids


def test_band_sums_are_identical_in_this_process_and_in_twins_pool() -> None:
    serial = _model().run(_serial_submit)  # the same two parts per band, one after another
    assert np.isfinite(serial.rsrp.data).sum() > N * N // 4
    assert set(np.unique(serial.serving.data)) >= {-1, 0, 9}  # both bands serve somewhere
    with forked_pool(2, keep_freed_memory=True) as pool:
        assert pool is not None
        forked = _model().run(pool.submit)
        assert len(_pids(pool)) == 2 and os.getpid() not in _pids(pool)
    _assert_identical(serial, forked)
    # the coverage builder's path: twin makes the pool, from the model's workers
    _assert_identical(serial, run_model(None, _model()))
    # threads (no submit) sum every site into one grid: the same up to float64 rounding
    threads = _model().run()
    np.testing.assert_array_equal(threads.rsrp.data, serial.rsrp.data)
    np.testing.assert_array_equal(threads.serving.data, serial.serving.data)
    np.testing.assert_allclose(threads.sinr.data, serial.sinr.data, atol=1e-9, equal_nan=True)


def _points(tmp_path: Path) -> Path:
    """Points spread over enough tiles at zoom 14 for several chunks of tiles per worker."""
    rng = np.random.default_rng(5)
    xy = rng.uniform(0, 40_000, (2000, 2)) + np.array([X0, Y1 - 40_000])
    gdf = gpd.GeoDataFrame(
        {"kind": [f"k{i % 4}" for i in range(2000)], "rank": np.arange(2000)},
        geometry=shapely.points(xy),
        crs=CRS,
    )
    path = tmp_path / "points.parquet"
    gdf.to_parquet(path)
    return path


def test_export_is_identical_in_this_process_and_in_twins_pool(tmp_path: Path) -> None:
    src, opts = _points(tmp_path), ExportOptions(minzoom=8, maxzoom=14)
    one = export_vector(src, tmp_path / "one.pmtiles", "p", opts)
    with forked_pool(2) as pool:
        assert pool is not None
        two = export_vector(src, tmp_path / "two.pmtiles", "p", opts, map_chunks=pool.map)
        assert len(_pids(pool)) == 2
    assert one.tiles == two.tiles > 4 * 64  # several chunks of 64 tiles per worker
    assert (tmp_path / "one.pmtiles").read_bytes() == (tmp_path / "two.pmtiles").read_bytes()


def test_an_export_reads_its_layers_in_one_more_process_meanwhile(tmp_path: Path) -> None:
    # twin's path: the layers read in a forked process while this one loads numba
    src, opts = _points(tmp_path), ExportOptions(minzoom=8, maxzoom=14)
    export_vector(src, tmp_path / "one.pmtiles", "p", opts)
    with forked_pool(2) as pool, forked_process() as reader:
        assert pool is not None and reader is not None
        export_vector(
            src, tmp_path / "two.pmtiles", "p", opts, map_chunks=pool.map, submit=reader.submit
        )
        assert len(_pids(reader)) == 1 and len(_pids(pool)) == 2
    assert (tmp_path / "one.pmtiles").read_bytes() == (tmp_path / "two.pmtiles").read_bytes()
    # what goes wrong there is told here, as it would be in this process
    gdf = gpd.read_parquet(src)
    gdf.geometry = gpd.GeoSeries([None] * len(gdf), crs=CRS)
    gdf.to_parquet(tmp_path / "none.parquet")
    with forked_pool(2) as pool, forked_process() as reader:
        assert pool is not None and reader is not None
        with pytest.raises(InvalidParameterError, match="layer 'p' has no features to tile"):
            export_vector(
                tmp_path / "none.parquet",
                tmp_path / "none.pmtiles",
                "p",
                opts,
                map_chunks=pool.map,
                submit=reader.submit,
            )
        assert len(_pids(reader)) == 1
    assert not (tmp_path / "none.pmtiles").exists()


def test_workers_forked_for_an_earlier_call_refuse_to_compute(tmp_path: Path) -> None:
    # They hold the earlier model or layer: computing with it would be silently wrong.
    with pytest.raises(RuntimeError, match="does not hold the model"), forked_pool(2) as pool:
        assert pool is not None
        _model().run(pool.submit)
        _model(max_radius_km=0.4).run(pool.submit)
    src, opts = _points(tmp_path), ExportOptions(minzoom=8, maxzoom=10)
    with pytest.raises(RuntimeError, match="does not hold the layer"), forked_pool(2) as pool:
        assert pool is not None
        export_vector(src, tmp_path / "a.pmtiles", "p", opts, map_chunks=pool.map)
        export_vector(src, tmp_path / "b.pmtiles", "p", opts, map_chunks=pool.map)
    assert (tmp_path / "a.pmtiles").exists() and not (tmp_path / "b.pmtiles").exists()


def _pdeathsig() -> int:
    sig = ctypes.c_int(0)
    ctypes.CDLL(None, use_errno=True).prctl(2, ctypes.byref(sig))  # PR_GET_PDEATHSIG
    return sig.value


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl")
def test_forked_workers_leave_ctrl_c_to_the_parent_and_die_with_it() -> None:
    with forked_pool(2) as pool, forked_process() as one:
        for forked in (pool, one):
            assert forked is not None
            assert forked.submit(signal.getsignal, signal.SIGINT).result() == signal.SIG_IGN
            assert forked.submit(_pdeathsig).result() == signal.SIGKILL


def test_an_error_ends_the_workers_without_waiting_for_them() -> None:
    start = time.monotonic()
    with pytest.raises(ValueError, match="stop"), forked_pool(2) as pool:
        assert pool is not None
        for _ in range(3):
            pool.submit(time.sleep, 60)
        pids = _pids(pool)
        raise ValueError("stop")
    assert time.monotonic() - start < 5
    assert not [p for p in pids if running(p)]


def test_one_worker_means_this_process() -> None:
    with forked_pool(1) as pool:
        assert pool is None


_KILLED_BUILD = """
import json, sys, time
from multiprocessing import forkserver
from twin._executors import open_executor

with open_executor(2) as running:
    for _ in range(2):
        running.pool.submit(time.sleep, 60)
    while len(running.pool._processes) < 2:
        time.sleep(0.05)
    print(json.dumps([forkserver._forkserver._forkserver_pid, *running.pool._processes]))
    sys.stdout.flush()
    time.sleep(60)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl")
def test_a_build_killed_with_sigkill_leaves_no_forkserver_or_layer_worker() -> None:
    """SIGKILL (the OOM killer, ``kill -9``) cannot let a build end its pool: the kernel
    ends its forkserver, and the forkserver's layer workers, after it."""
    import json
    import subprocess

    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILLED_BUILD],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    pids: list[int] = []
    try:
        assert proc.stdout is not None
        pids = json.loads(proc.stdout.readline())
        assert len(pids) == 3 and all(running(p) for p in pids)
        proc.kill()
        proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while any(running(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        left = [p for p in pids if running(p)]
        assert not left, [Path(f"/proc/{p}/stat").read_text() for p in left]
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
        for pid in pids:
            if running(pid):
                os.kill(pid, signal.SIGKILL)
