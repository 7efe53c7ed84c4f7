"""The ``roads`` builder: a routable road network from an OSM PBF or any line source.

::

    [layers.roads]
    builder = "roads"
    inputs = { osm = "osm", zones = "layers.villages_src" }   # zones optional
    params = { network = "drive", simplify = true, consolidate_m = 10 }

The ``osm`` input is read as OSM data when its file name ends in ``.osm.pbf``
/ ``.pbf`` / ``.osm`` / ``.o5m``, otherwise as an OGR line source (with
``columns`` mapping its fields). The layer is the edge table; the nodes publish
as ``<layer>_nodes`` and, with a ``zones`` input, road km by class and density
per zone as ``<layer>_zones``.

On a Dask cluster (``twin build --scheduler``), an OSM input is read here
(pyosmium places every way from the node locations of the whole file) into
compact arrays, the per-way stages (projection, tag normalisation) run on
spatial partitions of the ways on the workers (:mod:`layers.roads._parts`).
A line source is read by partitions of its rows on the workers, each
projected, clipped, exploded and normalised there (:mod:`layers.roads._lines`).
The global stages (snapping line vertices to nodes, splitting at shared nodes,
simplification, consolidation, components, speeds) then run here on the
reassembled arrays: they need the whole graph, so the network is in this
process's memory (edges and nodes are written as one frame each). The
published layers are identical to a single-process build's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from layers.crs import same_crs
from layers.encodings import resolve_encoding
from layers.errors import LayerError
from layers.geodesy import geodesic_area
from layers.roads import (
    RoadNetwork,
    RoadsParams,
    is_osm_path,
    read_line_roads,
    read_osm_roads,
    zone_figures,
)
from layers.roads.labels import NODE_FIELDS, ROAD_FIELDS, ZONE_FIELDS
from tiles.catalog import Figure
from twin._executors import dask_client
from twin.builders import Builder, Output, register
from twin.builders.context import BuildContext
from twin.errors import BuildError


def build_roads(ctx: BuildContext) -> Output:
    params = ctx.params
    assert isinstance(params, RoadsParams)
    item = ctx.input("osm")
    clip = None
    if params.clip_to_region and ctx.boundary is not None:
        clip = shapely.union_all(ctx.boundary.geometry.to_numpy())
    try:
        net = _read(ctx, params, clip)
    except LayerError as exc:
        raise BuildError(ctx.layer, str(exc)) from None
    edges, nodes = net.edges, net.nodes
    _check(ctx, net)
    length_km = float(edges["length_m"].sum() / 1000.0)
    stats: dict[str, float | int | str] = {
        "length_km": round(length_km, 3),
        "edges": len(edges),
        "nodes": len(nodes),
        "components": int(net.stats.get("components", 0)),
        "network": params.network if is_osm_path(item.path) else "lines",
    }
    for cls, km in net.length_km_by_class().items():
        stats[f"km_{cls}"] = round(km, 3)
    for key in (
        "missing_nodes",
        "duplicate_ways",
        "zero_length_dropped",
        "intersections_consolidated",
    ):
        if key in net.stats:
            stats[key] = int(net.stats[key])
    figures = [
        Figure(
            name="road_km",
            label="Road length",
            label_i18n={"zh": "道路总里程"},
            value=round(length_km, 1),
            unit="km",
            layer=ctx.layer,
        )
    ]
    if ctx.boundary is not None:
        region = shapely.union_all(ctx.boundary.geometry.to_numpy())
        area_km2 = float(geodesic_area([region], ctx.boundary.crs)[0] / 1e6)
        if area_km2 > 0:
            figures.append(
                Figure(
                    name="road_density",
                    label="Road density",
                    label_i18n={"zh": "路网密度"},
                    value=round(length_km / area_km2, 3),
                    unit="km/km²",
                    layer=ctx.layer,
                )
            )
    extras = {
        "nodes": Output(
            data=nodes,
            stats={"count": len(nodes)},
            title="Road nodes",
            title_i18n={"zh": "道路节点"},
            labels=NODE_FIELDS,
        )
    }
    if "zones" in ctx.inputs:
        extras["zones"] = _zones(ctx, params, edges)
    if net.stats.get("missing_nodes"):
        ctx.warn(
            f"{item.path}: {net.stats['missing_nodes']} way node(s) missing from the file "
            "(a clipped extract); ways kept as far as their nodes exist"
        )
    return Output(
        data=edges,
        stats=stats,
        figures=figures,
        style={"color_by": "road_class", "geometry": "line"},
        extras=extras,
        title="Roads",
        title_i18n={"zh": "道路"},
        labels=ROAD_FIELDS,
        description=f"Road network ({stats['network']}), split at intersections",
    )


def _read(ctx: BuildContext, params: RoadsParams, clip: shapely.Geometry | None) -> RoadNetwork:
    item = ctx.input("osm")
    if item.kind == "source" and is_osm_path(item.path):
        with dask_client(ctx.scheduler) as client:
            return read_osm_roads(
                item.path,
                network=params.network,
                crs=ctx.crs,
                simplify=params.simplify,
                consolidate_m=params.consolidate_m,
                clip=clip,
                **({} if client is None else _on_cluster(client)),
            )
    src = item.source
    with dask_client(ctx.scheduler) as client:
        return read_line_roads(
            item.path,
            columns=params.columns or None,
            crs=ctx.crs,
            network=params.network if params.columns or item.kind == "source" else "all",
            simplify=params.simplify,
            consolidate_m=params.consolidate_m,
            clip=clip,
            layer=src.layer if src else None,
            class_map=params.class_map or None,
            snap_m=params.snap_m,
            source_crs=src.crs if src else None,
            # found here, so that a guessed encoding is a warning of this build, and the
            # partitions read on the workers all decode alike
            encoding=ctx.recorded(resolve_encoding, item.path, src.encoding) if src else None,
            **({} if client is None else _on_cluster(client)),
        )


def _on_cluster(client: Any) -> dict[str, Any]:
    """Reader arguments that run the per-way (per-row) stages on the cluster.

    Two partitions per worker; the batches go to the workers with
    :meth:`~distributed.Client.scatter` (they can be large) and come back in order.
    """

    def map_parts(fn: Callable[[Any], Any], items: list[Any]) -> list[Any]:
        return list(client.gather(client.map(fn, client.scatter(items), pure=False)))

    workers = len(client.scheduler_info()["workers"])
    return {"map_parts": map_parts, "partitions": max(1, 2 * workers)}


def _zones(ctx: BuildContext, params: RoadsParams, edges: gpd.GeoDataFrame) -> Output:
    zones = ctx.read_vector("zones")
    if params.zone_id is not None and params.zone_id not in zones.columns:
        raise BuildError(ctx.layer, f"zones: no column {params.zone_id!r} (params.zone_id)")
    try:
        figures = zone_figures(edges, zones, zone_id=params.zone_id)
    except LayerError as exc:
        raise BuildError(ctx.layer, f"zones: {exc}") from None
    # zone_figures keeps the zones' order, so geometry lines up row by row.
    table = figures.reset_index()
    out = gpd.GeoDataFrame(table, geometry=zones.geometry.to_numpy(), crs=zones.crs)
    density = out["density_km_per_km2"].to_numpy()
    return Output(
        data=out,
        stats={"count": len(out), "max_density": float(np.nanmax(density)) if len(out) else 0.0},
        title="Roads per zone",
        title_i18n={"zh": "分区道路统计"},
        labels=ZONE_FIELDS,
    )


def _check(ctx: BuildContext, net: RoadNetwork) -> None:
    """Builder-level checks on top of :func:`layers.roads.validate_network`."""
    edges = net.edges
    if edges.crs is None or not same_crs(edges.crs, ctx.crs):
        raise BuildError(ctx.layer, f"edges are not in the working CRS {ctx.crs.to_string()}")
    if not np.isfinite(edges["travel_time_s"]).all():
        raise BuildError(ctx.layer, "an edge has no finite travel time")


register(
    Builder(
        name="roads",
        # 2: a clipped line source keeps the source's row order
        version="2",
        run=build_roads,
        params=RoadsParams,
        inputs=("osm",),
        optional_inputs=("zones",),
        doc=(__doc__ or "").strip().splitlines()[0],
    )
)
