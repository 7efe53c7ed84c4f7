"""Which files a source is: the file a path names, its sidecars, a directory's files, a glob.

A GIS source is rarely one file. A shapefile is read from its ``.shp``,
``.dbf``, ``.shx``, ``.prj`` and ``.cpg``; a GeoTIFF may take its CRS from an
``.aux.xml`` or a world file; a FileGDB is a directory; DEM tiles come as
many files named by a glob. Everything that decides what a source holds is
listed here once, so that whoever hashes a source and whoever reads it agree.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

from layers.errors import SourceError

#: Sidecar suffixes read with a main file of the given suffix (lower case).
SIDECARS: dict[str, tuple[str, ...]] = {
    ".shp": (".dbf", ".shx", ".prj", ".cpg", ".qix", ".sbn", ".sbx", ".shp.xml"),
    ".dbf": (".cpg",),
    # GDAL takes georeferencing from a MapInfo .tab too (GDAL_GEOREF_SOURCES)
    # a .prj gives an orthophoto sheet its CRS (layers.imagery reads it; GDAL does not)
    ".tif": (".tfw", ".tifw", ".wld", ".tab", ".prj"),
    ".tiff": (".tfw", ".tiffw", ".wld", ".tab", ".prj"),
    ".jpg": (".jgw", ".jpgw", ".wld", ".tab", ".prj"),
    ".jpeg": (".jgw", ".jpegw", ".wld", ".tab", ".prj"),
    ".png": (".pgw", ".pngw", ".wld", ".tab", ".prj"),
    ".jp2": (".j2w", ".jpw", ".wld", ".prj"),
    ".img": (".rrd", ".ige"),
    ".asc": (".prj",),
    ".bil": (".hdr", ".prj", ".blw"),
}

#: Sidecars named by appending to the whole file name (``dem.tif.aux.xml``), for any raster.
APPENDED = (".aux.xml", ".ovr", ".msk")

_GLOB_CHARS = frozenset("*?[")


def is_glob(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a pattern (``dem/*.tif``) rather than one file."""
    return any(c in _GLOB_CHARS for c in str(path))


def expand(path: str | os.PathLike[str]) -> list[Path]:
    """The main files ``path`` names: itself, or a glob's matches in sorted order.

    Raises
    ------
    SourceError
        When the path does not exist or the glob matches nothing.
    """
    text = str(path)
    if is_glob(text):
        found = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
        if not found:
            raise SourceError(f"{text}: the pattern matches no file")
        return found
    p = Path(text)
    if not p.exists():
        raise SourceError(f"{p}: no such file")
    return [p]


def sidecars(path: Path, listing: dict[str, Path] | None = None) -> list[Path]:
    """The existing sidecar files read together with main file ``path`` (not ``path`` itself).

    Matching is case-insensitive, as files from Windows machines come as
    ``ROADS.SHP`` with ``roads.dbf``. ``listing`` is the directory's
    :func:`_listing`, when the caller lists many files of one directory.
    """
    if path.is_dir():
        return []
    name = path.name.lower()
    suffix = path.suffix.lower()
    stem = name[: -len(suffix)] if suffix else name
    wanted = {stem + s for s in SIDECARS.get(suffix, ())} | {name + s for s in APPENDED}
    if listing is None:
        listing = _listing(path.parent)
    return sorted(listing[w] for w in wanted if w in listing and listing[w].is_file())


def _listing(directory: Path) -> dict[str, Path]:
    """A directory's entries by lower-case name."""
    try:
        return {p.name.lower(): p for p in directory.iterdir()}
    except OSError:
        return {}


def source_files(path: str | os.PathLike[str]) -> list[Path]:
    """Every file or directory a reader of ``path`` may open, main files first then sidecars.

    A directory (a FileGDB, a folder of tiles) is listed as itself; hash it
    as a whole. Each directory is listed once, so a glob of thousands of
    tiles costs one listing, not one per tile.
    """
    out: dict[Path, None] = {}  # a glob may match a sidecar too (dem/*): list it once
    listings: dict[Path, dict[str, Path]] = {}
    for main in expand(path):
        if main.parent not in listings:
            listings[main.parent] = _listing(main.parent)
        out[main] = None
        out.update(dict.fromkeys(sidecars(main, listings[main.parent])))
    return list(out)
