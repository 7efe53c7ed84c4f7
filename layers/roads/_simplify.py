"""Graph simplification and intersection consolidation on an edge table.

Both work on a GeoDataFrame with ``u``, ``v``, ``direction`` and a LineString
geometry in a metric CRS, the way osmnx's ``simplify_graph`` and
``consolidate_intersections`` work on a graph.
"""

from __future__ import annotations

from collections import defaultdict

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from layers.roads._topology import union_labels


def simplify(edges: gpd.GeoDataFrame, attrs: list[str]) -> tuple[gpd.GeoDataFrame, int]:
    """Merge edges through interstitial nodes.

    A node is interstitial when exactly two edge ends meet there, from two
    different edges whose ``attrs`` are equal and whose directions chain (both
    two-way, or one flowing in and the other out). Attribute changes therefore
    stay as boundaries, as osmnx's ``edge_attrs_differ`` does. Rings of
    interstitial nodes keep one node as a self-loop's end.

    Returns the new edge table (attributes of each chain's first edge) and the
    number of nodes removed.
    """
    n = len(edges)
    if n < 2:
        return edges, 0
    u = edges["u"].to_numpy()
    v = edges["v"].to_numpy()
    ends = np.concatenate([u, v])
    which = np.concatenate([np.arange(n), np.arange(n)])
    ids, inv, deg = np.unique(ends, return_inverse=True, return_counts=True)
    cand = deg[inv] == 2
    cand_nodes = ids[deg == 2]
    if len(cand_nodes) == 0:
        return edges, 0
    # The two edges at each degree-2 node.
    sel = np.flatnonzero(cand)
    order = np.argsort(ends[sel], kind="stable")
    pair_edges = which[sel][order].reshape(-1, 2)
    node = ends[sel][order][::2]
    e1, e2 = pair_edges[:, 0], pair_edges[:, 1]
    ok = e1 != e2
    codes = _attr_codes(edges, attrs)
    ok &= codes[e1] == codes[e2]
    d = edges["direction"].to_numpy()
    flows_in_1 = np.where(d[e1] == 1, v[e1] == node, u[e1] == node)
    flows_in_2 = np.where(d[e2] == 1, v[e2] == node, u[e2] == node)
    chain = (d[e1] == 0) & (d[e2] == 0) | (d[e1] != 0) & (d[e2] != 0) & (flows_in_1 != flows_in_2)
    ok &= chain
    if not ok.any():
        return edges, 0
    merge_node, m1, m2 = node[ok], e1[ok], e2[ok]
    labels = union_labels(n, m1, m2)
    node_edges: dict[int, tuple[int, int]] = {
        int(k): (int(a), int(b)) for k, a, b in zip(merge_node, m1, m2, strict=True)
    }
    groups: dict[int, list[int]] = defaultdict(list)
    for e in np.unique(np.concatenate([m1, m2])).tolist():
        groups[int(labels[e])].append(e)
    geoms = edges.geometry.to_numpy()
    drop: list[int] = []
    new_rows: dict[int, tuple[int, int, int, shapely.LineString]] = {}
    for members in groups.values():
        first, chain_edges, flips, start, end = _walk(members, u, v, node_edges)
        coords: list[np.ndarray] = []
        for e, flip in zip(chain_edges, flips, strict=True):
            c = shapely.get_coordinates(geoms[e])
            c = c[::-1] if flip else c
            coords.append(c if not coords else c[1:])
        direction = int(d[first]) * (-1 if flips[0] else 1)
        new_rows[first] = (start, end, direction, shapely.linestrings(np.concatenate(coords)))
        drop.extend(e for e in chain_edges if e != first)
    out = edges.copy()
    idx = np.array(list(new_rows), dtype=np.int64)
    rows = list(new_rows.values())
    pos = out.index[idx]
    out.loc[pos, "u"] = np.array([r[0] for r in rows], dtype=np.int64)
    out.loc[pos, "v"] = np.array([r[1] for r in rows], dtype=np.int64)
    out.loc[pos, "direction"] = np.array([r[2] for r in rows], dtype=np.int8)
    geom = out.geometry.to_numpy().copy()
    geom[idx] = np.array([r[3] for r in rows], dtype=object)
    out = out.set_geometry(gpd.GeoSeries(geom, index=out.index, crs=edges.crs))
    out = out.drop(index=out.index[np.array(drop, dtype=np.int64)])
    return out, len(node_edges)


def _walk(
    members: list[int], u: np.ndarray, v: np.ndarray, node_edges: dict[int, tuple[int, int]]
) -> tuple[int, list[int], list[bool], int, int]:
    """Order one chain of edges end to end.

    Returns the first edge, the ordered edges, whether each is traversed
    against its drawing order, and the chain's start and end node.
    """
    # Start at a real endpoint (not merged away), preferring an edge's first node so
    # that a chain drawn one way keeps its drawing order.
    start_edge, start_node = members[0], int(u[members[0]])
    ends = [(e, int(u[e])) for e in members] + [(e, int(v[e])) for e in members]
    for e, end in ends:
        if end not in node_edges:
            start_edge, start_node = e, end
            break
    order: list[int] = []
    flips: list[bool] = []
    seen: set[int] = set()
    e, at = start_edge, start_node
    while True:
        flip = int(u[e]) != at
        order.append(e)
        flips.append(flip)
        seen.add(e)
        at = int(u[e]) if flip else int(v[e])
        pair = node_edges.get(at)
        if pair is None:
            break
        nxt = pair[1] if pair[0] == e else pair[0]
        if nxt in seen:
            break
        e = nxt
    return order[0], order, flips, start_node, at


def _attr_codes(edges: pd.DataFrame, attrs: list[str]) -> np.ndarray:
    """One integer per distinct combination of ``attrs`` (missing values compare equal)."""
    if not attrs:
        return np.zeros(len(edges), dtype=np.int64)
    # Factorising column by column and combining the codes is far cheaper than a
    # pandas groupby over object columns.
    codes = np.column_stack([pd.factorize(edges[a], use_na_sentinel=False)[0] for a in attrs])
    _, combo = np.unique(codes, axis=0, return_inverse=True)
    return combo.ravel()


def consolidate(
    edges: gpd.GeoDataFrame, nodes: pd.DataFrame, tolerance: float
) -> tuple[gpd.GeoDataFrame, pd.DataFrame, int]:
    """Merge intersections closer than ``2 * tolerance`` metres into one node.

    As osmnx: each node is buffered by ``tolerance`` and overlapping buffers
    merge; dead ends (degree 1) are left alone; a cluster whose nodes are not
    joined by edges inside it splits into its connected parts. The merged node
    sits at its members' centroid and keeps the smallest member id; edges
    inside a cluster are dropped and the others are snapped to the new node.

    ``nodes`` has ``node_id`` (sorted), ``x``, ``y``. Returns new edges, new
    nodes and the number of nodes merged away.
    """
    ids = nodes["node_id"].to_numpy()
    xy = nodes[["x", "y"]].to_numpy()
    u = edges["u"].to_numpy()
    v = edges["v"].to_numpy()
    iu, iv = np.searchsorted(ids, u), np.searchsorted(ids, v)
    degree = np.bincount(np.concatenate([iu, iv]), minlength=len(ids))
    eligible = np.flatnonzero(degree > 1)
    pairs = cKDTree(xy[eligible]).query_pairs(2 * tolerance, output_type="ndarray")
    if len(pairs) == 0:
        return edges, nodes, 0
    near = union_labels(len(ids), eligible[pairs[:, 0]], eligible[pairs[:, 1]])
    inside = near[iu] == near[iv]
    cluster = union_labels(len(ids), iu[inside], iv[inside])
    # The smallest member index (nodes are sorted by id) represents each cluster.
    rep_of_cluster = np.full(cluster.max() + 1, len(ids), dtype=np.int64)
    np.minimum.at(rep_of_cluster, cluster, np.arange(len(ids)))
    rep = rep_of_cluster[cluster]
    size = np.bincount(cluster)[cluster]
    cx = np.bincount(cluster, weights=xy[:, 0]) / np.bincount(cluster)
    cy = np.bincount(cluster, weights=xy[:, 1]) / np.bincount(cluster)
    new_xy = np.column_stack([cx[cluster], cy[cluster]])
    ru, rv = rep[iu], rep[iv]
    keep = ~((ru == rv) & (iu != iv))
    moved = keep & ((size[iu] > 1) | (size[iv] > 1))
    geom = edges.geometry.to_numpy().copy()
    for i in np.flatnonzero(moved).tolist():
        c = shapely.get_coordinates(geom[i]).copy()
        c[0] = new_xy[iu[i]]
        c[-1] = new_xy[iv[i]]
        geom[i] = shapely.linestrings(c)
    out = edges.set_geometry(gpd.GeoSeries(geom, index=edges.index, crs=edges.crs))
    out["u"] = ids[ru]
    out["v"] = ids[rv]
    out = out[keep]
    out = out[shapely.length(out.geometry.to_numpy()) > 0]
    is_rep = rep == np.arange(len(ids))
    new_nodes = pd.DataFrame(
        {
            "node_id": ids[is_rep],
            "x": new_xy[is_rep, 0],
            "y": new_xy[is_rep, 1],
            "merged": size[is_rep],
        }
    )
    return out, new_nodes, int((~is_rep).sum())
