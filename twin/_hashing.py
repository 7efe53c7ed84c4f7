"""Content hashes of input files, cached by (size, mtime) so big sources hash once.

A source is hashed file by file (:meth:`HashCache.files`): the catalog keeps
each file's hash, so a rebuild can say which file changed, and the source's
digest (:func:`files_digest`) covers the file names as well as their bytes,
so a tile added to or removed from a glob rebuilds the layer.
"""

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


def files_digest(files: dict[str, str], single: bool) -> str:
    """The digest of a source made of ``files`` (name -> hash, see :meth:`HashCache.files`).

    A ``single`` file is its own hash, as before sidecars were hashed, so
    that a one-file source keeps the fingerprint it had; anything else
    hashes the names with the contents.
    """
    if single and len(files) == 1:
        return next(iter(files.values()))
    return json_sha256(files)


def _name(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path.resolve())


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

    def files(self, paths: list[Path], root: Path) -> dict[str, str]:
        """``name -> sha256`` of every file of ``paths``, a directory's files one by one.

        Names are relative to ``root`` (the workspace) in POSIX form when the
        file lies inside it, else absolute, so a workspace moved elsewhere
        keeps its fingerprints.
        """
        out: dict[str, str] = {}
        for path in paths:
            inside = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
            for file in inside:
                out[_name(file, root)] = self.hash(file)
        return out

    def save(self) -> None:
        if not self._dirty:
            return
        # a cache: losing it to a crash costs only rehashing, so no fsync
        atomic_write(self.path, json.dumps(self._data, sort_keys=True), fsync=False)
        self._dirty = False
