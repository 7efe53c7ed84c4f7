"""Best-server coverage computed window by window, each window a self-contained task.

A window task carries only what its pixels need: the cells whose radius
reaches the window and the DEM around them (the *halo*: the terrain sweep of
a cell reads the ground out to its radius). The task runs an ordinary
:class:`layers.coverage.CoverageModel` on that sub-grid with the region
narrowed to the window, so its best server, SINR and validity flags are
those of the whole-grid model on the window's pixels (same cells, same
terrain, same noise per band; serving indices are mapped back to the whole
model's). Tasks may run anywhere: in this process or on a cluster through
any ``submit(fn, task)`` that returns a future (Dask's ``Client.submit``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from affine import Affine
from numpy.typing import NDArray

from layers.blocks import Window, windows
from layers.coverage.model import CoverageModel, CoverageResult
from layers.coverage.params import CoverageParams
from layers.coverage.terrain import site_window
from layers.errors import LayerError, ParameterError, SourceError
from layers.types import RasterData

#: default window edge, pixels
WINDOW_PX = 512


@dataclass
class WindowTask:
    """Everything one window needs, picklable (no reference to the whole grid).

    ``z``, ``region``, ``clutter`` and ``clutter_m`` cover ``halo``; ``region`` is True only on
    the window's pixels of the model's region; ``index`` maps each cell of
    ``cells`` (in order) to its index in the whole model.
    """

    window: Window
    halo: Window
    z: NDArray[np.float32]
    region: NDArray[np.bool_]
    clutter: NDArray[np.float32] | None
    cells: pd.DataFrame
    index: NDArray[np.int32]
    transform: Affine
    crs: Any
    params: CoverageParams
    noise_mw: dict[str, float]
    clutter_m: NDArray[np.float32] | None = None

    @property
    def nbytes(self) -> int:
        """Bytes of the grids this task holds (inputs and the running sums of one band)."""
        h, w = self.halo.shape
        # z (float32) + region (bool) + clutter (float32) + best/total/arg of a band
        # (float32 + float64 + int32) + rsrp/sinr/serving of the model (3 x 4 bytes)
        per_pixel = 4 + 1 + 16 + 12
        per_pixel += 4 * ((self.clutter is not None) + (self.clutter_m is not None))
        return h * w * per_pixel


@dataclass
class WindowResult:
    """Best-server rasters of one window (serving: index into the whole model's cells)."""

    window: Window
    rsrp: NDArray[np.float32]
    sinr: NDArray[np.float32]
    serving: NDArray[np.int32]
    flags: dict[str, int]
    nbytes: int


class _WindowModel(CoverageModel):
    """A model whose noise per band is the whole model's (a band's cells may be fewer here)."""

    noise: dict[str, float]

    def _noise_mw(self, band: str) -> float:
        return self.noise[band]


def run_window(task: WindowTask) -> WindowResult:
    """Best server, SINR and serving cell on ``task.window``."""
    if not np.isfinite(task.z).all():
        raise SourceError(f"dem window {task.halo}: holds non-finite heights")
    w = task.window
    r0, c0 = w.row0 - task.halo.row0, w.col0 - task.halo.col0
    inner = (slice(r0, r0 + w.shape[0]), slice(c0, c0 + w.shape[1]))
    if task.cells.empty or not task.region.any():
        return WindowResult(
            w,
            np.full(w.shape, np.nan, dtype=np.float32),
            np.full(w.shape, np.nan, dtype=np.float32),
            np.full(w.shape, -1, dtype=np.int32),
            {},
            task.nbytes,
        )
    dem = RasterData(task.z[None], task.transform, task.crs, None, ["z"], ["m"], {})
    model = object.__new__(_WindowModel)
    model.noise = task.noise_mw
    CoverageModel.__init__(
        model,
        dem,
        task.cells.drop(columns=["row", "col"]),
        task.params,
        region=task.region,
        clutter_db=task.clutter,
        clutter_m=task.clutter_m,
        outside="error",
        workers=1,
        keep=False,
    )
    # The whole model's pixel positions, shifted by whole pixels (not re-derived from
    # the sub-grid's transform, which could round differently).
    order = model.cells["cell_id"].to_numpy()
    if not np.array_equal(order, task.cells["cell_id"].to_numpy()):
        raise ParameterError(f"window {w}: cells are not in the model's order")
    model.cells["row"] = task.cells["row"].to_numpy() - task.halo.row0
    model.cells["col"] = task.cells["col"].to_numpy() - task.halo.col0
    result = model.run()
    serving = result.serving.data[0][inner]
    serving = np.where(serving >= 0, task.index[np.maximum(serving, 0)], -1).astype(np.int32)
    return WindowResult(
        w,
        result.rsrp.data[0][inner].copy(),
        result.sinr.data[0][inner].copy(),
        serving,
        result.flags,
        task.nbytes,
    )


def window_tasks(model: CoverageModel, size: int = WINDOW_PX) -> Iterator[WindowTask]:
    """One task per window of ``model``'s grid, built lazily (one halo at a time)."""
    cells = model.cells
    reach = [
        site_window(model.shape, r.row, r.col, model.radius(r) / model.resolution)
        for _, r in cells.iterrows()
    ]
    r0s = np.array([rs.start for rs, _ in reach])
    r1s = np.array([rs.stop for rs, _ in reach])
    c0s = np.array([cs.start for _, cs in reach])
    c1s = np.array([cs.stop for _, cs in reach])
    noise = {str(b): model._noise_mw(str(b)) for b in cells["band"].unique()}
    for w in windows(model.shape, size):
        hit = (r0s < w.row1) & (r1s > w.row0) & (c0s < w.col1) & (c1s > w.col0)
        halo = Window(
            min([w.row0, *r0s[hit]]),
            max([w.row1, *r1s[hit]]),
            min([w.col0, *c0s[hit]]),
            max([w.col1, *c1s[hit]]),
        )
        rows, cols = slice(halo.row0, halo.row1), slice(halo.col0, halo.col1)
        region = np.zeros(halo.shape, dtype=bool)
        inner = (
            slice(w.row0 - halo.row0, w.row1 - halo.row0),
            slice(w.col0 - halo.col0, w.col1 - halo.col0),
        )
        region[inner] = model.region[w.row0 : w.row1, w.col0 : w.col1]
        yield WindowTask(
            window=w,
            halo=halo,
            z=model.z[rows, cols].copy(),  # a copy: a task owns its grids
            region=region,
            clutter=None if model.clutter is None else model.clutter[rows, cols].copy(),
            cells=cells[hit].reset_index(drop=True),
            index=np.flatnonzero(hit).astype(np.int32),
            transform=model.dem.transform * Affine.translation(halo.col0, halo.row0),
            crs=model.dem.crs,
            params=model.params,
            noise_mw=noise,
            clutter_m=None if model.clutter_m is None else model.clutter_m[rows, cols].copy(),
        )


#: RSRP, SINR and serving-cell grids
Grids = tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.int32]]
Submit = Callable[[WindowTask], "Future[WindowResult] | Any"]


def _local_submit(task: WindowTask) -> Future[WindowResult]:
    """Run ``task`` now, retrying once, and hand back a finished future."""
    fut: Future[WindowResult] = Future()
    try:
        fut.set_result(run_window(task))
    except Exception:
        try:
            fut.set_result(run_window(task))
        except Exception as exc:
            fut.set_exception(exc)
    return fut


def run_windowed(
    model: CoverageModel,
    size: int = WINDOW_PX,
    submit: Submit | None = None,
    in_flight: int = 4,
    tasks: Iterator[WindowTask] | None = None,
    on_result: Callable[[WindowResult], None] | None = None,
    out: Grids | None = None,
) -> CoverageResult:
    """``model.run()`` computed window by window.

    Parameters
    ----------
    model
        The whole-grid model (its cells located; only its DEM, region and clutter are read).
    size
        Window edge, pixels.
    submit
        ``submit(task)`` returns a future of :func:`run_window` (it may retry); default:
        run each task here, retrying once.
    in_flight
        Tasks submitted ahead of the one awaited: bounds the halos held at once.
    tasks
        The tasks to run (default: :func:`window_tasks`).
    on_result
        Called with each window's result as it is written into the output.
    out
        The RSRP, SINR and serving grids to write into, of the model's shape and
        filled with NaN, NaN and -1 (e.g. :func:`layers.blocks.disk_array` files,
        so that no process holds the whole grids); default: new in-memory arrays.

    Raises
    ------
    LayerError
        When a window's task fails (again): the message names the window.
    """
    submit = submit or _local_submit
    if out is None:
        out = (
            np.full(model.shape, np.nan, dtype=np.float32),
            np.full(model.shape, np.nan, dtype=np.float32),
            np.full(model.shape, -1, dtype=np.int32),
        )
    elif any(a.shape != model.shape for a in out):
        raise ParameterError(f"out: grids must have the model's shape {model.shape}")
    rsrp, sinr, serving = out
    flags: dict[str, int] = {}
    pending: deque[tuple[Window, Any]] = deque()

    def collect() -> None:
        window, fut = pending.popleft()
        try:
            res: WindowResult = fut.result()
        except Exception as exc:
            raise LayerError(
                f"coverage window {window}: {type(exc).__name__}: {exc}".rstrip(": ")
            ) from None
        rows, cols = window.slices
        rsrp[rows, cols], sinr[rows, cols], serving[rows, cols] = res.rsrp, res.sinr, res.serving
        for k, v in res.flags.items():
            flags[k] = flags.get(k, 0) + v
        if on_result is not None:
            on_result(res)

    for task in tasks if tasks is not None else window_tasks(model, size):
        pending.append((task.window, submit(task)))
        if len(pending) > in_flight:
            collect()
    while pending:
        collect()
    return model.result(rsrp, sinr, serving, flags)


__all__ = [
    "WINDOW_PX",
    "Grids",
    "Window",
    "WindowResult",
    "WindowTask",
    "run_window",
    "run_windowed",
]
