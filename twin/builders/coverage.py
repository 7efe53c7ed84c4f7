"""The ``coverage`` builder: 5G best-server RSRP, SINR, serving cell and coverage polygons.

::

    [layers.coverage]
    builder = "coverage"
    inputs = { dem = "dem", sites = "sites", zones = "layers.villages_src",
               landcover = "landcover" }
    params = { resolution = 20, threshold_dbm = -105, clutter_loss_db = { forest = 12 } }

Publishes the RSRP raster as the layer itself and, with the same version,
``<layer>_sinr``, ``<layer>_serving``, ``<layer>_polygons``, ``<layer>_cells``
and (with a ``zones`` input) ``<layer>_zones``. See :mod:`layers.coverage`
for the model.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np

from layers.blocks import disk_array
from layers.coverage import CoverageParams, CoveragePipelineResult, run_coverage
from layers.coverage.labels import (
    CELL_FIELDS,
    MEASUREMENT_FIELDS,
    POLYGON_FIELDS,
    SERVING,
    SINR,
    ZONE_FIELDS,
)
from layers.coverage.measured import Measured
from layers.coverage.windows import Grids
from layers.errors import LayerError
from layers.types import RasterData
from tiles.catalog import Figure
from twin.builders import Builder, Output, register
from twin.builders._coverage_dask import run_model
from twin.builders.context import BuildContext
from twin.errors import BuildError


def build_coverage(ctx: BuildContext) -> Output:
    params = ctx.params
    assert isinstance(params, CoverageParams)
    try:
        out = run_coverage(
            ctx.read_raster("dem"),
            ctx.read_vector("sites", to_crs=False),
            params,
            ctx.crs,
            boundary=ctx.boundary,
            zones=ctx.read_vector("zones") if "zones" in ctx.inputs else None,
            clutter=ctx.read_raster("clutter") if "clutter" in ctx.inputs else None,
            landcover=_landcover(ctx) if "landcover" in ctx.inputs else None,
            grids=lambda shape: _disk_grids(ctx, shape),
            run=lambda model, grids: run_model(ctx.scheduler, model, out=grids),
            origin=str(ctx.path("sites")),
            measurements=ctx.read_vector("measurements") if "measurements" in ctx.inputs else None,
            measurements_origin=_origin(ctx, "measurements"),
        )
    except LayerError as exc:
        raise BuildError(ctx.layer, str(exc)) from None
    for message in out.warnings:
        ctx.warn(message)
    return _output(out)


def _landcover(ctx: BuildContext) -> RasterData | gpd.GeoDataFrame:
    """The ``landcover`` input: a class raster (GeoTIFF) or polygons with a class column."""
    if ctx.path("landcover").suffix.lower() in (".tif", ".tiff"):
        return ctx.read_raster("landcover")
    return ctx.read_vector("landcover")


def _origin(ctx: BuildContext, key: str) -> str:
    return str(ctx.path(key)) if key in ctx.inputs else key


def _disk_grids(ctx: BuildContext, shape: tuple[int, int]) -> Grids:
    """Output grids in files of the build's scratch dir, for a windowed run."""
    d = ctx.scratch()
    return (  # type: ignore[return-value]  # disk_array's dtype is a runtime argument
        disk_array(d / "rsrp.npy", shape, np.float32, np.nan),
        disk_array(d / "sinr.npy", shape, np.float32, np.nan),
        disk_array(d / "serving.npy", shape, np.int32, -1),
    )


def _output(out: CoveragePipelineResult) -> Output:
    """The run's rasters and tables as the layer and its extras, with titles and styles."""
    n_sites = out.stats["n_sites"]
    figures = [
        Figure(
            name="coverage_share",
            label="5G coverage",
            label_i18n={"zh": "5G 覆盖率"},
            value=round(out.share_pct, 1),
            unit="%",
        ),
        Figure(
            name="coverage_sites",
            label="5G sites",
            label_i18n={"zh": "5G 基站"},
            value=n_sites,
            unit_i18n={"zh": "个"},
        ),
    ]
    extras = {
        "sinr": Output(
            data=out.sinr,
            title="5G SS-SINR",
            title_i18n={"zh": SINR.zh},
            style={"colormap": "viridis", "rescale": [-10, 30]},
            description="SS-SINR of the serving cell, dB (interference from the same band).",
        ),
        "serving": Output(
            data=out.serving,
            title="5G serving cell",
            title_i18n={"zh": SERVING.zh},
            style={"colormap": "tab20"},
            description="Index of the serving cell (see the cells layer's 'index'); -1 none.",
        ),
        "polygons": Output(
            data=out.polygons,
            title="5G coverage areas",
            title_i18n={"zh": "5G 覆盖区域"},
            labels=POLYGON_FIELDS,
            style={"property": "threshold", "opacity": 0.4},
            description="Area at or above each RSRP/SINR threshold (nested polygons).",
        ),
        "cells": Output(
            data=out.cells,
            title="5G cells",
            title_i18n={"zh": "5G 小区"},
            labels=CELL_FIELDS,
            style={"id": "cell_id"},  # what names a cell (twin diff matches cells by it)
            description="Cells; 'index' is the value of the serving raster, 'served_km2' its area.",
        ),
    }
    if out.zones is not None:
        extras["zones"] = Output(
            data=out.zones,
            title="5G coverage per zone",
            title_i18n={"zh": "分区 5G 覆盖率"},
            labels=ZONE_FIELDS,
            style={"property": "coverage_share_pct"},
            description="Share of each zone's area covered (RSRP and SINR above the thresholds).",
        )
    if out.measured is not None:
        _measured(out.measured, figures, extras)
    return Output(
        data=out.rsrp,
        stats=out.stats,
        figures=figures,
        style={"colormap": "rdylgn", "rescale": [-130, -60]},
        title="5G coverage (SS-RSRP)",
        title_i18n={"zh": "5G 覆盖 (SS-RSRP)"},
        extras=extras,
        description=(
            "Best-server SS-RSRP (dBm) from 3GPP TR 38.901 path loss with terrain line of "
            "sight and knife-edge diffraction."
        ),
    )


def _measured(m: Measured, figures: list[Figure], extras: dict[str, Output]) -> None:
    """The drive test's figures and layers: error before/after, reliability share, points."""
    for name, label, zh, unit in (
        ("calib_rmse_before_db", "RSRP error before calibration (RMSE)", "校准前 RSRP 误差", "dB"),
        (
            "calib_rmse_after_db",
            "RSRP error after calibration (RMSE, held out)",
            "校准后 RSRP 误差",
            "dB",
        ),
        ("shadowing_sigma_db", "Shadowing sigma", "阴影衰落标准差", "dB"),
        ("coverage_share_95_pct", "5G coverage at 95 % reliability", "95% 可靠度 5G 覆盖率", "%"),
    ):
        if name in m.stats:
            figures.append(
                Figure(
                    name=name, label=label, label_i18n={"zh": zh}, value=m.stats[name], unit=unit
                )
            )
    after = "error_after_db" if "error_after_db" in m.points.columns else "error_before_db"
    extras["measurements"] = Output(
        data=m.points,
        title="5G drive test: prediction error",
        title_i18n={"zh": "5G 路测：预测误差"},
        labels=MEASUREMENT_FIELDS,
        style={"property": after, "colormap": "rdbu", "rescale": [-20, 20]},
        description="Measured RSRP points; error = prediction - measurement, dB "
        "(error_after_db: held out, after calibration).",
    )


register(
    Builder(
        name="coverage",
        version="1",
        run=build_coverage,
        params=CoverageParams,
        inputs=("dem", "sites"),
        optional_inputs=("zones", "clutter", "landcover", "measurements"),
        doc="5G coverage: TR 38.901 + terrain -> best-server RSRP, SINR, serving cell, polygons.",
    )
)
