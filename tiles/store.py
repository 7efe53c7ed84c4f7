"""The catalog as the server sees it: one immutable snapshot per catalog version.

Every request takes the current :class:`Snapshot` once and uses only it, so a
tile is always built from one catalog version even if a rebuild publishes a
new one mid-request. A new ``catalog.json`` (it is replaced atomically, so its
inode, size or mtime changes) is noticed by a ``stat`` on the next request (at
most one per ``interval``) and loaded without a restart; while the new file is
unreadable the previous snapshot keeps being served.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from tiles.catalog import Catalog, LayerEntry, read_catalog, resolve_artifact
from tiles.errors import CatalogError, InvalidParameterError, LayerNotFoundError
from tiles.versions import VersionIndex, split_layer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Snapshot:
    """One loaded catalog version."""

    catalog: Catalog
    path: Path
    stamp: tuple[int, int, int]

    @cached_property
    def versions(self) -> VersionIndex:
        """The versions of every layer this catalog lists, read from their manifests once."""
        return VersionIndex(self.path, self.catalog)

    def entry(self, name: str) -> LayerEntry:
        """The entry of layer ``name``, or of ``name@version`` / ``name@date``.

        Raises :class:`LayerNotFoundError` for an unknown layer or version,
        :class:`InvalidParameterError` for a malformed version or date.
        """
        layer, at = split_layer(name)
        if layer not in self.catalog.layers:
            raise LayerNotFoundError(f"no layer {layer[:64]!r} in the catalog")
        if at is None:
            return self.catalog.layers[layer]
        return self.versions.resolve(layer, at)

    def artifact(self, entry: LayerEntry, artifact: str = "data") -> str | None:
        """Where artifact ``artifact`` of a layer version is, or None if it has none.

        ``entry`` is the version's own entry (the catalog's, or one read from its
        manifest): a request never names a path.
        """
        rel = entry.artifacts.get(artifact)
        return None if rel is None else resolve_artifact(self.path, rel)

    def entries(self, names: str, limit: int) -> list[tuple[str, LayerEntry]]:
        """Parse a comma-separated layer list (a composite) into entries.

        Each layer may name a version or date (``roads@2026-09-30,villages``); the
        names returned are the layers' own, without it.
        """
        parts = names.split(",")
        if len(parts) > limit:
            raise InvalidParameterError(f"layers: at most {limit} layers in one request")
        layers = [split_layer(part)[0] for part in parts]
        if len(set(layers)) != len(layers):
            raise InvalidParameterError(f"layers {names[:200]!r}: a layer is named twice")
        return [(layer, self.entry(part)) for layer, part in zip(layers, parts, strict=True)]


def _stamp(path: str | Path) -> tuple[int, int, int]:
    st = os.stat(path)
    return (st.st_ino, st.st_size, st.st_mtime_ns)


class CatalogStore:
    """Loads the catalog and reloads it when the file changes.

    Parameters
    ----------
    path
        The catalog file.
    interval
        Seconds between two checks of the file (0: check on every request).
    """

    def __init__(self, path: str | os.PathLike[str], interval: float = 0.0) -> None:
        self.path = Path(path)
        self._fspath = os.fspath(self.path)
        self.interval = interval
        self.reloads = 0
        self._lock = threading.Lock()
        self._checked = 0.0
        self._snapshot: Snapshot | None = None

    def load(self) -> Snapshot:
        """Load the catalog now (raises :class:`CatalogError` if it is unreadable)."""
        with self._lock:
            return self._reload(force=True)

    def _reload(self, force: bool = False) -> Snapshot:
        try:
            stamp = _stamp(self.path)
        except OSError:
            if self._snapshot is not None:
                return self._snapshot
            raise CatalogError(f"{self.path}: no catalog (has the workspace been built?)") from None
        current = self._snapshot
        if current is not None and current.stamp == stamp and not force:
            return current
        try:
            catalog = read_catalog(self.path)
        except CatalogError as exc:
            if current is None:
                raise
            log.warning("keeping the previous catalog: %s", exc)
            return current
        snapshot = Snapshot(catalog=catalog, path=self.path, stamp=stamp)
        if current is not None:
            self.reloads += 1
            log.info("catalog reloaded: %s", self.path)
        self._snapshot = snapshot
        return snapshot

    def current(self) -> Snapshot:
        """The newest readable catalog version.

        The unchanged case (every request but the first after a publish) takes
        no lock: one ``stat``, compared with the snapshot's stamp.
        """
        now = time.monotonic()
        snapshot = self._snapshot
        if snapshot is not None:
            if now - self._checked < self.interval:
                return snapshot
            try:
                unchanged = _stamp(self._fspath) == snapshot.stamp
            except OSError:
                unchanged = False  # gone: _reload decides (it keeps the snapshot)
            if unchanged:
                self._checked = now
                return snapshot
        with self._lock:
            self._checked = now
            return self._reload()
