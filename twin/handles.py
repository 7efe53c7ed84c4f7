"""What ``Twin`` hands out when you read the published map: plain views, nothing built.

- :class:`Layers` is what ``Twin.layers`` returns: a read-only mapping of layer
  name to catalog entry whose HTML form (``_repr_html_``) is a table of kind,
  version, features or pixels, bounds and fields.
- :class:`Raster` is what ``Twin.layer`` returns for a raster layer: a light
  handle on its COG that reads, and plots, only when asked.
- :func:`cmap_name` turns a layer's ``colormap`` style hint into a matplotlib
  colormap name, for :meth:`Raster.plot` and the maps of :mod:`twin.notebook`.

These live beside the workspace, not in :mod:`twin.notebook`, because ``Twin``
returns them: the notebook package builds on ``Twin``, never the reverse.
"""

from __future__ import annotations

import html
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from layers.types import RasterData
from tiles.catalog import LayerEntry

if TYPE_CHECKING:  # pandas loads when a table is asked for, not with every workspace
    import pandas as pd

__all__ = ["Layers", "Raster", "cmap_name"]


#: Field lists longer than this fold into a <details> element in the HTML table.
_FIELDS_SHOWN = 8


# -- the layer listing --------------------------------------------------------------------------


class Layers(Mapping[str, LayerEntry]):
    """Every published layer's catalog entry, by name, with a table for notebooks.

    It behaves like the ``dict`` it wraps (``layers["roads"].version``,
    ``list(layers)``, ``layers.items()``) and is read-only: layers change by
    building, not by editing this mapping.

    Examples
    --------
    >>> layers = Layers({}, workspace="Demo")
    >>> len(layers), layers.to_frame().empty
    (0, True)
    """

    def __init__(
        self, entries: Mapping[str, LayerEntry], workspace: str = "", updated: str = ""
    ) -> None:
        self._entries = dict(entries)
        self.workspace = workspace
        self.updated = updated

    def __getitem__(self, name: str) -> LayerEntry:
        return self._entries[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def to_frame(self) -> pd.DataFrame:
        """One row per layer: title, kind, version, count, geometry or bands, bounds, fields."""
        import pandas as pd

        rows = []
        for name, e in self._entries.items():
            rows.append(
                {
                    "name": name,
                    "title": e.title,
                    "kind": e.kind,
                    "version": e.version,
                    "count": e.count,
                    "geometry": e.geometry_type if e.kind == "vector" else _bands_text(e),
                    "crs": e.crs,
                    "bounds": tuple(e.bounds),
                    "fields": len(e.fields),
                    "parent": e.parent,
                }
            )
        columns = ["title", "kind", "version", "count", "geometry", "crs", "bounds", "fields"]
        frame = pd.DataFrame(rows, columns=["name", *columns, "parent"])
        return frame.set_index("name")

    def __repr__(self) -> str:
        if not self._entries:
            return f"<Layers of {self.workspace!r}: none published yet>"
        lines = [f"<Layers of {self.workspace!r}: {len(self)} published>"]
        width = max(len(n) for n in self._entries)
        for name, e in self._entries.items():
            lines.append(f"  {name:<{width}}  {e.kind:<6}  {e.version}  {_count_text(e)}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        esc = html.escape
        head = f"{len(self)} layer{'s' if len(self) != 1 else ''}"
        if self.workspace:
            head += f" in <b>{esc(self.workspace)}</b>"
        if self.updated:
            head += f", updated {esc(self.updated)}"
        if not self._entries:
            return f"<div class='twin-layers'><p>{head}: none published yet (run build).</p></div>"
        columns = ["layer", "kind", "version", "features / pixels", "bounds (WGS84)", "fields"]
        header = "".join(f"<th style='text-align:left'>{c}</th>" for c in columns)
        rows = "".join(_html_row(name, e) for name, e in self._entries.items())
        return (
            "<div class='twin-layers'>"
            f"<p>{head}</p>"
            f"<table><thead><tr>{header}</tr></thead><tbody>{rows}</tbody></table>"
            "</div>"
        )


def _count_text(e: LayerEntry) -> str:
    if e.count is None:
        return ""
    if e.kind == "vector":
        return f"{e.count:,} feature{'s' if e.count != 1 else ''}"
    res = f" at {e.resolution:g} m" if e.resolution else ""
    return f"{e.count:,} pixels{res}"


def _bands_text(e: LayerEntry) -> str:
    return ", ".join(f"{b.name} ({b.unit})" if b.unit else b.name for b in e.bands)


def _html_row(name: str, e: LayerEntry) -> str:
    esc = html.escape
    w, s, east, n = e.bounds
    bounds = f"{w:.4f}, {s:.4f}, {east:.4f}, {n:.4f}"
    layer = f"<b>{esc(name)}</b><br><small>{esc(e.title)}</small>"
    if e.parent:
        layer += f"<br><small>(built with {esc(e.parent)})</small>"
    kind = esc(e.kind)
    if e.kind == "vector" and e.geometry_type:
        kind += f"<br><small>{esc(e.geometry_type)}</small>"
    if e.kind == "raster":
        items = [
            f"{esc(b.name)} <small>{esc(b.dtype)}{', ' + esc(b.unit) if b.unit else ''}</small>"
            for b in e.bands
        ]
        label = f"{len(e.bands)} band{'s' if len(e.bands) != 1 else ''}"
    else:
        items = [f"{esc(f)} <small>{esc(t)}</small>" for f, t in e.fields.items()]
        label = f"{len(e.fields)} field{'s' if len(e.fields) != 1 else ''}"
    fields = ", ".join(items)
    if len(items) > _FIELDS_SHOWN:
        fields = f"<details><summary>{label}</summary>{fields}</details>"
    cells = [layer, kind, esc(e.version), esc(_count_text(e)), esc(bounds), fields]
    return "<tr>" + "".join(f"<td style='text-align:left'>{c}</td>" for c in cells) + "</tr>"


# -- a raster layer -----------------------------------------------------------------------------


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
        import rasterio  # imported when a raster is opened: a workspace starts without it

        with rasterio.open(self.path) as src:
            return dict(src.profile)

    def read(self, band: int | None = None, masked: bool = True) -> np.ndarray:
        """Pixel values: one band (1-based) as 2-D, or all bands as 3-D; nodata masked."""
        import rasterio

        with rasterio.open(self.path) as src:
            return src.read(band, masked=masked)

    def data(self) -> RasterData:
        """The whole raster with its georeferencing, for the functions in :mod:`layers`."""
        from layers.raster import read_raster

        return read_raster(self.path)

    def plot(self, band: int = 1, ax: Any = None, cmap: str | None = None, **kwargs: Any) -> Any:
        """Draw one band with matplotlib, in the raster's CRS, with a colour bar."""
        import matplotlib.pyplot as plt
        import rasterio

        with rasterio.open(self.path) as src:
            values = src.read(band, masked=True)
            west, south, east, north = src.bounds
        if ax is None:
            _, ax = plt.subplots(figsize=(8, 6))
        # Style hints use rio-tiler's lower-case names ("rdylgn"); matplotlib wants "RdYlGn".
        cmap = cmap or cmap_name(self.entry.style.get("colormap", "viridis"))
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


# -- style hints --------------------------------------------------------------------------------


def cmap_name(name: str) -> str:
    """The matplotlib colormap for a layer's ``colormap`` style hint; ``viridis`` if none fits.

    Style hints use rio-tiler's names, which are matplotlib's in lower case.

    Examples
    --------
    >>> cmap_name("rdylgn"), cmap_name("terrain"), cmap_name("no-such-map")
    ('RdYlGn', 'terrain', 'viridis')
    """
    from matplotlib import colormaps

    if name in colormaps:
        return name
    lower = {n.lower(): n for n in colormaps}
    return lower.get(str(name).lower(), "viridis")
