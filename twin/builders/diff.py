"""The ``diff`` builder: what changed in another layer, as a layer of its own.

::

    [layers.coverage_change]
    builder = "diff"
    inputs = { layer = "layers.coverage" }
    params = { against = "previous" }

The input layer's current version is compared with the version ``against``
names (``previous``, a version id or an ISO date; see :mod:`twin.diff`). Its
fingerprint holds the input's version, so the diff is rebuilt, versioned and
published whenever its input is, and served by the usual routes:

- a raster input gives the difference grid (newer - older, float32) drawn with
  a diverging colormap (``rdbu``, centred at 0, symmetric rescale), and with
  zones (the ``zones`` input, else a coverage layer's own zones) a
  ``<layer>_zones`` layer of the change per zone: for coverage, the share of
  each zone covered before and after, gained and lost;
- a vector input gives every feature of both versions with its ``change``
  (added, removed, changed, unchanged) and changed ``fields``, coloured by a
  categorical style hint (``categories``).

An input with a single version is compared with itself (nothing changed),
with a warning.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np

from layers.blocks import disk_array
from layers.diff import (
    CHANGES,
    Covered,
    DiffParams,
    RasterDiff,
    coverage_change,
    diff_features,
    raster_diff,
    vector_diff,
)
from layers.diff.vector import GEOMETRY_TOLERANCE
from layers.errors import LayerError
from layers.labels import Label
from layers.raster import open_raster
from layers.types import RasterData
from tiles.catalog import Catalog, Figure, read_catalog
from tiles.errors import TilesError
from tiles.versions import VersionIndex, published_at
from twin.builders import Builder, Output, register
from twin.builders.context import BuildContext
from twin.diff import (
    PREVIOUS,
    Side,
    covered,
    extra_side,
    id_column,
    is_coverage,
    resolve_version,
    version_side,
)
from twin.errors import BuildError, WorkspaceError

#: The difference grid's nodata (finite, as the coverage rasters': see layers.coverage.pipeline).
NODATA = -9999.0
#: Colours of the vector changes (ColorBrewer RdYlBu ends, grey for no change).
CHANGE_COLORS = {
    "added": "#1a9641",
    "removed": "#d7191c",
    "changed": "#fdae61",
    "unchanged": "#bababa",
}
CHANGE_LABELS = {
    "added": {"zh": "新增", "en": "Added"},
    "removed": {"zh": "删除", "en": "Removed"},
    "changed": {"zh": "变更", "en": "Changed"},
    "unchanged": {"zh": "未变", "en": "Unchanged"},
}
FIELDS = {
    "change": Label("变化", "Change"),
    "fields": Label("变更字段", "Changed fields"),
    "geometry_moved": Label("几何位移", "Geometry moved", "m"),
    "pixels": Label("像元数", "Pixels"),
    "mean": Label("平均变化", "Mean change"),
    "min": Label("最小变化", "Smallest change"),
    "max": Label("最大变化", "Largest change"),
    "std": Label("变化标准差", "Change std"),
    "changed": Label("变化像元", "Pixels changed"),
    "gained": Label("新增有效像元", "Pixels gained data"),
    "lost": Label("失去有效像元", "Pixels lost data"),
    "share_before_pct": Label("之前覆盖率", "Covered before", "%"),
    "share_after_pct": Label("之后覆盖率", "Covered after", "%"),
    "gained_pct": Label("新增覆盖", "Share newly covered", "%"),
    "lost_pct": Label("失去覆盖", "Share no longer covered", "%"),
    "change_pp": Label("覆盖率变化", "Coverage change", "pp", "个百分点"),
}


def build_diff(ctx: BuildContext) -> Output:
    params = ctx.params
    assert isinstance(params, DiffParams)
    item = ctx.input("layer")
    if item.kind != "layer" or item.entry is None or ctx.catalog_path is None:
        raise BuildError(ctx.layer, "inputs.layer must name a built layer (layers.<name>)")
    name, entry, catalog_path = item.name, item.entry, ctx.catalog_path
    try:
        catalog = read_catalog(catalog_path)
        if len(entry.history) == 0 and params.against == PREVIOUS:
            ctx.warn(f"{name} has one version only: compared with itself, nothing changed")
            older = entry.version
        else:
            older = resolve_version(
                VersionIndex(catalog_path, catalog), name, params.against, PREVIOUS
            )
        before = version_side(catalog_path, catalog, name, older)
        after = version_side(catalog_path, catalog, name, entry.version)
        if before.entry.kind != after.entry.kind:
            raise BuildError(ctx.layer, f"{name} {older} is {before.entry.kind}, not {entry.kind}")
        if entry.kind == "vector":
            return _vector(ctx, params, name, before, after)
        return _raster(ctx, params, catalog, name, before, after)
    except (LayerError, TilesError, WorkspaceError) as exc:  # e.g. a version pruned
        raise BuildError(ctx.layer, str(exc)) from None


def _versions(before: Side, after: Side) -> dict[str, float | int | str]:
    return {"before": before.version, "after": after.version}


def _vector(ctx: BuildContext, params: DiffParams, name: str, before: Side, after: Side) -> Output:
    column = id_column(name, after.entry, params.id)
    tolerance = GEOMETRY_TOLERANCE if params.tolerance is None else params.tolerance
    diff = vector_diff(
        gpd.read_parquet(before.path), gpd.read_parquet(after.path), column, tolerance
    )
    gdf = diff_features(diff)
    stats: dict[str, float | int | str] = {**_versions(before, after), **diff.counts()}
    return Output(
        data=gdf,
        stats=stats,
        style={
            "property": "change",
            "categories": {c: CHANGE_COLORS[c] for c in CHANGES},
            "category_labels": CHANGE_LABELS,
            "id": column,
        },
        title=f"{after.entry.title}: changes",
        title_i18n={"zh": f"{after.entry.text('zh')}：变化"},
        labels=FIELDS,
        description=f"Features of {name} added, removed and changed from {before.version} "
        f"to {after.version}, matched by {column}.",
    )


def _raster(
    ctx: BuildContext,
    params: DiffParams,
    catalog: Catalog,
    name: str,
    before: Side,
    after: Side,
) -> Output:
    old, new = open_raster(before.path), open_raster(after.path)
    zones, zone_id = _zones(ctx, params, catalog, name, after)
    grid = disk_array(ctx.scratch() / "diff.npy", (new.height, new.width), np.float32, NODATA)
    diff = raster_diff(
        old,
        new,
        zones=zones,
        zone_id=zone_id,
        tolerance=params.tolerance or 0.0,
        out=grid,
        out_nodata=NODATA,
    )
    unit = new.units[0] if new.units else None
    raster = RasterData(grid, new.transform, new.crs, NODATA, ["difference"], [unit])
    stats: dict[str, float | int | str] = {
        **_versions(before, after),
        **{k: v for k, v in diff.stats.items() if v is not None},
    }
    extent = params.rescale or _nice(max(abs(diff.stats["min"] or 0), abs(diff.stats["max"] or 0)))
    coverage = is_coverage(before.entry) and is_coverage(after.entry)
    figures: list[Figure] = []
    extras: dict[str, Output] = {}
    if coverage:
        assert ctx.catalog_path is not None
        was = covered(ctx.catalog_path, catalog, name, before)
        now = covered(ctx.catalog_path, catalog, name, after)
        if ctx.boundary is not None:
            whole = coverage_change(was, now, ctx.boundary.dissolve().reset_index(drop=True))
            pp = round(100 * float(whole["change"].iloc[0]), 3)
            stats["coverage_change_pp"] = pp
            when = published_at(before.entry)
            since = when.strftime("%Y-%m-%d") if when else before.version
            figures.append(
                Figure(
                    name="coverage_change_pp",
                    label=f"5G coverage change since {since}",
                    label_i18n={"zh": f"5G 覆盖率变化（较 {since}）"},
                    value=pp,
                    unit="pp",
                    unit_i18n={"zh": "个百分点"},
                )
            )
        if zones is not None:
            extras["zones"] = _coverage_zones(zones, zone_id, diff, was, now)
    elif zones is not None:
        extras["zones"] = _change_zones(zones, diff, unit)
    return Output(
        data=raster,
        stats=stats,
        figures=figures,
        style={"colormap": "rdbu", "rescale": [-extent, extent]},
        title=f"{after.entry.title}: change",
        title_i18n={"zh": f"{after.entry.text('zh')}：变化"},
        extras=extras,
        description=f"{name} {after.version} minus {before.version}"
        + (f", {unit}" if unit else "")
        + "; nodata where either version has none.",
    )


def _nice(value: float) -> float:
    """``value`` rounded up to 1, 2 or 5 times a power of ten (1 for no change)."""
    if not value or not math.isfinite(value):
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return float(next(m * power for m in (1, 2, 5, 10) if m * power >= value))


def _zones(
    ctx: BuildContext, params: DiffParams, catalog: Catalog, name: str, after: Side
) -> tuple[gpd.GeoDataFrame | None, str | None]:
    """The zones the change is summed up in, and their id column."""
    if "zones" in ctx.inputs:
        zones = ctx.read_vector("zones")
        zone_id = params.zone_id
        z_entry = ctx.input("zones").entry
        if zone_id is None and z_entry is not None:
            zone_id = z_entry.provenance.params.get("id") or z_entry.style.get("id")
        if zone_id is not None and zone_id not in zones.columns:
            raise BuildError(ctx.layer, f"params.zone_id: the zones have no column {zone_id!r}")
        return zones, zone_id
    if is_coverage(after.entry) and ctx.catalog_path is not None:
        own = extra_side(ctx.catalog_path, catalog, name, "zones", after.version)
        if own is not None:
            zones = gpd.read_parquet(own.path)
            zone_id = params.zone_id or after.entry.provenance.params.get("zone_id")
            return zones, zone_id if zone_id in zones.columns else None
    return None, None


def _keep(zones: gpd.GeoDataFrame, zone_id: str | None) -> gpd.GeoDataFrame:
    """The zones' id and name columns and geometry, to carry the change."""
    keep = [c for c in (zone_id, "name") if c is not None and c in zones.columns]
    return zones[[*dict.fromkeys(keep), zones.geometry.name]].reset_index(drop=True)


def _symmetric(values: np.ndarray) -> list[float]:
    top = float(np.nanmax(np.abs(values))) if np.isfinite(values).any() else 0.0
    extent = _nice(top)
    return [-extent, extent]


def _change_zones(zones: gpd.GeoDataFrame, diff: RasterDiff, unit: str | None) -> Output:
    assert diff.zones is not None
    gdf = _keep(zones, None)
    for col in ("pixels", "mean", "min", "max", "std", "changed", "gained", "lost"):
        gdf[col] = diff.zones[col].to_numpy()
    gdf = gdf[~gdf.geometry.is_empty & gdf.geometry.notna()].reset_index(drop=True)
    return Output(
        data=gdf,
        title="Change per zone",
        title_i18n={"zh": "分区变化"},
        labels=FIELDS,
        style={"property": "mean", "ramp": "diverging", "range": _symmetric(gdf["mean"])},
        description="Mean, extremes and changed pixels of the difference in each zone"
        + (f" ({unit})" if unit else "")
        + ".",
    )


def _coverage_zones(
    zones: gpd.GeoDataFrame, zone_id: str | None, diff: RasterDiff, was: Covered, now: Covered
) -> Output:
    shares = coverage_change(was, now, zones, zone_id)
    gdf = _keep(zones, zone_id)
    gdf["share_before_pct"] = 100 * shares["share_before"].to_numpy()
    gdf["share_after_pct"] = 100 * shares["share_after"].to_numpy()
    gdf["gained_pct"] = 100 * shares["gained"].to_numpy()
    gdf["lost_pct"] = 100 * shares["lost"].to_numpy()
    gdf["change_pp"] = 100 * shares["change"].to_numpy()
    assert diff.zones is not None
    gdf["mean"] = diff.zones["mean"].to_numpy()
    gdf = gdf[~gdf.geometry.is_empty & gdf.geometry.notna()].reset_index(drop=True)
    style = {"property": "change_pp", "ramp": "diverging", "range": _symmetric(gdf["change_pp"])}
    if zone_id is not None:
        style["id"] = zone_id
    return Output(
        data=gdf,
        title="5G coverage change per zone",
        title_i18n={"zh": "分区 5G 覆盖率变化"},
        labels=FIELDS,
        style=style,
        description="Share of each zone covered before and after, newly covered and no longer "
        "covered (each version by its own thresholds), and the mean RSRP change (dB).",
    )


register(
    Builder(
        name="diff",
        version="1",
        run=build_diff,
        params=DiffParams,
        inputs=("layer",),
        optional_inputs=("zones",),
        doc="What changed in another layer since a version: difference raster or changed features.",
    )
)
