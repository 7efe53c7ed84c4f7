"""Write a partitioned (dask-geopandas) layer into one GeoParquet, a partition at a time.

A builder running on a Dask cluster may return a lazy dask-geopandas frame
(the generic ``vector`` builder does). :func:`write_partitioned` computes its
partitions on the cluster, where each is checked as
:func:`twin.artifacts.check_vector` checks a whole layer and laid out as an
arrow table (WKB, bbox covering); this process receives the tables in order
and appends each to the file as row groups: it holds one partition's table
(the next ones wait on their workers), never the layer.

The file holds what :func:`twin.artifacts.write_vector` would write for the
concatenated partitions: the same columns and arrow types, the same WKB and
bbox covering values, and GeoParquet 1.1 ``geo`` metadata with the same
content (total bbox and geometry types accumulated over the partitions). Only
the row-group layout differs: a row group never spans two partitions.

The ``geo`` metadata can only be known after the last partition, while
pyarrow serialises the arrow schema (with its metadata, which is where
GeoParquet readers look) when the file is closed. The writer therefore adds
the final schema, metadata included, as the file's ``ARROW:schema`` key
before closing.
"""

from __future__ import annotations

import base64
import json
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import shapely
from pyproj import CRS

from layers.crs import same_crs
from twin import artifacts
from twin._executors import dask_client

if TYPE_CHECKING:
    import geopandas as gpd

#: Partitions computed ahead of the one being written (each waits on its worker).
AHEAD = 2


def is_partitioned(data: object) -> bool:
    """Whether ``data`` is a partitioned (Dask) frame rather than an in-memory layer."""
    return hasattr(data, "npartitions") and hasattr(data, "to_delayed")


@dataclass
class _Totals:
    """What is known of the layer once every partition is written."""

    count: int = 0
    bounds: np.ndarray = field(default_factory=lambda: np.array([np.inf, np.inf, -np.inf, -np.inf]))
    geom_types: set[str] = field(default_factory=set)


def write_partitioned(
    frame: Any,
    path: Path,
    metadata: dict[str, Any],
    scheduler: str | None = None,
    row_group_size: int = 65536,
) -> dict[str, Any]:
    """Write ``frame`` partition by partition as GeoParquet 1.1, read it back, describe it.

    Parameters
    ----------
    frame
        A dask-geopandas GeoDataFrame.
    path
        The ``.parquet`` file to write.
    metadata
        The project's metadata (as :func:`twin.artifacts.write_vector` takes it).
    scheduler
        The Dask scheduler to compute on (inside a worker: a worker client);
        None: compute here, one partition at a time.
    row_group_size
        Largest row group; a partition with more rows is written as several.

    Returns
    -------
    The catalog fields, as :func:`twin.artifacts.describe_vector` gives them.

    Raises
    ------
    twin.artifacts.ArtifactCheckError
        A partition breaks a rule (naming the partition and the row within it),
        or the file does not read back as written.
    """
    if getattr(frame, "crs", None) is None:
        raise artifacts.ArtifactCheckError("the output has no CRS")
    crs = CRS.from_user_input(frame.crs)
    totals = _Totals()
    writer: pq.ParquetWriter | None = None
    schema: pa.Schema | None = None
    empty: pa.Table | None = None
    try:
        for i, enc in enumerate(_encoded(frame, crs, scheduler)):
            empty = enc.table.slice(0, 0)
            if enc.rows and writer is None:
                # from the first rows: an empty partition knows no type for object columns
                schema = enc.table.schema
                writer = pq.ParquetWriter(path, schema, compression="zstd")
            if enc.rows:
                assert writer is not None and schema is not None
                writer.write_table(_conform(enc.table, schema, i), row_group_size=row_group_size)
                totals.count += enc.rows
                b = enc.bounds
                totals.bounds = np.concatenate(
                    [np.minimum(totals.bounds[:2], b[:2]), np.maximum(totals.bounds[2:], b[2:])]
                )
                totals.geom_types.update(enc.geom_types)
            fields, geom_name, columns = enc.fields, enc.geom_col, enc.columns
            del enc
        if writer is None:
            if empty is None:
                raise artifacts.ArtifactCheckError("the output has no partitions")
            schema = empty.schema  # every partition is empty: a file of 0 rows
            writer = pq.ParquetWriter(path, schema, compression="zstd")
        assert schema is not None
        final = _final_schema(schema, geom_name, crs, totals, metadata)
        # The arrow schema pyarrow stores at close is the one given at open; the final one
        # carries the metadata GeoParquet readers look for.
        writer.add_key_value_metadata(
            {
                **{k.decode(): v.decode() for k, v in (final.metadata or {}).items()},
                "ARROW:schema": base64.b64encode(final.serialize().to_pybytes()).decode(),
            }
        )
        writer.close()
        writer = None
    finally:
        if writer is not None:
            writer.close()
            path.unlink(missing_ok=True)
    if totals.count == 0:
        path.unlink(missing_ok=True)
        raise artifacts.ArtifactCheckError(artifacts.NO_FEATURES)
    artifacts.fsync_file(path)
    verify_partitioned(path, crs, columns, totals.count)
    return {
        "crs": crs.to_string(),
        "bounds": artifacts.wgs84_bounds(tuple(totals.bounds) if totals.count else _nan4(), crs),
        "fields": fields,
        "geometry_type": artifacts.geometry_type_of(totals.geom_types),
        "count": totals.count,
    }


def _nan4() -> tuple[float, float, float, float]:
    return (np.nan, np.nan, np.nan, np.nan)


@dataclass
class _Encoded:
    """One partition as the file will hold it, and what the layer's metadata needs of it."""

    table: pa.Table
    rows: int
    bounds: np.ndarray
    geom_types: list[str]
    fields: dict[str, str]
    geom_col: str
    columns: list[str]


def encode(part: gpd.GeoDataFrame, index: int, crs: CRS) -> _Encoded:
    """Check partition ``index`` and lay it out as an arrow table (on a worker)."""
    table = _table(part, index, crs)
    geoms = np.asarray(part.geometry.values)
    return _Encoded(
        table=table,
        rows=len(part),
        bounds=shapely.total_bounds(geoms) if len(part) else np.full(4, np.nan),
        geom_types=part.geom_type.unique().tolist(),
        fields=artifacts.field_types(part),
        geom_col=part.geometry.name,
        columns=list(part.columns),
    )


def _encoded(frame: Any, crs: CRS, scheduler: str | None) -> Any:
    """The encoded partitions in order, at most ``AHEAD`` more in flight on the cluster.

    Checking and encoding (validity, WKB, bbox) run where the partition is
    computed; this process receives arrow tables and appends them.
    """
    import dask

    parts = [dask.delayed(encode)(d, i, crs) for i, d in enumerate(frame.to_delayed())]
    with dask_client(scheduler) as client:
        if client is None:
            for d in parts:
                yield d.compute(scheduler="synchronous")
            return
        pending: deque[Any] = deque()
        queue = iter(parts)
        for d in queue:
            pending.append(client.compute(d))
            if len(pending) > AHEAD:
                break
        while pending:
            future = pending.popleft()
            nxt = next(queue, None)
            if nxt is not None:
                pending.append(client.compute(nxt))
            enc = future.result()
            future.release()
            yield enc


def _table(part: gpd.GeoDataFrame, index: int, crs: CRS) -> pa.Table:
    """One partition as :func:`twin.artifacts.write_vector` lays a layer out (no metadata)."""
    try:
        table = artifacts.vector_table(part, empty_ok=True)  # the whole is counted at the end
    except artifacts.ArtifactCheckError as exc:
        raise artifacts.ArtifactCheckError(f"partition {index}: {exc}") from None
    if not same_crs(part.crs, crs):
        raise artifacts.ArtifactCheckError(f"partition {index}: CRS differs from the layer's")
    return table


def _conform(table: pa.Table, schema: pa.Schema, index: int) -> pa.Table:
    """``table`` in the file's schema: a column all null in one partition is cast."""
    if table.schema.equals(schema):
        return table
    if table.schema.names != schema.names:
        raise artifacts.ArtifactCheckError(
            f"partition {index}: columns {table.schema.names}, earlier partitions {schema.names}"
        )
    for name in schema.names:
        have, want = table.schema.field(name).type, schema.field(name).type
        if have != want and not pa.types.is_null(have):
            raise artifacts.ArtifactCheckError(
                f"partition {index}: column {name!r} is {have}, earlier partitions {want}"
            )
    return table.cast(schema)


def _final_schema(
    schema: pa.Schema, geom_col: str, crs: CRS, totals: _Totals, metadata: dict[str, Any]
) -> pa.Schema:
    """The schema with the ``geo`` and project metadata that ``write_vector`` writes."""
    bbox = [float(v) for v in totals.bounds] if totals.count else [float("nan")] * 4
    return schema.with_metadata(
        artifacts.geo_metadata(geom_col, totals.geom_types, crs, bbox, metadata)
    )


def verify_partitioned(path: Path, crs: CRS, columns: list[str], count: int) -> None:
    """Open the written file's footer and check rows, CRS and columns; decode every row group.

    Reads one row group at a time, so checking costs no more memory than writing.
    """
    pf = pq.ParquetFile(path)
    if pf.metadata.num_rows != count:
        raise artifacts.ArtifactCheckError(
            f"{path}: read back {pf.metadata.num_rows} rows, wrote {count}"
        )
    geo = json.loads((pf.schema_arrow.metadata or {}).get(b"geo", b"{}"))
    try:
        back_crs = CRS.from_json_dict(geo["columns"][geo["primary_column"]]["crs"])
    except (KeyError, TypeError):
        raise artifacts.ArtifactCheckError(f"{path}: no GeoParquet metadata") from None
    if not same_crs(back_crs, crs):
        raise artifacts.ArtifactCheckError(f"{path}: CRS did not survive the round trip")
    names = [n for n in pf.schema_arrow.names if n != "bbox"]
    if names != columns:
        raise artifacts.ArtifactCheckError(
            f"{path}: columns changed on the round trip: wrote {columns}, read {names}"
        )
    geom_col = geo["primary_column"]
    for i in range(pf.metadata.num_row_groups):
        wkb = pf.read_row_group(i, columns=[geom_col]).column(0)
        if shapely.is_missing(shapely.from_wkb(wkb.to_numpy(zero_copy_only=False))).any():
            raise artifacts.ArtifactCheckError(f"{path}: row group {i} does not decode")
