"""Buildings: footprints with a height in metres, from a height column or floors x 3 m.

A building layer is a generic ``vector`` layer whose ``height`` parameter
(:class:`HeightParams`) asks for a ``height_m`` column, which the viewer
stands up in 3D. The height comes from the source's height column (``height``,
``高度``, ``建筑高度`` ...), else from its floor count (``floors``, ``层数``
...) times :attr:`HeightParams.floor_height`, row by row: a row whose height
is missing or unusable falls back to its floors.

A negative height or floor count, one above :attr:`HeightParams.max_height`
(absurd for a county), or a value that is not a number is never drawn: the
row keeps no height, and :class:`HeightReport` counts it, so the builder can
say how many.

Examples
--------
>>> import geopandas as gpd, shapely
>>> gdf = gpd.GeoDataFrame(
...     {"高度": [12.5, None, -4, 900], "层数": [4, 6, 2, None]},
...     geometry=[shapely.box(0, 0, 10, 10)] * 4, crs="EPSG:4549")
>>> out, report = building_heights(gdf, HeightParams())
>>> out["height_m"].tolist()
[12.5, 18.0, 6.0, nan]
>>> report.from_height, report.from_floors, report.negative, report.absurd, report.missing
(1, 2, 1, 1, 1)
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import geopandas as gpd
import numpy as np
import pandas as pd

from layers.errors import ValidationError
from layers.labels import Label
from layers.tables import header_key
from layers.vector_params import HeightParams

#: the column a building layer's heights are published in
HEIGHT_FIELD = "height_m"
#: headers read as a height in metres, in order of preference (compared by ``header_key``)
HEIGHT_COLUMNS = (
    "height_m",
    "height",
    "bldg_height",
    "building_height",
    "高度",
    "建筑高度",
    "房屋高度",
    "楼高",
)
#: headers read as a number of floors (storeys above ground)
FLOORS_COLUMNS = (
    "floors",
    "levels",
    "building:levels",
    "storeys",
    "stories",
    "层数",
    "楼层数",
    "建筑层数",
    "地上层数",
    "楼层",
)
#: labels of the fields a building layer has
BUILDING_FIELDS = {
    HEIGHT_FIELD: Label("高度", "Height", "m", "米"),
    "floors": Label("层数", "Floors"),
}


@dataclass
class HeightReport:
    """Where each building's height came from, and how many were unusable."""

    from_height: int = 0
    from_floors: int = 0
    missing: int = 0
    """Rows left without a height (none given, or none usable)."""
    negative: int = 0
    """Negative heights or floor counts."""
    absurd: int = 0
    """Heights (or floors x floor height) above ``max_height``."""
    not_number: int = 0
    """Values that are not numbers (``"12m"``, ``"高"``)."""

    def as_stats(self) -> dict[str, int]:
        return {f"height_{f.name}": getattr(self, f.name) for f in fields(self)}

    def add(self, other: HeightReport) -> None:
        """Count ``other``'s rows too (partitions of one source)."""
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def problems(self, rows: int, max_height: float) -> str | None:
        """A sentence counting the unusable values, or None when every value was usable."""
        parts = []
        if self.negative:
            parts.append(f"{self.negative:,} negative")
        if self.absurd:
            parts.append(f"{self.absurd:,} above {max_height:g} m")
        if self.not_number:
            parts.append(f"{self.not_number:,} not a number")
        if not parts:
            return None
        return f"{', '.join(parts)} of {rows:,} building heights or floor counts: not drawn"


def _find(gdf: pd.DataFrame, wanted: str | None, candidates: tuple[str, ...], origin: str) -> str:
    """The column ``wanted`` (which must exist), else the first header among ``candidates``."""
    if wanted is not None:
        if wanted not in gdf.columns:
            raise ValidationError(f"{origin}: no column {wanted!r} for building heights")
        return wanted
    keys: dict[str, str] = {}
    for c in gdf.columns:
        keys.setdefault(header_key(c), str(c))
    return next((keys[name] for name in candidates if name in keys), "")


def _metres(values: pd.Series, scale: float, max_height: float, report: HeightReport) -> np.ndarray:
    """``values`` as metres (NaN where unusable), counting the unusable ones in ``report``."""
    numbers = pd.to_numeric(values, errors="coerce").astype("float64").to_numpy() * scale
    given = values.notna().to_numpy() & (values.astype(str).str.strip() != "").to_numpy()
    report.not_number += int((given & np.isnan(numbers)).sum())
    report.negative += int((numbers < 0).sum())
    report.absurd += int((numbers > max_height).sum())
    # 0 is what many registers hold for "not surveyed": no height, not an error
    return np.where((numbers > 0) & (numbers <= max_height), numbers, np.nan)


def building_heights(
    gdf: gpd.GeoDataFrame, params: HeightParams, origin: str = "source"
) -> tuple[gpd.GeoDataFrame, HeightReport]:
    """``gdf`` with :data:`HEIGHT_FIELD`: metres from its height column, else floors x 3 m.

    Raises
    ------
    ValidationError
        When a named column is missing, or the layer has neither a height nor a
        floors column.
    """
    height_col = _find(gdf, params.column, HEIGHT_COLUMNS, origin)
    floors_col = _find(gdf, params.floors, FLOORS_COLUMNS, origin)
    if not height_col and not floors_col:
        raise ValidationError(
            f"{origin}: no building height column (one of {', '.join(HEIGHT_COLUMNS)}) "
            f"nor floors column (one of {', '.join(FLOORS_COLUMNS)}); "
            "set params.height.column or params.height.floors"
        )
    report = HeightReport()
    n = len(gdf)
    heights = np.full(n, np.nan)
    if height_col:
        heights = _metres(gdf[height_col], 1.0, params.max_height, report)
    report.from_height = int(np.isfinite(heights).sum())
    if floors_col:
        # the floors of a row whose height is usable are not judged: they are not used
        todo = ~np.isfinite(heights)
        if todo.any():
            by_floors = _metres(
                gdf[floors_col][todo], params.floor_height, params.max_height, report
            )
            heights[todo] = by_floors
            report.from_floors = int(np.isfinite(by_floors).sum())
    report.missing = int((~np.isfinite(heights)).sum())
    out = gdf.copy()
    out[HEIGHT_FIELD] = heights
    return out, report


__all__ = [
    "BUILDING_FIELDS",
    "FLOORS_COLUMNS",
    "HEIGHT_COLUMNS",
    "HEIGHT_FIELD",
    "HeightParams",
    "HeightReport",
    "building_heights",
]
