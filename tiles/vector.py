"""Vector layers: GeoParquet artifacts indexed per grid and cut into MVT layers.

A :class:`VectorSource` is one layer version reprojected into one grid's CRS
with an STRtree over its geometries. It is built once per (artifact, version,
grid) and kept in a small LRU (:class:`SourceCache`); a new version of a layer
has a new key, so a rebuild never reuses a stale index.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely

from tiles._geoparquet import GeoTable, read_geoparquet, to_crs
from tiles._lru import LRU
from tiles._mvt_kernel import points_in_box, points_to_tile
from tiles.errors import ArtifactError
from tiles.grids import Grid
from tiles.mvt import LayerEncoder, PropertyTable, to_tile_coords


@dataclass(frozen=True)
class VectorSource:
    """One layer version in one grid: geometries, ids, properties and a spatial index."""

    name: str
    version: str
    geoms: np.ndarray
    ids: np.ndarray
    #: (name, values as Python objects) per property column, in column order
    columns: tuple[tuple[str, list[Any]], ...]
    tree: shapely.STRtree
    #: the same properties factorised once, so that tiles only gather codes
    table: PropertyTable | None = None
    #: a layer of single points: (x, y) by row, and x ascending with y and row in that order
    points: tuple[np.ndarray, ...] | None = None

    def __len__(self) -> int:
        return len(self.geoms)

    def layer(
        self,
        bounds: tuple[float, float, float, float],
        extent: int,
        buffer: int,
        simplify: float,
        name: str | None = None,
    ) -> LayerEncoder:
        """The MVT layer of the features within ``bounds`` (plus the buffer)."""
        encoder = LayerEncoder(name or self.name, extent)
        xmin, ymin, xmax, ymax = bounds
        pad_x = (xmax - xmin) * buffer / extent
        pad_y = (ymax - ymin) * buffer / extent
        box = (xmin - pad_x, ymin - pad_y, xmax + pad_x, ymax + pad_y)
        if self.points is not None and self.table is not None:
            return self._point_layer(encoder, bounds, box, buffer)
        hits = np.sort(self.tree.query(shapely.box(*box), predicate="intersects"))
        if len(hits) == 0:
            return encoder
        tile_geoms = to_tile_coords(self.geoms[hits], bounds, extent, buffer, simplify)
        if self.table is not None:
            encoder.add_columns(tile_geoms, self.ids[hits], self.table, hits)
            return encoder
        rows = hits.tolist()
        props = ([(col, values[i]) for col, values in self.columns] for i in rows)
        encoder.add_many(tile_geoms, self.ids[hits].tolist(), props)
        return encoder

    def _point_layer(
        self,
        encoder: LayerEncoder,
        bounds: tuple[float, float, float, float],
        box: tuple[float, float, float, float],
        buffer: int,
    ) -> LayerEncoder:
        """Points need no GEOS: a range of x-sorted points, affine and rounding in the kernel.

        The same features and coordinates as :func:`tiles.mvt.to_tile_coords` gives
        for the points the spatial index finds in ``box``.
        """
        assert self.points is not None and self.table is not None
        x, y, xs, ys, order = self.points
        hits = points_in_box(xs, ys, order, box)
        if len(hits) == 0:
            return encoder
        xmin, ymin, xmax, ymax = bounds
        extent = encoder.extent
        xy, inside = points_to_tile(
            x[hits],
            y[hits],
            xmin,
            ymax,
            extent / (xmax - xmin),
            extent / (ymax - ymin),
            -buffer,
            extent + buffer,
        )
        hits = hits[inside]
        encoder.add_points(xy[inside], self.ids[hits], self.table, hits)
        return encoder


def _point_index(geoms: np.ndarray) -> tuple[np.ndarray, ...] | None:
    """``VectorSource.points`` of a layer of single points, else None."""
    if len(geoms) == 0 or not (shapely.get_type_id(geoms) == 0).all():
        return None
    xy = shapely.get_coordinates(geoms)
    order = np.argsort(xy[:, 0], kind="stable")
    x, y = np.ascontiguousarray(xy[:, 0]), np.ascontiguousarray(xy[:, 1])
    return x, y, x[order], y[order], order


def _feature_ids(table: GeoTable) -> np.ndarray:
    """An ``id`` column of unique non-negative integers when there is one, else row numbers."""
    ids = table.integers("id")
    if ids is not None and (ids >= 0).all() and len(np.unique(ids)) == len(ids):
        return ids.astype(np.uint64)
    return np.arange(len(table), dtype=np.uint64)


def load_source(path: str, name: str, version: str, grid: Grid) -> VectorSource:
    """Read a GeoParquet artifact, reproject it to ``grid`` and index it.

    Properties are plain Python values typed for MVT (:mod:`tiles._geoparquet`).

    Raises
    ------
    ArtifactError
        When the file cannot be read or has no CRS.
    """
    try:
        table = read_geoparquet(path)
    except Exception as exc:  # pyarrow, shapely and pyproj raise many kinds: all "unreadable"
        raise ArtifactError(f"{path}: cannot read layer {name!r} as GeoParquet: {exc}") from None
    if table.crs is None:
        raise ArtifactError(f"{path}: layer {name!r} has no CRS")
    # ids come from the full table so that a row keeps its id whether or not others are empty
    keep = ~(shapely.is_missing(table.geometry) | shapely.is_empty(table.geometry))
    ids = _feature_ids(table)[keep]
    geoms = to_crs(table.geometry[keep], table.crs, grid.crs)
    columns = table.columns
    if not keep.all():
        columns = tuple((col, list(itertools.compress(values, keep))) for col, values in columns)
    return VectorSource(
        name=name,
        version=version,
        geoms=geoms,
        ids=ids,
        columns=columns,
        tree=shapely.STRtree(geoms),
        table=PropertyTable.factorise(columns, len(geoms)),
        points=_point_index(geoms),
    )


class SourceCache:
    """A bounded LRU of :class:`VectorSource` with one build per key at a time.

    Parameters
    ----------
    max_items
        How many (layer version, grid) indexes to keep in memory.
    """

    def __init__(self, max_items: int = 32) -> None:
        self.max_items = max_items
        self._items: LRU[tuple[str, str, str], VectorSource] = LRU(max_items)
        self.builds = 0
        self._count_lock = threading.Lock()

    def get(
        self,
        key: tuple[str, str, str],
        build: Callable[[], VectorSource],
    ) -> VectorSource:
        """The source for ``key`` (path, version, grid id), building it once if needed."""

        def counted() -> VectorSource:
            source = build()
            with self._count_lock:  # builds of different keys run at the same time
                self.builds += 1
            return source

        return self._items.get_or_create(key, counted)
