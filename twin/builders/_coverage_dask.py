"""The coverage builder's model run: whole-grid here, or window by window on a Dask cluster.

Here, each band's sites are summed in ``model.workers`` processes forked for
the run (:func:`twin._executors.forked_pool`), which inherit the model and its
DEM copy-on-write; with one worker, in this process.

With a scheduler (``twin build --scheduler``), the grid is cut into windows
of :data:`layers.coverage.windows.WINDOW_PX` pixels; each window is one Dask
task holding its cells and the DEM halo they need
(:mod:`layers.coverage.windows`), retried once, and written into the output
grids as it arrives: files the operating system pages (:func:`layers.blocks.disk_array`).
Only a few tasks are in flight at once, so no process holds more than a few
windows and their halos in memory.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from layers.coverage import CoverageModel, CoverageResult
from layers.coverage.windows import (
    WINDOW_PX,
    Grids,
    WindowResult,
    WindowTask,
    run_window,
    run_windowed,
)
from twin._executors import dask_client, forked_pool


def dask_submit(client: Any) -> Callable[[WindowTask], Any]:
    """``submit(task)`` running :func:`run_window` on ``client``'s cluster, retried once."""

    def submit(task: WindowTask) -> Any:
        # scattered, not embedded: a large halo would bloat the task graph
        [data] = client.scatter([task], hash=False)
        return client.submit(run_window, data, retries=1, pure=False)

    return submit


def run_model(
    scheduler: str | None,
    model: CoverageModel,
    size: int = WINDOW_PX,
    on_result: Callable[[WindowResult], None] | None = None,
    out: Callable[[], Grids] | None = None,
) -> CoverageResult:
    """``model.run()``, on the Dask ``scheduler`` window by window when there is one.

    ``out()`` makes the grids windows are written into (see
    :func:`layers.coverage.windows.run_windowed`); it is called only for a
    windowed run.
    """
    with dask_client(scheduler) as client:
        if client is None:
            # the what-if cache (keep) lives in this process: threads, no processes
            workers = 1 if model.keep else model.workers
            with forked_pool(workers, keep_freed_memory=True) as pool:
                return model.run(None if pool is None else pool.submit)
        n_workers = max(1, len(client.scheduler_info().get("workers", {})))
        return run_windowed(
            model,
            size,
            dask_submit(client),
            in_flight=2 * n_workers,
            on_result=on_result,
            out=None if out is None else out(),
        )
