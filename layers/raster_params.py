"""Parameters of the generic ``raster`` layer, without importing rasterio.

A workspace validates every layer's parameters when it opens (``twin export``
of a vector layer too), so the model lives apart from :mod:`layers.raster`,
whose import brings in rasterio and GDAL. :data:`RESAMPLING` names rasterio's
warp resampling methods (``Resampling`` members up to ``rms``, value 14);
:mod:`layers.raster` maps them to the enum, and a test holds the two lists equal.
"""

from __future__ import annotations

from pydantic import Field, field_validator

from layers.params import Params

#: rasterio's ``Resampling`` names usable for warping, in enum order
RESAMPLING = (
    "nearest",
    "bilinear",
    "cubic",
    "cubic_spline",
    "lanczos",
    "average",
    "mode",
    "gauss",
    "max",
    "min",
    "med",
    "q1",
    "q3",
    "sum",
    "rms",
)


class RasterParams(Params):
    """Parameters of the generic ``raster`` layer (see :func:`layers.raster.reproject_raster`)."""

    resolution: float | None = Field(None, gt=0, description="pixel size in metres (default: keep)")
    resampling: str = Field("bilinear", description=f"one of {', '.join(sorted(RESAMPLING))}")
    nodata: float | None = Field(None, description="nodata to use when the source has none")
    unit: str | None = Field(None, description="unit of the values, e.g. 'm'")

    @field_validator("resampling")
    @classmethod
    def _known_resampling(cls, value: str) -> str:
        # Checked with the parameters, so a typo is a twin.toml error, not a failed build.
        if value not in RESAMPLING:
            raise ValueError(f"{value!r} is not one of {', '.join(sorted(RESAMPLING))}")
        return value


__all__ = ["RESAMPLING", "RasterParams"]
