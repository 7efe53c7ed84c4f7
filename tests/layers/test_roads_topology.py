"""Roads topology on small synthetic OSM files: clipped, duplicate, looped and degenerate ways.

The files are written with pyosmium's SimpleWriter; expected lengths are
geodesic (pyproj.Geod) from the coordinates written, compared with the planar
lengths in CGCS2000 / 3-degree GK CM 120E (EPSG:4549) at 1e-3.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import osmium
import pytest
import shapely
from osmium.osm.mutable import Node, Way
from pyproj import Geod

from layers.errors import ParameterError, SourceError, ValidationError
from layers.roads import RoadNetwork, read_osm_roads, to_networkx, validate_network

CRS = "EPSG:4549"
GEOD = Geod(ellps="WGS84")
LON0, LAT0 = 120.0, 30.5
STEP = 0.001  # degrees: ~96 m east, ~111 m north


def xy(i: float, j: float) -> tuple[float, float]:
    """Grid position (column i, row j) as lon/lat."""
    return (LON0 + i * STEP, LAT0 + j * STEP)


def write_pbf(
    path: Path,
    nodes: dict[int, tuple[float, float]],
    ways: list[tuple[int, list[int], dict[str, str]]],
) -> Path:
    """Write nodes (id -> lon/lat) and ways (id, node ids, tags) to an OSM PBF."""
    writer = osmium.SimpleWriter(str(path))
    try:
        for nid in sorted(nodes):
            writer.add_node(Node(id=nid, location=nodes[nid], version=1))
        for wid, refs, tags in ways:
            writer.add_way(Way(id=wid, nodes=refs, tags=tags, version=1))
    finally:
        writer.close()
    return path


def geodesic(nodes: dict[int, tuple[float, float]], refs: list[int]) -> float:
    lon = [nodes[r][0] for r in refs]
    lat = [nodes[r][1] for r in refs]
    return float(GEOD.line_length(lon, lat))


def read(path: Path, **kw) -> RoadNetwork:
    kw.setdefault("crs", CRS)
    kw.setdefault("network", "all")
    return read_osm_roads(path, **kw)


def edge(net: RoadNetwork, u: int, v: int):
    e = net.edges
    hit = e[((e["u"] == u) & (e["v"] == v)) | ((e["u"] == v) & (e["v"] == u))]
    assert len(hit) >= 1, f"no edge {u}-{v}"
    return hit


RES = {"highway": "residential"}


def test_clipped_ways_keep_their_present_parts(tmp_path: Path) -> None:
    nodes = {
        1: xy(0, 0),
        2: xy(1, 0),
        3: xy(2, 0),
        6: xy(0, 2),
        7: xy(1, 2),
        8: xy(3, 2),
        9: xy(4, 2),
    }
    ways = [
        (100, [1, 2, 3, 99], RES),  # last node outside the extract
        (101, [98, 3], RES),  # only one node present: nothing to draw
        (102, [6, 7, 97, 8, 9], RES),  # a gap in the middle: two pieces, no line across
    ]
    net = read(write_pbf(tmp_path / "clip.osm.pbf", nodes, ways), simplify=False)
    assert net.stats["missing_nodes"] == 3
    assert sorted(net.edges["osm_id"]) == [100, 102, 102]
    assert edge(net, 1, 3)["length_m"].iloc[0] == pytest.approx(
        geodesic(nodes, [1, 2, 3]), rel=1e-3
    )
    total = geodesic(nodes, [6, 7]) + geodesic(nodes, [8, 9])
    assert net.edges.loc[net.edges["osm_id"] == 102, "length_m"].sum() == pytest.approx(
        total, rel=1e-3
    )
    # the two pieces of way 102 are not connected
    assert edge(net, 6, 7)["component"].iloc[0] != edge(net, 8, 9)["component"].iloc[0]


def test_duplicate_way_ids_count_once_and_parallel_ways_get_keys(tmp_path: Path) -> None:
    nodes = {1: xy(0, 0), 2: xy(1, 0), 3: xy(2, 0)}
    ways = [
        (200, [1, 2, 3], RES),
        (200, [1, 2, 3], RES),  # the same way twice (merged extracts)
        (201, [1, 2, 3], {"highway": "residential", "name": "Twin"}),  # another way, same nodes
    ]
    net = read(write_pbf(tmp_path / "dup.osm.pbf", nodes, ways))
    assert net.stats["duplicate_ways"] == 1
    # node 2 is shared by two ways, so it is an intersection (as in osmnx): 2 x 2 edges
    assert len(net.edges) == 4
    for u, v in [(1, 2), (2, 3)]:
        e = edge(net, u, v)
        assert sorted(e["key"]) == [0, 1]
        assert sorted(e["osm_id"]) == [200, 201]
    validate_network(net)


def test_self_loops(tmp_path: Path) -> None:
    nodes = {
        10: xy(0, 0),
        11: xy(1, 0),
        12: xy(1, 1),
        13: xy(0, 1),
        20: xy(2, 0),
        30: xy(5, 0),
        31: xy(6, 0),
        32: xy(6, 1),
    }
    ring = {"highway": "primary", "junction": "roundabout"}
    ways = [
        (300, [10, 11, 12, 13, 10], ring),  # roundabout with one road attached at 11
        (301, [11, 20], RES),
        (302, [30, 31, 32, 30], RES),  # a closed way touching nothing
    ]
    path = write_pbf(tmp_path / "loop.osm.pbf", nodes, ways)
    raw = read(path, simplify=False)
    # unsimplified: the roundabout splits where it closes (10) and where the road joins (11)
    assert len(raw.edges[raw.edges["osm_id"] == 300]) == 2
    net = read(path)
    loop = net.edges[net.edges["osm_id"] == 300]
    assert len(loop) == 1
    assert loop["u"].iloc[0] == loop["v"].iloc[0] == 11
    assert loop["oneway"].iloc[0] and loop["direction"].iloc[0] == 1
    assert loop["length_m"].iloc[0] == pytest.approx(
        geodesic(nodes, [10, 11, 12, 13, 10]), rel=1e-3
    )
    lone = net.edges[net.edges["osm_id"] == 302]
    assert len(lone) == 1 and lone["u"].iloc[0] == lone["v"].iloc[0]
    assert shapely.is_valid(lone.geometry.iloc[0])
    validate_network(net)


def test_zero_length_edges_are_folded_into_one_node(tmp_path: Path) -> None:
    here = xy(1, 0)
    nodes = {
        19: xy(0, 0),
        20: here,
        21: here,
        22: xy(2, 0),
        30: xy(0, 1),
        31: xy(1, 1),
        32: xy(2, 1),
    }
    ways = [
        (400, [19, 20], RES),
        (401, [20, 21], RES),  # two distinct nodes at one spot: a zero-length way
        (402, [21, 22], RES),
        (403, [30, 31, 31, 32], RES),  # a node repeated back to back
    ]
    net = read(write_pbf(tmp_path / "zero.osm.pbf", nodes, ways), simplify=False)
    assert (net.edges["length_m"] > 0).all()
    assert net.stats["zero_length_dropped"] == 1
    assert 401 not in set(net.edges["osm_id"])
    # 400 and 402 still meet, at node 20 (the smaller id)
    assert edge(net, 19, 20)["component"].iloc[0] == edge(net, 20, 22)["component"].iloc[0]
    assert 21 not in set(net.nodes["node_id"])
    e403 = net.edges[net.edges["osm_id"] == 403]
    assert len(e403) == 1 and shapely.get_num_coordinates(e403.geometry.iloc[0]) == 3


def test_simplify_merges_only_where_nothing_changes(tmp_path: Path) -> None:
    nodes = {i: xy(i, 0) for i in range(40, 47)} | {
        50: xy(0, 3),
        51: xy(1, 3),
        52: xy(2, 3),
        60: xy(0, 5),
        61: xy(1, 5),
        62: xy(2, 5),
    }
    a = {"highway": "secondary", "name": "A"}
    one = {"highway": "secondary", "oneway": "yes"}
    ways = [
        (500, [40, 41, 42], a),
        (501, [42, 43, 44], a),  # continues 500 unchanged: merged
        (502, [44, 45, 46], {"highway": "secondary", "name": "B"}),  # name changes: kept apart
        (510, [50, 51], one),
        (511, [52, 51], one),  # both flow into 51: not a chain
        (520, [60, 61], one),
        (521, [61, 62], one),  # a oneway chain: merged
    ]
    net = read(write_pbf(tmp_path / "simp.osm.pbf", nodes, ways))
    merged = edge(net, 40, 44)
    assert len(merged) == 1 and merged["name"].iloc[0] == "A"
    assert merged["length_m"].iloc[0] == pytest.approx(
        geodesic(nodes, [40, 41, 42, 43, 44]), rel=1e-3
    )
    assert len(edge(net, 44, 46)) == 1
    assert len(net.edges[net.edges["osm_id"].isin([510, 511])]) == 2
    chain = edge(net, 60, 62)
    assert len(chain) == 1 and chain["u"].iloc[0] == 60 and chain["direction"].iloc[0] == 1
    assert 61 not in set(net.nodes["node_id"]) and 51 in set(net.nodes["node_id"])


def test_reverse_oneway_routes_against_the_drawing(tmp_path: Path) -> None:
    pytest.importorskip("networkx")
    nodes = {1: xy(0, 0), 2: xy(1, 0), 3: xy(2, 0)}
    ways = [
        (600, [1, 2], {"highway": "primary", "oneway": "-1"}),
        (601, [2, 3], {"highway": "primary"}),
    ]
    net = read(write_pbf(tmp_path / "rev.osm.pbf", nodes, ways), simplify=False)
    g = to_networkx(net.edges, net.nodes)
    assert g.has_edge(2, 1) and not g.has_edge(1, 2)
    assert g.has_edge(2, 3) and g.has_edge(3, 2)
    rev = g.get_edge_data(2, 1)[0]
    assert rev["reversed"] and rev["direction"] == -1


def test_clip_keeps_what_is_inside(tmp_path: Path) -> None:
    nodes = {i: xy(i, 0) for i in range(5)}
    path = write_pbf(tmp_path / "c.osm.pbf", nodes, [(700, [0, 1, 2, 3, 4], RES)])
    full = read(path)
    x = shapely.get_coordinates(full.nodes.geometry.to_numpy())[:, 0]
    box = shapely.box(x.min() - 1, -1e7, x.min() + 250, 1e8)  # keeps nodes 0..2
    clipped = read(path, clip=box)
    assert clipped.edges["length_m"].sum() == pytest.approx(geodesic(nodes, [0, 1, 2]), rel=1e-3)


def test_network_filter_and_no_roads(tmp_path: Path) -> None:
    nodes = {1: xy(0, 0), 2: xy(1, 0)}
    path = write_pbf(tmp_path / "foot.osm.pbf", nodes, [(800, [1, 2], {"highway": "footway"})])
    assert len(read(path, network="walk").edges) == 1
    with pytest.raises(SourceError, match=r"foot\.osm\.pbf: no roads of network 'drive'"):
        read(path, network="drive")
    only_nodes = write_pbf(tmp_path / "nodes.osm.pbf", nodes, [(801, [1, 2], {"building": "y"})])
    with pytest.raises(SourceError, match=r"nodes\.osm\.pbf: no roads"):
        read(only_nodes)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("truncated.osm.pbf", "truncate"),
        ("junk.osm.pbf", b"this is not a protocol buffer" * 40),
        ("empty.osm.pbf", b""),
        ("roads.osm", b"<html><body>not OSM</body></html>"),
    ],
)
def test_corrupt_input_is_a_source_error_naming_the_file(
    tmp_path: Path, name: str, content: bytes | str
) -> None:
    path = tmp_path / name
    if content == "truncate":
        data = (Path(__file__).resolve().parents[1] / "data" / "Helsinki.osm.pbf").read_bytes()
        path.write_bytes(data[: len(data) // 2])
    else:
        path.write_bytes(content)  # type: ignore[arg-type]
    with pytest.raises(SourceError, match=name.replace(".", r"\.")):
        read(path)


def test_missing_file_and_bad_parameters(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such file"):
        read(tmp_path / "nope.osm.pbf")
    nodes = {1: xy(0, 0), 2: xy(1, 0)}
    path = write_pbf(tmp_path / "ok.osm.pbf", nodes, [(1, [1, 2], RES)])
    with pytest.raises(ParameterError, match="network must be one of"):
        read(path, network="boat")
    with pytest.raises(ParameterError, match="consolidate_m"):
        read(path, consolidate_m=-1)
    with pytest.raises(ParameterError, match="not projected"):
        read(path, crs="EPSG:4326")


def test_validate_network_catches_broken_invariants(tmp_path: Path) -> None:
    nodes = {1: xy(0, 0), 2: xy(1, 0), 3: xy(2, 1)}
    net = read(
        write_pbf(tmp_path / "v.osm.pbf", nodes, [(1, [1, 2], RES), (2, [2, 3], RES)]),
        simplify=False,
    )
    validate_network(net)
    dup = RoadNetwork(net.edges.assign(edge_id=0), net.nodes)
    with pytest.raises(ValidationError, match="edge_id is not unique"):
        validate_network(dup, "here")
    orphan = RoadNetwork(net.edges, net.nodes.iloc[:1])
    with pytest.raises(ValidationError, match="not in the nodes"):
        validate_network(orphan)
    zero = RoadNetwork(net.edges.assign(length_m=np.zeros(len(net.edges))), net.nodes)
    with pytest.raises(ValidationError, match="length 0"):
        validate_network(zero)
