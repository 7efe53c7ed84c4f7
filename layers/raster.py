"""Generic raster sources: read anything GDAL reads (one file or tiles), reproject.

A DEM often comes as tiles (SRTM, ASTER and Copernicus cut theirs by 1°x1°,
neighbours sharing their edge row and column or not). :func:`read_raster`
mosaics tiles in their own CRS, pixel for pixel, so that the one warp to the
working CRS (:func:`reproject_raster`) never sees a tile edge.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from pyproj import CRS
from rasterio.enums import Resampling
from rasterio.errors import RasterioIOError
from rasterio.warp import calculate_default_transform, reproject
from rasterio.windows import Window

from layers.crs import as_crs, parse_crs, same_crs
from layers.errors import ParameterError, SourceError
from layers.raster_params import RESAMPLING as RESAMPLING_NAMES
from layers.sources import expand
from layers.types import RasterData, valid_pixels

log = logging.getLogger(__name__)

#: rasterio's enum member of each resampling name the parameters accept
RESAMPLING = {name: Resampling[name] for name in RESAMPLING_NAMES}


#: How far (in pixels) a tile's origin may sit off the mosaic's pixel grid, or its pixel
#: size differ from the others' (relative), and still be taken as on the grid.
GRID_TOLERANCE = 1e-3


def read_raster(
    path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    bands: list[int] | None = None,
    crs: str | CRS | None = None,
) -> RasterData:
    """Read a GDAL raster, or tiles of one mosaicked, into memory.

    Parameters
    ----------
    path
        A file, a glob (``sources/dem/*.tif``) or a list of files. Several files
        are tiles of one raster: they must share CRS, band count, data type and
        pixel size and lie on one pixel grid; where they overlap (SRTM tiles
        share their edge pixels) the later file's valid pixels are kept.
    bands
        1-based band indexes to read (default: all).
    crs
        CRS to assume for files that declare none. A file that declares a CRS
        keeps it.

    Raises
    ------
    SourceError
        Naming the file when it cannot be opened, has no CRS (and ``crs`` is
        not given), or does not fit the other tiles.
    """
    files = expand(path) if isinstance(path, (str, os.PathLike)) else [Path(p) for p in path]
    if not files:
        raise SourceError("no raster file to read")
    tiles = [_header(f, crs) for f in files]
    log.debug("%s: reading %d file(s)", path, len(files))
    if len(tiles) == 1:
        return _read(tiles[0], bands)
    return _mosaic(tiles, bands)


def open_raster(path: str | os.PathLike[str], crs: str | CRS | None = None) -> RasterData:
    """One raster file as a :class:`RasterData` whose pixels stay on disk until indexed.

    ``raster.data[band, rows, cols]`` (slices, or an int for the band) reads just
    that window, so functions that walk a grid block by block (:mod:`layers.blocks`)
    work on files larger than memory; ``numpy.asarray(raster.data)`` reads it all.

    Examples
    --------
    >>> r = open_raster("build/dem/v1/data.tif")  # doctest: +SKIP
    >>> r.data[0, :256, :256].mean()  # doctest: +SKIP
    """
    tile = _header(Path(path), crs)
    return RasterData(
        data=_OnDisk(tile),  # type: ignore[arg-type]  # an array-like read window by window
        transform=tile.transform,
        crs=tile.crs,
        nodata=tile.nodata,
        band_names=list(tile.band_names),
        units=list(tile.units),
        tags=dict(tile.tags),
    )


class _OnDisk:
    """A raster file's pixels as a 3-D array-like (bands, rows, cols) read per window."""

    ndim = 3

    def __init__(self, tile: _Tile) -> None:
        self.tile = tile
        self.shape = (tile.count, tile.height, tile.width)
        self.dtype = tile.dtype

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key: object) -> np.ndarray:
        parts = key if isinstance(key, tuple) else (key,)
        if len(parts) > 3 or any(p is Ellipsis for p in parts):
            raise IndexError("index a raster on disk with [band, rows, cols] slices")
        parts = (*parts, *[slice(None)] * (3 - len(parts)))
        band, rows, cols = parts
        bands = range(self.shape[0])[band]
        indexes = [bands + 1] if isinstance(bands, int) else [b + 1 for b in bands]
        if not isinstance(rows, slice) or not isinstance(cols, slice):
            raise IndexError("rows and columns of a raster on disk are read as slices")
        r0, r1, rs = rows.indices(self.shape[1])
        c0, c1, cs = cols.indices(self.shape[2])
        if rs != 1 or cs != 1:
            raise IndexError("a raster on disk is read in contiguous windows (step 1)")
        window = Window(c0, r0, max(0, c1 - c0), max(0, r1 - r0))  # type: ignore[arg-type]
        try:
            with rasterio.open(self.tile.path) as src:
                out = src.read(indexes, window=window)
        except RasterioIOError as exc:
            raise SourceError(f"{self.tile.path}: cannot read as a raster: {exc}") from None
        return out[0] if isinstance(bands, int) else out

    def __array__(self, dtype: object = None, copy: object = None) -> np.ndarray:
        out = self[:, :, :]
        return out if dtype is None else out.astype(dtype)


@dataclass
class _Tile:
    """What a raster file holds, from its header."""

    path: Path
    crs: CRS
    count: int
    dtype: np.dtype
    transform: Affine
    width: int
    height: int
    nodata: float | None
    band_names: list[str]
    units: list[str | None]
    tags: dict[str, str]


def _header(path: Path, crs: str | CRS | None) -> _Tile:
    if not path.exists():
        raise SourceError(f"{path}: no such file")
    try:
        with rasterio.open(path) as src:
            if src.crs is None:
                if crs is None:
                    raise SourceError(f"{path}: declares no CRS; set 'crs' on the source")
                own = parse_crs(crs, path)
            else:
                own = as_crs(src.crs)
            return _Tile(
                path=path,
                crs=own,
                count=src.count,
                dtype=np.dtype(src.dtypes[0]),
                transform=src.transform,
                width=src.width,
                height=src.height,
                nodata=src.nodata,
                band_names=[d or f"band{i}" for i, d in enumerate(src.descriptions, 1)],
                units=[u or None for u in src.units],
                tags=dict(src.tags()),
            )
    except RasterioIOError as exc:
        raise SourceError(f"{path}: cannot read as a raster: {exc}") from None


def _indexes(tile: _Tile, bands: list[int] | None) -> list[int]:
    indexes = bands or list(range(1, tile.count + 1))
    bad = [i for i in indexes if not 1 <= i <= tile.count]
    if bad:
        raise SourceError(f"{tile.path}: has no band {bad[0]} (it has {tile.count})")
    return indexes


def _pixels(tile: _Tile, indexes: list[int]) -> np.ndarray:
    try:
        with rasterio.open(tile.path) as src:
            return src.read(indexes)
    except RasterioIOError as exc:
        raise SourceError(f"{tile.path}: cannot read as a raster: {exc}") from None


def _read(tile: _Tile, bands: list[int] | None) -> RasterData:
    indexes = _indexes(tile, bands)
    return RasterData(
        data=_pixels(tile, indexes),
        transform=tile.transform,
        crs=tile.crs,
        nodata=tile.nodata,
        band_names=[tile.band_names[i - 1] for i in indexes],
        units=[tile.units[i - 1] for i in indexes],
        tags=dict(tile.tags),
    )


def _mosaic(tiles: list[_Tile], bands: list[int] | None) -> RasterData:
    """The tiles pasted on one grid, pixel for pixel (no resampling)."""
    first = tiles[0]
    res_x, res_y = first.transform.a, first.transform.e
    for tile in tiles:
        t = tile.transform
        if t.b or t.d or t.a <= 0 or t.e >= 0:
            raise SourceError(f"{tile.path}: a rotated or flipped grid cannot be mosaicked")
        odd = _odd_one(tile, first)
        if odd:
            raise SourceError(f"{tile.path}: {odd}; tiles of one source must agree")
        col = (t.c - first.transform.c) / res_x
        row = (t.f - first.transform.f) / res_y
        if abs(col - round(col)) > GRID_TOLERANCE or abs(row - round(row)) > GRID_TOLERANCE:
            raise SourceError(
                f"{tile.path}: origin is {col:.3f}, {row:.3f} pixels from {first.path.name}'s, "
                "off its pixel grid; tiles of one source must share a grid"
            )
    west = min(t.transform.c for t in tiles)
    north = max(t.transform.f for t in tiles)
    east = max(t.transform.c + t.width * res_x for t in tiles)
    south = min(t.transform.f + t.height * res_y for t in tiles)
    width = round((east - west) / res_x)
    height = round((south - north) / res_y)
    nodata = next((t.nodata for t in tiles if t.nodata is not None), None)
    if nodata is None and np.issubdtype(first.dtype, np.floating):
        nodata = float("nan")
    indexes = _indexes(first, bands)
    data = np.full((len(indexes), height, width), 0 if nodata is None else nodata, first.dtype)
    covered = np.zeros((height, width), dtype=bool)
    for tile in tiles:
        c0 = round((tile.transform.c - west) / res_x)
        r0 = round((tile.transform.f - north) / res_y)
        window = (slice(r0, r0 + tile.height), slice(c0, c0 + tile.width))
        pixels = _pixels(tile, indexes)
        # later tiles win where both hold a value (SRTM neighbours repeat their edge pixels)
        valid = valid_pixels(pixels, tile.nodata)
        data[(slice(None), *window)] = np.where(valid, pixels, data[(slice(None), *window)])
        covered[window] = True
    if nodata is None and not covered.all():
        raise SourceError(
            f"{first.path.parent}: the tiles leave {int((~covered).sum())} pixels of their "
            "extent uncovered and declare no nodata to mark them"
        )
    return RasterData(
        data=data,
        transform=Affine(res_x, 0.0, west, 0.0, res_y, north),
        crs=first.crs,
        nodata=nodata,
        band_names=[first.band_names[i - 1] for i in indexes],
        units=[first.units[i - 1] for i in indexes],
        tags=dict(first.tags),
    )


def _odd_one(tile: _Tile, first: _Tile) -> str | None:
    """How ``tile`` differs from the first tile in a way a mosaic cannot take, if it does."""
    name = first.path.name
    if not same_crs(tile.crs, first.crs):
        return f"CRS {tile.crs.to_string()}, {name} has {first.crs.to_string()}"
    if tile.count != first.count:
        return f"{tile.count} band(s), {name} has {first.count}"
    if tile.dtype != first.dtype:
        return f"data type {tile.dtype}, {name} has {first.dtype}"
    size = (tile.transform.a, -tile.transform.e)
    ref = (first.transform.a, -first.transform.e)
    if not np.allclose(size, ref, rtol=GRID_TOLERANCE / max(tile.width, tile.height), atol=0):
        return f"pixel size {size[0]:g} x {size[1]:g}, {name} has {ref[0]:g} x {ref[1]:g}"
    if not _same_nodata(tile.nodata, first.nodata) and None not in (tile.nodata, first.nodata):
        return f"nodata {tile.nodata}, {name} has {first.nodata}"
    return None


def _same_nodata(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return (np.isnan(a) and np.isnan(b)) or a == b


def reproject_raster(
    raster: RasterData,
    crs: CRS | str,
    resolution: float | None = None,
    resampling: str = "bilinear",
    nodata: float | None = None,
) -> RasterData:
    """Warp ``raster`` to ``crs`` (and ``resolution`` in its units).

    Pixels outside the source become ``nodata`` (the source's, else the one
    given, else NaN for floating point data). When the CRS and resolution
    already match, the raster is returned unchanged.
    """
    if resampling not in RESAMPLING:
        raise ParameterError(
            f"resampling {resampling!r} is not one of {', '.join(sorted(RESAMPLING))}"
        )
    dst_crs = CRS.from_user_input(crs)
    same_res = resolution is None or np.allclose(raster.resolution, (resolution, resolution))
    if same_crs(dst_crs, raster.crs) and same_res:
        return raster
    dst_nodata = raster.nodata if raster.nodata is not None else nodata
    dtype = raster.data.dtype
    if dst_nodata is None:
        if not np.issubdtype(dtype, np.floating):
            raise ParameterError("the raster has no nodata value; set 'nodata' to warp it")
        dst_nodata = float("nan")
    west, south, east, north = raster.bounds
    transform, width, height = calculate_default_transform(
        raster.crs,
        dst_crs,
        raster.width,
        raster.height,
        west,
        south,
        east,
        north,
        resolution=resolution,
    )
    out = np.full((raster.count, height, width), dst_nodata, dtype=dtype)
    reproject(
        source=raster.data,
        destination=out,
        src_transform=raster.transform,
        src_crs=raster.crs,
        src_nodata=raster.nodata,
        dst_transform=transform,
        dst_crs=dst_crs,
        dst_nodata=dst_nodata,
        resampling=RESAMPLING[resampling],
    )
    return RasterData(
        data=out,
        transform=transform,
        crs=dst_crs,
        nodata=dst_nodata,
        band_names=list(raster.band_names),
        units=list(raster.units),
        tags=dict(raster.tags),
    )
