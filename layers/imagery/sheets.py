"""Which files an orthophoto delivery is, and what each sheet's header says.

A delivery is a folder, a glob or several sources of raster sheets: GeoTIFFs,
JPEGs (or PNGs) georeferenced by a world file (``.jgw``, ``.wld``), JPEG 2000
where GDAL reads it. A sheet's CRS comes from the file (GeoTIFF keys, an
``.aux.xml``), else from a ``.prj`` beside it (which GDAL does not read for
JPEG), else from the source's ``crs``. Every sheet is checked here, in the
process that plans the build, before any is converted: a delivery with one
unreadable sheet fails at once, naming it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import rasterio
from affine import Affine
from pyproj import CRS
from pyproj.exceptions import CRSError
from rasterio._err import CPLE_BaseError  # rasterio exports no public base of GDAL's errors
from rasterio.enums import ColorInterp
from rasterio.errors import RasterioError

from layers.crs import parse_crs
from layers.errors import SourceError
from layers.sources import expand

#: suffixes of the files a folder or glob of sheets contributes (lower case)
SHEET_SUFFIXES = frozenset({".tif", ".tiff", ".jpg", ".jpeg", ".jp2", ".j2k", ".png"})

_TIFF_DATE = re.compile(r"^(\d{4})[:\-](\d{2})[:\-](\d{2})")


@dataclass(frozen=True)
class SheetInfo:
    """One sheet of a delivery, from its header: picklable, handed to the converting worker."""

    path: str
    crs: str
    """The sheet's CRS as WKT (the file's, its .prj's or the source's)."""
    crs_from: str
    """Where the CRS came from: ``file``, ``prj`` or ``source``."""
    width: int
    height: int
    bands: tuple[int, int, int]
    """The band indexes read as red, green, blue (``(1, 1, 1)`` for a grey sheet)."""
    date: str | None
    """The acquisition date (``YYYY-MM-DD``) when the file says it, else None."""


def sheet_files(path: str | os.PathLike[str]) -> list[Path]:
    """The sheets a source path names: a folder's raster files (recursively), a glob's, or one file.

    Sidecars a glob matches (``sheets/*``: world files, ``.prj``) are left out.

    Raises
    ------
    SourceError
        When the path does not exist or names no raster sheet.
    """
    p = Path(path)
    if p.is_dir():
        found = sorted(f for f in p.rglob("*") if f.is_file() and _is_sheet(f))
    else:
        found = [f for f in expand(path) if _is_sheet(f) or f == p]
    if not found:
        kinds = ", ".join(sorted(SHEET_SUFFIXES))
        raise SourceError(f"{path}: no raster sheet ({kinds}) found")
    return found


def _is_sheet(path: Path) -> bool:
    return path.suffix.lower() in SHEET_SUFFIXES and not path.name.startswith(".")


def read_sheet_info(path: Path, crs: str | None = None) -> SheetInfo:
    """Open one sheet's header and check it can be a sheet of a mosaic.

    Parameters
    ----------
    path
        The sheet.
    crs
        The CRS of the source, for sheets that declare none (in the file or a ``.prj``).

    Raises
    ------
    SourceError
        Naming the file when it cannot be opened, is not georeferenced, has no
        CRS, or is not 8-bit grey, RGB or RGBA.
    """
    try:
        with rasterio.open(path) as src:
            own = src.crs
            transform, width, height = src.transform, src.width, src.height
            count, dtypes, interp = src.count, src.dtypes, src.colorinterp
            tags = src.tags()
            imagery = src.tags(ns="IMAGERY")
    except (RasterioError, CPLE_BaseError) as exc:
        raise SourceError(f"{path}: cannot be read as a raster: {_first_line(exc)}") from None
    if transform == Affine.identity():
        raise SourceError(
            f"{path}: not georeferenced (no GeoTIFF keys and no world file such as "
            f"{path.stem}.jgw, {path.stem}.tfw or {path.stem}.wld)"
        )
    if transform.b != 0 or transform.d != 0:
        raise SourceError(f"{path}: rotated pixel grids are not supported; rectify the sheet")
    if any(d != "uint8" for d in dtypes):
        raise SourceError(f"{path}: expected 8-bit imagery, found {dtypes[0]} bands")
    colour = [i for i, c in enumerate(interp, 1) if c != ColorInterp.alpha]
    if len(colour) == 1:
        bands = (colour[0],) * 3
    elif len(colour) >= 3:
        bands = (colour[0], colour[1], colour[2])
    else:
        raise SourceError(f"{path}: expected a grey, RGB or RGBA sheet, found {count} bands")
    found, where = _sheet_crs(path, own, crs)
    return SheetInfo(
        path=str(path),
        crs=found.to_wkt(),
        crs_from=where,
        width=width,
        height=height,
        bands=bands,
        date=_date(tags, imagery),
    )


def _sheet_crs(path: Path, own: rasterio.crs.CRS | None, crs: str | None) -> tuple[CRS, str]:
    if own is not None:
        return CRS.from_user_input(own.to_wkt()), "file"
    prj = _sidecar(path, ".prj")
    if prj is not None:
        try:
            return CRS.from_user_input(prj.read_text(errors="replace").strip()), "prj"
        except CRSError:
            raise SourceError(f"{prj}: not a CRS pyproj understands") from None
    if crs is None:
        raise SourceError(
            f"{path}: declares no CRS (no GeoTIFF keys, .aux.xml or .prj); "
            "set 'crs' on the source (e.g. crs = \"EPSG:4549\")"
        )
    return parse_crs(crs, path), "source"


def _sidecar(path: Path, suffix: str) -> Path | None:
    """``path``'s sidecar with ``suffix``, whatever the case of its name."""
    want = (path.stem + suffix).lower()
    for candidate in path.parent.iterdir():
        if candidate.name.lower() == want and candidate.is_file():
            return candidate
    return None


def _date(tags: dict[str, str], imagery: dict[str, str]) -> str | None:
    """``YYYY-MM-DD`` from the IMAGERY acquisition time or the TIFF date tag."""
    for text in (imagery.get("ACQUISITIONDATETIME"), tags.get("TIFFTAG_DATETIME")):
        match = _TIFF_DATE.match(text or "")
        if match:
            return "-".join(match.groups())
    return None


def _first_line(exc: BaseException) -> str:
    while exc.__cause__ is not None and "previous exception" in str(exc):
        exc = exc.__cause__
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
