"""The parameters of a ``diff`` layer (what ``twin.toml`` validates its ``params`` with)."""

from __future__ import annotations

from pydantic import Field

from layers.params import Params


class DiffParams(Params):
    """Parameters of the ``diff`` builder: which version to compare with, and how."""

    against: str = Field(
        "previous", description="the version compared with: 'previous', a version id or an ISO date"
    )
    id: str | None = Field(None, description="vector: the field to match features by")
    tolerance: float | None = Field(
        None, ge=0, description="vector: geometry tolerance (m, 0.01); raster: value (0)"
    )
    zone_id: str | None = Field(None, description="raster: the zones input's id column")
    rescale: float | None = Field(
        None, gt=0, description="raster: half-width of the colour scale (default: largest change)"
    )


__all__ = ["DiffParams"]
