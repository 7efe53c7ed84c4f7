"""The generic ``vector`` and ``raster`` builders: any source, validated and reprojected.

These are what an analyst uses to add a layer of their own::

    [layers.enterprises]
    builder = "vector"
    inputs = { source = "enterprises" }
    params = { id = "enterprise_id" }
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pyproj import CRS

from layers.encodings import resolve_encoding
from layers.errors import LayerError
from layers.labels import COMMON_FIELDS
from layers.raster_params import RasterParams
from layers.vector_params import HeightParams, VectorParams
from twin._executors import dask_client
from twin.builders import Builder, Output, register
from twin.builders.context import BuildContext
from twin.errors import BuildError

if TYPE_CHECKING:
    from layers.buildings import HeightReport
    from layers.vector import CleanReport

# The readers and cleaners (pyogrio, pandas, geopandas) load when a vector layer builds:
# a workspace imports this module to check its layers' parameters, on every command.


def build_vector(ctx: BuildContext) -> Output:
    from layers.buildings import HEIGHT_FIELD
    from layers.buildings import building_heights as add_heights
    from layers.region import inside_if_swapped, outside_region
    from layers.vector import clean_vector
    from twin.builders import _vector_dask as vd

    params = ctx.params
    assert isinstance(params, VectorParams)
    item = ctx.input("source")
    if ctx.scheduler is not None:
        return _build_vector_on_cluster(ctx, params)
    raw = ctx.read_vector("source", to_crs=False)
    try:
        gdf, report = clean_vector(
            raw,
            ctx.crs,
            repair=params.repair,
            columns=params.columns,
            rename=params.rename or None,
            id_column=params.id,
            origin=str(item.path),
        )
        heights = None
        if params.height is not None:
            gdf, heights = add_heights(gdf, params.height, str(item.path))
    except LayerError as exc:
        raise BuildError(ctx.layer, str(exc)) from None
    stats: dict[str, float | int | str] = dict(report.as_stats())
    region = ctx.boundary
    where = Whereabouts(read=len(raw), cleaned=len(gdf))
    if region is not None:
        where.outside = int(outside_region(gdf, region).sum())
        if where.outside == len(gdf):
            where.inside_if_swapped = inside_if_swapped(raw, region)
    if params.clip_to_region:
        gdf = vd.clip_rows(gdf, region)
    where.published = len(gdf)
    _check_whereabouts(ctx, where, raw.crs, stats)
    _warn_report(ctx, report)
    if params.height is None or heights is None:
        return Output(data=gdf, stats=stats, labels=COMMON_FIELDS)
    return _buildings(ctx, params.height, heights, gdf[HEIGHT_FIELD].to_numpy(), gdf, stats)


def _buildings(
    ctx: BuildContext,
    params: HeightParams,
    report: HeightReport,
    published: Any,
    data: Any,
    stats: dict[str, float | int | str],
) -> Output:
    """A building layer's output: its heights counted, checked and drawn standing in 3D.

    ``published`` are the heights of the rows published (after any clip).
    """
    from layers.buildings import BUILDING_FIELDS, HEIGHT_FIELD

    rows = report.from_height + report.from_floors + report.missing
    if report.missing == rows:
        raise BuildError(
            ctx.layer,
            f"none of the {rows:,} buildings has a usable height or floor count "
            f"({report.problems(rows, params.max_height) or 'all empty or 0'})",
        )
    problems = report.problems(rows, params.max_height)
    if problems:
        ctx.warn(problems)
    if report.missing:
        ctx.warn(f"{report.missing:,} of {rows:,} buildings have no usable height: drawn flat")
    stats.update(report.as_stats())
    if len(published):
        stats["height_max_m"] = round(float(np.nanmax(published)), 2)
        stats["height_mean_m"] = round(float(np.nanmean(published)), 2)
    labels = {**COMMON_FIELDS, **BUILDING_FIELDS}
    return Output(data=data, stats=stats, labels=labels, style={"extrude": HEIGHT_FIELD})


@dataclass
class Whereabouts:
    """How many features the ``vector`` builder read, kept and found outside the region."""

    read: int
    cleaned: int
    outside: int | None = None
    """Cleaned features not touching the region's boundary (None: the region has none)."""
    inside_if_swapped: int = 0
    """Source features that would touch the boundary with x and y swapped."""
    published: int = 0


def _check_whereabouts(
    ctx: BuildContext, where: Whereabouts, source_crs: CRS | None, stats: dict[str, Any]
) -> None:
    """Stop on a layer that would be empty, or whose features all lie where they cannot;
    warn of features outside the region and count them in ``stats``.
    """
    item = ctx.input("source")
    shown = _shown(ctx, item.path)
    if where.read == 0:
        raise BuildError(ctx.layer, f"{shown} has no rows")
    if where.outside is not None:
        stats["outside_region"] = where.outside
        n = where.cleaned
        if n and where.outside == n and where.inside_if_swapped * 2 >= n:
            swap = (
                "longitude and latitude"
                if source_crs is not None and source_crs.is_geographic
                else "x and y"
            )
            ref = f"sources.{item.name}" if item.kind == "source" else f"layers.{item.name}"
            raise BuildError(
                ctx.layer,
                f"all {n:,} features lie outside the region; with {swap} swapped they would "
                f"lie inside it: check the x/y columns of {ref}",
            )
        if where.outside:
            ctx.warn(f"{where.outside:,} of {n:,} features lie outside the region boundary")
    if where.cleaned and not where.published:
        raise BuildError(
            ctx.layer,
            f"clip_to_region removed all {where.cleaned:,} rows; "
            "the source lies outside the region",
        )


def _shown(ctx: BuildContext, path: Path) -> str:
    """``path`` as the user wrote it: relative to the workspace when it is inside."""
    try:
        return path.relative_to(ctx.root).as_posix()
    except ValueError:
        return str(path)


def _warn_report(ctx: BuildContext, report: CleanReport) -> None:
    if report.repaired or report.dropped_invalid or report.dropped_empty:
        ctx.warn(
            f"{ctx.path('source')}: repaired {report.repaired}, dropped "
            f"{report.dropped_invalid} invalid and {report.dropped_empty} empty geometries"
        )


def _build_vector_on_cluster(ctx: BuildContext, params: VectorParams) -> Output:
    """The layer as a dask-geopandas frame read, cleaned and clipped partition by partition.

    Only summaries reach this process (see :mod:`twin.builders._vector_dask`);
    the frame is written partition by partition by :mod:`twin._partitioned`.
    """
    import dask.dataframe as dd
    import dask_geopandas  # noqa: F401  (makes from_map give a dask-geopandas frame)

    from twin.builders import _vector_dask as vd

    item = ctx.input("source")
    src = item.source if item.kind == "source" else None
    cleaning = vd.Cleaning(
        crs=ctx.crs,
        repair=params.repair,
        columns=params.columns,
        rename=params.rename or None,
        origin=str(item.path),
        boundary=ctx.boundary if params.clip_to_region else None,
        region=ctx.boundary,
        heights=params.height,
    )
    try:
        with dask_client(ctx.scheduler) as client:
            workers = len(client.scheduler_info()["workers"])
            parts = vd.plan_parts(
                item.path,
                layer=src.layer if src else None,
                crs=src.crs if src else None,
                x=src.x if src else None,
                y=src.y if src else None,
                npartitions=max(1, workers),
                # found here, so that a guessed encoding is a warning of this build
                encoding=ctx.recorded(resolve_encoding, item.path, src.encoding) if src else None,
            )
            # The cleaned partitions wait in the scratch directory (the cluster sees the build
            # directory, see twin._executors) for the writer; without one it cleans again.
            keep: list[str | None] = [None] * len(parts)
            if ctx.scratch_dir is not None:
                kept = ctx.scratch() / f"{ctx.layer}-parts"
                kept.mkdir()
                keep = [str(kept / f"{i:06d}.parquet") for i in range(len(parts))]
            # only counts, dtypes and the id column come back, never geometries
            summaries = client.gather(
                client.map(
                    vd.summarise_part,
                    parts,
                    keep,
                    cleaning=cleaning,
                    id_column=params.id,
                    pure=False,
                )
            )
        report = vd.total_report(summaries)
        vd.check_whole(summaries, report, params.id, str(item.path))
    except LayerError as exc:
        raise BuildError(ctx.layer, str(exc)) from None
    stats: dict[str, float | int | str] = dict(report.as_stats())
    where = Whereabouts(
        read=sum(s.read for s in summaries),
        cleaned=sum(s.cleaned for s in summaries),
        outside=None if ctx.boundary is None else sum(s.outside or 0 for s in summaries),
        inside_if_swapped=sum(s.inside_if_swapped for s in summaries),
        published=sum(s.rows for s in summaries),
    )
    _check_whereabouts(ctx, where, summaries[0].source_crs, stats)
    dtypes = vd.unify_dtypes(summaries)
    meta = vd.cast_part(summaries[0].empty, dtypes)
    if keep[0] is not None:
        frame = dd.from_map(
            vd.load_kept,
            keep,
            args=(dtypes,),
            meta=meta,
            label="vector_part",
            enforce_metadata=False,
        )
    else:
        frame = dd.from_map(
            vd.load_part,
            parts,
            args=(cleaning, dtypes),
            meta=meta,
            label="vector_part",
            enforce_metadata=False,
        )
    _warn_report(ctx, report)
    heights = vd.total_heights(summaries)
    if params.height is None or heights is None:
        return Output(data=frame, stats=stats, labels=COMMON_FIELDS)
    published = vd.published_heights(summaries)
    return _buildings(ctx, params.height, heights, published, frame, stats)


def build_raster(ctx: BuildContext) -> Output:
    params = ctx.params
    assert isinstance(params, RasterParams)
    from layers.raster import reproject_raster  # rasterio: only when a raster layer builds

    try:
        raster = reproject_raster(
            ctx.read_raster("source"),
            ctx.crs,
            resolution=params.resolution,
            resampling=params.resampling,
            nodata=params.nodata,
        )
    except LayerError as exc:
        raise BuildError(ctx.layer, str(exc)) from None
    if params.unit:
        raster.units = [params.unit] * raster.count
    return Output(data=raster)


register(
    Builder(
        name="vector",
        # 2: clip_to_region keeps the source's row order; 3: counts features outside the region
        version="3",
        run=build_vector,
        params=VectorParams,
        inputs=("source",),
        doc="Any OGR source or CSV of points -> validated GeoParquet in the working CRS.",
    )
)
register(
    Builder(
        name="raster",
        version="1",
        run=build_raster,
        params=RasterParams,
        inputs=("source",),
        doc="Any GDAL raster -> Cloud-Optimized GeoTIFF in the working CRS.",
    )
)
