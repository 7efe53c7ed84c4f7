"""Split polylines that share nodes into a routable edge list, with numpy only.

The input is a flat "slot" layout: polyline ``i`` owns slots
``offsets[i]:offsets[i + 1]`` of ``node_id``, ``x``, ``y``. A slot whose
``valid`` flag is False (a node missing from a clipped extract, or outside the
clip region) cuts its polyline: the parts on either side are kept as separate
runs, and nothing is drawn across the gap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components


@dataclass
class SplitEdges:
    """Edges running intersection to intersection.

    ``line`` indexes the input polyline each edge comes from; ``u`` and ``v``
    are node ids of its first and last vertex; ``geometry`` a LineString array.
    ``node_id``, ``node_x``, ``node_y`` list every node that ends an edge.
    ``merged_nodes`` counts nodes folded into a coincident neighbour (zero-length edges).
    """

    line: np.ndarray
    u: np.ndarray
    v: np.ndarray
    geometry: np.ndarray
    node_id: np.ndarray
    node_x: np.ndarray
    node_y: np.ndarray
    merged_nodes: int = 0
    dropped_zero_length: int = 0


def split_lines(
    offsets: np.ndarray,
    node_id: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    valid: np.ndarray,
) -> SplitEdges:
    """Cut polylines at every node used more than once and at their ends.

    A node counts as an intersection when it occurs in more than one slot
    (shared by two ways, or visited twice by one way: loops). Consecutive
    repeats of one node id in a way are collapsed first. Zero-length edges
    (distinct node ids at one location) are removed and their end nodes merged,
    so the network stays connected through them.
    """
    n_lines = len(offsets) - 1
    counts = np.diff(offsets)
    line_of_slot = np.repeat(np.arange(n_lines, dtype=np.int64), counts)
    n = len(node_id)
    # A new run starts at a line's first slot and right after an invalid slot.
    start = np.ones(n, dtype=bool)
    if n > 1:
        start[1:] = (line_of_slot[1:] != line_of_slot[:-1]) | ~valid[:-1]
    run_of_slot = np.cumsum(start) - 1
    keep = valid.copy()
    if n > 1:
        # Collapse consecutive repeats of a node within a run.
        repeat = (run_of_slot[1:] == run_of_slot[:-1]) & (node_id[1:] == node_id[:-1])
        keep[1:] &= ~repeat
    line_of_slot = line_of_slot[keep]
    run_of_slot = run_of_slot[keep]
    nid = node_id[keep]
    xs = x[keep]
    ys = y[keep]
    # Runs of fewer than two slots draw nothing.
    _, run_inv, run_len = np.unique(run_of_slot, return_inverse=True, return_counts=True)
    long_enough = run_len[run_inv] >= 2
    line_of_slot = line_of_slot[long_enough]
    run_of_slot = run_of_slot[long_enough]
    nid, xs, ys = nid[long_enough], xs[long_enough], ys[long_enough]
    m = len(nid)
    if m == 0:
        empty = np.array([], dtype=np.int64)
        return SplitEdges(
            empty, empty, empty, np.array([], dtype=object), empty, empty * 1.0, empty * 1.0
        )

    _, inv, occurrences = np.unique(nid, return_inverse=True, return_counts=True)
    is_break = occurrences[inv] > 1
    is_break[0] = is_break[-1] = True
    first = np.ones(m, dtype=bool)
    first[1:] = run_of_slot[1:] != run_of_slot[:-1]
    last = np.ones(m, dtype=bool)
    last[:-1] = first[1:]
    is_break |= first | last
    b = np.flatnonzero(is_break)
    same_run = run_of_slot[b[:-1]] == run_of_slot[b[1:]]
    starts = b[:-1][same_run]
    ends = b[1:][same_run]
    lengths = ends - starts + 1
    edge_of_vertex = np.repeat(np.arange(len(starts), dtype=np.int64), lengths)
    # Slot index of every vertex of every edge (shared break vertices repeat).
    within = np.arange(lengths.sum(), dtype=np.int64) - np.repeat(
        np.cumsum(lengths) - lengths, lengths
    )
    slot = np.repeat(starts, lengths) + within
    geometry = shapely.linestrings(xs[slot], ys[slot], indices=edge_of_vertex)
    u = nid[starts]
    v = nid[ends]
    line = line_of_slot[starts]
    out = SplitEdges(line, u, v, np.asarray(geometry, dtype=object), *_nodes(nid, xs, ys, u, v))
    return _fold_zero_length(out)


def _nodes(
    nid: np.ndarray, xs: np.ndarray, ys: np.ndarray, u: np.ndarray, v: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ids, first = np.unique(nid, return_index=True)
    used = np.isin(ids, np.concatenate([u, v]))
    return ids[used], xs[first][used], ys[first][used]


def _fold_zero_length(edges: SplitEdges) -> SplitEdges:
    length = shapely.length(edges.geometry)
    zero = length <= 0
    if not zero.any():
        return edges
    pos = {int(k): i for i, k in enumerate(edges.node_id)}
    zu = np.array([pos[int(k)] for k in edges.u[zero]], dtype=np.int64)
    zv = np.array([pos[int(k)] for k in edges.v[zero]], dtype=np.int64)
    labels = union_labels(len(edges.node_id), zu, zv)
    # Each group of coincident nodes is represented by its smallest id.
    order = np.lexsort((edges.node_id, labels))
    rep_of_label = np.empty(labels.max() + 1, dtype=np.int64)
    rep_of_label[labels[order][::-1]] = edges.node_id[order][::-1]
    rep = rep_of_label[labels]
    mapping = dict(zip(edges.node_id.tolist(), rep.tolist(), strict=True))
    keep = ~zero
    u = np.array([mapping[k] for k in edges.u[keep].tolist()], dtype=np.int64)
    v = np.array([mapping[k] for k in edges.v[keep].tolist()], dtype=np.int64)
    is_rep = rep == edges.node_id
    used = np.isin(edges.node_id, np.concatenate([u, v])) & is_rep
    return SplitEdges(
        edges.line[keep],
        u,
        v,
        edges.geometry[keep],
        edges.node_id[used],
        edges.node_x[used],
        edges.node_y[used],
        merged_nodes=int((~is_rep).sum()),
        dropped_zero_length=int(zero.sum()),
    )


def union_labels(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Connected-component label of each of ``n`` items joined by pairs ``a[i]``-``b[i]``."""
    graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return labels


def edge_keys(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """An edge key unique among edges joining the same two nodes (in either direction).

    Keys count 0, 1, ... over the unordered pair, so adding a reversed copy of a
    two-way edge never collides with another edge in a directed multigraph.
    """
    if len(u) == 0:
        return np.array([], dtype=np.int64)
    lo = np.minimum(u, v)
    hi = np.maximum(u, v)
    order = np.lexsort((hi, lo))
    lo_s, hi_s = lo[order], hi[order]
    new_group = np.ones(len(u), dtype=bool)
    new_group[1:] = (lo_s[1:] != lo_s[:-1]) | (hi_s[1:] != hi_s[:-1])
    group_start = np.maximum.accumulate(np.where(new_group, np.arange(len(u)), 0))
    keys = np.empty(len(u), dtype=np.int64)
    keys[order] = np.arange(len(u)) - group_start
    return keys


def component_labels(node_id: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Weakly connected component of each node, numbered by size (0 = largest)."""
    if len(node_id) == 0:
        return np.array([], dtype=np.int64)
    iu = np.searchsorted(node_id, u)
    iv = np.searchsorted(node_id, v)
    labels = union_labels(len(node_id), iu, iv)
    sizes = np.bincount(labels)
    # Stable: ties keep the order of first appearance.
    rank = np.empty_like(sizes)
    rank[np.argsort(-sizes, kind="stable")] = np.arange(len(sizes))
    return rank[labels]
