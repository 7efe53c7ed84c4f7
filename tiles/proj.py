"""PROJ transformers whose operation search starts ahead, in a thread of their own.

Between two datums PROJ knows no transformation for (CGCS2000 and WGS 84, so any
EPSG:4549 layer going to Web Mercator), ``Transformer.from_crs`` searches its
database for a path through other datums before it settles for the ballpark one:
some 0.1 s, more than a small tile export spends on its work. pyproj runs that
search without the GIL, so a caller that knows a CRS pair early (``twin export``
knows it from the catalog, before the export's modules load) can have it run
on another core meanwhile: :func:`prepare`.

pyproj keeps a transformer to the thread that made it (another thread would search
again), so the work that needs it runs in that thread too: :func:`with_transformer`
hands it there, once, and the thread ends. A pair nobody prepared is searched
where it is asked for, as before. The operation is PROJ's own choice either way:
the same coordinates to the bit.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from pyproj import CRS, Transformer

T = TypeVar("T")

#: prepared searches by (source, target) PROJJSON
_PREPARED: dict[tuple[str, str], _Search] = {}
_LOCK = threading.Lock()


class _Search:
    """A thread that makes one transformer, then runs one piece of work with it."""

    def __init__(self, src: CRS, dst: CRS) -> None:
        self._work: queue.SimpleQueue[tuple[Callable[[Transformer], Any], Future[Any]] | None]
        self._work = queue.SimpleQueue()
        # a daemon: a search nobody came for never holds up the end of the process
        self._thread = threading.Thread(
            target=self._run, args=(src, dst), name="tiles-proj", daemon=True
        )
        self._thread.start()

    def _run(self, src: CRS, dst: CRS) -> None:
        made: Transformer | None = None
        failed: BaseException | None = None
        try:
            made = Transformer.from_crs(src, dst, always_xy=True)
        except Exception as exc:  # raised to whoever comes for it, as if searched there
            failed = exc
        item = self._work.get()
        if item is None:
            return
        work, done = item
        try:
            if failed is not None:
                raise failed
            assert made is not None
            done.set_result(work(made))
        except BaseException as exc:
            done.set_exception(exc)

    def run(self, work: Callable[[Transformer], T]) -> T:
        """``work(transformer)`` in the thread, which then ends."""
        done: Future[T] = Future()
        self._work.put((work, done))
        result = done.result()
        self._thread.join()  # no thread left behind (a process may fork next)
        return result

    def discard(self) -> None:
        self._work.put(None)


def _key(src: CRS, dst: CRS) -> tuple[str, str]:
    return src.to_json(), dst.to_json()


def prepare(src: Any, dst: Any) -> None:
    """Start PROJ's search for the ``src`` -> ``dst`` transformer (x/y order) in a thread.

    ``src`` and ``dst`` are anything :meth:`pyproj.CRS.from_user_input` takes. A pair
    already prepared and not yet used is not searched twice.
    """
    src, dst = CRS.from_user_input(src), CRS.from_user_input(dst)
    key = _key(src, dst)
    with _LOCK:
        if key not in _PREPARED:
            _PREPARED[key] = _Search(src, dst)


def with_transformer(src: CRS, dst: CRS, work: Callable[[Transformer], T]) -> T:
    """``work(transformer)`` with the x/y-ordered ``src`` -> ``dst`` transformer.

    In the thread of a :func:`prepare` d search of the same pair (the same CRS
    definitions), which ends with it; else here, with a transformer made here.
    """
    with _LOCK:
        search = _PREPARED.pop(_key(src, dst), None)
    if search is None:
        return work(Transformer.from_crs(src, dst, always_xy=True))
    return search.run(work)


def discard_prepared() -> None:
    """Let the threads of prepared searches nobody came for end."""
    with _LOCK:
        searches = list(_PREPARED.values())
        _PREPARED.clear()
    for search in searches:
        search.discard()
