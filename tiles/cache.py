"""An in-process LRU of encoded tiles, bounded in bytes, with single-flight encoding.

Tiles are stored as they are sent (vector tiles gzip-compressed once), so a
cache hit costs no encoding and no compression. When several requests ask for
the same uncached tile at once, one of them encodes it and the others wait
for that result.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

import anyio.to_thread


@dataclass(frozen=True)
class EncodedTile:
    """A tile ready to send: its body (None for an empty tile), media type and encoding."""

    body: bytes | None
    media_type: str
    encoding: str | None = None

    @property
    def nbytes(self) -> int:
        return len(self.body or b"") + 64  # plus a rough per-entry overhead


class TileCache:
    """Bounded LRU keyed by anything hashable (layer versions, grid, z/x/y, parameters).

    Parameters
    ----------
    max_bytes
        Upper bound of the summed body sizes; 0 disables caching (single-flight stays).
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.nbytes = 0
        self.hits = 0
        self.misses = 0
        self._items: OrderedDict[Hashable, EncodedTile] = OrderedDict()
        self._inflight: dict[Hashable, concurrent.futures.Future[EncodedTile]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def _store(self, key: Hashable, tile: EncodedTile) -> None:
        if tile.nbytes > self.max_bytes:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.nbytes -= old.nbytes
            self._items[key] = tile
            self.nbytes += tile.nbytes
            while self.nbytes > self.max_bytes and self._items:
                _, dropped = self._items.popitem(last=False)
                self.nbytes -= dropped.nbytes

    async def get(
        self, key: Hashable, encode: Callable[[], EncodedTile]
    ) -> tuple[EncodedTile, bool]:
        """The tile for ``key`` and whether it was a cache hit; ``encode`` runs in a thread."""
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                self.hits += 1
                return found, True
            self.misses += 1
            future = self._inflight.get(key)
            owner = future is None
            if future is None:
                future = concurrent.futures.Future()
                self._inflight[key] = future
        if owner:

            def run() -> None:
                # The thread settles the future itself, so waiters get the result even if
                # the owning request is cancelled (client gone) while encoding.
                try:
                    tile = encode()
                    self._store(key, tile)
                    future.set_result(tile)
                except BaseException as exc:
                    future.set_exception(exc)
                finally:
                    with self._lock:
                        self._inflight.pop(key, None)

            await anyio.to_thread.run_sync(run)
        return await asyncio.wrap_future(future), False
