"""The region's boundary as ``twin init`` and the CRS check need it: its extent, its files."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np

from layers.errors import SourceError
from layers.sources import source_files
from twin import artifacts
from twin.errors import WorkspaceError


def lonlat_extent(path: Path, src: Any) -> tuple[float, float, float, float]:
    """A vector file's extent in degrees, from its header where the format keeps one.

    ``src`` is the :class:`~twin.config.SourceConfig` saying how to read it (or None).

    Raises
    ------
    LayerError
        When the file cannot be read or has no CRS.
    """
    # the readers load here, not with the workspace: a command that reads no boundary
    # starts without pyogrio, pandas and geopandas
    import pyogrio

    from layers.vector import read_vector

    layer, assumed = (src.layer, src.crs) if src is not None else (None, None)
    info: dict[str, Any] = {}
    if path.suffix.lower() not in (".csv", ".tsv", ".txt"):
        try:
            info = pyogrio.read_info(path, layer=layer, force_total_bounds=True)
        except (pyogrio.errors.DataSourceError, OSError, ValueError):
            info = {}  # read_vector below says what is wrong with the file
    crs = info.get("crs") or assumed
    bounds = info.get("total_bounds")
    if crs is None or bounds is None or not np.isfinite(bounds).all():
        x, y = (src.x, src.y) if src is not None else (None, None)
        gdf = read_vector(path, layer=layer, crs=assumed, x=x, y=y)
        if gdf.crs is None:
            raise SourceError(f"{path}: has no CRS")
        crs, bounds = gdf.crs, gdf.total_bounds
    west, south, east, north = (float(b) for b in bounds)
    lonlat = artifacts.wgs84_bounds((west, south, east, north), crs)
    return lonlat[0], lonlat[1], lonlat[2], lonlat[3]


def boundary_copies(boundary: Path, sources: Path) -> tuple[Path, list[tuple[Path, Path]]]:
    """Where a boundary file lands in ``sources``, and the (from, to) copies that put it there.

    Its sidecars go with it (a shapefile's .dbf, .shx, .prj, .cpg); a file
    already in ``sources`` stays where it is.
    """
    boundary = boundary.resolve()
    try:
        files = source_files(boundary)
    except SourceError as exc:
        raise WorkspaceError(f"--boundary: {exc}") from None
    if boundary.parent == sources.resolve():
        return boundary, []
    copies = []
    for f in files:
        target = sources / f.name
        if target.exists():
            raise WorkspaceError(f"{target}: already exists; not overwriting it with {f}")
        copies.append((f, target))
    return sources / boundary.name, copies


def copy_files(copies: list[tuple[Path, Path]]) -> None:
    """Make each (from, to) copy; a directory (a FileGDB) is copied whole."""
    for src, dst in copies:
        if src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True)
        else:
            shutil.copy2(src, dst)
