"""Parameters of a villages build: the ``params`` of a ``villages`` layer in ``twin.toml``.

They name which inputs are indicator tables and which are point layers (and
how each is aggregated per village), and pass the scoring options of
:func:`layers.villages.build_villages`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from layers.params import Params
from layers.villages import DEFAULT_SCORES, DOMAINS
from layers.villages_periods import PERIOD_COLUMNS, PERIOD_KINDS


class PointsParams(Params):
    """How one point input is aggregated per village."""

    domain: Literal[DOMAINS] = "business"  # type: ignore[valid-type]
    category: str | None = Field(None, description="count per value of this column too")
    sum: list[str] = Field(default_factory=list, description="numeric columns to sum")
    reach: list[str] = Field(
        default_factory=list, description="category values to measure the distance to"
    )


class VillagesParams(Params):
    """Parameters of the ``villages`` builder."""

    code: str = Field("village_code", description="the village code column in every input")
    name: str = Field("name", description="the village name column of the boundaries")
    tables: list[str] = Field(default_factory=list, description="inputs that are tables")
    points: dict[str, PointsParams] = Field(
        default_factory=dict, description="inputs that are point layers, and how to aggregate"
    )
    domains: dict[str, Literal[DOMAINS]] = Field(  # type: ignore[valid-type]
        default_factory=dict, description="table column -> domain, for columns not known"
    )
    threshold_dbm: float | None = Field(
        None, description="RSRP (dBm) from which an area is covered (default: the coverage layer's)"
    )
    sinr_threshold_db: float | None = Field(
        None, description="SINR (dB) a covered area also needs (default: the coverage layer's)"
    )
    scores: dict[str, dict[str, float]] | None = Field(
        None, description=f"domain -> {{column: weight}} (default {DEFAULT_SCORES})"
    )
    score_method: Literal["minmax", "rank"] = Field(
        "rank", description="rank is robust to skewed indicators such as revenue"
    )
    lag_threshold: float = Field(40.0, ge=0, le=100, description="a domain score below this lags")
    period: Literal[PERIOD_KINDS] | None = Field(  # type: ignore[valid-type]
        None,
        description="the tables hold several periods of this kind (month 2026-10, quarter "
        "2026Q3, year 2026): the layer shows the latest, the 'periods' artifact every one",
    )
    period_column: str | None = Field(
        None,
        description=f"the tables' period column (default: the one named {', '.join(PERIOD_COLUMNS)}"
        "); a table given as files, one per period, takes the period from each file's name",
    )
    style_by: str | None = Field(
        None,
        description="the indicator the map colours by (default: score_total, or area_km2 "
        "when no domain has indicators to score)",
    )

    @model_validator(mode="after")
    def _roles_once(self) -> VillagesParams:
        both = set(self.tables) & set(self.points)
        if both:
            raise ValueError(f"input {sorted(both)[0]!r} is both a table and a point layer")
        reserved = {"boundaries", "roads", "coverage"} & (set(self.tables) | set(self.points))
        if reserved:
            raise ValueError(f"input {sorted(reserved)[0]!r} has a fixed role")
        if self.period_column is not None and self.period is None:
            raise ValueError("period_column needs period (month, quarter or year)")
        return self


__all__ = ["PointsParams", "VillagesParams"]
