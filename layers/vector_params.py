"""Parameters of the generic ``vector`` layer, without importing pandas or geopandas.

A workspace validates every layer's parameters when it opens (``twin export``
too), so the models live apart from :mod:`layers.vector` and
:mod:`layers.buildings`, whose imports bring in pyogrio, pandas and geopandas
(as :mod:`layers.raster_params` keeps rasterio out). Both modules still offer
them under their old names.
"""

from __future__ import annotations

from pydantic import Field

from layers.params import Params


class HeightParams(Params):
    """How a building layer finds its heights (the ``vector`` builder's ``height`` parameter)."""

    column: str | None = Field(
        None, description="column of heights in metres (default: height, 高度, 建筑高度 ...)"
    )
    floors: str | None = Field(
        None, description="column of floor counts, used where a row has no height (层数 ...)"
    )
    floor_height: float = Field(3.0, gt=0, le=10, description="metres per floor")
    max_height: float = Field(
        300.0, gt=0, le=1000, description="taller than this is absurd: reported, not drawn"
    )


class VectorParams(Params):
    """Parameters of the generic ``vector`` layer (see :func:`layers.vector.clean_vector`)."""

    id: str | None = Field(None, description="column whose values must be unique and non-null")
    columns: list[str] | None = Field(None, description="columns to keep (default: all)")
    rename: dict[str, str] = Field(default_factory=dict, description="old name -> new name")
    repair: bool = Field(True, description="repair invalid geometries; False drops them")
    clip_to_region: bool = Field(False, description="keep only what intersects the boundary")
    height: HeightParams | None = Field(
        None,
        description="buildings: publish height_m from a height or floors column "
        "(layers.buildings), drawn standing in 3D",
    )
