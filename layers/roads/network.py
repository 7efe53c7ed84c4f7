"""The roads layer: a clean, routable road network from OSM or any line source.

Two readers produce the same :class:`RoadNetwork` (an edge and a node table):

- :func:`read_osm_roads` reads an OSM file (PBF, XML, O5M) with pyosmium (see
  :mod:`layers.roads.osm` for why), keeps the ways of a network type (the
  osmnx ``drive`` / ``bike`` / ``walk`` / ``all`` rules), normalises their tags
  and splits them at shared nodes;
- :func:`read_line_roads` reads any OGR line source with a column mapping;
  vertices at the same spot (to ``snap_m``) become shared nodes.

Every edge runs intersection to intersection, with ``u``/``v`` node ids and a
``key`` unique per node pair, a length in metres in the working CRS, an
imputed speed and a travel time. :func:`zone_figures` and
:func:`edge_coverage` give per-zone road figures and 5G coverage along roads;
:func:`to_networkx` hands the network to networkx for routing.

Edge schema: ``edge_id``, ``u``, ``v``, ``key``, ``osm_id`` (way id, or the
source row for line sources), ``highway`` (raw class), ``road_class``,
``name``, ``ref``, ``lanes`` (Int16), ``maxspeed`` (km/h, NaN unknown),
``oneway`` (bool), ``direction`` (1 along the geometry, -1 against, 0 both),
``bridge``, ``tunnel`` (bool), ``surface``, ``layer`` (int8), ``length_m``,
``speed_kph``, ``travel_time_s``, ``component`` (0 = largest), geometry.
Node schema: ``node_id``, ``degree``, ``merged`` (nodes consolidated into it),
``component``, geometry (Point).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from layers.errors import ParameterError, SourceError, ValidationError
from layers.geodesy import geodesic_length
from layers.roads import _lines as _lines
from layers.roads import _parts as _parts
from layers.roads import _tags as tags
from layers.roads._lines import LINE_FIELDS
from layers.roads._parts import MapParts
from layers.roads._simplify import consolidate, simplify
from layers.roads._topology import component_labels, edge_keys, split_lines
from layers.roads._zones import edge_coverage, zone_figures
from layers.roads.filters import NETWORK_TYPES, highway_exclude, network_mask
from layers.roads.osm import WAY_KEYS, is_osm_path, read_osm_ways
from layers.vector import count_rows, read_vector

#: Attributes that must be equal for two edges to merge in :func:`simplify`.
SIMPLIFY_ATTRS = [
    "highway",
    "road_class",
    "name",
    "ref",
    "lanes",
    "maxspeed",
    "oneway",
    "bridge",
    "tunnel",
    "surface",
    "layer",
]


@dataclass
class RoadNetwork:
    """A routable road network: edges and nodes in one metric CRS."""

    edges: gpd.GeoDataFrame
    nodes: gpd.GeoDataFrame
    stats: dict[str, Any] = field(default_factory=dict)

    def length_km_by_class(self) -> dict[str, float]:
        """Road length (km) per road class, most important class first."""
        by = self.edges.groupby("road_class", sort=False)["length_m"].sum() / 1000.0
        return {c: float(by[c]) for c in tags.ROAD_CLASSES if c in by.index}


def read_roads(path: str | os.PathLike[str], **kwargs: Any) -> RoadNetwork:
    """Read ``path`` with :func:`read_osm_roads` or :func:`read_line_roads`, by suffix."""
    if is_osm_path(path):
        kwargs.pop("columns", None)
        kwargs.pop("layer", None)
        kwargs.pop("class_map", None)
        kwargs.pop("snap_m", None)
        return read_osm_roads(path, **kwargs)
    return read_line_roads(path, **kwargs)


def read_osm_roads(
    path: str | os.PathLike[str],
    network: str = "drive",
    crs: CRS | str | None = None,
    simplify: bool = True,
    consolidate_m: float | None = None,
    clip: shapely.Geometry | None = None,
    map_parts: MapParts = map,
    partitions: int = 1,
) -> RoadNetwork:
    """Read the road network of an OSM file.

    Parameters
    ----------
    path
        An OSM PBF (or XML / O5M) file.
    network
        ``"drive"``, ``"bike"``, ``"walk"`` or ``"all"``, filtered as osmnx does.
    crs
        The working CRS (metric); default: the UTM zone of the data.
    simplify
        Merge edges through interstitial nodes where attributes do not change.
    consolidate_m
        Merge intersections within this tolerance (metres), as osmnx's
        ``consolidate_intersections``; ``None`` leaves them alone.
    clip
        A polygon in ``crs``: nodes outside it are treated as missing, so ways
        are kept as far as they run inside.
    map_parts, partitions
        The per-way stages (projection, tag normalisation) run on ``partitions``
        spatial partitions of the ways through ``map_parts`` (a ``map``; the
        ``roads`` builder passes one that runs them on a Dask cluster); the
        network is the same whatever the partitions (see :mod:`layers.roads._parts`).

    Raises
    ------
    SourceError
        The file is unreadable, or holds no roads of ``network``.
    """
    _check_params(network, consolidate_m)
    ways = read_osm_ways(path, keys=WAY_KEYS, exclude=highway_exclude(network))
    ways_seen = len(ways)
    _, first = np.unique(ways.way_id, return_index=True)
    unique = np.zeros(len(ways), dtype=bool)
    unique[first] = True  # a way id seen twice (merged extracts) counts once
    keep = unique & network_mask(network, ways.tags)
    if not keep.any():
        raise SourceError(f"{path}: no roads of network {network!r} in the file")
    counts = np.diff(ways.offsets)
    slot_keep = np.repeat(keep, counts)
    offsets = np.zeros(int(keep.sum()) + 1, dtype=np.int64)
    np.cumsum(counts[keep], out=offsets[1:])
    lon, lat = ways.lon[slot_keep], ways.lat[slot_keep]
    present = np.isfinite(lon)
    if not present.any():
        raise SourceError(f"{path}: the roads reference no node the file contains")
    work_crs = _working_crs(crs, lon[present], lat[present])
    t = {k: v[keep] for k, v in ways.tags.items()}
    osm_id = ways.way_id[keep]
    parts = _parts.spatial_partitions(offsets, lon, partitions)
    work = _parts.batches(parts, offsets, osm_id, lon, lat, t, work_crs, network)
    x, y, attrs = _parts.assemble(map_parts(_parts.way_stage, work), offsets)
    del work
    net = build_network(
        offsets,
        ways.node_id[slot_keep],
        x,
        y,
        attrs,
        work_crs,
        simplify_edges=simplify,
        consolidate_m=consolidate_m,
        clip=clip,
        origin=str(path),
    )
    net.stats.update(
        ways_considered=ways_seen,
        ways_used=int(keep.sum()),
        duplicate_ways=int((~unique).sum()),
        missing_nodes=int((~np.isfinite(ways.lon[slot_keep])).sum()),
        network=network,
    )
    return net


def read_line_roads(
    path: str | os.PathLike[str],
    columns: dict[str, str] | None = None,
    crs: CRS | str | None = None,
    network: str = "all",
    simplify: bool = True,
    consolidate_m: float | None = None,
    clip: shapely.Geometry | None = None,
    layer: str | None = None,
    class_map: dict[str, str] | None = None,
    snap_m: float = 0.01,
    source_crs: str | None = None,
    map_parts: MapParts = map,
    partitions: int = 1,
    encoding: str | None = None,
) -> RoadNetwork:
    """Read roads from any OGR line source (GeoPackage, Shapefile, GeoJSON ...).

    Parameters
    ----------
    columns
        Our field -> the source's column, for any of :data:`LINE_FIELDS`
        (e.g. ``{"road_class": "GRADE", "name": "NAME", "maxspeed": "SPEED"}``).
        A field not mapped is read from a column of its own name, or the
        ``highway`` column for ``road_class``, when there is one.
    crs
        The working CRS; default: the source's CRS if projected, else UTM.
    class_map
        Extra source class value -> road class mappings (the built-in table
        knows OSM values and Chinese road grades such as 国道 / 县道).
    clip
        A polygon in ``crs``; lines are cut exactly at its boundary.
    snap_m
        Vertices on the same ``snap_m`` grid cell are one node. Lines that
        cross without a shared vertex do not meet (a bridge), as in OSM.
    source_crs
        CRS to assume when the file declares none.
    encoding
        The text encoding of a shapefile's DBF (any Python codec name); by
        default found from the bytes (see :func:`layers.vector.read_vector`).
    map_parts, partitions
        With a working ``crs``, the per-row stages (reading, projection, clip,
        attributes) run on ``partitions`` partitions of the rows through
        ``map_parts`` (see :mod:`layers.roads._lines`); the network is the same.
    """
    _check_params(network, consolidate_m)
    if snap_m <= 0:
        raise ParameterError(f"snap_m must be > 0, got {snap_m}")
    origin = str(path)
    columns = dict(columns or {})
    unknown = sorted(set(columns) - set(LINE_FIELDS))
    if unknown:
        raise ParameterError(f"columns: unknown field(s) {unknown}; expected {LINE_FIELDS}")
    total = count_rows(path, layer) if partitions > 1 and crs is not None else -1
    # By partitions of rows only when the working CRS is given (else it depends on every
    # row) and the source can say how many rows it has.
    parted = total > 1
    gdf = read_vector(
        path, layer=layer, crs=source_crs, rows=(0, 1) if parted else None, encoding=encoding
    )
    columns = _map_columns(columns, list(gdf.columns), origin)
    if parted:
        size = -(-total // partitions)
        work_crs = CRS.from_user_input(crs)
        batches = [
            _lines.LineBatch(
                str(path),
                layer,
                source_crs,
                (start, min(start + size, total)),
                columns,
                work_crs,
                clip,
                class_map,
                network,
                encoding,
            )
            for start in range(0, total, size)
        ]
        rows = _lines.concat(list(map_parts(_lines.line_stage, batches)))
    else:
        if crs is None:
            lines = gdf[np.isin(shapely.get_type_id(gdf.geometry.to_numpy()), [1, 5])]
            if len(lines):
                crs = gdf.crs if gdf.crs.is_projected else lines.estimate_utm_crs()
        work_crs = CRS.from_user_input(crs) if crs is not None else gdf.crs
        rows = _lines.line_rows(gdf, columns, work_crs, clip, class_map, network)
    del gdf
    if rows.n_lines == 0:
        raise SourceError(f"{origin}: has no line geometries")
    offsets = np.zeros(len(rows.counts) + 1, dtype=np.int64)
    np.cumsum(rows.counts, out=offsets[1:])
    coords = rows.coords
    grid = np.round(coords / snap_m).astype(np.int64)
    _, node_id = np.unique(grid, axis=0, return_inverse=True)
    node_id = node_id.ravel().astype(np.int64) + 1
    attrs = _lines.attrs_frame(rows)
    keep_rows = rows.keep
    if not keep_rows.all():
        counts = np.diff(offsets)
        slot_keep = np.repeat(keep_rows, counts)
        new_offsets = np.zeros(int(keep_rows.sum()) + 1, dtype=np.int64)
        np.cumsum(counts[keep_rows], out=new_offsets[1:])
        coords, node_id, offsets = coords[slot_keep], node_id[slot_keep], new_offsets
        attrs = attrs[keep_rows].reset_index(drop=True)
    if len(attrs) == 0:
        raise SourceError(f"{origin}: no roads of network {network!r}")
    # the lines were cut at the clip already
    clip = None
    return build_network(
        offsets,
        node_id,
        coords[:, 0].copy(),
        coords[:, 1].copy(),
        attrs,
        work_crs,
        simplify_edges=simplify,
        consolidate_m=consolidate_m,
        clip=clip,
        origin=origin,
    )


def build_network(
    offsets: np.ndarray,
    node_id: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    attrs: pd.DataFrame,
    crs: CRS,
    simplify_edges: bool = True,
    consolidate_m: float | None = None,
    clip: shapely.Geometry | None = None,
    origin: str = "roads",
) -> RoadNetwork:
    """Build the network from polylines in slot layout (see :mod:`layers.roads._topology`).

    ``attrs`` has one row per polyline with the normalised attribute columns.
    """
    valid = np.isfinite(x) & np.isfinite(y)
    if clip is not None:
        shapely.prepare(clip)
        valid &= shapely.contains_xy(clip, x, y)
    split = split_lines(offsets, node_id, x, y, valid)
    if len(split.u) == 0:
        raise SourceError(f"{origin}: no road has two nodes inside the area")
    edges = gpd.GeoDataFrame(
        attrs.iloc[split.line].reset_index(drop=True),
        geometry=gpd.GeoSeries(split.geometry, crs=crs),
    )
    edges.insert(0, "u", split.u)
    edges.insert(1, "v", split.v)
    nodes = pd.DataFrame(
        {
            "node_id": split.node_id,
            "x": split.node_x,
            "y": split.node_y,
            "merged": np.ones(len(split.node_id), dtype=np.int64),
        }
    )
    stats: dict[str, Any] = {
        "zero_length_dropped": split.dropped_zero_length,
        "coincident_nodes_merged": split.merged_nodes,
    }
    if simplify_edges:
        edges, _ = simplify(edges, SIMPLIFY_ATTRS)
        edges = edges.reset_index(drop=True)
    if consolidate_m is not None:
        nodes = nodes[nodes["node_id"].isin(np.concatenate([edges["u"], edges["v"]]))]
        edges, nodes, merged = consolidate(edges, nodes.reset_index(drop=True), consolidate_m)
        edges = edges.reset_index(drop=True)
        stats["intersections_consolidated"] = merged
    return _finish(edges, nodes, crs, stats, origin)


def _finish(
    edges: gpd.GeoDataFrame, nodes: pd.DataFrame, crs: CRS, stats: dict[str, Any], origin: str
) -> RoadNetwork:
    u = edges["u"].to_numpy(np.int64)
    v = edges["v"].to_numpy(np.int64)
    used = np.unique(np.concatenate([u, v]))
    nodes = nodes[nodes["node_id"].isin(used)].sort_values("node_id").reset_index(drop=True)
    node_ids = nodes["node_id"].to_numpy(np.int64)
    comp = component_labels(node_ids, u, v)
    edges["key"] = edge_keys(u, v)
    # on the ellipsoid, so that road km do not depend on the working CRS
    edges["length_m"] = geodesic_length(edges.geometry.to_numpy(), crs)
    edges["component"] = comp[np.searchsorted(node_ids, u)]
    _impute_speed(edges)
    edges.insert(0, "edge_id", np.arange(len(edges), dtype=np.int64))
    front = ["edge_id", "u", "v", "key"]
    edges = edges[front + [c for c in edges.columns if c not in front]]
    degree = np.bincount(np.searchsorted(node_ids, np.concatenate([u, v])), minlength=len(node_ids))
    node_gdf = gpd.GeoDataFrame(
        {
            "node_id": node_ids,
            "degree": degree.astype(np.int64),
            "merged": nodes["merged"].to_numpy(np.int64),
            "component": comp,
        },
        geometry=gpd.GeoSeries(shapely.points(nodes["x"], nodes["y"]), crs=crs),
    )
    net = RoadNetwork(edges, node_gdf, stats)
    validate_network(net, origin)
    by_class = net.length_km_by_class()
    net.stats.update(
        edges=len(edges),
        nodes=len(node_gdf),
        length_km=float(edges["length_m"].sum() / 1000.0),
        components=int(comp.max() + 1) if len(comp) else 0,
        **{f"km_{k}": round(val, 3) for k, val in by_class.items()},
    )
    return net


def _impute_speed(edges: gpd.GeoDataFrame) -> None:
    """Speed: the edge's maxspeed, else its class's mean known maxspeed, else a default."""
    known = edges["maxspeed"].to_numpy(np.float64)
    cls = edges["road_class"].astype(object)
    class_mean = edges.groupby("road_class")["maxspeed"].mean()
    fallback = cls.map(class_mean).astype(np.float64).to_numpy()
    default = cls.map(tags.DEFAULT_SPEEDS).astype(np.float64).to_numpy()
    speed = np.where(np.isfinite(known), known, np.where(np.isfinite(fallback), fallback, default))
    edges["speed_kph"] = speed
    edges["travel_time_s"] = edges["length_m"].to_numpy() / (speed / 3.6)


def _normalise(
    osm_id: np.ndarray,
    highway: np.ndarray,
    road_class: np.ndarray,
    values: dict[str, np.ndarray],
    network: str,
) -> pd.DataFrame:
    return pd.DataFrame(_parts.normalise_columns(osm_id, highway, road_class, values, network))


def _map_columns(columns: dict[str, str], have: list[str], origin: str) -> dict[str, str]:
    """Our field -> the source's column: as given, else a column of the field's own name."""
    for key, col in columns.items():
        if col not in have:
            raise SourceError(f"{origin}: no column {col!r} (mapped to {key!r})")
    for key in LINE_FIELDS:
        if key not in columns and key in have:
            columns[key] = key
    if "road_class" not in columns and "highway" in have:
        columns["road_class"] = "highway"
    return columns


def _working_crs(crs: CRS | str | None, lon: np.ndarray, lat: np.ndarray) -> CRS:
    if crs is not None:
        out = CRS.from_user_input(crs)
        if not out.is_projected:
            raise ParameterError(f"crs {out.to_string()!r} is not projected; lengths need metres")
        return out
    # The UTM zone of the data's centre (WGS84 / UTM: EPSG 326xx north, 327xx south).
    lon_c = (float(lon.min()) + float(lon.max())) / 2.0
    lat_c = (float(lat.min()) + float(lat.max())) / 2.0
    zone = min(int((lon_c + 180.0) // 6.0) + 1, 60)
    return CRS.from_epsg((32600 if lat_c >= 0 else 32700) + zone)


def _check_params(network: str, consolidate_m: float | None) -> None:
    if network not in NETWORK_TYPES:
        raise ParameterError(f"network must be one of {', '.join(NETWORK_TYPES)}, not {network!r}")
    if consolidate_m is not None and not consolidate_m > 0:
        raise ParameterError(f"consolidate_m must be > 0 metres, got {consolidate_m}")


def validate_network(net: RoadNetwork, origin: str = "roads") -> None:
    """Check the invariants every published network keeps.

    Unique edge ids and ``(u, v, key)``; valid, non-empty LineStrings;
    lengths > 0; ``u``/``v`` in the node table; unique node ids; a CRS.

    Raises
    ------
    ValidationError
        Naming ``origin`` and the first broken rule.
    """
    e, n = net.edges, net.nodes
    if e.crs is None or n.crs is None:
        raise ValidationError(f"{origin}: edges or nodes have no CRS")
    if not e["edge_id"].is_unique:
        raise ValidationError(f"{origin}: edge_id is not unique")
    if e.duplicated(["u", "v", "key"]).any():
        raise ValidationError(f"{origin}: (u, v, key) is not unique")
    if not n["node_id"].is_unique:
        raise ValidationError(f"{origin}: node_id is not unique")
    geom = e.geometry.to_numpy()
    bad = (shapely.get_type_id(geom) != 1) | shapely.is_empty(geom) | ~shapely.is_valid(geom)
    if bad.any():
        raise ValidationError(
            f"{origin}: edge {int(e['edge_id'].iloc[np.argmax(bad)])} is not "
            "a valid non-empty LineString"
        )
    if not (e["length_m"] > 0).all():
        raise ValidationError(f"{origin}: an edge has length 0")
    missing = ~np.isin(np.concatenate([e["u"], e["v"]]), n["node_id"].to_numpy())
    if missing.any():
        raise ValidationError(f"{origin}: {int(missing.sum())} edge end(s) are not in the nodes")


def to_networkx(edges: gpd.GeoDataFrame, nodes: gpd.GeoDataFrame, directed: bool = True) -> Any:
    """The network as a networkx ``MultiDiGraph`` (or ``MultiGraph``), osmnx style.

    Nodes carry ``x``, ``y``; edges every column plus ``geometry``, and
    ``length`` / ``travel_time`` (osmnx's names for ``length_m`` /
    ``travel_time_s``). In a
    directed graph a two-way edge appears both ways (the reverse copy has
    ``reversed=True`` and a reversed geometry), a ``direction=-1`` edge only
    from ``v`` to ``u``. The graph's ``crs`` attribute is set, so osmnx
    functions accept it.
    """
    try:
        import networkx as nx
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("to_networkx needs networkx: pip install networkx") from None
    graph = nx.MultiDiGraph(crs=edges.crs) if directed else nx.MultiGraph(crs=edges.crs)
    xs, ys = shapely.get_x(nodes.geometry.to_numpy()), shapely.get_y(nodes.geometry.to_numpy())
    graph.add_nodes_from(
        (int(n), {"x": float(x), "y": float(y), "street_count": int(d)})
        for n, x, y, d in zip(nodes["node_id"], xs, ys, nodes["degree"], strict=True)
    )
    table = pd.DataFrame(edges.drop(columns=["u", "v", "key", edges.geometry.name]))
    table["geometry"] = edges.geometry.to_numpy()
    # osmnx's names, so its routing and stats functions work on the graph
    table["length"] = table["length_m"]
    table["travel_time"] = table["travel_time_s"]
    # Plain Python values, built column-wise (DataFrame.to_dict boxes value by value).
    names = list(table.columns)
    values = [
        table[c].astype(object).where(table[c].notna(), None).tolist()
        if isinstance(table[c].dtype, pd.StringDtype | pd.Int16Dtype)
        else table[c].tolist()
        for c in names
    ]
    records = [dict(zip(names, row, strict=True)) for row in zip(*values, strict=True)]
    u = edges["u"].to_numpy(np.int64).tolist()
    v = edges["v"].to_numpy(np.int64).tolist()
    key = edges["key"].to_numpy(np.int64).tolist()
    direction = edges["direction"].to_numpy()
    forward = np.flatnonzero(direction >= 0) if directed else np.arange(len(edges))
    graph.add_edges_from(
        (u[i], v[i], key[i], dict(records[i], reversed=False)) for i in forward.tolist()
    )
    if directed:
        back = np.flatnonzero(direction <= 0)
        reversed_geoms = shapely.reverse(edges.geometry.to_numpy()[back])
        graph.add_edges_from(
            (v[i], u[i], key[i], dict(records[i], geometry=g, reversed=True))
            for i, g in zip(back.tolist(), reversed_geoms, strict=True)
        )
    return graph


__all__ = [
    "LINE_FIELDS",
    "RoadNetwork",
    "build_network",
    "edge_coverage",
    "is_osm_path",
    "read_line_roads",
    "read_osm_roads",
    "read_roads",
    "to_networkx",
    "validate_network",
    "zone_figures",
]
