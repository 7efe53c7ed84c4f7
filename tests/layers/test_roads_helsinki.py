"""The roads layer on a real OSM extract (central Helsinki, ODbL; see tests/data/README.md).

Every expected value is computed here, independently of layers.roads: ways
and node locations come from pyosmium's plain SimpleHandler, the drive filter
is transcribed from osmnx's documented Overpass filter as exact value sets,
and lengths are geodesic (pyproj.Geod on WGS84) rather than planar.
"""

from __future__ import annotations

from collections import Counter
from itertools import pairwise
from pathlib import Path

import numpy as np
import osmium
import pytest
import shapely
from pyproj import Geod, Transformer
from scipy.spatial import cKDTree

from layers.roads import RoadNetwork, read_osm_roads, to_networkx

HELSINKI = Path(__file__).resolve().parents[1] / "data" / "Helsinki.osm.pbf"
CRS = "EPSG:3067"  # ETRS-TM35FIN, the Finnish national grid
GEOD = Geod(ellps="WGS84")

# osmnx 2.x "drive": highway values it excludes, and other tag rules, as plain sets.
DRIVE_EXCLUDED = {
    "abandoned",
    "bridleway",
    "bus_guideway",
    "construction",
    "corridor",
    "cycleway",
    "elevator",
    "escalator",
    "footway",
    "no",
    "path",
    "pedestrian",
    "planned",
    "platform",
    "proposed",
    "raceway",
    "razed",
    "rest_area",
    "service",
    "services",
    "steps",
    "track",
}
SERVICE_EXCLUDED = {"alley", "driveway", "emergency_access", "parking", "parking_aisle", "private"}


def _is_drive(t: dict[str, str]) -> bool:
    return (
        t.get("area") != "yes"
        and t.get("access") != "private"
        and t["highway"] not in DRIVE_EXCLUDED
        and t.get("motor_vehicle") != "no"
        and t.get("motorcar") != "no"
        and t.get("service") not in SERVICE_EXCLUDED
    )


class _Ways(osmium.SimpleHandler):
    def __init__(self) -> None:
        super().__init__()
        self.ways: list[tuple[int, dict[str, str], list[tuple[int, float, float]]]] = []

    def way(self, w: osmium.osm.Way) -> None:
        if "highway" not in w.tags:
            return
        nodes = []
        for n in w.nodes:
            loc = n.location
            nodes.append((n.ref, loc.lon, loc.lat) if loc.valid() else (n.ref, np.nan, np.nan))
        self.ways.append((w.id, dict(w.tags), nodes))


@pytest.fixture(scope="module")
def reference() -> dict[str, object]:
    handler = _Ways()
    handler.apply_file(str(HELSINKI), locations=True)
    drive = [w for w in handler.ways if _is_drive(w[1])]
    counts: Counter[str] = Counter()
    total = 0.0
    slots: Counter[int] = Counter()
    where: dict[int, tuple[float, float]] = {}
    missing = 0
    for _, t, nodes in drive:
        ids = np.array([n[0] for n in nodes])
        lon = np.array([n[1] for n in nodes])
        lat = np.array([n[2] for n in nodes])
        ok = np.isfinite(lon)
        missing += int((~ok).sum())
        pair = ok[:-1] & ok[1:]
        if pair.any():
            counts[t["highway"]] += 1
            _, _, dist = GEOD.inv(lon[:-1][pair], lat[:-1][pair], lon[1:][pair], lat[1:][pair])
            total += float(np.sum(dist))
        previous = None
        for nid, x, y, present in zip(ids, lon, lat, ok, strict=True):
            if present and nid != previous:
                slots[int(nid)] += 1
                where[int(nid)] = (x, y)
            previous = nid if present else None
    shared = [where[n] for n, c in slots.items() if c > 1]
    return {
        "counts": counts,
        "length_m": total,
        "shared_lonlat": np.array(shared),
        "missing": missing,
    }


@pytest.fixture(scope="module")
def unsimplified() -> RoadNetwork:
    return read_osm_roads(HELSINKI, network="drive", crs=CRS, simplify=False)


@pytest.fixture(scope="module")
def simplified() -> RoadNetwork:
    return read_osm_roads(HELSINKI, network="drive", crs=CRS, simplify=True)


def test_counts_by_class(unsimplified: RoadNetwork, reference: dict) -> None:
    ways_per_highway = unsimplified.edges.groupby("highway")["osm_id"].nunique().to_dict()
    assert ways_per_highway == dict(reference["counts"])
    assert sum(ways_per_highway.values()) > 800


def test_clipped_ways_are_kept(unsimplified: RoadNetwork, reference: dict) -> None:
    # The extract cuts ways at its box: their nodes outside it are missing.
    assert reference["missing"] > 0
    assert unsimplified.stats["missing_nodes"] == reference["missing"]


@pytest.mark.parametrize("net", ["unsimplified", "simplified"])
def test_total_length_matches_geodesic(net: str, reference: dict, request) -> None:
    network: RoadNetwork = request.getfixturevalue(net)
    total = float(network.edges["length_m"].sum())
    assert total == pytest.approx(reference["length_m"], rel=0.005)
    assert network.stats["length_km"] == pytest.approx(total / 1000)


def test_edge_lengths_are_metres(simplified: RoadNetwork) -> None:
    edges = simplified.edges
    back = Transformer.from_crs(CRS, 4326, always_xy=True)
    coords, idx = shapely.get_coordinates(edges.geometry.to_numpy(), return_index=True)
    lon, lat = back.transform(coords[:, 0], coords[:, 1])
    same = idx[1:] == idx[:-1]
    _, _, d = GEOD.inv(lon[:-1][same], lat[:-1][same], lon[1:][same], lat[1:][same])
    geodesic = np.bincount(idx[1:][same], weights=d, minlength=len(edges))
    np.testing.assert_allclose(edges["length_m"].to_numpy(), geodesic, rtol=1e-3)
    assert (edges["length_m"] > 0).all()


def test_no_edge_runs_through_an_intersection(unsimplified: RoadNetwork, reference: dict) -> None:
    fwd = Transformer.from_crs(4326, CRS, always_xy=True)
    sx, sy = fwd.transform(*reference["shared_lonlat"].T)
    coords, idx = shapely.get_coordinates(unsimplified.edges.geometry.to_numpy(), return_index=True)
    interior = np.ones(len(idx), dtype=bool)
    interior[np.r_[0, np.flatnonzero(np.diff(idx)) + 1]] = False  # first vertex of each edge
    interior[np.r_[np.flatnonzero(np.diff(idx)), len(idx) - 1]] = False  # last vertex
    dist, _ = cKDTree(np.column_stack([sx, sy])).query(coords[interior])
    assert len(sx) > 500
    assert dist.min() > 1e-3


def test_simplified_nodes_are_real_intersections(
    simplified: RoadNetwork, unsimplified: RoadNetwork
) -> None:
    # Every node where 1 or 3+ edge ends meet stays a node; no edge passes through one.
    nodes = unsimplified.nodes
    keep = nodes[nodes["degree"] != 2]
    assert set(keep["node_id"]) <= set(simplified.nodes["node_id"])
    node_xy = shapely.get_coordinates(simplified.nodes.geometry.to_numpy())
    coords, idx = shapely.get_coordinates(simplified.edges.geometry.to_numpy(), return_index=True)
    starts = np.r_[0, np.flatnonzero(np.diff(idx)) + 1]
    ends = np.r_[starts[1:] - 1, len(idx) - 1]
    interior = np.ones(len(idx), dtype=bool)
    interior[starts] = interior[ends] = False
    dist, _ = cKDTree(node_xy).query(coords[interior])
    assert dist.min() > 1e-3
    assert len(simplified.edges) < len(unsimplified.edges)


@pytest.mark.parametrize("net", ["unsimplified", "simplified"])
def test_edge_ends_are_their_nodes(net: str, request) -> None:
    network: RoadNetwork = request.getfixturevalue(net)
    edges, nodes = network.edges, network.nodes
    xy = dict(
        zip(
            nodes["node_id"],
            shapely.get_coordinates(nodes.geometry.to_numpy()).tolist(),
            strict=True,
        )
    )
    geoms = edges.geometry.to_numpy()
    first = shapely.get_coordinates(shapely.get_point(geoms, 0))
    last = shapely.get_coordinates(shapely.get_point(geoms, -1))
    np.testing.assert_allclose(first, [xy[u] for u in edges["u"]], atol=1e-6)
    np.testing.assert_allclose(last, [xy[v] for v in edges["v"]], atol=1e-6)
    assert edges["edge_id"].is_unique
    assert not edges.duplicated(["u", "v", "key"]).any()
    # degree = number of edge ends at the node
    ends = Counter(edges["u"].tolist() + edges["v"].tolist())
    assert nodes.set_index("node_id")["degree"].to_dict() == dict(ends)


def test_travel_time_and_speed(simplified: RoadNetwork) -> None:
    e = simplified.edges
    np.testing.assert_allclose(e["travel_time_s"], e["length_m"] / (e["speed_kph"] / 3.6))
    known = e["maxspeed"].notna()
    assert known.any()
    np.testing.assert_allclose(e.loc[known, "speed_kph"], e.loc[known, "maxspeed"])
    assert (e["speed_kph"] > 0).all()


def test_consolidation_merges_close_intersections(simplified: RoadNetwork) -> None:
    merged = read_osm_roads(HELSINKI, network="drive", crs=CRS, consolidate_m=10)
    assert len(merged.nodes) < len(simplified.nodes)
    assert merged.nodes["merged"].sum() >= len(merged.nodes)
    # no two intersections (degree > 1) are left within 2 * tolerance of each other
    inter = merged.nodes[merged.nodes["degree"] > 1]
    xy = shapely.get_coordinates(inter.geometry.to_numpy())
    # merged clusters may sit closer only when no edge joins them (osmnx keeps those apart)
    pairs = cKDTree(xy).query_pairs(20.0 - 1e-6, output_type="ndarray")
    ids = inter["node_id"].to_numpy()
    joined = set(zip(merged.edges["u"], merged.edges["v"], strict=True))
    for a, b in pairs:
        assert (ids[a], ids[b]) not in joined and (ids[b], ids[a]) not in joined


def test_walk_network_is_two_way_and_larger(simplified: RoadNetwork) -> None:
    walk = read_osm_roads(HELSINKI, network="walk", crs=CRS)
    assert not walk.edges["oneway"].any()
    assert walk.stats["length_km"] > simplified.stats["length_km"]
    assert set(walk.edges["road_class"]) >= {"footway", "residential"}


def test_to_networkx_routes(simplified: RoadNetwork) -> None:
    nx = pytest.importorskip("networkx")
    graph = to_networkx(simplified.edges, simplified.nodes)
    e = simplified.edges
    two_way = int((e["direction"] == 0).sum())
    assert graph.number_of_edges() == len(e) + two_way
    assert graph.number_of_nodes() == len(simplified.nodes)
    # a route inside the largest component, by travel time, is no shorter than the straight line
    main = simplified.nodes[simplified.nodes["component"] == 0]
    a, b = main.iloc[0], main.iloc[-1]
    und = to_networkx(e, simplified.nodes, directed=False)
    length = nx.shortest_path_length(und, int(a["node_id"]), int(b["node_id"]), weight="length")
    assert length >= a.geometry.distance(b.geometry)
    # the route's edges add up to the reported length
    path = nx.shortest_path(und, int(a["node_id"]), int(b["node_id"]), weight="length")
    hops = [min(d["length_m"] for d in und.get_edge_data(p, q).values()) for p, q in pairwise(path)]
    assert sum(hops) == pytest.approx(length)
