"""Turn laid-out road ways into an OSM network and write it as a PBF.

Noding: every pair of ways that cross at grade gets the crossing point
inserted into both, and every way that ends on another is inserted into it, so
they share a node (a true intersection). The expressway's carriageways cross
other roads on bridges instead (split out and tagged ``bridge=yes``,
``layer=1``), and so does any road crossing water where no junction is in the
way. Vertices closer than :data:`SNAP` are one node.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import osmium
import osmium.io
import shapely
from osmium.osm.mutable import Node
from osmium.osm.mutable import Way as OsmWay
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from shapely import STRtree

from twin.demo._roads import Way
from twin.demo._shapes import TO_LONLAT

SNAP = 0.02  # metres: vertices closer than this are the same node
BRIDGE_PAD = 10.0  # metres a water bridge reaches past the bank
OVERPASS_HALF = 35.0  # metres either side of a road the expressway's bridge spans


def _separated(a: Way, b: Way) -> bool:
    """Whether ``a`` and ``b`` cross on different levels (a carriageway over a road)."""
    ma, mb = a.highway == "motorway", b.highway == "motorway"
    if ma == mb:
        return False
    other = b if ma else a
    return other.highway != "motorway_link"


def _points(geom: shapely.Geometry) -> list[np.ndarray]:
    out = []
    for part in shapely.get_parts(geom):
        if part.geom_type == "Point":
            out.append(np.asarray(part.coords[0]))
        elif part.geom_type == "LineString":  # an overlap: its ends are junctions
            c = np.asarray(part.coords)
            out += [c[0], c[-1]]
    return out


def node_ways(ways: list[Way]) -> tuple[list[Way], dict[int, list[float]]]:
    """Insert shared crossing vertices; return the ways and the overpass positions per way."""
    lines = np.array([w.line for w in ways], dtype=object)
    tree = STRtree(lines)
    inserts: list[list[np.ndarray]] = [[] for _ in ways]
    overpasses: dict[int, list[float]] = {}
    left, right = tree.query(lines, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    inter = shapely.intersection(lines[left], lines[right])
    for i, j, geom in zip(left.tolist(), right.tolist(), inter, strict=True):
        pts = _points(geom)
        if _separated(ways[i], ways[j]):
            m = i if ways[i].highway == "motorway" else j
            overpasses.setdefault(m, []).extend(lines[m].project(shapely.Point(p)) for p in pts)
            continue
        inserts[i] += pts
        inserts[j] += pts
    # T-junctions: a way ending on another (within SNAP) is inserted into it.
    ends = np.array([[w.coords[0], w.coords[-1]] for w in ways]).reshape(-1, 2)
    owner = np.repeat(np.arange(len(ways)), 2)
    e_idx, w_idx = tree.query(shapely.points(ends), predicate="dwithin", distance=SNAP)
    for e, w in zip(e_idx.tolist(), w_idx.tolist(), strict=True):
        if owner[e] != w and not _separated(ways[owner[e]], ways[w]):
            inserts[w].append(ends[e])
    out = []
    for k, way in enumerate(ways):
        coords = _insert(way.coords, inserts[k]) if inserts[k] else way.coords
        out.append(Way(coords, way.tags))
    return out, overpasses


def _along(coords: np.ndarray) -> np.ndarray:
    seg = np.hypot(*np.diff(coords, axis=0).T)
    return np.concatenate([[0.0], np.cumsum(seg)])


def _insert(coords: np.ndarray, points: list[np.ndarray]) -> np.ndarray:
    line = shapely.linestrings(coords)
    pts = np.array(points)
    dist = shapely.line_locate_point(line, shapely.points(pts))
    along = _along(coords)
    allc = np.vstack([coords, pts])
    alld = np.concatenate([along, dist])
    # Existing vertices sort before new points at the same distance.
    order = np.lexsort((np.r_[np.zeros(len(coords)), np.ones(len(pts))], alld))
    return allc[order]


class NodeRegistry:
    """Node ids for coordinates, merging points closer than :data:`SNAP`."""

    def __init__(self) -> None:
        self.cells: dict[tuple[int, int], list[int]] = {}
        self.coords: list[tuple[float, float]] = []

    def id_of(self, x: float, y: float) -> int:
        cx, cy = int(np.floor(x / SNAP)), int(np.floor(y / SNAP))
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                for nid in self.cells.get((cx + dx, cy + dy), ()):
                    px, py = self.coords[nid - 1]
                    if (px - x) ** 2 + (py - y) ** 2 <= SNAP * SNAP:
                        return nid
        self.coords.append((x, y))
        nid = len(self.coords)
        self.cells.setdefault((cx, cy), []).append(nid)
        return nid

    def ids(self, coords: np.ndarray) -> list[int]:
        out: list[int] = []
        for x, y in coords.tolist():
            nid = self.id_of(x, y)
            if not out or out[-1] != nid:
                out.append(nid)
        return out


@dataclass
class Network:
    """The noded network: node coordinates (working CRS) and ways as node id lists."""

    nodes: np.ndarray  # (n, 2), node id k is row k-1
    ways: list[tuple[list[int], dict[str, str]]]

    def components(self) -> int:
        rows, cols = [], []
        for refs, _ in self.ways:
            rows += refs[:-1]
            cols += refs[1:]
        n = len(self.nodes) + 1
        graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
        used = np.unique(np.r_[rows, cols])
        _, labels = connected_components(graph, directed=False)
        return len(np.unique(labels[used]))


def _intervals_in(line: shapely.LineString, water: shapely.Geometry) -> list[tuple[float, float]]:
    out = []
    for part in shapely.get_parts(shapely.intersection(line, water)):
        if part.geom_type != "LineString" or part.is_empty or part.length > 600:
            continue
        c = np.asarray(part.coords)
        d0, d1 = sorted((line.project(shapely.Point(c[0])), line.project(shapely.Point(c[-1]))))
        out.append((d0 - BRIDGE_PAD, d1 + BRIDGE_PAD))
    return out


def _merge(intervals: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for a, b in sorted(intervals):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def build_network(ways: list[Way], water: shapely.Geometry | None) -> Network:
    """Node ``ways``, split out bridges, and give every vertex a node id."""
    noded, overpasses = node_ways(ways)
    reg = NodeRegistry()
    refs = [reg.ids(w.coords) for w in noded]
    uses = Counter(n for r in refs for n in set(r))
    out: list[tuple[list[int], dict[str, str]]] = []
    for k, way in enumerate(noded):
        line = shapely.linestrings(way.coords)
        length = float(line.length)
        forced = [(d - OVERPASS_HALF, d + OVERPASS_HALF) for d in overpasses.get(k, [])]
        optional = _intervals_in(line, water) if water is not None else []
        vertex_ids = [reg.id_of(x, y) for x, y in way.coords.tolist()]
        junction_d = [
            d for d, nid in zip(_along(way.coords), vertex_ids, strict=True) if uses[nid] > 1
        ]
        bridges = []
        for a, b in _merge(forced) + _merge(optional):
            if a <= 1.0 or b >= length - 1.0:
                continue
            is_forced = any(fa < b and a < fb for fa, fb in forced)
            if not is_forced and any(a < d < b for d in junction_d):
                continue  # a junction on the bridge: leave the crossing at grade
            bridges.append((a, b))
        for coords, bridge in _split(way.coords, _merge(bridges)):
            tags = dict(way.tags)
            if bridge:
                tags.update({"bridge": "yes", "layer": "1"})
            ids = reg.ids(coords)
            if len(ids) >= 2:
                out.append((ids, tags))
    return Network(np.array(reg.coords), out)


def _split(coords: np.ndarray, bridges: list[tuple[float, float]]):
    """Pieces of ``coords`` (with a bridge flag) cut at the bridge interval ends."""
    if not bridges:
        return [(coords, False)]
    line = shapely.linestrings(coords)
    cuts = sorted({c for ab in bridges for c in ab})
    cut_pts = np.array([line.interpolate(c).coords[0] for c in cuts])
    along = _along(coords)
    allc = np.vstack([coords, cut_pts])
    alld = np.concatenate([along, cuts])
    order = np.argsort(alld, kind="stable")
    allc, alld = allc[order], alld[order]
    pieces = []
    bounds = [0.0, *cuts, along[-1]]
    for a, b in itertools.pairwise(bounds):
        sel = (alld >= a - 1e-9) & (alld <= b + 1e-9)
        piece = allc[sel]
        mid = (a + b) / 2
        pieces.append((piece, any(x < mid < y for x, y in bridges)))
    return pieces


def write_pbf(net: Network, path: Path, generator: str, rng: np.random.Generator) -> None:
    """Write ``net`` as OSM PBF (WGS84) with positive ids, versions and no timestamps."""
    lon, lat = TO_LONLAT.transform(net.nodes[:, 0], net.nodes[:, 1])
    lon, lat = np.round(lon, 7), np.round(lat, 7)
    header = osmium.io.Header()
    header.set("generator", generator)
    header.add_box(
        osmium.osm.Box(
            osmium.osm.Location(float(lon.min()), float(lat.min())),
            osmium.osm.Location(float(lon.max()), float(lat.max())),
        )
    )
    node_versions = rng.integers(1, 4, size=len(lon))
    way_versions = rng.integers(1, 8, size=len(net.ways))
    path.unlink(missing_ok=True)
    with osmium.SimpleWriter(str(path), header=header) as writer:
        for k in range(len(lon)):
            writer.add_node(
                Node(
                    id=k + 1, version=int(node_versions[k]), location=(float(lon[k]), float(lat[k]))
                )
            )
        for k, (refs, tags) in enumerate(net.ways):
            writer.add_way(OsmWay(id=k + 1, version=int(way_versions[k]), nodes=refs, tags=tags))
