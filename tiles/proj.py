"""PROJ transformers, kept for reuse, and whose operation search can start ahead.

Between two datums PROJ knows no transformation for (CGCS2000 and WGS 84, so any
EPSG:4549 layer going to Web Mercator), ``Transformer.from_crs`` searches its
database for a path through other datums before it settles for the ballpark one:
some 0.1 s, more than a small tile export spends on its work. So a transformer is
made once per CRS pair and kept (as geopandas keeps them), and a caller that knows
a pair early (``twin export`` knows it from the catalog, before the export's modules
load) can have the search run on another core meanwhile: :func:`prepare`. pyproj
searches without the GIL.

pyproj keeps a transformer to the thread that made it (another thread would search
again), so the work that needs a prepared one runs in the thread that made it:
:func:`with_transformer` hands it there, until :func:`discard_prepared` lets the
thread end. The operation is PROJ's own choice either way: the same coordinates to
the bit.
"""

from __future__ import annotations

import os
import queue
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from pyproj import CRS, Transformer

T = TypeVar("T")

#: transformers made where they were asked for, most recently used last
_MADE: OrderedDict[tuple[str, str], Transformer] = OrderedDict()
_MADE_MAX = 32
#: prepared searches, by (source, target) PROJJSON
_PREPARED: dict[tuple[str, str], _Search] = {}
_LOCK = threading.Lock()


class _Search:
    """A thread that makes one transformer, then runs the work that needs it."""

    def __init__(self, src: CRS, dst: CRS) -> None:
        self._work: queue.SimpleQueue[tuple[Callable[[Transformer], Any], Future[Any]] | None]
        self._work = queue.SimpleQueue()
        # a daemon: a search nobody came for never holds up the end of the process
        self.thread = threading.Thread(
            target=self._run, args=(src, dst), name="tiles-proj", daemon=True
        )
        self.thread.start()

    def _run(self, src: CRS, dst: CRS) -> None:
        made: Transformer | None = None
        failed: Exception | None = None
        try:
            made = Transformer.from_crs(src, dst, always_xy=True)
        except Exception as exc:  # raised to whoever comes for it, as if searched there
            failed = exc
        while (item := self._work.get()) is not None:
            work, done = item
            try:
                if failed is not None:
                    raise failed
                assert made is not None
                done.set_result(work(made))
            except BaseException as exc:
                done.set_exception(exc)

    def run(self, work: Callable[[Transformer], T]) -> T:
        """``work(transformer)``, in the thread."""
        done: Future[T] = Future()
        self._work.put((work, done))
        return done.result()

    def stop(self) -> None:
        self._work.put(None)


def _key(src: CRS, dst: CRS) -> tuple[str, str]:
    return src.to_json(), dst.to_json()


def prepare(src: Any, dst: Any) -> None:
    """Start PROJ's search for the ``src`` -> ``dst`` transformer (x/y order) in a thread.

    ``src`` and ``dst`` are anything :meth:`pyproj.CRS.from_user_input` takes. A pair
    already prepared is not searched twice.
    """
    src, dst = CRS.from_user_input(src), CRS.from_user_input(dst)
    key = _key(src, dst)
    with _LOCK:
        if key not in _PREPARED:
            _PREPARED[key] = _Search(src, dst)


def with_transformer(src: CRS, dst: CRS, work: Callable[[Transformer], T]) -> T:
    """``work(transformer)`` with the x/y-ordered ``src`` -> ``dst`` transformer.

    In the thread of a :func:`prepare` d search of the same pair (the same CRS
    definitions); else here, with the transformer made for the pair before, or now.
    """
    key = _key(src, dst)
    with _LOCK:
        search = _PREPARED.get(key)
        made = _MADE.get(key) if search is None else None
        if made is not None:
            _MADE.move_to_end(key)
    if search is not None:
        return search.run(work)
    if made is None:
        made = Transformer.from_crs(src, dst, always_xy=True)
        with _LOCK:
            _MADE[key] = made
            while len(_MADE) > _MADE_MAX:
                _MADE.popitem(last=False)
    return work(made)


def _forget_in_child() -> None:
    """A forked process has none of its parent's threads: it makes its own transformers
    (a prepared pair asked for there would otherwise wait for a thread that is not)."""
    global _LOCK
    _LOCK = threading.Lock()
    _PREPARED.clear()


os.register_at_fork(after_in_child=_forget_in_child)


def discard_prepared() -> None:
    """End the threads of the prepared searches (their pairs are made in place again)."""
    with _LOCK:
        searches = list(_PREPARED.values())
        _PREPARED.clear()
    for search in searches:
        search.stop()
    for search in searches:
        search.thread.join()
