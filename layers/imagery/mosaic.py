"""A mosaic of orthophoto sheets: converted sheet by sheet, indexed, with a county overview.

:func:`build_mosaic` never holds more than one sheet's masks per worker and
the overview: each sheet becomes a COG in the working CRS (converted in
parallel through the ``map`` its caller hands in; :mod:`layers.imagery.convert`),
its valid-data footprint goes into the index, and the overview is painted
from the sheets' own overviews, newest and finest sheet first.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import rasterio
import shapely
from affine import Affine
from pydantic import Field
from pyproj import CRS
from rasterio.enums import Resampling
from rasterio.windows import Window

from layers.errors import ParameterError, SourceError
from layers.imagery.convert import (
    ConvertOptions,
    SheetResult,
    SheetTask,
    _open_rgb,
    _paint,
    convert_sheet,
    write_cog,
)
from layers.imagery.sheets import SheetInfo, read_sheet_info, sheet_files
from layers.params import Params
from layers.types import OVERVIEW_FILE, Mosaic

#: the overview's longest side at most, pixels (its resolution doubles until it fits)
OVERVIEW_PX = 4096
#: the overview is at least this many times coarser than the finest sheet
OVERVIEW_FACTOR = 8
#: a sheet more than this share collar or nodata is worth a warning
MOSTLY_MASKED = 0.5
SHEETS_DIR = "sheets"

Mapper = Callable[[Callable[[SheetTask], SheetResult], Iterable[SheetTask]], Iterator[SheetResult]]


class ImageryParams(Params):
    """Parameters of the ``imagery`` layer (an orthophoto mosaic)."""

    collar: Literal["black", "white", "none"] = Field(
        "black", description="colour of the sheets' collars (scan or clip borders) to mask"
    )
    collar_tolerance: int = Field(
        10, ge=0, le=64, description="how far from pure black/white (0-255, every band) a collar is"
    )
    collar_margin: int = Field(
        2, ge=0, le=32, description="pixels next to a collar masked too (JPEG ringing), px"
    )
    compress: Literal["jpeg", "webp"] = Field("jpeg", description="compression inside the COGs")
    quality: int = Field(85, ge=1, le=100, description="JPEG/WebP quality")
    overview_resolution: float | None = Field(
        None, gt=0, description="pixel size of the county-wide overview, m (default: auto)"
    )
    workers: int | None = Field(
        None, ge=1, description="processes converting sheets (default: 2, or the cores if fewer)"
    )


@dataclass
class SheetSource:
    """Sheets named by one source: a folder, a glob or a file, and the CRS of those without one."""

    path: str
    crs: str | None = None


def plan_sheets(sources: Sequence[SheetSource]) -> list[SheetInfo]:
    """Every sheet of ``sources``, its header checked (:func:`read_sheet_info`).

    Raises
    ------
    SourceError
        Naming the first sheet that cannot be a sheet, or a file named twice.
    """
    infos: list[SheetInfo] = []
    seen: dict[Path, str] = {}
    for source in sources:
        for path in sheet_files(source.path):
            key = path.resolve()
            if key in seen:
                raise SourceError(f"{path}: named twice (by {seen[key]} and {source.path})")
            seen[key] = source.path
            infos.append(read_sheet_info(path, source.crs))
    return infos


def build_mosaic(
    infos: Sequence[SheetInfo],
    crs: CRS,
    directory: Path,
    params: ImageryParams,
    map: Mapper = map,
) -> Mosaic:
    """Convert ``infos`` into a mosaic in ``directory`` (see the module's description).

    Parameters
    ----------
    infos
        The sheets, from :func:`plan_sheets`.
    crs
        The working CRS.
    directory
        Where ``sheets/`` and the overview are written (it may exist).
    params
        The layer's parameters.
    map
        ``map(fn, tasks)`` yielding results in order: the builtin, or a process pool's.

    Raises
    ------
    SourceError
        Naming a sheet that cannot be read, or when no sheet holds a valid pixel.
    """
    if not infos:
        raise SourceError("no sheet to build a mosaic from")
    (directory / SHEETS_DIR).mkdir(parents=True, exist_ok=True)
    opts = ConvertOptions(
        crs=crs.to_wkt(),
        collar=params.collar,
        tolerance=params.collar_tolerance,
        margin=params.collar_margin if params.collar != "none" else 0,
        compress=params.compress.upper(),
        quality=params.quality,
    )
    tasks = [
        SheetTask(info, str(directory / SHEETS_DIR / _out_name(i, info.path)), opts)
        for i, info in enumerate(infos)
    ]
    results = list(map(convert_sheet, tasks))
    kept = [r for r in results if r.valid_pixels > 0]
    warnings = _warnings(results, kept, params)
    if not kept:
        raise SourceError(
            f"none of the {len(results)} sheets holds a valid pixel once nodata and "
            f"{params.collar} collars (tolerance {params.collar_tolerance}) are masked"
        )
    for r in results:
        if r.valid_pixels == 0:
            Path(r.out).unlink(missing_ok=True)
    index = _index(kept, directory, crs)
    resolution = float(index["resolution"].min())
    ov_res = params.overview_resolution or _overview_resolution(index, resolution)
    _write_overview(index, directory, crs, ov_res, opts)
    return Mosaic(
        directory=directory,
        index=index,
        resolution=resolution,
        overview_resolution=ov_res,
        stats=_stats(results, kept, resolution, ov_res),
        warnings=warnings,
    )


def _out_name(i: int, path: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(path).stem)[:60]
    return f"{i:05d}-{stem}.tif"


def _priority(r: SheetResult, i: int) -> tuple[Any, ...]:
    """Newest first (undated last), then finest, then the delivery's order."""
    date = -int(r.date.replace("-", "")) if r.date else 0
    return (r.date is None, date, r.resolution, i)


def _index(kept: list[SheetResult], directory: Path, crs: CRS) -> gpd.GeoDataFrame:
    order = sorted(range(len(kept)), key=lambda i: _priority(kept[i], i))
    rank = {i: n for n, i in enumerate(order)}
    return gpd.GeoDataFrame(
        {
            "file": [Path(r.out).relative_to(directory).as_posix() for r in kept],
            "source": [r.source for r in kept],
            "priority": np.array([rank[i] for i in range(len(kept))], dtype=np.int32),
            "resolution": np.array([r.resolution for r in kept], dtype=np.float64),
            "date": [r.date for r in kept],
            "source_crs": [r.source_crs for r in kept],
            "width": np.array([r.width for r in kept], dtype=np.int32),
            "height": np.array([r.height for r in kept], dtype=np.int32),
            "valid_pixels": np.array([r.valid_pixels for r in kept], dtype=np.int64),
            "collar_pixels": np.array([r.collar_pixels for r in kept], dtype=np.int64),
        },
        geometry=shapely.from_wkb([r.footprint for r in kept]),
        crs=crs,
    )


def _overview_resolution(index: gpd.GeoDataFrame, finest: float) -> float:
    x0, y0, x1, y1 = index.total_bounds
    res = finest * OVERVIEW_FACTOR
    while max(x1 - x0, y1 - y0) / res > OVERVIEW_PX:
        res *= 2
    return res


def _write_overview(
    index: gpd.GeoDataFrame, directory: Path, crs: CRS, res: float, opts: ConvertOptions
) -> None:
    """Paint every sheet's overview onto one grid, first valid pixel by priority, and write it."""
    x0, y0, x1, y1 = index.total_bounds
    left, top = math.floor(x0 / res) * res, math.ceil(y1 / res) * res
    width = max(1, math.ceil((x1 - left) / res))
    height = max(1, math.ceil((top - y0) / res))
    if max(width, height) > 4 * OVERVIEW_PX:
        need = max(x1 - x0, y1 - y0) / (4 * OVERVIEW_PX)
        raise ParameterError(
            f"overview_resolution {res:g} m makes a {width}x{height} overview; "
            f"use {need:.1f} m or coarser"
        )
    transform = Affine(res, 0.0, left, 0.0, -res, top)
    rgb = np.zeros((3, height, width), dtype=np.uint8)
    filled = np.zeros((height, width), dtype=bool)
    for row in index.sort_values("priority").itertuples():
        _paint_sheet(directory / row.file, transform, rgb, filled)
    _paint(rgb, filled, (255, 255, 255))
    target = directory / OVERVIEW_FILE
    stage = directory / f".{OVERVIEW_FILE}.stage.tif"
    try:
        with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True):
            with _open_rgb(stage, crs, transform, width, height) as dst:
                dst.write(rgb)
                dst.write_mask(filled.astype(np.uint8) * 255)
            write_cog(stage, target, opts.compress, opts.quality)
    finally:
        stage.unlink(missing_ok=True)


def _paint_sheet(path: Path, transform: Affine, rgb: np.ndarray, filled: np.ndarray) -> None:
    """Fill the still-empty overview pixels ``path`` covers, read from its nearest overview."""
    res = transform.a
    with rasterio.open(path) as src:
        sl, sb, sr, st = src.bounds
        c0 = max(0, math.floor((sl - transform.c) / res))
        c1 = min(rgb.shape[2], math.ceil((sr - transform.c) / res))
        r0 = max(0, math.floor((transform.f - st) / res))
        r1 = min(rgb.shape[1], math.ceil((transform.f - sb) / res))
        if c1 <= c0 or r1 <= r0:
            return
        # the overview pixels' extent in the sheet's pixels (may reach beyond the sheet)
        inv = ~src.transform
        col, row = inv * (transform.c + c0 * res, transform.f - r0 * res)
        cols, rows = (c1 - c0) * res / src.res[0], (r1 - r0) * res / src.res[1]
        data = src.read(
            [1, 2, 3],
            window=Window(col, row, cols, rows),
            out_shape=(3, r1 - r0, c1 - c0),
            boundless=True,
            masked=True,
            resampling=Resampling.average,
        )
    ok = ~np.ma.getmaskarray(data).any(axis=0)
    todo = ok & ~filled[r0:r1, c0:c1]
    rgb[:, r0:r1, c0:c1][:, todo] = np.ma.getdata(data)[:, todo]
    filled[r0:r1, c0:c1] |= todo


def _warnings(
    results: list[SheetResult], kept: list[SheetResult], params: ImageryParams
) -> list[str]:
    out = []
    empty = len(results) - len(kept)
    if empty:
        out.append(
            f"{empty} of {len(results)} sheets hold no valid pixel once nodata and "
            f"{params.collar} collars are masked; left out of the mosaic"
        )
    masked = [
        r
        for r in kept
        if (r.collar_pixels + r.nodata_pixels) > MOSTLY_MASKED * max(1, r.source_pixels)
    ]
    if masked:
        first = Path(masked[0].source).name
        out.append(
            f"{len(masked)} of {len(kept)} sheets are more than half collar or nodata "
            f"(e.g. {first}); check collar = {params.collar!r} and collar_tolerance"
        )
    res = [r.resolution for r in kept]
    if res and max(res) > 1.5 * min(res):
        coarse = sum(1 for r in res if r > 1.5 * min(res))
        out.append(
            f"{coarse} of {len(kept)} sheets are coarser than 1.5x the finest "
            f"({min(res) * 100:g} cm); finer sheets are drawn over them"
        )
    return out


def _stats(
    results: list[SheetResult], kept: list[SheetResult], res: float, ov_res: float
) -> dict[str, float | int | str]:
    by_crs: dict[str, int] = {}
    for r in kept:
        by_crs[r.source_crs] = by_crs.get(r.source_crs, 0) + 1
    return {
        "sheets": len(kept),
        "resolution_cm": round(res * 100, 2),
        "overview_resolution_m": round(ov_res, 3),
        "valid_megapixels": round(sum(r.valid_pixels for r in kept) / 1e6, 2),
        "collar_pixels": sum(r.collar_pixels for r in results),
        "nodata_pixels": sum(r.nodata_pixels for r in results),
        "source_crs": ", ".join(f"{c} x{n}" for c, n in sorted(by_crs.items())),
    }
