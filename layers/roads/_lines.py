"""The per-row stages of a roads layer from an OGR line source.

:func:`layers.roads.read_line_roads` keeps the line rows of the source,
projects them, cuts them at the clip polygon, explodes multi-lines, and
normalises their attributes: every row on its own (:func:`line_rows`). These
stages can run on partitions of the rows (:class:`LineBatch`, read with
:func:`layers.vector.read_vector`'s ``rows``) in other processes. What needs
every row runs once on the concatenated arrays (:func:`concat`): snapping
vertices to shared nodes (node ids number every distinct grid cell of the whole
source) and building the network.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from layers.roads import _tags as tags
from layers.roads._parts import _concat, normalise_columns
from layers.roads.filters import network_mask
from layers.vector import read_vector

#: Fields a line source can map to its own columns (see :func:`layers.roads.read_line_roads`).
LINE_FIELDS = (
    "road_class",
    "name",
    "ref",
    "lanes",
    "maxspeed",
    "oneway",
    "bridge",
    "tunnel",
    "surface",
    "layer",
)


@dataclass
class LineRows:
    """Polylines (exploded parts) of some rows: vertices, attributes, network filter."""

    n_lines: int
    """Source rows with a line geometry (before the clip)."""
    coords: np.ndarray
    counts: np.ndarray
    """Vertices of each polyline (``coords`` holds them polyline after polyline)."""
    columns: dict[str, Any]
    keep: np.ndarray
    """Polylines of the network type asked for."""


@dataclass
class LineBatch:
    """Rows ``rows`` of a line source and how to read and prepare them (picklable)."""

    path: str
    layer: str | None
    source_crs: str | None
    rows: tuple[int, int]
    columns: dict[str, str]
    crs: CRS
    clip: shapely.Geometry | None
    class_map: dict[str, str] | None
    network: str
    encoding: str | None = None


def line_stage(batch: LineBatch) -> LineRows:
    """Read one batch of rows and run the per-row stages on it."""
    gdf = read_vector(
        batch.path,
        layer=batch.layer,
        crs=batch.source_crs,
        rows=batch.rows,
        encoding=batch.encoding,
    )
    return line_rows(gdf, batch.columns, batch.crs, batch.clip, batch.class_map, batch.network)


def line_rows(
    gdf: gpd.GeoDataFrame,
    columns: dict[str, str],
    crs: CRS,
    clip: shapely.Geometry | None,
    class_map: dict[str, str] | None,
    network: str,
) -> LineRows:
    """The per-row stages; row ids (``osm_id``) are ``gdf``'s index (the source's row)."""
    is_line = np.isin(shapely.get_type_id(gdf.geometry.to_numpy()), [1, 5])
    gdf = gdf[is_line].to_crs(crs)
    if clip is not None:
        # Lines have few vertices, so cut them exactly at the boundary (OSM ways are cut
        # at their last node inside instead, keeping node ids real). sort: rows keep the
        # source's order, not the spatial index's, whatever rows are clipped together.
        gdf = gdf.clip(clip, sort=True)
        gdf = gdf[np.isin(shapely.get_type_id(gdf.geometry.to_numpy()), [1, 5])]
    gdf = gdf.explode(index_parts=False)
    gdf = gdf[~gdf.geometry.is_empty]
    coords, part = shapely.get_coordinates(gdf.geometry.to_numpy(), return_index=True)
    counts = np.bincount(part, minlength=len(gdf)).astype(np.int64)
    raw_class = _column(gdf, columns.get("road_class"))
    values = {k: _column(gdf, columns.get(k)) for k in LINE_FIELDS}
    values["junction"] = np.full(len(gdf), None, dtype=object)
    classes = tags.road_class(raw_class, class_map)
    return LineRows(
        n_lines=int(is_line.sum()),
        coords=coords,
        counts=counts,
        columns=normalise_columns(
            osm_id=gdf.index.to_numpy().astype(np.int64),
            highway=tags.text(raw_class),
            road_class=classes,
            values=values,
            network=network,
        ),
        keep=network_mask(network, {"highway": classes}),
    )


def concat(parts: list[LineRows]) -> LineRows:
    """The rows of every batch, in order, as one :class:`LineRows`."""
    if len(parts) == 1:
        return parts[0]
    return LineRows(
        n_lines=sum(p.n_lines for p in parts),
        coords=np.concatenate([p.coords for p in parts]),
        counts=np.concatenate([p.counts for p in parts]),
        columns={k: _concat([p.columns[k] for p in parts]) for k in parts[0].columns},
        keep=np.concatenate([p.keep for p in parts]),
    )


def attrs_frame(rows: LineRows) -> pd.DataFrame:
    """The attribute table of the polylines."""
    return pd.DataFrame(rows.columns)


def _column(gdf: pd.DataFrame, name: str | None) -> np.ndarray:
    if name is None:
        return np.full(len(gdf), None, dtype=object)
    col = gdf[name]
    return col.astype(object).where(col.notna(), None).to_numpy()
