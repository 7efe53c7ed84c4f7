"""How far each village is from its services: network distance to the nearest facility.

Part of :mod:`layers.villages` (``svc_<kind>_dist_m``), which re-exports
:func:`service_distances`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from layers.errors import ValidationError


def service_distances(
    centres: gpd.GeoSeries,
    facilities: gpd.GeoDataFrame,
    kind_column: str,
    kinds: Sequence[str],
    edges: gpd.GeoDataFrame | None = None,
) -> pd.DataFrame:
    """Distance in metres from each centre to the nearest facility of each kind.

    Along the road network when ``edges`` (with ``u``, ``v``, ``length_m``) are
    given: each centre and facility walks straight to its nearest network
    node, then follows the roads (undirected). Where the network does not
    connect them, or without a network, the straight-line distance is used;
    ``<kind>_method`` says which.
    """
    if kind_column not in facilities.columns:
        raise ValidationError(f"facilities: no column {kind_column!r}")
    facilities = facilities.to_crs(centres.crs)
    cxy = shapely.get_coordinates(centres.to_numpy())
    graph = _graph(edges.to_crs(centres.crs)) if edges is not None and len(edges) else None
    out = pd.DataFrame(index=centres.index)
    kinds_of = facilities[kind_column].astype(str).to_numpy()
    for kind in kinds:
        sel = kinds_of == kind
        fxy = shapely.get_coordinates(facilities.geometry.to_numpy()[sel])
        dist = np.full(len(cxy), np.nan)
        method = np.full(len(cxy), "none", dtype=object)
        if len(fxy):
            straight, _ = cKDTree(fxy).query(cxy)
            dist, method = straight, np.full(len(cxy), "straight", dtype=object)
            if graph is not None:
                along = graph.distance(fxy, cxy)
                ok = np.isfinite(along)
                dist = np.where(ok, along, straight)
                method[ok] = "network"
        out[f"{kind}_dist_m"] = dist
        out[f"{kind}_method"] = method
    return out


@dataclass
class _Graph:
    matrix: Any
    xy: np.ndarray
    tree: cKDTree

    def distance(self, sources: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """Shortest distance from the nearest of ``sources`` to each target (inf: no path)."""
        n = self.xy.shape[0]
        s_snap, s_node = self.tree.query(sources)
        t_snap, t_node = self.tree.query(targets)
        # One extra node joined to every source's node by its walk-in distance:
        # a single Dijkstra run from it gives the distance to the nearest source.
        rows = np.r_[self.matrix.row, np.full(len(s_node), n)]
        cols = np.r_[self.matrix.col, s_node]
        data = np.r_[self.matrix.data, s_snap + 1e-9]
        augmented = coo_matrix((data, (rows, cols)), shape=(n + 1, n + 1)).tocsr()
        from_source = dijkstra(augmented, directed=False, indices=n)
        return from_source[t_node] + t_snap


def _graph(edges: gpd.GeoDataFrame) -> _Graph:
    for col in ("u", "v", "length_m"):
        if col not in edges.columns:
            raise ValidationError(f"roads: no column {col!r} (is it a roads layer?)")
    ids, inverse = np.unique(
        np.r_[edges["u"].to_numpy(), edges["v"].to_numpy()], return_inverse=True
    )
    m = len(edges)
    u, v = inverse[:m], inverse[m:]
    geoms = edges.geometry.to_numpy()
    start = shapely.get_coordinates(shapely.get_point(geoms, 0))
    end = shapely.get_coordinates(shapely.get_point(geoms, -1))
    xy = np.zeros((len(ids), 2))
    xy[u], xy[v] = start, end
    length = np.maximum(edges["length_m"].to_numpy(np.float64), 1e-9)
    matrix = coo_matrix((length, (u, v)), shape=(len(ids), len(ids)))
    return _Graph(matrix, xy, cKDTree(xy))
