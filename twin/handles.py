"""What ``Twin.layer`` returns for a raster layer: a light handle on its COG."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio

from layers.raster import read_raster
from layers.types import RasterData
from tiles.catalog import LayerEntry


@dataclass(frozen=True)
class Raster:
    """A published raster layer. Nothing is read until asked.

    Examples
    --------
    >>> dem = twin.layer("dem")  # doctest: +SKIP
    >>> dem.read(1).max()  # doctest: +SKIP
    """

    name: str
    path: Path
    entry: LayerEntry

    @property
    def profile(self) -> dict[str, Any]:
        """The rasterio profile of the COG (driver, size, CRS, transform, nodata ...)."""
        with rasterio.open(self.path) as src:
            return dict(src.profile)

    def read(self, band: int | None = None, masked: bool = True) -> np.ndarray:
        """Pixel values: one band (1-based) as 2-D, or all bands as 3-D; nodata masked."""
        with rasterio.open(self.path) as src:
            return src.read(band, masked=masked)

    def data(self) -> RasterData:
        """The whole raster with its georeferencing, for the functions in :mod:`layers`."""
        return read_raster(self.path)

    def plot(self, band: int = 1, ax: Any = None, cmap: str | None = None, **kwargs: Any) -> Any:
        """Draw one band with matplotlib, in the raster's CRS, with a colour bar."""
        import matplotlib.pyplot as plt

        with rasterio.open(self.path) as src:
            values = src.read(band, masked=True)
            west, south, east, north = src.bounds
        if ax is None:
            _, ax = plt.subplots(figsize=(8, 6))
        from twin.notebook._explore import _cmap_name

        # Style hints use rio-tiler's lower-case names ("rdylgn"); matplotlib wants "RdYlGn".
        cmap = cmap or _cmap_name(self.entry.style.get("colormap", "viridis"))
        rescale = self.entry.style.get("rescale")
        if rescale and len(rescale) == 2:
            kwargs.setdefault("vmin", float(rescale[0]))
            kwargs.setdefault("vmax", float(rescale[1]))
        image = ax.imshow(values, extent=(west, east, south, north), cmap=cmap, **kwargs)
        unit = self.entry.bands[band - 1].unit if self.entry.bands else None
        ax.figure.colorbar(image, ax=ax, label=unit or "")
        ax.set_title(self.entry.title)
        return ax

    def __repr__(self) -> str:
        e = self.entry
        return f"<Raster {self.name!r} version={e.version} bands={len(e.bands)} crs={e.crs}>"
