"""The generic ``vector`` and ``raster`` builders: any source, validated and reprojected.

These are what an analyst uses to add a layer of their own::

    [layers.enterprises]
    builder = "vector"
    inputs = { source = "enterprises" }
    params = { id = "enterprise_id" }
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from layers.errors import LayerError
from layers.raster import RESAMPLING, reproject_raster
from layers.vector import clean_vector
from twin.builders import Builder, Output, register
from twin.builders.context import BuildContext
from twin.errors import BuildError


class VectorParams(BaseModel):
    """Parameters of the ``vector`` builder."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(None, description="column whose values must be unique and non-null")
    columns: list[str] | None = Field(None, description="columns to keep (default: all)")
    rename: dict[str, str] = Field(default_factory=dict, description="old name -> new name")
    repair: bool = Field(True, description="repair invalid geometries; False drops them")
    clip_to_region: bool = Field(False, description="keep only what intersects the boundary")


def build_vector(ctx: BuildContext) -> Output:
    params = ctx.params
    assert isinstance(params, VectorParams)
    item = ctx.input("source")
    gdf = ctx.read_vector("source", to_crs=False)
    try:
        gdf, report = clean_vector(
            gdf,
            ctx.crs,
            repair=params.repair,
            columns=params.columns,
            rename=params.rename or None,
            id_column=params.id,
            origin=str(item.path),
        )
    except LayerError as exc:
        raise BuildError(ctx.layer, str(exc)) from None
    if params.clip_to_region and ctx.boundary is not None:
        gdf = gdf.clip(ctx.boundary).reset_index(drop=True)
    if report.repaired or report.dropped_invalid or report.dropped_empty:
        ctx.warn(
            f"{item.path}: repaired {report.repaired}, dropped {report.dropped_invalid} invalid "
            f"and {report.dropped_empty} empty geometries"
        )
    return Output(data=gdf, stats=dict(report.as_stats()))


class RasterParams(BaseModel):
    """Parameters of the ``raster`` builder."""

    model_config = ConfigDict(extra="forbid")

    resolution: float | None = Field(None, gt=0, description="pixel size in metres (default: keep)")
    resampling: str = Field("bilinear", description=f"one of {', '.join(sorted(RESAMPLING))}")
    nodata: float | None = Field(None, description="nodata to use when the source has none")
    unit: str | None = Field(None, description="unit of the values, e.g. 'm'")

    @field_validator("resampling")
    @classmethod
    def _known_resampling(cls, value: str) -> str:
        # Checked with the config, so a typo is a twin.toml error, not a failed build.
        if value not in RESAMPLING:
            raise ValueError(f"{value!r} is not one of {', '.join(sorted(RESAMPLING))}")
        return value


def build_raster(ctx: BuildContext) -> Output:
    params = ctx.params
    assert isinstance(params, RasterParams)
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
        version="1",
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
