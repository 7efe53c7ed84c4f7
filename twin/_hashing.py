"""Content hashes of input files, cached by (size, mtime) so big sources hash once."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from tiles import atomic_write

_CHUNK = 1 << 20


def file_sha256(path: Path) -> str:
    """``sha256:<hex>`` of a file's bytes (a directory hashes its files' names and bytes)."""
    h = hashlib.sha256()
    if path.is_dir():
        for child in sorted(p for p in path.rglob("*") if p.is_file()):
            h.update(str(child.relative_to(path)).encode() + b"\0")
            h.update(file_sha256(child).encode())
        return f"sha256:{h.hexdigest()}"
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return f"sha256:{h.hexdigest()}"


def json_sha256(value: object) -> str:
    """``sha256:<hex>`` of a canonical JSON rendering of ``value``."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return f"sha256:{hashlib.sha256(text.encode()).hexdigest()}"


class HashCache:
    """File hashes remembered across builds in a small JSON file.

    An entry is reused only when the file's size and modification time (in
    nanoseconds) are unchanged; anything else rehashes.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._data: dict[str, list[object]] = json.loads(path.read_text())
        except (OSError, ValueError):
            self._data = {}
        self._dirty = False

    def hash(self, file: Path) -> str:
        st = file.stat()
        key = str(file.resolve())
        stamp: list[object] = [st.st_size, st.st_mtime_ns]
        cached = self._data.get(key)
        if cached and not file.is_dir() and cached[:2] == stamp:
            return str(cached[2])
        digest = file_sha256(file)
        self._data[key] = [*stamp, digest]
        self._dirty = True
        return digest

    def save(self) -> None:
        if not self._dirty:
            return
        # a cache: losing it to a crash costs only rehashing, so no fsync
        atomic_write(self.path, json.dumps(self._data, sort_keys=True), fsync=False)
        self._dirty = False
