"""Per-zoom generalisation of a tile's features, in the spirit of tippecanoe.

Applied to one tile's features in tile units (:func:`tiles.mvt.to_tile_coords`
simplifies them to the tile's resolution; tiny polygons are handled there
before snapping, through its ``before_snap`` hook, since snapping would
collapse them):

- **tiny polygons**: a polygon smaller than ``tiny_polygon`` square pixels
  (a pixel is ``extent / 256`` tile units, one screen pixel of a 256 px tile)
  is not drawn as such; instead the areas of the tiny polygons of the tile are
  accumulated in feature order and each time the sum passes one pixel a
  one-pixel square is drawn where that polygon was, so that a field of specks
  keeps its density without costing one polygon each (tippecanoe's "tiny
  polygon reduction").
- **feature cap**: when a tile holds more than ``max_features`` features,
  features are dropped: the smallest first (``drop="smallest"``: by area for
  polygons, length for lines), or the densest (``drop="densest"``: keep one
  feature per grid cell, the cell growing until the cap holds).
- **byte cap**: :func:`byte_capped` retries the encoding with fewer features
  (by the same rule) until the encoded tile fits ``max_tile_bytes``.
- **attributes by zoom**: :meth:`Generalization.attributes_at` names the
  properties kept at a zoom (all of them when nothing is configured).

Examples
--------
>>> g = Generalization(attributes_by_zoom={0: ["name"], 12: ["name", "class"]})
>>> g.attributes_at(3), g.attributes_at(14), Generalization().attributes_at(3)
(('name',), ('name', 'class'), None)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import shapely

DROP_RULES = ("smallest", "densest")


@dataclass(frozen=True)
class Generalization:
    """How features are thinned per tile.

    Parameters
    ----------
    max_features
        Most features per tile (None: no cap).
    max_tile_bytes
        Most bytes per encoded, uncompressed tile (None: no cap).
    drop
        Which features go first when a cap is exceeded: ``"smallest"`` or ``"densest"``.
    tiny_polygon
        Polygons below this many square pixels are reduced (0: keep all).
    attributes_by_zoom
        Minimum zoom -> property names kept from that zoom on; below the lowest
        key, the lowest key's list applies.
    """

    max_features: int | None = None
    max_tile_bytes: int | None = None
    drop: str = "smallest"
    tiny_polygon: float = 1.0
    attributes_by_zoom: Mapping[int, Sequence[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.drop not in DROP_RULES:
            raise ValueError(f"drop {self.drop!r}: expected one of {', '.join(DROP_RULES)}")
        if self.max_features is not None and self.max_features < 1:
            raise ValueError(f"max_features {self.max_features}: expected at least 1")
        if self.max_tile_bytes is not None and self.max_tile_bytes < 64:
            raise ValueError(f"max_tile_bytes {self.max_tile_bytes}: expected at least 64")

    def attributes_at(self, z: int) -> tuple[str, ...] | None:
        """Property names kept at zoom ``z``; None means all."""
        if not self.attributes_by_zoom:
            return None
        zooms = sorted(int(k) for k in self.attributes_by_zoom)
        chosen = max((k for k in zooms if k <= z), default=zooms[0])
        by_int = {int(k): v for k, v in self.attributes_by_zoom.items()}
        return tuple(by_int[chosen])


def feature_size(geoms: np.ndarray) -> np.ndarray:
    """Area of polygons, length of lines, 0 for points (tile units)."""
    dims = shapely.get_dimensions(geoms)
    return np.where(dims == 2, shapely.area(geoms), np.where(dims == 1, shapely.length(geoms), 0))


def reduce_tiny_polygons(
    geoms: np.ndarray, starts: np.ndarray | None, extent: int, pixels: float
) -> np.ndarray:
    """Replace polygons under ``pixels`` square pixels by accumulated one-pixel squares.

    ``starts`` delimits the tiles (``geoms[starts[t]:starts[t + 1]]``, with the end as
    a last entry; None: one tile): each tile's running sum starts from zero.
    Returns a new array; a reduced polygon that does not get a square is empty.
    """
    if pixels <= 0 or len(geoms) == 0:
        return geoms
    px = extent / 256.0
    threshold = pixels * px * px
    area = shapely.area(geoms)
    tiny = (shapely.get_dimensions(geoms) == 2) & (area < threshold)
    if not tiny.any():
        return geoms
    out = geoms.copy()
    idx = np.flatnonzero(tiny)
    if starts is None or len(starts) <= 2:
        cum = np.cumsum(area[idx])
    else:  # the running sum of each tile (each tile's own cumsum: the same floats)
        tile = np.searchsorted(starts, idx, side="right")
        cut = np.flatnonzero(np.diff(tile)) + 1
        cum = np.concatenate([np.cumsum(a) for a in np.split(area[idx], cut)])
    # a square each time the running total passes another whole pixel
    emit = np.floor(cum / (px * px)) > np.floor((cum - area[idx]) / (px * px))
    out[idx] = shapely.Polygon()
    if emit.any():
        where = idx[emit]
        c = shapely.get_coordinates(shapely.point_on_surface(geoms[where]))
        half = px / 2
        # exterior counter-clockwise in (x, y-down) terms = positive shoelace, as the spec wants
        boxes = shapely.box(
            np.round(c[:, 0] - half),
            np.round(c[:, 1] - half),
            np.round(c[:, 0] + half),
            np.round(c[:, 1] + half),
        )
        out[where] = shapely.orient_polygons(boxes, exterior_cw=False)
    return out


def keep_order(geoms: np.ndarray, rule: str, extent: int) -> np.ndarray:
    """Feature indices ordered from the most to the least worth keeping."""
    n = len(geoms)
    if rule == "smallest":
        # largest first; ties (points) keep their source order
        return np.lexsort((np.arange(n), -feature_size(geoms)))
    # densest: rank features by how crowded their cell is at successively finer grids;
    # the first feature of each coarse cell ranks before all second features, and so on
    centers = shapely.get_coordinates(shapely.centroid(geoms))
    if len(centers) != n:  # empty geometries have no centroid coordinates
        centers = np.zeros((n, 2))
        ok = ~shapely.is_empty(geoms)
        centers[ok] = shapely.get_coordinates(shapely.centroid(geoms[ok]))
    rank = np.full(n, np.inf)
    for cells in (1, 2, 4, 8, 16, 32, 64, 128, 256):
        size = extent / cells
        cell = np.floor(centers / size).astype(np.int64)
        key = cell[:, 0] * 1_000_003 + cell[:, 1]
        _, first = np.unique(key, return_index=True)
        fresh = first[np.isinf(rank[first])]
        rank[fresh] = cells * n + np.arange(len(fresh))
    rank[np.isinf(rank)] = 1e18 + np.arange(int(np.isinf(rank).sum()))
    return np.argsort(rank, kind="stable")


def cap_features(geoms: np.ndarray, g: Generalization, extent: int) -> np.ndarray:
    """Indices (sorted) of the features kept under ``g.max_features``."""
    n = len(geoms)
    if g.max_features is None or n <= g.max_features:
        return np.arange(n)
    return np.sort(keep_order(geoms, g.drop, extent)[: g.max_features])


def byte_capped(
    geoms: np.ndarray,
    keep: np.ndarray,
    g: Generalization,
    extent: int,
    encode: Callable[[np.ndarray], bytes],
) -> bytes:
    """Encode ``keep`` and, while over ``g.max_tile_bytes``, encode fewer features."""
    data = encode(keep)
    if g.max_tile_bytes is None or len(data) <= g.max_tile_bytes or len(keep) <= 1:
        return data
    order = keep_order(geoms[keep], g.drop, extent)
    n = len(keep)
    for _ in range(12):
        n = max(1, int(n * 0.9 * g.max_tile_bytes / len(data)))
        data = encode(np.sort(keep[order[:n]]))
        if len(data) <= g.max_tile_bytes or n == 1:
            break
    return data
