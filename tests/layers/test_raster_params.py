"""The raster layer's parameters, checked without rasterio, name rasterio's methods."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from rasterio.enums import Resampling

from layers.raster import RESAMPLING as ENUMS
from layers.raster_params import RESAMPLING, RasterParams


def test_resampling_names_are_rasterios_warp_methods() -> None:
    assert list(RESAMPLING) == [r.name for r in Resampling if r.value <= 14]
    assert all(ENUMS[name] is Resampling[name] for name in RESAMPLING)


def test_an_unknown_resampling_is_refused_naming_the_choices() -> None:
    assert RasterParams(resampling="cubic_spline").resampling == "cubic_spline"
    with pytest.raises(ValidationError, match="'bicubic' is not one of average, bilinear"):
        RasterParams(resampling="bicubic")
