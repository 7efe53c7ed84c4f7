"""Raster layers: PNG/WebP tiles from the catalog's Cloud-Optimized GeoTIFF via rio-tiler.

The only file a raster tile ever reads is the layer's ``data`` artifact named
by the catalog; nothing in a request can name a path or URL. The artifact must
be a GeoTIFF (the COG layout is a GeoTIFF): VRTs and other formats that can
reference further files are refused, on top of ``GDAL_SKIP=VRT`` which the
server sets before GDAL registers its drivers.

Reprojection goes through a ``WarpedVRT`` whose grid is computed here with
pyproj (not ``rasterio.warp.calculate_default_transform``, which builds a VRT
document internally and therefore fails once the VRT driver is skipped); rio-tiler
then reads tiles from it in the grid's CRS, using the COG's overviews.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import rasterio
from affine import Affine
from rasterio.errors import RasterioError
from rasterio.vrt import WarpedVRT
from rio_tiler.colormap import cmap
from rio_tiler.errors import RioTilerError, TileOutsideBounds
from rio_tiler.io import Reader
from rio_tiler.models import ImageData

from tiles.errors import ArtifactError, InvalidParameterError
from tiles.grids import Grid, transformer

DEFAULT_COLORMAP = "viridis"
#: GDAL drivers a raster artifact may use; none of them can point at other files
ALLOWED_DRIVERS = frozenset({"GTiff", "COG"})
FORMATS = {"png": "PNG", "webp": "WEBP"}


def skip_vrt_driver() -> None:
    """Ask GDAL not to register its VRT driver (effective before GDAL's first use)."""
    os.environ["GDAL_SKIP"] = "VRT"


def colormap_names() -> list[str]:
    return sorted(cmap.list())


def check_colormap(name: str) -> str:
    """``name`` if rio-tiler knows the colormap; :class:`InvalidParameterError` otherwise."""
    if name not in cmap.list():
        raise InvalidParameterError(
            f"colormap_name {name!r} is not a known colormap (e.g. viridis, terrain, magma)"
        )
    return name


def parse_rescale(text: str) -> tuple[float, float]:
    """Parse a ``min,max`` rescale parameter; :class:`InvalidParameterError` if malformed."""
    parts = text.split(",")
    try:
        lo, hi = (float(p) for p in parts)
    except ValueError:
        raise InvalidParameterError(
            f"rescale {text!r} must be two numbers 'min,max', e.g. rescale=0,700"
        ) from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise InvalidParameterError(f"rescale {text!r} needs finite min < max")
    return lo, hi


@dataclass(frozen=True)
class RasterStyle:
    """How a raster layer's first band becomes colours."""

    colormap: str
    rescale: tuple[float, float]

    @classmethod
    def for_entry(
        cls,
        style: dict[str, Any],
        band_range: tuple[float | None, float | None],
        colormap_name: str | None = None,
        rescale: tuple[float, float] | None = None,
    ) -> RasterStyle:
        """The catalog's style hints, overridden by request parameters when given."""
        name = colormap_name or style.get("colormap") or DEFAULT_COLORMAP
        if rescale is None:
            hint = style.get("rescale")
            if isinstance(hint, (list, tuple)) and len(hint) == 2:
                rescale = (float(hint[0]), float(hint[1]))
            elif band_range[0] is not None and band_range[1] is not None:
                lo, hi = float(band_range[0]), float(band_range[1])
                rescale = (lo, hi if hi > lo else lo + 1)
            else:
                rescale = (0.0, 255.0)
        return cls(colormap=check_colormap(str(name)), rescale=rescale)


def legend_colors(name: str, stops: int = 8) -> list[str]:
    """``stops`` hex colours sampled evenly along colormap ``name`` (for legends)."""
    table = cmap.get(check_colormap(name))
    assert isinstance(table, dict)  # rio-tiler's named colormaps are 256-entry tables
    keys = np.linspace(0, 255, stops).round().astype(int)
    out = []
    for k in keys:
        r, g, b, _ = table.get(int(k), (0, 0, 0, 255))
        out.append(f"#{r:02x}{g:02x}{b:02x}")
    return out


def _warped(src: rasterio.DatasetReader, grid: Grid) -> WarpedVRT:
    """A view of ``src`` in the grid's CRS with about as many pixels as the source."""
    tr = transformer(src.crs.to_wkt(), grid.crs.to_wkt())
    west, south, east, north = src.bounds
    left, bottom, right, top = tr.transform_bounds(west, south, east, north, densify_pts=21)
    res = math.sqrt((right - left) * (top - bottom) / (src.width * src.height))
    width = max(1, math.ceil((right - left) / res))
    height = max(1, math.ceil((top - bottom) / res))
    return WarpedVRT(
        src,
        crs=grid.crs,
        transform=Affine(res, 0.0, left, 0.0, -res, top),
        width=width,
        height=height,
        nodata=src.nodata,
    )


def render_tile(
    path: str,
    grid: Grid,
    z: int,
    x: int,
    y: int,
    style: RasterStyle,
    fmt: str = "png",
    tile_size: int = 256,
) -> bytes | None:
    """Render tile ``z/x/y`` of the raster at ``path``; None when it holds no valid pixel.

    Raises
    ------
    ArtifactError
        When the artifact cannot be read or is not a GeoTIFF.
    """
    try:
        with rasterio.open(path) as src:
            if src.driver not in ALLOWED_DRIVERS:
                raise ArtifactError(f"{path}: raster artifacts must be GeoTIFF, not {src.driver}")
            if src.crs is None:
                raise ArtifactError(f"{path}: raster has no CRS")
            with _warped(src, grid) as vrt, Reader(path, dataset=vrt, tms=grid.tms) as reader:
                try:
                    img = reader.tile(x, y, z, tilesize=tile_size, indexes=1)
                except TileOutsideBounds:
                    return None
    except (RasterioError, RioTilerError) as exc:
        raise ArtifactError(f"{path}: cannot read raster tile {z}/{x}/{y}: {exc}") from None
    if np.ma.getmaskarray(img.array).all():  # every pixel nodata or outside the raster
        return None
    img = img.rescale(in_range=(style.rescale,))
    return img.render(img_format=FORMATS[fmt], colormap=cmap.get(style.colormap))


def empty_image(fmt: str = "png", tile_size: int = 256) -> bytes:
    """A fully transparent image (for ``empty_tile_status = 200``)."""
    data = np.zeros((1, tile_size, tile_size), dtype="uint8")
    img = ImageData(np.ma.MaskedArray(data, mask=True))
    return img.render(img_format=FORMATS[fmt], colormap=cmap.get(DEFAULT_COLORMAP))
