"""The generic ``vector`` layer as a dask-geopandas frame: read and cleaned by partitions.

With a Dask scheduler (``twin build --scheduler``) the ``vector`` builder does
not read its source in the job process. It plans partitions of rows, and each
partition is read, cleaned (:func:`layers.vector.clean_vector`) and clipped on
a worker. The job process sees only small summaries (row and repair counts,
column dtypes, the id column) and returns the lazy frame; the layer is written
partition by partition by :mod:`twin._partitioned`.

Each row is cleaned on its own, so the partitions concatenated in order hold
the same rows, in the same order, with the same values as the single-process
build. What is not per row is done across partitions here: the cleaning
report is summed, ids are checked unique over the whole id column, "no usable
geometry" is judged on the whole source, and column dtypes are unified (a
partition whose text column happens to be all null reads as ``object``, one
whose integer column has a null reads as ``float64``: the whole source reads
as ``str`` / ``float64``, and so must every partition).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import CRS

from layers.buildings import HeightParams, HeightReport, building_heights
from layers.errors import ValidationError
from layers.region import inside_if_swapped, outside_region
from layers.vector import CleanReport, check_unique_ids, clean_vector, count_rows, read_vector

#: Rows per partition for large sources (the row-group size of the written GeoParquet).
ROWS_PER_PARTITION = 65536


@dataclass(frozen=True)
class Part:
    """Some rows of a source and how to read them (picklable)."""

    path: str
    layer: str | None
    crs: str | None
    x: str | None
    y: str | None
    rows: tuple[int, int] | None
    """``(start, stop)``; None: the whole source."""
    encoding: str | None = None


@dataclass(frozen=True)
class Cleaning:
    """The ``vector`` builder's parameters for :func:`clean_part` (picklable)."""

    crs: CRS | str
    repair: bool
    columns: list[str] | None
    rename: dict[str, str] | None
    origin: str
    boundary: gpd.GeoDataFrame | None
    """Clip to these polygons (None: no clip)."""
    region: gpd.GeoDataFrame | None = None
    """Count the features outside these polygons (the region's boundary, if any)."""
    heights: HeightParams | None = None
    """Add buildings' heights (:func:`layers.buildings.building_heights`)."""


def plan_parts(
    path: Path,
    layer: str | None,
    crs: str | None,
    x: str | None,
    y: str | None,
    npartitions: int,
    rows_per_partition: int = ROWS_PER_PARTITION,
    encoding: str | None = None,
) -> list[Part]:
    """Partitions of about equal rows: at least ``npartitions`` (one per worker) when rows allow.

    OGR sources are read by feature ranges and GeoParquet by the row groups
    a range covers; a CSV of points is read whole by one worker (its column
    types are inferred from every row), as one partition.
    """
    total = count_rows(path, layer) if path.exists() else -1
    if total <= 0:
        # a CSV, nothing to split, or a driver that cannot count: one partition reads it all
        return [Part(str(path), layer, crs, x, y, None, encoding)]
    n = max(math.ceil(total / rows_per_partition), min(total, npartitions))
    size = math.ceil(total / n)
    return [
        Part(str(path), layer, crs, x, y, (start, min(start + size, total)), encoding)
        for start in range(0, total, size)
    ]


def read_part(part: Part) -> gpd.GeoDataFrame:
    """The rows of ``part``, indexed by their row in the whole source."""
    return read_vector(
        Path(part.path),
        part.layer,
        part.crs,
        part.x,
        part.y,
        rows=part.rows,
        encoding=part.encoding,
    )


def _clean(
    part: Part, cleaning: Cleaning, raw: gpd.GeoDataFrame | None = None
) -> tuple[gpd.GeoDataFrame, CleanReport, HeightReport | None]:
    gdf, report = clean_vector(
        read_part(part) if raw is None else raw,
        cleaning.crs,
        repair=cleaning.repair,
        columns=cleaning.columns,
        rename=cleaning.rename,
        origin=cleaning.origin,
        allow_empty=True,
    )
    if cleaning.heights is None:
        return gdf, report, None
    gdf, heights = building_heights(gdf, cleaning.heights, cleaning.origin)
    return gdf, report, heights


def clip_rows(gdf: gpd.GeoDataFrame, boundary: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame:
    """``gdf`` clipped to ``boundary`` (None: as it is), rows in the source's order.

    The one-process build clips the same way, so that partitions clipped apart
    and concatenated equal the whole layer clipped at once.
    """
    if boundary is None:
        return gdf
    # sort: rows keep the source's order, whatever the spatial index's order
    return gdf.clip(boundary, sort=True).reset_index(drop=True)


def clean_part(part: Part, cleaning: Cleaning) -> gpd.GeoDataFrame:
    """Read, clean and clip one partition."""
    return clip_rows(_clean(part, cleaning)[0], cleaning.boundary)


@dataclass
class Summary:
    """What the job process learns of one cleaned partition."""

    read: int
    """Rows read from the source."""
    cleaned: int
    """Rows left by the cleaning (before any clip)."""
    rows: int
    report: dict[str, int]
    heights: HeightReport | None
    """Where the buildings' heights came from (None: not a building layer)."""
    dtypes: dict[str, Any]
    ids: pd.Series | None
    """The id column as cleaned (before any clip, where the single-process build checks it)."""
    empty: gpd.GeoDataFrame
    """The partition's first 0 rows: its columns, dtypes and CRS."""
    outside: int | None = None
    """Cleaned rows outside the region (None: no region to count against)."""
    inside_if_swapped: int = 0
    """Rows read that would lie inside the region with x and y swapped."""
    source_crs: Any = None
    """The CRS of the rows as read."""


def summarise_part(
    part: Part, keep: str | None, cleaning: Cleaning, id_column: str | None
) -> Summary:
    """Clean and clip one partition, keep its counts, report, dtypes and (only) its id column.

    With ``keep`` (a file in the build's scratch directory), the cleaned
    partition is also written there, for :func:`load_kept`: the writer then
    reads it instead of cleaning the partition again.
    """
    raw = read_part(part)
    gdf, report, heights = _clean(part, cleaning, raw)
    outside, swapped = None, 0
    if cleaning.region is not None:
        outside = int(outside_region(gdf, cleaning.region).sum())
        # whether the whole source lies outside is known only later; the count is cheap
        swapped = inside_if_swapped(raw, cleaning.region) if outside == len(gdf) else 0
    ids = None
    if id_column is not None:
        present = id_column in gdf.columns
        # absent: check_whole reports it, as clean_vector would
        ids = gdf[id_column].reset_index(drop=True) if present else pd.Series([], dtype=object)
    out = clip_rows(gdf, cleaning.boundary)
    if keep is not None:
        out.to_parquet(keep, index=False, compression="zstd")
    return Summary(
        read=len(raw),
        cleaned=len(gdf),
        rows=len(out),
        report=report.as_stats(),
        heights=heights,
        dtypes=dict(out.dtypes.items()),
        ids=ids,
        empty=out.iloc[:0],
        outside=outside,
        inside_if_swapped=swapped,
        source_crs=raw.crs,
    )


def total_report(summaries: list[Summary]) -> CleanReport:
    """The cleaning report of the whole source: the partitions' reports summed."""
    report = CleanReport()
    for s in summaries:
        report.dropped_empty += s.report.get("dropped_empty", 0)
        report.repaired += s.report.get("repaired", 0)
        report.dropped_invalid += s.report.get("dropped_invalid", 0)
    return report


def total_heights(summaries: list[Summary]) -> HeightReport | None:
    """The height report of the whole source (None: not a building layer)."""
    if summaries[0].heights is None:
        return None
    total = HeightReport()
    for s in summaries:
        if s.heights is not None:
            total.add(s.heights)
    return total


def check_whole(
    summaries: list[Summary], report: CleanReport, id_column: str | None, origin: str
) -> None:
    """The checks :func:`clean_vector` makes on a whole source, made across partitions."""
    rows = sum(s.cleaned for s in summaries)
    if rows == 0 and report.dropped_empty + report.dropped_invalid > 0:
        raise ValidationError(
            f"{origin}: no usable geometry ({report.dropped_empty} empty, "
            f"{report.dropped_invalid} invalid and unrepairable)"
        )
    if id_column is None:
        return
    if not all(id_column in s.dtypes for s in summaries):
        raise ValidationError(f"{origin}: no id column {id_column!r}")
    ids = pd.concat([s.ids for s in summaries if s.ids is not None], ignore_index=True)
    check_unique_ids(pd.DataFrame({id_column: ids}), id_column, origin)


def unify_dtypes(summaries: list[Summary]) -> dict[str, Any]:
    """The dtype each column has when the whole source is read at once.

    pyogrio reads a text column whose values in the rows read are all null as
    ``object``, and an integer column with a null among them as ``float64``;
    read whole, the column is text (``str``) or ``float64`` as soon as one
    partition says so.
    """
    columns = list(summaries[0].dtypes)
    out: dict[str, Any] = {}
    for col in columns:
        seen = [s.dtypes[col] for s in summaries if s.rows]
        seen = seen or [summaries[0].dtypes[col]]
        first = seen[0]
        if all(d == first for d in seen):
            out[col] = first
            continue
        strings = [d for d in seen if isinstance(d, pd.StringDtype)]
        if strings and all(isinstance(d, pd.StringDtype) or d == np.dtype(object) for d in seen):
            out[col] = strings[0]
        elif all(
            pd.api.types.is_numeric_dtype(d) and not pd.api.types.is_bool_dtype(d) for d in seen
        ):
            out[col] = np.dtype("float64")
        else:
            out[col] = np.dtype(object)
    return out


def cast_part(gdf: gpd.GeoDataFrame, dtypes: dict[str, Any]) -> gpd.GeoDataFrame:
    """``gdf`` with the unified column dtypes (the geometry is left alone)."""
    change = {
        c: d
        for c, d in dtypes.items()
        if c != gdf.geometry.name and c in gdf.columns and gdf[c].dtype != d
    }
    return gdf.astype(change) if change else gdf


def load_part(part: Part, cleaning: Cleaning, dtypes: dict[str, Any]) -> gpd.GeoDataFrame:
    """One partition of the layer as published: read, cleaned, clipped, with unified dtypes."""
    return cast_part(clean_part(part, cleaning), dtypes)


def load_kept(path: str, dtypes: dict[str, Any]) -> gpd.GeoDataFrame:
    """A partition :func:`summarise_part` kept, with the unified dtypes."""
    return cast_part(gpd.read_parquet(path), dtypes)
