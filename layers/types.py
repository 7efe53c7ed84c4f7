"""Shared types of the layer builders."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pyproj import CRS

from layers.crs import as_crs

if TYPE_CHECKING:  # affine (and attrs) load with rasterio, where rasters are read
    import geopandas as gpd
    from affine import Affine

#: west, south, east, north
BBox = tuple[float, float, float, float]


@dataclass
class RasterData:
    """A georeferenced raster held in memory.

    Parameters
    ----------
    data
        Array of shape ``(bands, height, width)``.
    transform
        Affine transform from pixel (col, row) to CRS coordinates.
    crs
        The raster's CRS.
    nodata
        The value that marks pixels without data, or ``None``.
    band_names
        One name per band (defaults to ``band1``, ``band2``, ...).
    units
        One unit per band, or ``None`` where unitless.
    tags
        Free metadata written with the raster (e.g. ``SYNTHETIC=yes``).
    """

    data: np.ndarray
    transform: Affine
    crs: CRS
    nodata: float | None = None
    band_names: list[str] = field(default_factory=list)
    units: list[str | None] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.data.ndim == 2:
            self.data = self.data[np.newaxis]
        if self.data.ndim != 3:
            raise ValueError(f"raster data must be 2-D or 3-D, got shape {self.data.shape}")
        self.crs = as_crs(self.crs)
        n = self.data.shape[0]
        if not self.band_names:
            self.band_names = [f"band{i + 1}" for i in range(n)]
        if not self.units:
            self.units = [None] * n
        if len(self.band_names) != n or len(self.units) != n:
            raise ValueError("band_names and units need one entry per band")

    @property
    def count(self) -> int:
        """Number of bands."""
        return int(self.data.shape[0])

    @property
    def height(self) -> int:
        return int(self.data.shape[1])

    @property
    def width(self) -> int:
        return int(self.data.shape[2])

    @property
    def resolution(self) -> tuple[float, float]:
        """Pixel size (x, y) in CRS units, both positive."""
        return abs(self.transform.a), abs(self.transform.e)

    @property
    def bounds(self) -> BBox:
        """Bounds in the raster's CRS."""
        t = self.transform
        xs = (t.c, t.c + t.a * self.width)
        ys = (t.f, t.f + t.e * self.height)
        return min(xs), min(ys), max(xs), max(ys)

    def valid_mask(self) -> np.ndarray:
        """Boolean array ``(bands, height, width)``: True where a pixel holds data."""
        return valid_pixels(self.data, self.nodata)

    def profile(self) -> dict[str, Any]:
        """A rasterio-style profile describing this raster."""
        return {
            "driver": "GTiff",
            "width": self.width,
            "height": self.height,
            "count": self.count,
            "dtype": str(self.data.dtype),
            "crs": self.crs,
            "transform": self.transform,
            "nodata": self.nodata,
        }


def valid_pixels(data: np.ndarray, nodata: float | None) -> np.ndarray:
    """True where ``data`` (any part of a raster's array) holds a value, not ``nodata``."""
    if nodata is None:
        valid = np.ones(data.shape, dtype=bool)
    elif np.isnan(nodata):
        valid = ~np.isnan(data)
    else:
        valid = data != nodata
    if np.issubdtype(data.dtype, np.floating):
        valid &= np.isfinite(data)
    return valid


#: the file name of a mosaic's county-wide overview COG
OVERVIEW_FILE = "overview.tif"


@dataclass
class Mosaic:
    """A built mosaic in ``directory``: ``sheets/*.tif``, the overview, and the index.

    The index is a GeoDataFrame of sheet footprints in the working CRS; its
    ``file`` column holds each sheet's path relative to ``directory``, and
    ``priority`` the order a reader tries sheets in (0 first: newest, then finest).
    """

    directory: Path
    index: gpd.GeoDataFrame
    resolution: float
    overview_resolution: float
    stats: dict[str, float | int | str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    overview: str = OVERVIEW_FILE

    @property
    def files(self) -> list[Path]:
        """Every file of the mosaic but its index: the overview, then each sheet."""
        return [self.directory / self.overview, *(self.directory / f for f in self.index["file"])]
