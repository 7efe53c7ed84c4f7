"""Raster layers: PNG/WebP tiles from the catalog's Cloud-Optimized GeoTIFFs, drawn by rio-tiler.

Orthophoto mosaics read their sheets through the same readers (:mod:`tiles.mosaic`).

The only files a raster tile ever reads are the layer's ``data`` and
``webmercator`` artifacts named by the catalog; nothing in a request can name a
path or URL. An artifact must
be a GeoTIFF (the COG layout is a GeoTIFF): VRTs and other formats that can
reference further files are refused, on top of ``GDAL_SKIP=VRT`` which the
server sets before GDAL registers its drivers.

A layer may also publish a ``webmercator`` artifact: the same raster as a COG
in EPSG:3857 on the WebMercatorQuad grid, whose levels are that grid's zooms.
WebMercatorQuad tiles are read from it as plain windows, without reprojecting
(which otherwise costs most of a tile); other grids, and catalogs without the
artifact, read ``data``.

Pixels are read here with rasterio and rendered by rio-tiler. A raster in the
grid's CRS is read as a window of the level GDAL picks for the tile's
resolution; the part of the tile beyond the raster is filled here, because
rasterio's ``boundless`` reads build a VRT. Any other raster is read through a
``WarpedVRT`` covering just the tile, at the source's resolution in the grid's
CRS (computed once with pyproj, as ``rasterio.warp.calculate_default_transform``
builds a VRT document internally), decimated on read so that GDAL warps from
the COG's matching overview: one warp per tile, as rio-tiler does. A tile finer
than the source (beyond the raster's native zoom) is warped onto its own pixels.

Opening a dataset costs about a third of a tile, so each process keeps them
open, per artifact version and grid, in a bounded LRU. A GDAL dataset must not
be read by two threads at once: each cache entry is a small pool that lends an
open dataset to one thread at a time and opens another when all are lent.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import rasterio
from affine import Affine
from rasterio.errors import RasterioError
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window
from rio_tiler.colormap import cmap
from rio_tiler.models import ImageData

from tiles._lru import LRU
from tiles.errors import ArtifactError, InvalidParameterError
from tiles.grids import Grid, transformer

DEFAULT_COLORMAP = "viridis"
#: GDAL drivers a raster artifact may use; none of them can point at other files
ALLOWED_DRIVERS = frozenset({"GTiff", "COG"})
FORMATS = {"png": "PNG", "webp": "WEBP", "jpg": "JPEG"}
#: the artifact holding a raster layer's copy on the WebMercatorQuad grid
WEBMERCATOR_ARTIFACT = "webmercator"
#: (artifact, version, grid) pools of open datasets this process keeps
DATASET_POOLS = 32
#: open datasets a pool keeps for later requests (more are opened while all are lent)
IDLE_DATASETS = 4


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


def _source_resolution(src: rasterio.DatasetReader, grid: Grid) -> float:
    """The side in grid-CRS units of a square pixel as fine, on average, as ``src``'s."""
    tr = transformer(src.crs.to_wkt(), grid.crs.to_wkt())
    west, south, east, north = src.bounds
    left, bottom, right, top = tr.transform_bounds(west, south, east, north, densify_pts=21)
    return math.sqrt((right - left) * (top - bottom) / (src.width * src.height))


#: which bands a read returns: one band (a 2-D array) or several (3-D)
Bands = int | tuple[int, ...]


def _read_window(
    src: rasterio.DatasetReader, bounds: tuple[float, ...], size: int, bands: Bands = 1
) -> np.ma.MaskedArray:
    """``bands`` of ``src`` (in the grid's CRS) within ``bounds``, ``size`` pixels square."""
    left, bottom, right, top = bounds
    inverse = ~src.transform
    c0, r0 = inverse * (left, top)
    c1, r1 = inverse * (right, bottom)
    shape = (size, size) if isinstance(bands, int) else (len(bands), size, size)
    out: np.ma.MaskedArray = np.ma.masked_all(shape, dtype=src.dtypes[0])
    # the part of the tile over the raster, in source pixels and in tile pixels
    cc0, rr0, cc1, rr1 = max(c0, 0.0), max(r0, 0.0), min(c1, src.width), min(r1, src.height)
    sx, sy = size / (c1 - c0), size / (r1 - r0)
    dc0, dc1 = round((cc0 - c0) * sx), round((cc1 - c0) * sx)
    dr0, dr1 = round((rr0 - r0) * sy), round((rr1 - r0) * sy)
    if dc1 <= dc0 or dr1 <= dr0:
        return out
    part = (dr1 - dr0, dc1 - dc0)
    out[..., dr0:dr1, dc0:dc1] = src.read(
        bands if isinstance(bands, int) else list(bands),
        window=Window(cc0, rr0, cc1 - cc0, rr1 - rr0),
        out_shape=part if isinstance(bands, int) else (len(bands), *part),
        masked=True,
    )
    return out


def _read_warped(
    src: rasterio.DatasetReader,
    grid: Grid,
    res: float,
    bounds: tuple[float, ...],
    size: int,
    bands: Bands = 1,
) -> np.ma.MaskedArray:
    """``bands`` of ``src`` reprojected to the grid's CRS within ``bounds``, ``size`` pixels
    square."""
    left, bottom, right, top = bounds
    if res * size > right - left:
        # the tile is finer than the source (a deep zoom): warp onto the tile's own pixels,
        # as a warp at the source's resolution enlarged after would misplace them by up to
        # a source pixel (a 10 cm sheet's detail at zoom 22)
        width = height = size
    else:
        width = max(1, round((right - left) / res))
        height = max(1, round((top - bottom) / res))
    transform = Affine((right - left) / width, 0.0, left, 0.0, -(top - bottom) / height, top)
    with WarpedVRT(
        src,
        crs=grid.crs,
        transform=transform,
        width=width,
        height=height,
        nodata=src.nodata,
        # marks the pixels outside the source (and, for imagery, those its mask hides)
        add_alpha=src.nodata is None,
    ) as vrt:
        if isinstance(bands, int):
            return vrt.read(bands, out_shape=(size, size), masked=True)
        return vrt.read(list(bands), out_shape=(len(bands), size, size), masked=True)


class _Source:
    """One open raster artifact and how to read one grid's tiles from it."""

    def __init__(self, path: str, grid: Grid, bands: Bands = 1) -> None:
        self.bands = bands
        self.src = rasterio.open(path)
        try:
            if self.src.driver not in ALLOWED_DRIVERS:
                raise ArtifactError(
                    f"{path}: raster artifacts must be GeoTIFF, not {self.src.driver}"
                )
            if self.src.crs is None:
                raise ArtifactError(f"{path}: raster has no CRS")
            self.grid = grid
            self.res = None if self.src.crs == grid.crs else _source_resolution(self.src, grid)
        except BaseException:
            self.src.close()
            raise

    def read(self, bounds: tuple[float, ...], size: int) -> np.ma.MaskedArray:
        if self.res is None:
            return _read_window(self.src, bounds, size, self.bands)
        return _read_warped(self.src, self.grid, self.res, bounds, size, self.bands)


class _SourcePool:
    """Open datasets of one artifact version for one grid, each lent to one thread at a time."""

    def __init__(self, path: str, grid: Grid, bands: Bands = 1, idle: int = IDLE_DATASETS) -> None:
        self._open = partial(_Source, path, grid, bands)
        self._keep = idle
        self._idle: list[_Source] = []
        self._lock = threading.Lock()

    @contextmanager
    def source(self) -> Iterator[_Source]:
        with self._lock:
            lent = self._idle.pop() if self._idle else None
        if lent is None:
            lent = self._open()
        try:
            yield lent
        except BaseException:
            lent.src.close()  # a failed read may leave GDAL's state unknown: not lent again
            raise
        with self._lock:
            if len(self._idle) < self._keep:
                self._idle.append(lent)
                return
        lent.src.close()


#: this process's pools of open datasets; an evicted pool's datasets close when collected
_pools: LRU[tuple[str, str, str], _SourcePool] = LRU(DATASET_POOLS)


def clear_datasets() -> None:
    """Forget every open dataset (each closes once no request holds it)."""
    _pools.clear()


def read_tile(
    path: str,
    grid: Grid,
    z: int,
    x: int,
    y: int,
    tile_size: int = 256,
    version: str = "",
    webmercator: str | None = None,
) -> ImageData | None:
    """The first band's pixels of tile ``z/x/y``; None when it holds no valid pixel.

    ``path`` is the layer's ``data`` artifact and ``webmercator`` its copy on the
    WebMercatorQuad grid, if it has one (read for that grid's tiles instead).
    Datasets stay open per ``(artifact, version, grid)``: a new version of the
    layer opens new ones.

    Raises
    ------
    ArtifactError
        When the artifact cannot be read or is not a GeoTIFF.
    """
    if webmercator is not None and grid.id == "WebMercatorQuad":
        path = webmercator
    pool = _pools.get_or_create((path, version, grid.id), partial(_SourcePool, path, grid))
    try:
        with pool.source() as source:
            data = source.read(grid.tile_bounds(z, x, y), tile_size)
    except RasterioError as exc:
        raise ArtifactError(f"{path}: cannot read raster tile {z}/{x}/{y}: {exc}") from None
    if np.ma.getmaskarray(data).all():  # every pixel nodata or outside the raster
        return None
    return ImageData(data[np.newaxis])


def render_tile(
    path: str,
    grid: Grid,
    z: int,
    x: int,
    y: int,
    style: RasterStyle,
    fmt: str = "png",
    tile_size: int = 256,
    version: str = "",
    webmercator: str | None = None,
) -> bytes | None:
    """Render tile ``z/x/y`` of the raster at ``path``; None when it holds no valid pixel.

    ``version`` and ``webmercator`` as for :func:`read_tile`.

    Raises
    ------
    ArtifactError
        When the artifact cannot be read or is not a GeoTIFF.
    """
    img = read_tile(path, grid, z, x, y, tile_size, version, webmercator)
    if img is None:
        return None
    img = img.rescale(in_range=(style.rescale,))
    return img.render(img_format=FORMATS[fmt], colormap=cmap.get(style.colormap))


def empty_image(fmt: str = "png", tile_size: int = 256) -> bytes:
    """A fully transparent image (for ``empty_tile_status = 200``); a white JPEG."""
    if fmt == "jpg":
        white = np.full((3, tile_size, tile_size), 255, dtype="uint8")
        return ImageData(white).render(add_mask=False, img_format="JPEG")
    data = np.zeros((1, tile_size, tile_size), dtype="uint8")
    img = ImageData(np.ma.MaskedArray(data, mask=True))
    return img.render(img_format=FORMATS[fmt], colormap=cmap.get(DEFAULT_COLORMAP))
