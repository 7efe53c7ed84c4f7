"""One sheet into a Cloud-Optimized GeoTIFF in the working CRS, its collar masked.

:func:`convert_sheet` runs in a worker process (it takes and returns plain,
picklable values) and never holds more of a sheet than a few bit masks and a
strip of pixels:

1. read the sheet strip by strip: its nodata/alpha mask, and the pixels near
   the collar's colour; the collar is what of those touches the edge, widened
   by a margin of a few pixels (:mod:`layers.imagery.collar`);
2. write the sheet in its own CRS with the collar and nodata as its mask;
3. warp it strip by strip onto a pixel grid of the working CRS aligned to its
   resolution (so that sheets of one resolution share one grid and meet
   without resampling shifts), the mask warped with it;
4. copy that into a COG: JPEG or WebP inside, an internal mask, overviews.

Masked pixels are filled with the sheet's mean colour before compression, so
that JPEG's 8x8 blocks along a collar do not ring dark into the image.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
import rasterio.shutil
import shapely
from affine import Affine
from pyproj import CRS, Transformer
from rasterio._err import CPLE_BaseError
from rasterio.enums import Resampling
from rasterio.errors import RasterioError
from rasterio.features import shapes
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window

from layers.errors import SourceError
from layers.imagery.collar import Collar, edge_connected, near_colour, widen
from layers.imagery.sheets import SheetInfo, _first_line

#: pixels of a sheet read or written at once
STRIP_PX = 1 << 22
#: the footprint is traced on a grid of at most this many cells along a side
FOOTPRINT_CELLS = 512
#: COG block edge; also the size below which a sheet gets no overviews
BLOCK_PX = 512
#: GDAL's block cache while a sheet is converted, MB (its default is 5 % of the memory, per
#: worker: the strips are read once, so a larger cache only holds memory)
CACHE_MB = 128


@dataclass(frozen=True)
class ConvertOptions:
    """How every sheet of a mosaic is converted."""

    crs: str
    """The working CRS (WKT)."""
    collar: Collar = "black"
    tolerance: int = 10
    margin: int = 2
    compress: str = "JPEG"
    quality: int = 85


@dataclass(frozen=True)
class SheetTask:
    """One sheet to convert into ``out``."""

    info: SheetInfo
    out: str
    options: ConvertOptions


@dataclass(frozen=True)
class SheetResult:
    """A converted sheet: what the mosaic's index says of it."""

    source: str
    out: str
    bounds: tuple[float, float, float, float]
    footprint: bytes
    """WKB of the polygon holding the sheet's valid pixels (working CRS; a little generous)."""
    resolution: float
    width: int
    height: int
    valid_pixels: int
    """Valid pixels of the converted sheet."""
    source_pixels: int
    collar_pixels: int
    """Pixels of the source masked as collar."""
    nodata_pixels: int
    """Pixels of the source masked by its own nodata, alpha or mask."""
    date: str | None
    source_crs: str


def convert_sheet(task: SheetTask) -> SheetResult:
    """Convert one sheet (see the module's description).

    Raises
    ------
    SourceError
        Naming the sheet when any of its pixels cannot be read.
    OSError
        When the COG cannot be written (a full disk).
    """
    info, opts = task.info, task.options
    out = Path(task.out)
    stage = out.with_name(f".{out.name}.src.tif")
    warped = out.with_name(f".{out.name}.warp.tif")
    try:
        with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True, GDAL_CACHEMAX=CACHE_MB):
            keep, fill, counts = _source_mask(info, opts)
            _write_source_stage(info, keep, fill, stage)
            del keep
            grid = _target_grid(info, CRS.from_wkt(opts.crs))
            valid, footprint = _warp(stage, CRS.from_wkt(opts.crs), grid, fill, warped)
            write_cog(warped, out, opts.compress, opts.quality)
    except (RasterioError, CPLE_BaseError) as exc:
        raise SourceError(f"{info.path}: cannot convert the sheet: {_first_line(exc)}") from None
    finally:
        stage.unlink(missing_ok=True)
        warped.unlink(missing_ok=True)
    transform, width, height, res = grid
    left, top = transform.c, transform.f
    return SheetResult(
        source=info.path,
        out=str(out),
        bounds=(left, top - height * res, left + width * res, top),
        footprint=shapely.to_wkb(footprint),
        resolution=res,
        width=width,
        height=height,
        valid_pixels=valid,
        source_pixels=info.width * info.height,
        collar_pixels=counts[0],
        nodata_pixels=counts[1],
        date=info.date,
        source_crs=_crs_name(CRS.from_wkt(info.crs)),
    )


def _crs_name(crs: CRS) -> str:
    code = crs.to_epsg(min_confidence=25)
    return f"EPSG:{code}" if code else crs.name


def _strips(height: int, width: int, multiple: int = 1) -> Iterator[tuple[int, int]]:
    """``(row0, rows)`` of strips of about :data:`STRIP_PX` pixels, ``multiple`` rows each."""
    step = max(multiple, STRIP_PX // max(1, width) // multiple * multiple)
    for r0 in range(0, height, step):
        yield r0, min(step, height - r0)


def _source_mask(
    info: SheetInfo, opts: ConvertOptions
) -> tuple[np.ndarray, tuple[int, int, int], tuple[int, int]]:
    """The sheet's pixels to keep, the fill colour for the others, and (collar, nodata) counts.

    Every pixel is decoded here: a corrupt sheet fails now, named.
    """
    bands = list(info.bands)
    h, w = info.height, info.width
    valid = np.empty((h, w), dtype=bool)
    near = np.empty((h, w), dtype=bool)
    sums, n = np.zeros(3), 0
    try:
        with rasterio.open(info.path) as src:
            for r0, rows in _strips(h, w):
                window = Window(0, r0, w, rows)
                ok = src.dataset_mask(window=window) > 0
                rgb = src.read(bands, window=window)
                near_here = near_colour(rgb, opts.collar, opts.tolerance) & ok
                valid[r0 : r0 + rows] = ok
                near[r0 : r0 + rows] = near_here
                image = ok & ~near_here
                sums += rgb[:, image].sum(axis=1, dtype=np.float64)
                n += int(image.sum())
    except (RasterioError, CPLE_BaseError) as exc:
        raise SourceError(f"{info.path}: cannot be read: {_first_line(exc)}") from None
    outside = ~valid
    nodata = int(outside.sum())
    if opts.collar == "none" or not near.any():
        return valid, _fill(sums, n), (0, nodata)
    collar = widen(edge_connected(near, outside), opts.margin)
    del near, outside
    collar &= valid
    valid &= ~collar
    return valid, _fill(sums, n), (int(collar.sum()), nodata)


def _fill(sums: np.ndarray, n: int) -> tuple[int, int, int]:
    if n == 0:
        return (128, 128, 128)
    r, g, b = (round(float(v) / n) for v in sums)
    return (r, g, b)


def _write_source_stage(
    info: SheetInfo, keep: np.ndarray, fill: tuple[int, int, int], stage: Path
) -> None:
    """The sheet's RGB in its own CRS, masked pixels filled and masked."""
    h, w = info.height, info.width
    with rasterio.open(info.path) as src:
        transform = src.transform
        with _open_rgb(stage, CRS.from_wkt(info.crs), transform, w, h) as dst:
            for r0, rows in _strips(h, w):
                window = Window(0, r0, w, rows)
                rgb = src.read(list(info.bands), window=window)
                ok = keep[r0 : r0 + rows]
                _paint(rgb, ok, fill)
                dst.write(rgb, window=window)
                dst.write_mask(ok.astype(np.uint8) * 255, window=window)


def _paint(rgb: np.ndarray, ok: np.ndarray, fill: tuple[int, int, int]) -> None:
    for i in range(3):
        rgb[i][~ok] = fill[i]


def _open_rgb(
    path: Path, crs: CRS, transform: Affine, width: int, height: int
) -> rasterio.io.DatasetWriter:
    return rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=width,
        height=height,
        count=3,
        dtype="uint8",
        crs=crs,
        transform=transform,
        photometric="RGB",
        tiled=True,
        blockxsize=BLOCK_PX,
        blockysize=BLOCK_PX,
        bigtiff="if_safer",
    )


def _target_grid(info: SheetInfo, crs: CRS) -> tuple[Affine, int, int, float]:
    """The sheet's pixel grid in ``crs``: square pixels as fine as the sheet's on average,
    rounded to the millimetre, with the origin on a multiple of the pixel size."""
    with rasterio.open(info.path) as src:
        left, bottom, right, top = src.bounds
    tr = Transformer.from_crs(CRS.from_wkt(info.crs), crs, always_xy=True)
    x0, y0, x1, y1 = tr.transform_bounds(left, bottom, right, top, densify_pts=21)
    res = math.sqrt((x1 - x0) * (y1 - y0) / (info.width * info.height))
    res = max(0.001, round(res, 3))
    # a tiny slack, so that a bound already on the grid is not pushed a pixel out
    gx0 = math.floor(x0 / res + 1e-6) * res
    gy1 = math.ceil(y1 / res - 1e-6) * res
    width = max(1, math.ceil((x1 - gx0) / res - 1e-6))
    height = max(1, math.ceil((gy1 - y0) / res - 1e-6))
    return Affine(res, 0.0, gx0, 0.0, -res, gy1), width, height, res


def _warp(
    stage: Path,
    crs: CRS,
    grid: tuple[Affine, int, int, float],
    fill: tuple[int, int, int],
    out: Path,
) -> tuple[int, shapely.Geometry]:
    """Warp the staged sheet onto ``grid`` into ``out``; its valid pixels and footprint."""
    transform, width, height, _ = grid
    cell = max(1, math.ceil(max(width, height) / FOOTPRINT_CELLS))
    cells = np.zeros((math.ceil(height / cell), math.ceil(width / cell)), dtype=bool)
    valid = 0
    with (
        rasterio.open(stage) as src,
        _open_rgb(out, crs, transform, width, height) as dst,
        WarpedVRT(
            src,
            crs=crs,
            transform=transform,
            width=width,
            height=height,
            resampling=Resampling.bilinear,
            add_alpha=True,  # the stage's mask (collar, nodata) warped along
        ) as vrt,
    ):
        for r0, rows in _strips(height, width, cell):
            window = Window(0, r0, width, rows)
            data = vrt.read(window=window)
            ok = data[3] >= 128
            rgb = data[:3]
            _paint(rgb, ok, fill)
            dst.write(rgb, window=window)
            dst.write_mask(ok.astype(np.uint8) * 255, window=window)
            valid += int(ok.sum())
            cells[r0 // cell : (r0 + rows + cell - 1) // cell] |= _any_blocks(ok, cell)
    return valid, _footprint(cells, transform * Affine.scale(cell), transform, width, height)


def _any_blocks(ok: np.ndarray, cell: int) -> np.ndarray:
    """Whether each ``cell`` x ``cell`` block of ``ok`` holds a valid pixel."""
    h, w = ok.shape
    ph, pw = -h % cell, -w % cell
    padded = np.pad(ok, ((0, ph), (0, pw)))
    return padded.reshape(padded.shape[0] // cell, cell, padded.shape[1] // cell, cell).any(
        axis=(1, 3)
    )


def _footprint(
    cells: np.ndarray, cell_transform: Affine, transform: Affine, width: int, height: int
) -> shapely.Geometry:
    """The polygon of the valid cells, clipped to the sheet: never smaller than its valid pixels."""
    parts = [
        shapely.geometry.shape(geom)
        for geom, value in shapes(cells.astype(np.uint8), mask=cells, transform=cell_transform)
        if value == 1
    ]
    left, top = transform.c, transform.f
    box = shapely.box(left, top + height * transform.e, left + width * transform.a, top)
    if not parts:
        return shapely.Polygon()
    return shapely.make_valid(shapely.union_all(parts)).intersection(box)


def write_cog(stage: Path, out: Path, compress: str, quality: int) -> None:
    """Copy the staged RGB + mask GeoTIFF into a COG: ``compress`` (JPEG/WEBP) inside, the
    mask kept, overviews averaged."""
    rasterio.shutil.copy(
        stage,
        out,
        driver="COG",
        compress=compress,
        quality=quality,
        blocksize=BLOCK_PX,
        overview_resampling="average",
        bigtiff="if_safer",
    )
    fd = os.open(out, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
