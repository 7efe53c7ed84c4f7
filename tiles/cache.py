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
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from tiles._lru import LRU


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
    executor
        Where encodings run (default: the event loop's default executor).
    """

    def __init__(self, max_bytes: int, executor: concurrent.futures.Executor | None = None) -> None:
        self.max_bytes = max_bytes
        self.executor = executor
        self._items: LRU[Hashable, EncodedTile] = LRU(max_bytes, sizeof=lambda t: t.nbytes)
        self._inflight: dict[Hashable, concurrent.futures.Future[EncodedTile]] = {}
        # Guards the look-up together with the in-flight check, so a request never misses
        # both the stored tile and the encoding that is about to store it.
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    @property
    def nbytes(self) -> int:
        """The summed sizes of the tiles held."""
        return self._items.total

    @property
    def hits(self) -> int:
        return self._items.hits

    @property
    def misses(self) -> int:
        """Requests that found no stored tile (those that waited for an encoding included)."""
        return self._items.misses

    async def get(
        self, key: Hashable, encode: Callable[[], EncodedTile], inline: bool = False
    ) -> tuple[EncodedTile, bool]:
        """The tile for ``key`` and whether it was a cache hit; ``encode`` runs in the executor.

        A hit is answered without leaving the event loop, and so is a miss
        with ``inline`` (for an ``encode`` cheaper than a thread hand-over).
        """
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                return found, True
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
                    self._items.put(key, tile)
                    future.set_result(tile)
                except BaseException as exc:
                    future.set_exception(exc)
                finally:
                    with self._lock:
                        self._inflight.pop(key, None)

            if inline:
                run()
            else:
                await asyncio.get_running_loop().run_in_executor(self.executor, run)
        return await asyncio.wrap_future(future), False
