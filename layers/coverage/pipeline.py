"""A whole coverage layer: DEM, cell sites and zones in; rasters, polygons and tables out.

:func:`run_coverage` is what the ``coverage`` builder of ``twin`` calls: it puts
the model on a grid (the DEM reprojected at the resolution asked for), masks
the region, warps the clutter onto the grid, runs the model, checks and sums
up the grids, and derives the cells table, the shares per zone and the
coverage polygons, then gives the rasters their published nodata. Where the
output grids live and where the model runs (a cluster, window by window) are
the caller's, passed in as ``grids`` and ``run``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio.features
from numpy.typing import NDArray
from pyproj import CRS
from rasterio.warp import Resampling, reproject

from layers.blocks import exact_median, windows
from layers.coverage.cells import prepare_cells
from layers.coverage.clutter import NO_CLASS, ClutterGrid, clutter_table, landcover_grid
from layers.coverage.measured import Measured, measure
from layers.coverage.model import CoverageModel, CoverageResult
from layers.coverage.params import CoverageParams
from layers.coverage.windows import Grids
from layers.coverage.zones import coverage_polygons, coverage_share
from layers.errors import ValidationError
from layers.raster import reproject_raster
from layers.types import RasterData

#: The published rasters' nodata: a finite value every GIS client and tile renderer
#: handles (a NaN fill value makes masked-array casts warn while rescaling to bytes).
NODATA = -9999.0

#: ``run(model, out)`` returns ``model.run()``'s result, computed wherever the caller
#: likes; ``out()`` (``None`` when the caller has no say) makes the grids to write into.
ModelRun = Callable[[CoverageModel, Callable[[], Grids] | None], CoverageResult]

#: Cell columns kept in the cells table (``index`` and ``served_km2`` are added).
CELL_COLUMNS = (
    "cell_id",
    "site_id",
    "band",
    "scenario",
    "freq_mhz",
    "height_m",
    "azimuth_deg",
    "downtilt_deg",
    "tx_power_dbm",
    "power_re_dbm",
)


@dataclass
class CoveragePipelineResult:
    """What a coverage run publishes.

    Attributes
    ----------
    rsrp, sinr
        Best-server SS-RSRP (dBm) and SS-SINR (dB), float32, :data:`NODATA` where no
        cell reaches or outside the region.
    serving
        Index of the serving cell (the ``index`` of ``cells``), int32, -1 where none.
    polygons
        Area at or above each RSRP threshold (and the SINR threshold), nested.
    cells
        The cells as points: ``index`` (the serving raster's value), ``served_km2``.
    zones
        The zones with ``area_km2``, ``covered_km2`` and ``coverage_share_pct``
        (``None`` without zones).
    stats
        Summary figures of the run (coverage share, mean RSRP, counts, clamped pairs).
    share_pct
        The region's covered share, %, unrounded.
    warnings
        Sites table and model warnings (clamped values, skipped cells).
    clutter
        The land-cover classes on the model grid (``None`` without a ``landcover``
        input): ``clutter.classes`` per pixel, ``clutter.at(x, y)`` at points.
    measured
        The error at the measurement points and the calibration (with ``measurements``).
    """

    rsrp: RasterData
    sinr: RasterData
    serving: RasterData
    polygons: gpd.GeoDataFrame
    cells: gpd.GeoDataFrame
    zones: gpd.GeoDataFrame | None
    stats: dict[str, float | int | str]
    share_pct: float
    warnings: list[str] = field(default_factory=list)
    clutter: ClutterGrid | None = None
    measured: Measured | None = None


def _run_here(model: CoverageModel, out: Callable[[], Grids] | None) -> CoverageResult:
    """The whole grid in this process (its own in-memory grids)."""
    return model.run()


def run_coverage(
    dem: RasterData,
    sites: gpd.GeoDataFrame,
    params: CoverageParams,
    crs: CRS | str,
    *,
    boundary: gpd.GeoDataFrame | None = None,
    zones: gpd.GeoDataFrame | None = None,
    clutter: RasterData | None = None,
    landcover: RasterData | gpd.GeoDataFrame | None = None,
    grids: Callable[[tuple[int, int]], Grids] | None = None,
    run: ModelRun = _run_here,
    origin: str = "sites",
    measurements: gpd.GeoDataFrame | None = None,
    measurements_origin: str = "measurements",
) -> CoveragePipelineResult:
    """Coverage of ``sites`` over ``dem``: rasters, polygons, cells and zones.

    Parameters
    ----------
    dem
        Ground heights, any CRS; reprojected to ``crs`` at ``params.resolution``.
    sites
        The cell sites table (points with a CRS), as read; see
        :func:`~layers.coverage.cells.prepare_cells` and ``params.columns``.
    params
        Every setting of the run.
    crs
        The working CRS (metric) of every output.
    boundary
        The region's polygons in ``crs``: pixels outside are not covered, nor counted.
    zones
        Polygons in ``crs`` to report the covered share of (villages, towns).
    clutter
        Extra loss at the receiver, dB, any grid (warped bilinearly; nodata: 0 dB).
    landcover
        Land-cover polygons with the class column ``params.clutter_column``, or a raster
        of class codes (``params.clutter_classes``): each class's loss (added to
        ``clutter``'s) and, with ``params.clutter_heights``, its clutter height in the
        terrain profile (:mod:`layers.coverage.clutter`).
    grids
        ``grids(shape)`` makes the RSRP, SINR and serving grids a windowed ``run``
        writes into (files, say). The returned result's rasters are those grids,
        given their nodata in place: the caller does not read them otherwise.
    run
        How the model runs (default: the whole grid here), e.g. window by window
        on a cluster (``twin``'s scheduler).
    origin
        The sites' source, named in error messages.
    measurements, measurements_origin
        Drive-test points in ``crs`` and their source's name: the error is reported and,
        with ``params.calibrate``, the RSRP grid calibrated before anything is derived
        from it (:func:`layers.coverage.measured.measure`).

    Raises
    ------
    SourceError, ParameterError
        A sites table or DEM that does not hold what the model needs.
    ValidationError
        Grids out of range or inconsistent, or no pixel of the region covered.
    """
    dem = reproject_raster(dem, crs, resolution=params.resolution)
    region = None
    if boundary is not None and len(boundary):
        region = rasterio.features.rasterize(
            [(g, 1) for g in boundary.geometry if g is not None and not g.is_empty],
            out_shape=(dem.height, dem.width),
            transform=dem.transform,
            fill=0,
            dtype="uint8",
        ).astype(bool)
    cells, warnings = prepare_cells(
        _scenarios(sites, params),
        crs,
        columns=params.columns,
        scenario=params.default_scenario,
        gain_dbi=params.antenna_gain_dbi,
        etilt_deg=params.etilt_deg,
        origin=origin,
    )
    clutter_db = None if clutter is None else on_grid(clutter, dem)
    classes = None if landcover is None else _landcover(landcover, dem, params)
    if classes is not None:
        clutter_db = classes.loss_db if clutter_db is None else clutter_db + classes.loss_db
    model = CoverageModel(
        dem,
        cells,
        params,
        region=region,
        clutter_db=clutter_db,
        clutter_m=classes.height_m if classes is not None and params.clutter_heights else None,
        outside=params.outside,
        workers=params.workers,
        keep=False,
    )
    result = run(model, None if grids is None else (lambda: grids(model.shape)))
    warnings = warnings + model.warnings
    if classes is not None:
        unclassed = int(np.count_nonzero(model.region & (classes.classes == NO_CLASS)))
        if unclassed:
            warnings.append(
                f"landcover: {unclassed} of {int(model.region.sum())} region pixels have "
                "no class (no clutter loss there)"
            )
    measured = None
    if measurements is not None:
        measured = measure(
            result.rsrp,
            result.serving,
            model.cells,
            measurements,
            params,
            region=result.region,
            classes=None if classes is None else classes.classes,
            class_names=None if classes is None else dict(enumerate(classes.names)),
            origin=measurements_origin,
        )
        warnings += measured.warnings
    for flag, count in result.flags.items():
        if flag not in ("distance_min", "bs_height"):
            warnings.append(f"{count} pixel-cell pairs hit the model's {flag} limit (clamped)")
    out = _outputs(params, model.cells, result, zones, warnings)
    out.clutter = classes
    if measured is not None:
        out.measured = measured
        out.stats.update(measured.stats)
        cal = measured.calibration
        if cal is not None:  # fitted cell offsets in the cells table (NaN: not fitted)
            offsets = out.cells["cell_id"].astype(str).map(cal.cell_offsets_db)
            out.cells["calib_offset_db"] = offsets.astype(float).round(2)
    return out


def _landcover(
    landcover: RasterData | gpd.GeoDataFrame, dem: RasterData, params: CoverageParams
) -> ClutterGrid:
    """The land cover's classes, losses and heights on the model grid."""
    table = clutter_table(params.clutter_loss_db, params.clutter_height_m)
    return landcover_grid(
        landcover,
        dem,
        table,
        column=params.clutter_column,
        codes=params.clutter_classes,
    )


def _scenarios(sites: gpd.GeoDataFrame, params: CoverageParams) -> gpd.GeoDataFrame:
    """Apply the scenario overrides before the table is validated."""
    if params.scenario is None and not params.scenario_by_band:
        return sites
    sites = sites.copy()
    scenario_col = params.columns.get("scenario", "scenario")
    band_col = params.columns.get("band", "band")
    if params.scenario is not None:
        sites[scenario_col] = params.scenario
    elif band_col in sites.columns:
        mapped = sites[band_col].astype(str).map(params.scenario_by_band)
        current = sites[scenario_col] if scenario_col in sites.columns else None
        sites[scenario_col] = mapped if current is None else mapped.fillna(current)
    return sites


def on_grid(raster: RasterData, like: RasterData) -> NDArray[np.float32]:
    """Band 1 of ``raster`` warped onto ``like``'s grid (nodata -> 0 dB)."""
    out = np.full((like.height, like.width), np.nan, dtype=np.float32)
    reproject(
        source=raster.data[0].astype(np.float32),
        destination=out,
        src_transform=raster.transform,
        src_crs=raster.crs,
        src_nodata=raster.nodata,
        dst_transform=like.transform,
        dst_crs=like.crs,
        dst_nodata=np.nan,
        resampling=Resampling.bilinear,
    )
    return np.nan_to_num(out, nan=0.0)


def _outputs(
    params: CoverageParams,
    cells: pd.DataFrame,
    result: CoverageResult,
    zones: gpd.GeoDataFrame | None,
    warnings: list[str],
) -> CoveragePipelineResult:
    rsrp, sinr = result.rsrp, result.sinr
    region = coverage_share(
        rsrp,
        threshold_dbm=params.threshold_dbm,
        sinr=sinr,
        sinr_threshold_db=params.sinr_threshold_db,
        region=result.region,
    ).iloc[0]
    share_pct = 100.0 * float(region["share"])
    grid = _summary(result, len(cells))
    stats: dict[str, float | int | str] = {
        "coverage_share_pct": round(share_pct, 2),
        "covered_km2": round(float(region["covered_km2"]), 3),
        "area_km2": round(float(region["area_km2"]), 3),
        "mean_rsrp_dbm": round(grid.mean_rsrp, 2),
        "median_sinr_db": round(grid.median_sinr, 2),
        "threshold_dbm": params.threshold_dbm,
        "sinr_threshold_db": params.sinr_threshold_db,
        "n_cells": len(cells),
        "n_sites": int(cells["site_id"].nunique()),
        **{f"clamped_{k}": v for k, v in sorted(result.flags.items())},
    }
    polygons = coverage_polygons(
        rsrp, sinr, params.rsrp_bands_dbm, params.sinr_threshold_db, params.threshold_dbm
    )
    polygons = polygons[~polygons.geometry.is_empty].reset_index(drop=True)
    zone_table = None
    if zones is not None:
        zone_table = _zones_table(zones, result, params)
        stats["n_zones"] = len(zones)
    cells_table = _cells_table(result, cells, grid.served)
    # Everything above reads the grids with NaN for "no signal"; only now do they get
    # their published nodata (in place: the grids may be files larger than memory).
    return CoveragePipelineResult(
        rsrp=_with_nodata(rsrp),
        sinr=_with_nodata(sinr),
        serving=result.serving,
        polygons=polygons,
        cells=cells_table,
        zones=zone_table,
        stats=stats,
        share_pct=share_pct,
        warnings=warnings,
    )


def _with_nodata(raster: RasterData) -> RasterData:
    """The model's raster with NaN replaced by :data:`NODATA`, in place, block by block.

    Only for the grids of a run of :func:`run_coverage`, once nothing reads them as NaN.
    """
    for b in windows((raster.height, raster.width)):
        block = raster.data[0][b.slices]
        block[np.isnan(block)] = np.float32(NODATA)
    return RasterData(
        raster.data,
        raster.transform,
        raster.crs,
        NODATA,
        list(raster.band_names),
        list(raster.units),
        dict(raster.tags),
    )


def _cells_table(
    result: CoverageResult, cells: pd.DataFrame, served: NDArray[np.int64]
) -> gpd.GeoDataFrame:
    """The model's cells as points, with their serving-raster index and served area."""
    px_km2 = result.rsrp.resolution[0] * result.rsrp.resolution[1] / 1e6
    return gpd.GeoDataFrame(
        cells[list(CELL_COLUMNS)].assign(
            index=np.arange(len(cells), dtype=np.int32), served_km2=served[: len(cells)] * px_km2
        ),
        geometry=gpd.points_from_xy(cells["x"], cells["y"]),
        crs=result.rsrp.crs,
    )


def _zones_table(
    zones: gpd.GeoDataFrame, result: CoverageResult, params: CoverageParams
) -> gpd.GeoDataFrame:
    """``zones`` with their area, covered area and covered share (empty geometries dropped)."""
    shares = coverage_share(
        result.rsrp,
        zones,
        params.threshold_dbm,
        result.sinr,
        params.sinr_threshold_db,
    )
    out = zones.reset_index(drop=True).copy()
    out["area_km2"] = shares["area_km2"].to_numpy()
    out["covered_km2"] = shares["covered_km2"].to_numpy()
    out["coverage_share_pct"] = 100.0 * shares["share"].to_numpy()
    return out[out.geometry.notna() & ~out.geometry.is_empty].reset_index(drop=True)


@dataclass
class _Summary:
    mean_rsrp: float
    median_sinr: float
    #: pixels served per cell index
    served: NDArray[np.int64]


def _summary(result: CoverageResult, n_cells: int) -> _Summary:
    """Statistics of the grids, read block by block, after checking their values."""
    rsrp, sinr, serving = result.rsrp.data[0], result.sinr.data[0], result.serving.data[0]
    blocks = windows(rsrp.shape)
    total, count = 0.0, 0
    lo, hi = np.inf, -np.inf
    served = np.zeros(n_cells, dtype=np.int64)
    for b in blocks:
        r, s = rsrp[b.slices], serving[b.slices]
        finite = np.isfinite(r)
        values = r[finite]
        if values.size:
            total += float(values.sum(dtype=np.float64))
            count += values.size
            lo, hi = min(lo, float(values.min())), max(hi, float(values.max()))
        if s.max() >= n_cells:
            raise ValidationError("serving cell index out of range")
        if not np.array_equal(finite, s >= 0):
            raise ValidationError(f"RSRP and serving cell rasters disagree on coverage ({b})")
        served += np.bincount(s[s >= 0], minlength=n_cells)
    if not count:
        raise ValidationError("no pixel of the region receives any cell")
    if hi > 30 or lo < -200:
        raise ValidationError(f"RSRP out of range: {lo:.1f}..{hi:.1f} dBm")
    median = exact_median(lambda: (sinr[b.slices][np.isfinite(sinr[b.slices])] for b in blocks))
    return _Summary(total / count, float("nan") if median is None else median, served)


__all__ = ["CELL_COLUMNS", "NODATA", "CoveragePipelineResult", "ModelRun", "run_coverage"]
