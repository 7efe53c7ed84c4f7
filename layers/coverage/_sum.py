"""Best server and total power per band, summed over cells in one process or several.

numpy releases the GIL for arithmetic but not for the fancy indexing and the
many small steps of a site, so threads overlap poorly; processes each sum a
share of the sites into their own grids, and the parent combines them (max
for the best server, sum for the power).

This module starts no process: :func:`band_sums_submitted` hands its tasks
to a ``submit`` from the caller (``twin`` passes a fork pool's). A task reads
the model from this module's state, set before the first submit, so that
processes forked at that submit inherit the model and its DEM copy-on-write
instead of having them pickled.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from layers.coverage.model import CellField, CoverageModel

_LN10_OVER_10 = float(np.log(10.0) / 10.0)


def _milliwatts(dbm: NDArray[np.float32]) -> NDArray[np.float64]:
    """``10 ** (dbm / 10)`` in float64, as ``exp``: numpy's float64 power has no fast
    loop and costs four times as much (the two differ by a few ulp).

    Every conversion of a received power goes through here, so that ``total - best``
    still cancels exactly for a lone server.
    """
    return np.exp(dbm.astype(np.float64) * _LN10_OVER_10)


class BandSum:
    """Running best server and total received power of one band's cells."""

    def __init__(
        self,
        band: str,
        shape: tuple[int, int],
        noise_mw: float,
        load: float,
        start: tuple[NDArray[np.float32], NDArray[np.float64], NDArray[np.int32]] | None = None,
    ) -> None:
        self.band = band
        self.noise_mw = noise_mw
        self.load = load
        if start is not None:  # a partial sum's grids (best, total, arg), taken over
            self.best, self.total, self.arg = start
            return
        self.best = np.full(shape, -np.inf, dtype=np.float32)
        # float64 with the same float32 -> float64 conversion on both sides, so that
        # "total - best" cancels exactly for a lone server (no phantom interference).
        self.total = np.zeros(shape, dtype=np.float64)
        self.arg = np.full(shape, -1, dtype=np.int32)

    def add(self, index: int, f: CellField) -> None:
        # A cell's indices are unique, so fancy-index updates need no np.add.at.
        total, best, arg = self.total.ravel(), self.best.ravel(), self.arg.ravel()
        total[f.idx] += _milliwatts(f.rsrp)
        better = f.rsrp > best[f.idx]
        won = f.idx[better]
        best[won] = f.rsrp[better]
        arg[won] = np.int32(index)

    def absorb(
        self, best: NDArray[np.float32], total: NDArray[np.float64], arg: NDArray[np.int32]
    ) -> None:
        """Combine another partial sum of the same band (ties go to the lower cell index,
        as when cells are added one by one in order)."""
        better = (best > self.best) | ((best == self.best) & (arg >= 0) & (arg < self.arg))
        np.copyto(self.best, best, where=better)
        np.copyto(self.arg, arg, where=better)
        self.total += total

    def merge_into(
        self, rsrp: NDArray[np.float32], sinr: NDArray[np.float32], serving: NDArray[np.int32]
    ) -> None:
        """Put this band's best server and SINR where it beats what is there."""
        # Row blocks keep the float64 temporaries small and in cache.
        step = max(1, (1 << 18) // max(1, rsrp.shape[1]))
        for r0 in range(0, rsrp.shape[0], step):
            rows = slice(r0, r0 + step)
            best, arg = self.best[rows], self.arg[rows]
            take = (arg >= 0) & (best > rsrp[rows])
            if not take.any():
                continue
            b = best[take]
            s = _milliwatts(b)
            interference = self.load * np.maximum(self.total[rows][take] - s, 0.0)
            rsrp[rows][take] = b
            sinr[rows][take] = 10 * np.log10(s / (interference + self.noise_mw))
            serving[rows][take] = arg[take]


#: ``submit(fn, *args)`` returning a future, like :meth:`concurrent.futures.Executor.submit`
Submit = Callable[..., "Future[Any]"]

# The model a task computes with: this process's, or inherited by a worker forked
# at the first submit (never pickled); and which call of band_sums_submitted set it,
# so that a worker forked for an earlier call cannot compute with a stale model.
_MODEL: CoverageModel | None = None
_CALL = 0


def _partial(call: int, band: str, groups: list[list[int]]) -> tuple[Any, Any, Any, dict[str, int]]:
    model = _MODEL
    if model is None or call != _CALL:
        raise RuntimeError(
            "coverage band sums: this worker does not hold the model (its process was "
            "started before the first submit; use threads or processes forked then)"
        )
    acc = model.band_sum(band)
    flags: dict[str, int] = {}
    for group in groups:
        for i in group:
            f = model.cell_field(model.cells.iloc[i])
            for k, v in f.flags.items():
                flags[k] = flags.get(k, 0) + v
            acc.add(i, f)
    return acc.best, acc.total, acc.arg, flags


def band_sums_submitted(
    model: CoverageModel,
    bands: list[tuple[str, list[list[int]]]],
    parts: int,
    submit: Submit,
    on_flags: Callable[[dict[str, int]], None],
) -> Iterator[BandSum]:
    """Each band's sum, its site groups shared out in ``parts`` tasks through ``submit``.

    The caller owns what runs the tasks: on an error, or when this generator is
    closed early, the tasks not started are cancelled and the running ones left
    to it (a band's sites can take minutes; ``twin`` ends its pool's workers).
    """
    global _MODEL, _CALL
    _MODEL = model
    _CALL += 1
    ahead: deque[tuple[str, list[Future[Any]]]] = deque()
    try:

        def combine(band: str, futures: list[Future[Any]]) -> BandSum:
            acc: BandSum | None = None
            for fut in futures:
                best, total, arg, flags = fut.result()
                on_flags(flags)
                if acc is None:
                    # The first partial sum is the band's so far: absorbing it into
                    # an empty sum would copy three full grids to the same values.
                    acc = model.band_sum(band, start=(best, total, arg))
                else:
                    acc.absorb(best, total, arg)
            return acc if acc is not None else model.band_sum(band)

        # The next band's sites are queued before this band's partial sums are
        # combined: the workers keep computing while this process combines and
        # merges (one band ahead bounds the partial grids held in memory).
        for band, groups in bands:
            chunks = [groups[k::parts] for k in range(parts) if groups[k::parts]]
            ahead.append((band, [submit(_partial, _CALL, band, chunk) for chunk in chunks]))
            if len(ahead) > 1:
                yield combine(*ahead.popleft())
        while ahead:
            yield combine(*ahead.popleft())
    except BaseException:
        for _, futures in ahead:
            for fut in futures:
                fut.cancel()
        raise
    finally:
        _MODEL = None
