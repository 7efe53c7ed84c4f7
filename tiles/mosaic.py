"""Orthophoto mosaics: a tile read from the few sheets under it, found through the index.

A mosaic layer is a raster layer with an ``index`` artifact: GeoParquet of its
sheets' valid-data footprints in the working CRS, each naming its COG (path
relative to the index) and its ``priority`` (0 first: newest, then finest).
Its ``data`` artifact is the county-wide overview COG.

A tile is drawn:

- from the overview alone when the tile's pixels are at least as coarse as the
  overview's (small zooms never open a sheet);
- otherwise from the sheets whose footprints meet the tile, in priority order,
  each filling only the pixels still empty (first valid pixel wins; a sheet's
  internal mask hides its collar and nodata, so sheets meet without seams),
  until the tile is full or :data:`MAX_SHEETS` sheets were read. Pixels still
  empty past that bound are filled from the overview (coarser, never a hole);
  :attr:`MosaicTile.left_out` counts the sheets not read.

The ``index`` artifact is :data:`tiles.catalog.MOSAIC_ARTIFACT`. Only files the
catalog names are read: the index, the overview, and sheets
whose index entries are relative paths inside the index's directory.
"""

from __future__ import annotations

import math
import posixpath
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
import shapely
from pyproj import CRS
from rasterio.errors import RasterioError
from rio_tiler.models import ImageData

from tiles._lru import LRU
from tiles.errors import ArtifactError
from tiles.grids import Grid, transformer
from tiles.raster import FORMATS, _SourcePool

#: most sheets read for one tile by default (``TWIN_MOSAIC_MAX_SHEETS``)
MAX_SHEETS = 8
#: the colour bands of a sheet and of the overview
RGB = (1, 2, 3)
#: (sheet, version, grid) pools of open datasets this process keeps, and idle datasets per pool
SHEET_POOLS = 128
SHEET_IDLE = 2
#: points along each edge of a tile projected into the mosaic's CRS
EDGE_POINTS = 9
#: the fill of a JPEG tile where no sheet has a pixel, unless the style gives a ``background``
WHITE = (255, 255, 255)


@dataclass(frozen=True)
class MosaicIndex:
    """A mosaic's sheets in priority order, with a spatial index of their footprints."""

    crs: str
    files: tuple[str, ...]
    tree: shapely.STRtree
    overview_resolution: float

    def sheets_under(self, area: shapely.Geometry) -> list[int]:
        """The sheets whose footprints meet ``area`` (mosaic CRS), in priority order."""
        return sorted(int(i) for i in self.tree.query(area, predicate="intersects"))


def load_index(path: str, overview: str) -> MosaicIndex:
    """Read a mosaic's index and its overview's resolution.

    Raises
    ------
    ArtifactError
        When the index cannot be read, lacks a column, or names a file outside
        its directory.
    """
    try:
        index = gpd.read_parquet(path, columns=["file", "priority", "geometry"])
        with rasterio.open(overview) as src:
            overview_res = float(src.res[0])
    except (OSError, ValueError, RasterioError) as exc:
        raise ArtifactError(f"{path}: cannot read the mosaic index: {exc}") from None
    if index.crs is None:
        raise ArtifactError(f"{path}: the mosaic index has no CRS")
    index = index.sort_values("priority", kind="stable")
    base = Path(path).parent
    files = []
    for rel in index["file"]:
        norm = posixpath.normpath(str(rel))
        if posixpath.isabs(norm) or norm.startswith("..") or "\\" in norm or ":" in norm:
            raise ArtifactError(f"{path}: sheet {rel!r} is not a path inside the index's directory")
        files.append(str(base / norm))
    return MosaicIndex(
        crs=CRS.from_user_input(index.crs).to_string(),
        files=tuple(files),
        tree=shapely.STRtree(np.asarray(index.geometry.values)),
        overview_resolution=overview_res,
    )


@dataclass
class MosaicTile:
    """A tile's pixels and what was read to draw it."""

    image: ImageData | None
    sheets: list[str] = field(default_factory=list)
    """The sheet files read, in order."""
    overview: bool = False
    """Whether the overview was read (a small zoom, or pixels left past the bound)."""
    left_out: int = 0
    """Sheets under the tile not read because :data:`MAX_SHEETS` were (0: none)."""


_indexes: LRU[tuple[str, str], MosaicIndex] = LRU(16)
_pools: LRU[tuple[str, str, str], _SourcePool] = LRU(SHEET_POOLS)


def clear_mosaics() -> None:
    """Forget every index and open sheet (each closes once no request holds it)."""
    _indexes.clear()
    _pools.clear()


def _read(
    path: str, version: str, grid: Grid, bounds: tuple[float, ...], size: int
) -> np.ma.MaskedArray:
    pool = _pools.get_or_create(
        (path, version, grid.id), partial(_SourcePool, path, grid, RGB, SHEET_IDLE)
    )
    try:
        with pool.source() as source:
            return source.read(bounds, size)
    except RasterioError as exc:
        raise ArtifactError(f"{path}: cannot read the sheet: {exc}") from None


def _tile_area(index: MosaicIndex, grid: Grid, bounds: tuple[float, ...]) -> shapely.Geometry:
    """The tile as a polygon in the mosaic's CRS (its edges densified)."""
    left, bottom, right, top = bounds
    xs, ys = np.linspace(left, right, EDGE_POINTS), np.linspace(bottom, top, EDGE_POINTS)
    ring_x = np.concatenate([xs, np.full(EDGE_POINTS, right), xs[::-1], np.full(EDGE_POINTS, left)])
    ring_y = np.concatenate([np.full(EDGE_POINTS, bottom), ys, np.full(EDGE_POINTS, top), ys[::-1]])
    tr = transformer(grid.crs.to_string(), index.crs)
    x, y = tr.transform(ring_x, ring_y)
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        return shapely.Polygon()
    return shapely.make_valid(shapely.Polygon(np.column_stack([x, y])))


def read_mosaic_tile(
    index_path: str,
    overview_path: str,
    grid: Grid,
    z: int,
    x: int,
    y: int,
    tile_size: int = 256,
    version: str = "",
    max_sheets: int = MAX_SHEETS,
) -> MosaicTile:
    """The RGB pixels of tile ``z/x/y`` of a mosaic (see the module's description).

    Raises
    ------
    ArtifactError
        When the index, the overview or a sheet cannot be read.
    """
    index = _indexes.get_or_create(
        (index_path, version), partial(load_index, index_path, overview_path)
    )
    bounds = grid.tile_bounds(z, x, y)
    area = _tile_area(index, grid, bounds)
    if area.is_empty:
        return MosaicTile(None)
    pixel = math.sqrt(area.area) / tile_size
    if pixel >= index.overview_resolution:
        data = _read(overview_path, version, grid, bounds, tile_size)
        return MosaicTile(_image(data), overview=True)
    under = index.sheets_under(area)
    out = np.zeros((3, tile_size, tile_size), dtype=np.uint8)
    filled = np.zeros((tile_size, tile_size), dtype=bool)
    tile = MosaicTile(None)
    for i in under[:max_sheets]:
        data = _read(index.files[i], version, grid, bounds, tile_size)
        tile.sheets.append(index.files[i])
        todo = ~np.ma.getmaskarray(data).any(axis=0) & ~filled
        out[:, todo] = np.ma.getdata(data)[:, todo]
        filled |= todo
        if filled.all():
            break
    else:
        tile.left_out = max(0, len(under) - max_sheets)
    if tile.left_out:
        data = _read(overview_path, version, grid, bounds, tile_size)
        tile.overview = True
        todo = ~np.ma.getmaskarray(data).any(axis=0) & ~filled
        out[:, todo] = np.ma.getdata(data)[:, todo]
        filled |= todo
    if filled.any():
        tile.image = ImageData(np.ma.MaskedArray(out, mask=np.broadcast_to(~filled, out.shape)))
    return tile


def _image(data: np.ma.MaskedArray) -> ImageData | None:
    mask = np.ma.getmaskarray(data).any(axis=0)
    if mask.all():
        return None
    return ImageData(np.ma.MaskedArray(np.ma.getdata(data), mask=np.broadcast_to(mask, data.shape)))


def background(style: dict[str, object]) -> tuple[int, int, int]:
    """The fill of a JPEG tile's empty pixels: the style's ``background`` (``#rrggbb``), or white.

    Examples
    --------
    >>> background({"background": "#102030"}), background({})
    ((16, 32, 48), (255, 255, 255))
    """
    hint = style.get("background")
    if isinstance(hint, str) and len(hint) == 7 and hint.startswith("#"):
        try:
            return (int(hint[1:3], 16), int(hint[3:5], 16), int(hint[5:7], 16))
        except ValueError:
            pass
    return WHITE


def encode(image: ImageData, fmt: str, fill: tuple[int, int, int] = WHITE) -> bytes:
    """``image`` as PNG or WebP (empty pixels transparent) or JPEG (empty pixels ``fill``)."""
    if fmt != "jpg":
        return image.render(img_format=FORMATS[fmt])
    data = np.ma.getdata(image.array).copy()
    empty = np.ma.getmaskarray(image.array).any(axis=0)
    for band, value in enumerate(fill):
        data[band][empty] = value
    return ImageData(data).render(add_mask=False, img_format="JPEG")
