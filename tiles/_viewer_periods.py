"""The villages' indicators over time, for the viewer's period slider, trend lines and changes.

A villages layer built from tables with periods publishes a long table beside
its GeoParquet (``artifacts["periods"]``: one row per village, period and
indicator, with ``value``, ``change`` since the previous period and the
village's ``lagging`` domains that period). ``/viewer/periods.json`` answers
it column-wise, so a county's twelve months of scores stay small: per
indicator and period one list of values in the order of ``codes``, missing
values (a village with no row that period, a change across a gap) as null.

The server reads only the catalog's artifact, through the layer's current
entry: a request never names a path.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any

import numpy as np
import pandas as pd
from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from tiles.errors import ArtifactError, InvalidParameterError, LayerNotFoundError
from tiles.routes import snapshot
from tiles.store import Snapshot
from tiles.viewer import villages_layer

router = APIRouter()
#: the columns of the long table the viewer reads (``layers.villages_periods.COLUMNS``)
COLUMNS = ("code", "period", "indicator", "value", "change", "lagging")
#: the most indicators one request may name
MAX_INDICATORS = 64


def _cells(values: np.ndarray) -> list[float | None]:
    """Floats to 6 significant digits, NaN as None."""
    return [None if v != v else float(f"{v:.6g}") for v in values.tolist()]


@lru_cache(maxsize=4)
def period_data(path: str, version: str) -> dict[str, Any]:
    """The long table of a villages version, column-wise: codes, periods and value grids.

    Cached per artifact and version: a new catalog version is a new key.

    Returns
    -------
    dict
        ``codes`` (sorted), ``periods`` (oldest first; they sort as text in time
        order), ``indicators`` (sorted), ``value`` and ``change``: indicator ->
        period -> one cell per code, ``lagging``: period -> the domains per code
        (None where the village has no row that period), ``range``: indicator ->
        [min, max] over every period.

    Raises
    ------
    ArtifactError
        When the table cannot be read or lacks a column.
    """
    try:
        long = pd.read_parquet(path, columns=list(COLUMNS))
    except Exception as exc:  # pyarrow raises many kinds; all mean "unreadable"
        raise ArtifactError(f"{path}: cannot read the villages' periods: {exc}") from None
    long["code"] = long["code"].astype(str)
    long["period"] = long["period"].astype(str)
    codes = sorted(long["code"].unique())
    periods = sorted(long["period"].unique())
    indicators = sorted(long["indicator"].astype(str).unique())
    value: dict[str, dict[str, list[float | None]]] = {}
    change: dict[str, dict[str, list[float | None]]] = {}
    ranges: dict[str, list[float | None]] = {}
    for indicator, rows in long.groupby("indicator", sort=True):
        name = str(indicator)
        value[name], change[name] = {}, {}
        for column, out in (("value", value[name]), ("change", change[name])):
            grid = rows.pivot(index="period", columns="code", values=column)
            grid = grid.reindex(index=periods, columns=codes).astype("float64")
            for period, cells in zip(periods, grid.to_numpy(), strict=True):
                out[period] = _cells(cells)
        finite = rows["value"].astype("float64")
        ranges[name] = _cells(np.array([finite.min(), finite.max()]))
    flags = long.drop_duplicates(["period", "code"]).pivot(
        index="period", columns="code", values="lagging"
    )
    flags = flags.reindex(index=periods, columns=codes)
    lagging = {
        p: [None if pd.isna(v) else str(v) for v in row]
        for p, row in zip(periods, flags.to_numpy(), strict=True)
    }
    return {
        "codes": codes,
        "periods": periods,
        "indicators": indicators,
        "value": value,
        "change": change,
        "lagging": lagging,
        "range": ranges,
    }


class VillagePeriods(BaseModel):
    """The villages' indicators per period: one list per indicator and period, in code order."""

    layer: str
    version: str
    kind: str | None = Field(description="the period kind: month, quarter or year")
    periods: list[str] = Field(description="every period of the layer, oldest first")
    codes: list[str] = Field(description="the villages' codes: the order of every list")
    indicators: list[str] = Field(description="every indicator that has periods")
    value: dict[str, dict[str, list[float | None]]] = Field(
        description="indicator -> period -> value per village (null: no value that period)"
    )
    change: dict[str, dict[str, list[float | None]]] = Field(
        description="indicator -> period -> change since the previous period per village"
    )
    lagging: dict[str, list[str | None]] = Field(
        description="period -> lagging domains per village, comma-separated (null: no row)"
    )
    range: dict[str, list[float | None]] = Field(
        description="indicator -> [min, max] over every period (a ramp that holds still)"
    )


@router.get(
    "/viewer/periods.json",
    summary="The villages' indicators per period (the dashboard's time slider and trends)",
    tags=["viewer"],
    response_model=VillagePeriods,
    responses={404: {"description": "no villages layer with periods, or no such period"}},
)
def periods_json(
    snap: Annotated[Snapshot, Depends(snapshot)],
    indicator: Annotated[
        list[str] | None,
        Query(description="indicators to answer (repeat; default: every one)"),
    ] = None,
    period: Annotated[
        str | None, Query(description="one period, as the layer writes it (default: every one)")
    ] = None,
) -> Response:
    name = villages_layer(snap.catalog)
    if name is None:
        raise LayerNotFoundError("no villages layer in the catalog")
    entry = snap.entry(name)
    path = snap.artifact(entry, "periods")
    if path is None:
        raise LayerNotFoundError(
            f"layer {name!r} has no periods (build it with `period` in its params)"
        )
    data = period_data(path, entry.version)
    periods = data["periods"]
    if period is not None and period not in periods:
        shown = ", ".join(periods[:3] + (["..."] if len(periods) > 4 else []) + periods[3:][-1:])
        raise LayerNotFoundError(
            f"period {period[:32]!r}: layer {name!r} has no rows for it (periods: {shown})"
        )
    asked = [i for part in indicator or [] for i in part.split(",") if i]
    if len(asked) > MAX_INDICATORS:
        raise InvalidParameterError(f"indicator: at most {MAX_INDICATORS}, got {len(asked)}")
    unknown = [i for i in asked if i not in data["value"]]
    if unknown:
        raise LayerNotFoundError(
            f"indicator {unknown[0][:64]!r}: layer {name!r} has no periods of it "
            f"(indicators: {', '.join(data['indicators'])})"
        )
    names = asked or data["indicators"]
    chosen = [period] if period is not None else periods

    def pick(grids: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        return {i: {p: grids[i][p] for p in chosen} for i in names}

    return JSONResponse(
        {
            "layer": name,
            "version": entry.version,
            "kind": entry.stats.get("period_kind"),
            "periods": periods,
            "codes": data["codes"],
            "indicators": data["indicators"],
            "value": pick(data["value"]),
            "change": pick(data["change"]),
            "lagging": {p: data["lagging"][p] for p in chosen},
            "range": {i: data["range"][i] for i in names},
        }
    )
