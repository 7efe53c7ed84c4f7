"""Land cover for the coverage model: per-class extra loss and obstacle height on the grid.

A land-cover input is either polygons with a class column or a raster of
classes. Classes are named (``forest``, ``dense_urban``...) or coded, with a
``{code: name}`` mapping. Each class has an extra loss at the receiver, dB,
and a nominal clutter height, m, which the terrain sweep can add to the
obstacle surface (never to the antenna's or the receiver's ground height).

The default table
-----------------
=============  ========  ========  ==============================================
class          loss dB   height m  note
=============  ========  ========  ==============================================
water          0         0         open water
open           0         0         bare land, grass
farmland       2         0         crops (P.452: 4 m for high crops, seasonal)
orchard        6         5         P.452 "orchard"
forest         12        15        P.452 "mixed tree forest"
village        6         9         low houses and yards (P.452 "suburban")
suburban       8         9         P.452 "suburban"
urban          10        20        P.452 "urban"
dense_urban    14        25        P.452 "dense urban"
industrial     10        20        P.452 "industrial zone"
=============  ========  ========  ==============================================

The heights are the nominal clutter heights of ITU-R P.452-17 Table 4 (the
same categories P.1812 uses for its terminal clutter). The losses are of the
size planning tools ship as default clutter offsets at 2-4 GHz, on top of a
model that already holds the environment's mean loss (TR 38.901 UMa/RMa); they
are not measured in any county: they are starting values for calibration
against drive tests, and every value can be overridden per class
(``clutter_loss_db = { forest = 12 }``, ``clutter_height_m = { forest = 18 }``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import rasterio.features
from numpy.typing import NDArray
from rasterio.warp import Resampling, reproject

from layers.errors import ParameterError, SourceError
from layers.types import RasterData

#: class -> (extra loss at the receiver, dB; nominal clutter height, m); see the module doc.
DEFAULT_CLUTTER: dict[str, tuple[float, float]] = {
    "water": (0.0, 0.0),
    "open": (0.0, 0.0),
    "farmland": (2.0, 0.0),
    "orchard": (6.0, 5.0),
    "forest": (12.0, 15.0),
    "village": (6.0, 9.0),
    "suburban": (8.0, 9.0),
    "urban": (10.0, 20.0),
    "dense_urban": (14.0, 25.0),
    "industrial": (10.0, 20.0),
}

#: Class value of pixels no land-cover feature covers (no extra loss, no height).
NO_CLASS = -1


def class_name(value: object) -> str:
    """A class name as the table spells it: lower case, words joined by ``_``."""
    return re.sub(r"[\s\-]+", "_", str(value).strip().lower())


@dataclass(frozen=True)
class ClutterTable:
    """Per-class loss and height, in the order of the class indices."""

    names: tuple[str, ...]
    loss_db: NDArray[np.float32]
    height_m: NDArray[np.float32]

    def index(self, name: object, origin: str) -> int:
        """The index of class ``name``; an error naming it when the table has no such class."""
        key = class_name(name)
        try:
            return self.names.index(key)
        except ValueError:
            known = ", ".join(self.names)
            raise ParameterError(
                f"{origin}: unknown clutter class {name!r} (known: {known}; "
                "add it with clutter_loss_db)"
            ) from None


def clutter_table(
    loss_db: Mapping[str, float] | None = None, height_m: Mapping[str, float] | None = None
) -> ClutterTable:
    """The default table with ``loss_db`` and ``height_m`` overriding (or adding) classes.

    A class added by ``loss_db`` alone has no height; one added by ``height_m`` alone
    is an error (its loss would be a guess).
    """
    table = {k: list(v) for k, v in DEFAULT_CLUTTER.items()}
    for name, value in (loss_db or {}).items():
        if value < 0:
            raise ParameterError(f"clutter_loss_db: {name} = {value}; losses must be ≥ 0 dB")
        table.setdefault(class_name(name), [0.0, 0.0])[0] = float(value)
    for name, value in (height_m or {}).items():
        key = class_name(name)
        if key not in table:
            raise ParameterError(
                f"clutter_height_m: unknown clutter class {name!r} (give its clutter_loss_db too)"
            )
        if value < 0:
            raise ParameterError(f"clutter_height_m: {name} = {value}; heights must be ≥ 0 m")
        table[key][1] = float(value)
    names = tuple(table)
    values = np.array([table[n] for n in names], dtype=np.float32)
    return ClutterTable(names, values[:, 0].copy(), values[:, 1].copy())


@dataclass
class ClutterGrid:
    """Land-cover classes on the model grid, with their loss and height.

    Attributes
    ----------
    classes
        Class index per pixel into ``names`` (int16), :data:`NO_CLASS` where none.
    names
        Class names by index.
    loss_db, height_m
        Per-pixel extra loss, dB, and clutter height, m (float32; 0 where no class).
    like
        The grid (transform and CRS of the model's DEM).
    """

    classes: NDArray[np.int16]
    names: tuple[str, ...]
    loss_db: NDArray[np.float32]
    height_m: NDArray[np.float32]
    like: RasterData

    def at(self, x: NDArray[np.floating], y: NDArray[np.floating]) -> NDArray[np.object_]:
        """Class names at map points ``(x, y)`` in the grid's CRS (``None`` off the grid/class)."""
        cols, rows = ~self.like.transform * (np.asarray(x, float), np.asarray(y, float))
        r, c = np.floor(rows).astype(int), np.floor(cols).astype(int)
        h, w = self.classes.shape
        ok = (r >= 0) & (r < h) & (c >= 0) & (c < w)
        idx = np.full(r.shape, NO_CLASS, dtype=int)
        idx[ok] = self.classes[r[ok], c[ok]]
        lookup = np.array([*self.names, None], dtype=object)
        return lookup[np.where(idx == NO_CLASS, len(self.names), idx)]

    def shares(self) -> dict[str, float]:
        """Share of the grid's pixels in each class (and ``none``), for the build log."""
        counts = np.bincount(self.classes.ravel() + 1, minlength=len(self.names) + 1)
        total = max(int(counts.sum()), 1)
        out = {"none": float(counts[0] / total)} if counts[0] else {}
        out.update(
            {n: float(counts[i + 1] / total) for i, n in enumerate(self.names) if counts[i + 1]}
        )
        return out


def landcover_grid(
    landcover: RasterData | gpd.GeoDataFrame,
    like: RasterData,
    table: ClutterTable,
    *,
    column: str = "class",
    codes: Mapping[str, str] | None = None,
    origin: str = "landcover",
) -> ClutterGrid:
    """Land cover (polygons with a class ``column``, or a class raster) on ``like``'s grid.

    Parameters
    ----------
    landcover
        Polygons (any CRS) whose ``column`` holds class names or codes, or a raster of
        class codes (band 1; its nodata is "no class").
    like
        The model grid.
    table
        Per-class loss and height (:func:`clutter_table`).
    column
        The polygons' class column.
    codes
        ``{code: name}`` for coded classes (keys compared as text: ``"11"`` matches 11).
    origin
        The input's name in error messages.

    Raises
    ------
    SourceError
        No class column.
    ParameterError
        A class (or a code's name) that the table does not hold.
    """
    if isinstance(landcover, gpd.GeoDataFrame):
        classes = _polygons(landcover, like, table, column, codes, origin)
    else:
        classes = _raster(landcover, like, table, codes, origin)
    valid = classes != NO_CLASS
    loss = np.zeros(classes.shape, dtype=np.float32)
    height = np.zeros(classes.shape, dtype=np.float32)
    loss[valid] = table.loss_db[classes[valid]]
    height[valid] = table.height_m[classes[valid]]
    return ClutterGrid(classes, table.names, loss, height, like)


def _lookup(
    values: object, table: ClutterTable, codes: Mapping[str, str] | None, origin: str
) -> dict[object, int]:
    """Table index of each distinct value (a name, or a code through ``codes``)."""
    mapping = {str(k).strip(): v for k, v in (codes or {}).items()}
    out: dict[object, int] = {}
    for value in values:  # type: ignore[attr-defined]
        text = _code_text(value)
        if mapping:
            if text not in mapping:
                raise ParameterError(f"{origin}: clutter code {text!r} is not in clutter_classes")
            out[value] = table.index(mapping[text], f"{origin} (code {text})")
        else:
            out[value] = table.index(value, origin)
    return out


def _code_text(value: object) -> str:
    """A code as text, whole floats without their ``.0`` (a raster of codes read as floats)."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value).strip()


def _polygons(
    gdf: gpd.GeoDataFrame,
    like: RasterData,
    table: ClutterTable,
    column: str,
    codes: Mapping[str, str] | None,
    origin: str,
) -> NDArray[np.int16]:
    if column not in gdf.columns:
        raise SourceError(f"{origin}: no class column {column!r} (set params.clutter_column)")
    gdf = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty & gdf[column].notna()]
    if gdf.crs is not None and like.crs is not None:
        gdf = gdf.to_crs(like.crs)
    index = _lookup(gdf[column].unique(), table, codes, origin)
    shapes = [(g, index[v] + 1) for g, v in zip(gdf.geometry, gdf[column], strict=True)]
    if not shapes:
        return np.full((like.height, like.width), NO_CLASS, dtype=np.int16)
    # Later features draw over earlier ones (a lake inside a forest polygon: list it after).
    burnt = rasterio.features.rasterize(
        shapes, out_shape=(like.height, like.width), transform=like.transform, dtype="int16"
    )
    return (burnt - 1).astype(np.int16)


def _raster(
    raster: RasterData,
    like: RasterData,
    table: ClutterTable,
    codes: Mapping[str, str] | None,
    origin: str,
) -> NDArray[np.int16]:
    if not codes:
        raise ParameterError(f"{origin}: a class raster needs clutter_classes = {{code = name}}")
    nodata = -2147483648
    codes_on_grid = np.full((like.height, like.width), nodata, dtype=np.int32)
    src = raster.data[0]
    if not np.issubdtype(src.dtype, np.integer):
        finite = src[np.isfinite(src)]
        if raster.nodata is not None:
            finite = finite[finite != raster.nodata]
        if finite.size and not np.all(np.equal(np.mod(finite, 1), 0)):
            raise SourceError(f"{origin}: a class raster holds whole codes, found fractions")
    # Nearest neighbour: classes are labels, not quantities to interpolate.
    reproject(
        source=np.nan_to_num(src, nan=nodata).astype(np.int32),
        destination=codes_on_grid,
        src_transform=raster.transform,
        src_crs=raster.crs,
        src_nodata=nodata if raster.nodata is None else int(raster.nodata),
        dst_transform=like.transform,
        dst_crs=like.crs,
        dst_nodata=nodata,
        resampling=Resampling.nearest,
    )
    present = np.unique(codes_on_grid)
    present = present[present != nodata]
    index = _lookup([int(v) for v in present], table, codes, origin)
    out = np.full(codes_on_grid.shape, NO_CLASS, dtype=np.int16)
    for code, i in index.items():
        out[codes_on_grid == code] = i
    return out


__all__ = [
    "DEFAULT_CLUTTER",
    "NO_CLASS",
    "ClutterGrid",
    "ClutterTable",
    "class_name",
    "clutter_table",
    "landcover_grid",
]
