"""Parameters of a road network build: the ``params`` of a ``roads`` layer in ``twin.toml``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from layers.params import Params
from layers.roads.network import LINE_FIELDS


class RoadsParams(Params):
    """Parameters of the ``roads`` builder (see :func:`layers.roads.read_roads`)."""

    network: Literal["drive", "bike", "walk", "all"] = Field(
        "drive", description="which ways to keep, with osmnx's rules"
    )
    simplify: bool = Field(True, description="merge edges through nodes where nothing changes")
    consolidate_m: float | None = Field(
        None, gt=0, description="merge intersections within this many metres (osmnx style)"
    )
    clip_to_region: bool = Field(False, description="keep only roads inside the region boundary")
    columns: dict[str, str] = Field(
        default_factory=dict,
        description=f"line sources: our field -> source column, fields {', '.join(LINE_FIELDS)}",
    )
    class_map: dict[str, str] = Field(
        default_factory=dict, description="line sources: source class value -> road class"
    )
    snap_m: float = Field(0.01, gt=0, description="line sources: vertices this close are a node")
    zone_id: str | None = Field(None, description="zones: the column naming each zone")


__all__ = ["RoadsParams"]
