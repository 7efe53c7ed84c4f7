"""Generic raster sources: read anything GDAL reads, reproject to the working CRS."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import rasterio
from pyproj import CRS
from rasterio.enums import Resampling
from rasterio.errors import RasterioIOError
from rasterio.warp import calculate_default_transform, reproject

from layers.errors import ParameterError, SourceError
from layers.types import RasterData

RESAMPLING = {r.name: r for r in Resampling if r.value <= 14}


def read_raster(path: str | os.PathLike[str], bands: list[int] | None = None) -> RasterData:
    """Read a GDAL raster into memory.

    Raises
    ------
    SourceError
        Naming the file when it cannot be opened or has no CRS.
    """
    path = Path(path)
    if not path.exists():
        raise SourceError(f"{path}: no such file")
    try:
        with rasterio.open(path) as src:
            if src.crs is None:
                raise SourceError(f"{path}: declares no CRS")
            indexes = bands or list(range(1, src.count + 1))
            data = src.read(indexes)
            names = [src.descriptions[i - 1] or f"band{i}" for i in indexes]
            units = [src.units[i - 1] or None for i in indexes]
            return RasterData(
                data=data,
                transform=src.transform,
                crs=CRS.from_user_input(src.crs),
                nodata=src.nodata,
                band_names=names,
                units=units,
                tags=dict(src.tags()),
            )
    except RasterioIOError as exc:
        raise SourceError(f"{path}: cannot read as a raster: {exc}") from None


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
    if dst_crs == raster.crs and same_res:
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
