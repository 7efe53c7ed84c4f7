"""The ``coverage`` builder: 5G best-server RSRP, SINR, serving cell and coverage polygons.

::

    [layers.coverage]
    builder = "coverage"
    inputs = { dem = "dem", sites = "sites", zones = "layers.villages_src" }
    params = { resolution = 20, threshold_dbm = -105 }

Publishes the RSRP raster as the layer itself and, with the same version,
``<layer>_sinr``, ``<layer>_serving``, ``<layer>_polygons``, ``<layer>_cells``
and (with a ``zones`` input) ``<layer>_zones``. See :mod:`layers.coverage`
for the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio.features
from pydantic import BaseModel, ConfigDict, Field
from rasterio.warp import Resampling, reproject

from layers.blocks import disk_array, exact_median, windows
from layers.coverage import CoverageModel, CoverageParams, CoverageResult
from layers.coverage.cells import prepare_cells
from layers.coverage.terrain import K_FACTOR
from layers.coverage.windows import Grids
from layers.coverage.zones import RSRP_BANDS_DBM, coverage_polygons, coverage_share
from layers.errors import LayerError
from layers.raster import reproject_raster
from layers.types import RasterData
from tiles.catalog import Figure
from twin.builders import Builder, Output, register
from twin.builders._coverage_dask import run_model
from twin.builders.context import BuildContext
from twin.errors import BuildError

Scenario = Literal["RMa", "UMa", "UMi"]


class CoverageBuildParams(BaseModel):
    """Parameters of the ``coverage`` builder."""

    model_config = ConfigDict(extra="forbid")

    resolution: float = Field(20.0, gt=0, description="pixel size of the output grid, m")
    threshold_dbm: float = Field(-105.0, description="RSRP that counts as covered, dBm")
    sinr_threshold_db: float = Field(-3.0, description="SINR that counts as covered, dB")
    rsrp_bands_dbm: list[float] = Field(
        default_factory=lambda: list(RSRP_BANDS_DBM), description="polygon thresholds, dBm"
    )
    rx_height_m: float = Field(1.5, gt=0, description="receiver height above ground, m")
    max_radius_km: float | None = Field(
        None, gt=0, description="radius computed per cell (default: the model's 5 km range)"
    )
    min_rsrp_dbm: float | None = Field(
        None, description="weaker signals are dropped, dBm (default: noise - noise_margin_db)"
    )
    noise_margin_db: float = Field(10.0, ge=0, description="see min_rsrp_dbm")
    noise_figure_db: float = Field(7.0, ge=0, description="receiver noise figure, dB")
    cable_loss_db: float = Field(0.0, ge=0)
    body_loss_db: float = Field(0.0, ge=0)
    rx_gain_dbi: float = 0.0
    antenna_gain_dbi: float = Field(8.0, description="boresight gain where the table has none")
    etilt_deg: float = Field(0.0, description="electrical down-tilt where the table has none")
    cell_load: float = Field(1.0, ge=0, le=1, description="interfering share of neighbour REs")
    los_mode: Literal["probability", "terrain"] = "probability"
    scenario: Scenario | None = Field(None, description="force one scenario for every cell")
    default_scenario: Scenario = Field("UMa", description="for cells without a scenario")
    scenario_by_band: dict[str, Scenario] = Field(
        default_factory=dict, description="band -> scenario, overriding the table"
    )
    building_height_m: float = Field(5.0, description="RMa average building height, m")
    street_width_m: float = Field(20.0, description="RMa average street width, m")
    k_factor: float = Field(K_FACTOR, gt=0, description="effective earth radius factor")
    terrain: bool = Field(True, description="use the DEM for line of sight and diffraction")
    columns: dict[str, str] = Field(
        default_factory=dict, description="canonical column -> column name in the sites table"
    )
    outside: Literal["error", "skip"] = Field("error", description="cells off the DEM")
    zone_id: str | None = Field(None, description="column naming each zone")
    workers: int | None = Field(None, ge=1, description="worker processes (default: up to 2)")


def build_coverage(ctx: BuildContext) -> Output:
    params = ctx.params
    assert isinstance(params, CoverageBuildParams)
    try:
        return _build(ctx, params)
    except LayerError as exc:
        raise BuildError(ctx.layer, str(exc)) from None


def _build(ctx: BuildContext, params: CoverageBuildParams) -> Output:
    dem = reproject_raster(ctx.read_raster("dem"), ctx.crs, resolution=params.resolution)
    region = None
    if ctx.boundary is not None and len(ctx.boundary):
        region = rasterio.features.rasterize(
            [(g, 1) for g in ctx.boundary.geometry if g is not None and not g.is_empty],
            out_shape=(dem.height, dem.width),
            transform=dem.transform,
            fill=0,
            dtype="uint8",
        ).astype(bool)
    sites = ctx.read_vector("sites", to_crs=False)
    cells, warnings = prepare_cells(
        _scenarios(sites, params),
        ctx.crs,
        columns=params.columns,
        scenario=params.default_scenario,
        gain_dbi=params.antenna_gain_dbi,
        etilt_deg=params.etilt_deg,
        origin=str(ctx.path("sites")),
    )
    clutter = None
    if "clutter" in ctx.inputs:
        clutter = _on_grid(ctx.read_raster("clutter"), dem)
    model = CoverageModel(
        dem,
        cells,
        _model_params(params),
        region=region,
        clutter_db=clutter,
        outside=params.outside,
        workers=params.workers,
        keep=False,
    )
    result = run_model(ctx.scheduler, model, out=lambda: _disk_grids(ctx, model.shape))
    for message in warnings + model.warnings:
        ctx.warn(message)
    for flag, count in result.flags.items():
        if flag not in ("distance_min", "bs_height"):
            ctx.warn(f"{count} pixel-cell pairs hit the model's {flag} limit (clamped)")
    zones = ctx.read_vector("zones") if "zones" in ctx.inputs else None
    return _output(ctx, params, model, result, zones)


def _disk_grids(ctx: BuildContext, shape: tuple[int, int]) -> Grids:
    """Output grids in files of the build's scratch dir, for a windowed run."""
    d = ctx.scratch()
    return (  # type: ignore[return-value]  # disk_array's dtype is a runtime argument
        disk_array(d / "rsrp.npy", shape, np.float32, np.nan),
        disk_array(d / "sinr.npy", shape, np.float32, np.nan),
        disk_array(d / "serving.npy", shape, np.int32, -1),
    )


def _scenarios(sites: gpd.GeoDataFrame, params: CoverageBuildParams) -> gpd.GeoDataFrame:
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


def _model_params(p: CoverageBuildParams) -> CoverageParams:
    return CoverageParams(
        rx_height_m=p.rx_height_m,
        noise_figure_db=p.noise_figure_db,
        cable_loss_db=p.cable_loss_db,
        body_loss_db=p.body_loss_db,
        rx_gain_dbi=p.rx_gain_dbi,
        cell_load=p.cell_load,
        los_mode=p.los_mode,
        max_radius_m=None if p.max_radius_km is None else p.max_radius_km * 1000,
        min_rsrp_dbm=p.min_rsrp_dbm,
        noise_margin_db=p.noise_margin_db,
        building_height_m=p.building_height_m,
        street_width_m=p.street_width_m,
        k_factor=p.k_factor,
        terrain=p.terrain,
    )


def _on_grid(raster: RasterData, like: RasterData) -> np.ndarray:
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


def _output(
    ctx: BuildContext,
    params: CoverageBuildParams,
    model: CoverageModel,
    result: CoverageResult,
    zones: gpd.GeoDataFrame | None,
) -> Output:
    rsrp, sinr = result.rsrp, result.sinr
    region = coverage_share(
        rsrp,
        threshold_dbm=params.threshold_dbm,
        sinr=sinr,
        sinr_threshold_db=params.sinr_threshold_db,
        region=result.region,
    ).iloc[0]
    share_pct = 100.0 * float(region["share"])
    cells = model.cells
    grid = _summary(ctx.layer, result, len(cells))
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
    figures = [
        Figure(name="coverage_share", label="5G coverage", value=round(share_pct, 1), unit="%"),
        Figure(name="coverage_sites", label="5G sites", value=int(cells["site_id"].nunique())),
    ]
    polygons = coverage_polygons(
        rsrp, sinr, params.rsrp_bands_dbm, params.sinr_threshold_db, params.threshold_dbm
    )
    polygons = polygons[~polygons.geometry.is_empty].reset_index(drop=True)
    zones_layer = None if zones is None else _zones_layer(zones, result, params)
    # Everything above reads the grids with NaN for "no signal"; now they are published.
    extras = {
        "sinr": Output(
            data=_published(sinr),
            title="5G SS-SINR",
            style={"colormap": "viridis", "rescale": [-10, 30]},
            description="SS-SINR of the serving cell, dB (interference from the same band).",
        ),
        "serving": Output(
            data=result.serving,
            title="5G serving cell",
            style={"colormap": "tab20"},
            description="Index of the serving cell (see the cells layer's 'index'); -1 none.",
        ),
        "polygons": Output(
            data=polygons,
            title="5G coverage areas",
            style={"property": "threshold", "opacity": 0.4},
            description="Area at or above each RSRP/SINR threshold (nested polygons).",
        ),
        "cells": _cells_layer(result, cells, grid.served),
    }
    if zones is not None and zones_layer is not None:
        extras["zones"] = zones_layer
        stats["n_zones"] = len(zones)
    return Output(
        data=_published(rsrp),
        stats=stats,
        figures=figures,
        style={"colormap": "rdylgn", "rescale": [-130, -60]},
        title="5G coverage (SS-RSRP)",
        extras=extras,
        description=(
            "Best-server SS-RSRP (dBm) from 3GPP TR 38.901 path loss with terrain line of "
            "sight and knife-edge diffraction."
        ),
    )


NODATA = -9999.0


def _published(raster: RasterData) -> RasterData:
    """The raster with NaN replaced by :data:`NODATA`, in place, block by block.

    A finite nodata value is what every GIS client and tile renderer handles
    (a NaN fill value makes masked-array casts warn while rescaling to bytes).
    Call it last: the model's result is changed.
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


def _cells_layer(result: CoverageResult, cells: pd.DataFrame, served: np.ndarray) -> Output:
    px_km2 = result.rsrp.resolution[0] * result.rsrp.resolution[1] / 1e6
    cols = [
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
    ]
    gdf = gpd.GeoDataFrame(
        cells[cols].assign(
            index=np.arange(len(cells), dtype=np.int32), served_km2=served[: len(cells)] * px_km2
        ),
        geometry=gpd.points_from_xy(cells["x"], cells["y"]),
        crs=result.rsrp.crs,
    )
    return Output(
        data=gdf,
        title="5G cells",
        description="Cells; 'index' is the value of the serving raster, 'served_km2' its area.",
    )


def _zones_layer(
    zones: gpd.GeoDataFrame, result: CoverageResult, params: CoverageBuildParams
) -> Output:
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
    out = out[out.geometry.notna() & ~out.geometry.is_empty].reset_index(drop=True)
    return Output(
        data=out,
        title="5G coverage per zone",
        style={"property": "coverage_share_pct"},
        description="Share of each zone's area covered (RSRP and SINR above the thresholds).",
    )


@dataclass
class _Summary:
    mean_rsrp: float
    median_sinr: float
    #: pixels served per cell index
    served: np.ndarray


def _summary(layer: str, result: CoverageResult, n_cells: int) -> _Summary:
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
            raise BuildError(layer, "serving cell index out of range")
        if not np.array_equal(finite, s >= 0):
            raise BuildError(layer, f"RSRP and serving cell rasters disagree on coverage ({b})")
        served += np.bincount(s[s >= 0], minlength=n_cells)
    if not count:
        raise BuildError(layer, "no pixel of the region receives any cell")
    if hi > 30 or lo < -200:
        raise BuildError(layer, f"RSRP out of range: {lo:.1f}..{hi:.1f} dBm")
    median = exact_median(lambda: (sinr[b.slices][np.isfinite(sinr[b.slices])] for b in blocks))
    return _Summary(total / count, float("nan") if median is None else median, served)


register(
    Builder(
        name="coverage",
        version="1",
        run=build_coverage,
        params=CoverageBuildParams,
        inputs=("dem", "sites"),
        optional_inputs=("zones", "clutter"),
        doc="5G coverage: TR 38.901 + terrain -> best-server RSRP, SINR, serving cell, polygons.",
    )
)
