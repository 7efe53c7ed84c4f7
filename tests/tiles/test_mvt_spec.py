"""The MVT encoder against the spec (2.1) and the reference encoder.

Raw geometry command streams are read with the spec's protobuf schema
(``vector_tile_pb2`` shipped by mapbox-vector-tile) and checked with a small
command interpreter written here from the spec, independent of the encoder.
"""

from __future__ import annotations

import itertools
import math

import mapbox_vector_tile
import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mapbox_vector_tile.Mapbox import vector_tile_pb2

from tiles.mvt import LayerEncoder, PropertyTable, encode_tile, to_tile_coords

EXTENT = 4096
BOUNDS = (0.0, 0.0, 1000.0, 1000.0)


def _decode(tile: bytes) -> dict:
    return mapbox_vector_tile.decode(tile, default_options={"y_coord_down": True})


def _interpret(geometry: list[int]) -> list[tuple[int, list[tuple[int, int]], bool]]:
    """Spec 4.3: command integers -> paths as (command id, vertices, closed)."""
    paths: list[tuple[int, list[tuple[int, int]], bool]] = []
    x = y = i = 0
    while i < len(geometry):
        cmd, count = geometry[i] & 0x7, geometry[i] >> 3
        i += 1
        if cmd == 7:
            assert count == 1, "ClosePath count must be 1"
            cid, pts, _ = paths[-1]
            paths[-1] = (cid, pts, True)
            continue
        assert cmd in (1, 2) and count >= 1, f"bad command {cmd} x {count}"
        pts = []
        for _ in range(count):
            dx, dy = geometry[i], geometry[i + 1]
            i += 2
            x += (dx >> 1) ^ -(dx & 1)
            y += (dy >> 1) ^ -(dy & 1)
            pts.append((x, y))
        if cmd == 1:
            paths.extend((1, [p], False) for p in pts) if count > 1 else paths.append(
                (1, pts, False)
            )
        else:
            cid, prev, closed = paths[-1]
            paths[-1] = (cid, prev + pts, closed)
    return paths


def _area(ring: list[tuple[int, int]]) -> float:
    """Spec 4.3.4.4: the surveyor's formula over the ring in tile coordinates."""
    return 0.5 * sum(
        ring[k][0] * ring[(k + 1) % len(ring)][1] - ring[(k + 1) % len(ring)][0] * ring[k][1]
        for k in range(len(ring))
    )


def _check_spec(tile: bytes) -> int:
    """Assert the spec's geometry rules on every feature; returns the feature count."""
    msg = vector_tile_pb2.tile()
    msg.ParseFromString(tile)
    n = 0
    for layer in msg.layers:
        assert layer.version == 2
        for f in layer.features:
            n += 1
            assert len(f.tags) % 2 == 0
            assert all(k < len(layer.keys) for k in f.tags[0::2])
            assert all(v < len(layer.values) for v in f.tags[1::2])
            paths = _interpret(list(f.geometry))
            assert paths, "a feature must draw something"
            if f.type == 1:  # points: one MoveTo with all points
                assert f.geometry[0] & 7 == 1 and not any(c for _, _, c in paths)
            elif f.type == 2:  # lines: MoveTo(1) LineTo(n>=1), no zero-length segments
                for _, pts, closed in paths:
                    assert not closed and len(pts) >= 2
                    assert all(a != b for a, b in itertools.pairwise(pts))
            else:  # polygons: closed rings, >= 3 distinct vertices, exterior first and positive
                for k, (_, pts, closed) in enumerate(paths):
                    assert closed and len(set(pts)) >= 3 and pts[0] != pts[-1]
                    assert _area(pts) != 0
                    if k == 0:
                        assert _area(pts) > 0, "the first ring must be an exterior"
    return n


def _tile(geoms: list[shapely.Geometry], props: list[dict] | None = None) -> bytes:
    tg = to_tile_coords(np.array(geoms, dtype=object), BOUNDS, EXTENT, 0, simplify=0)
    enc = LayerEncoder("t", EXTENT)
    props = props or [{} for _ in geoms]
    enc.add_many(tg, list(range(len(geoms))), [list(p.items()) for p in props])
    return encode_tile([enc])


def _back(geom: dict) -> shapely.Geometry:
    """Decoded tile geometry back to source units (the affine the encoder applied, inverted)."""
    shape = shapely.geometry.shape(geom)
    return shapely.transform(
        shape, lambda c: np.column_stack((c[:, 0] / 4.096, 1000 - c[:, 1] / 4.096))
    )


SOURCES = {
    "point": shapely.Point(123.4, 567.8),
    "multipoint": shapely.MultiPoint([(10, 10), (500, 20), (990, 990)]),
    "line": shapely.LineString([(0, 0), (250, 400), (800, 100), (990, 990)]),
    "multiline": shapely.MultiLineString([[(10, 10), (300, 300)], [(600, 50), (700, 900)]]),
    "polygon_with_holes": shapely.Polygon(
        [(100, 100), (900, 100), (900, 900), (100, 900)],
        [
            [(200, 200), (400, 200), (400, 400), (200, 400)],
            [(600, 600), (800, 600), (800, 800), (600, 800)],
        ],
    ),
    "multipolygon": shapely.MultiPolygon(
        [
            shapely.box(10, 10, 200, 200),
            shapely.Polygon(
                [(300, 300), (900, 300), (900, 900), (300, 900)],
                [[(500, 500), (700, 500), (700, 700), (500, 700)]],
            ),
        ]
    ),
}


@pytest.mark.parametrize("kind", SOURCES)
def test_round_trip_matches_the_source_geometry(kind: str) -> None:
    source = SOURCES[kind]
    tile = _tile([source])
    assert _check_spec(tile) == 1
    feature = _decode(tile)["t"]["features"][0]
    back = _back(feature["geometry"])
    assert back.geom_type == source.geom_type
    # quantisation moves each vertex by at most half a tile unit in x and y
    assert shapely.hausdorff_distance(back, source) <= math.sqrt(0.5) / 4.096 + 1e-9
    if source.geom_type.endswith("Polygon"):
        assert back.is_valid
        assert abs(back.area - source.area) / source.area < 1e-3
        assert len(shapely.get_rings(back)) == len(shapely.get_rings(source))


def test_properties_of_every_type_round_trip() -> None:
    props = {
        "str": "村 village ✓",
        "empty": "",
        "uint": 7,
        "big": 2**62 + 1,
        "neg": -(2**40),
        "zero": 0,
        "float": -0.1,
        "huge_float": 1.5e300,
        "yes": True,
        "no": False,
    }
    tile = _tile([shapely.Point(1, 1), shapely.Point(2, 2)], [props, {"str": "村 village ✓"}])
    a, b = _decode(tile)["t"]["features"]
    assert a["properties"] == props
    for name, value in props.items():
        assert type(a["properties"][name]) is type(value), name
    assert b["properties"] == {"str": "村 village ✓"}
    # the shared value is stored once in the layer's value table
    msg = vector_tile_pb2.tile()
    msg.ParseFromString(tile)
    strings = [v.string_value for v in msg.layers[0].values if v.HasField("string_value")]
    assert strings.count("村 village ✓") == 1


def test_factorised_columns_encode_like_per_feature_properties() -> None:
    geoms = to_tile_coords(
        np.array([shapely.Point(5 + i * 10, 5 + i * 7) for i in range(50)]), BOUNDS, EXTENT, 0
    )
    values = {
        "name": [f"n{i % 7}" if i % 5 else None for i in range(50)],
        "n": [i % 3 for i in range(50)],
        "f": [float("nan") if i % 4 == 0 else i / 8 for i in range(50)],
        "b": [i % 2 == 0 for i in range(50)],
        # strings whose Value message takes one length byte or two (over 127 bytes)
        "long": ["长" * i + "x" * (i % 3) for i in range(50)],
    }
    rows = np.arange(50)[::-1].copy()  # features take rows out of order
    table = PropertyTable.factorise(list(values.items()))
    a = LayerEncoder("t")
    a.add_columns(geoms, rows.astype(np.uint64), table, rows)
    b = LayerEncoder("t")
    b.add_many(geoms, rows.tolist(), [[(k, v[r]) for k, v in values.items()] for r in rows])
    fa, fb = (_decode(encode_tile([e]))["t"]["features"] for e in (a, b))
    assert fa == fb and len(fa) == 50
    assert fa[0]["properties"] == {
        "name": "n0",
        "n": 1,
        "f": 49 / 8,
        "b": False,
        "long": "长" * 49 + "x",
    }


def test_empty_and_degenerate_inputs_draw_nothing() -> None:
    degenerate = [
        shapely.Point(),
        shapely.LineString(),
        shapely.Polygon(),
        shapely.LineString([(5, 5), (5, 5)]),  # zero length
        shapely.LineString([(5, 5), (5.001, 5.001)]),  # zero length once quantised
        shapely.Polygon([(1, 1), (1.05, 1), (1.05, 1.05)]),  # collapses to a point
        shapely.Polygon([(0, 0), (500, 0), (1000, 0), (0, 0)]),  # zero area
        shapely.GeometryCollection(),
        None,
    ]
    tg = to_tile_coords(np.array(degenerate, dtype=object), BOUNDS, EXTENT, 0, 0)
    enc = LayerEncoder("t")
    assert enc.add_many(tg, range(len(tg)), [[] for _ in tg]) == 0
    assert encode_tile([enc]) == b""
    assert encode_tile([]) == b""


def test_rings_are_repaired_when_given_directly() -> None:
    """add() on integer geometries: wrong winding is fixed, repeated and collinear points go."""
    wrong = shapely.Polygon(
        [(0, 0), (0, 100), (0, 100), (100, 100), (100, 0), (100, 0)],
        [[(10, 10), (50, 10), (50, 50), (10, 50)]],
    )
    sliver_hole = shapely.Polygon(
        [(200, 200), (300, 200), (300, 300), (200, 300)],
        [[(210, 210), (220, 210), (230, 210)]],
    )
    enc = LayerEncoder("t")
    assert enc.add(wrong, 1) and enc.add(sliver_hole, 2)
    tile = encode_tile([enc])
    assert _check_spec(tile) == 2
    msg = vector_tile_pb2.tile()
    msg.ParseFromString(tile)
    first, second = (_interpret(list(f.geometry)) for f in msg.layers[0].features)
    assert [len(p) for _, p, _ in first] == [4, 4]
    assert _area(first[0][1]) > 0 > _area(first[1][1])
    assert len(second) == 1  # the zero-area hole is gone, the exterior stays


def _reference(geoms: np.ndarray, props: list[dict]) -> bytes:
    features = [
        {"geometry": g.wkt, "properties": p, "id": i}
        for i, (g, p) in enumerate(zip(geoms, props, strict=True))
        if not g.is_empty
    ]
    return mapbox_vector_tile.encode(
        [{"name": "t", "features": features}],
        default_options={"y_coord_down": True, "extents": EXTENT},
    )


def test_decoded_output_matches_the_reference_encoder() -> None:
    rng = np.random.default_rng(11)
    geoms = list(SOURCES.values())
    for _ in range(40):
        x, y = rng.uniform(0, 900, 2)
        geoms.append(shapely.box(x, y, x + rng.uniform(1, 100), y + rng.uniform(1, 100)))
        geoms.append(shapely.LineString(rng.uniform(0, 1000, (5, 2))))
    props = [{"i": i, "s": f"s{i % 3}", "f": i / 3, "b": bool(i % 2)} for i in range(len(geoms))]
    tg = to_tile_coords(np.array(geoms, dtype=object), BOUNDS, EXTENT, 0, 0)
    enc = LayerEncoder("t")
    enc.add_many(tg, range(len(tg)), [list(p.items()) for p in props])
    ours = _decode(encode_tile([enc]))["t"]
    ref = _decode(_reference(tg, props))["t"]
    assert ours["extent"] == ref["extent"] and len(ours["features"]) == len(ref["features"])
    ref_by_id = {f["id"]: f for f in ref["features"]}
    for f in ours["features"]:
        r = ref_by_id[f["id"]]
        assert f["properties"] == r["properties"]
        assert f["geometry"]["type"] == r["geometry"]["type"]
        a, b = shapely.geometry.shape(f["geometry"]), shapely.geometry.shape(r["geometry"])
        assert a.normalize().equals(b.normalize()), f["id"]


coord = st.integers(min_value=-50, max_value=EXTENT + 50)


@st.composite
def _geometries(draw: st.DrawFn) -> shapely.Geometry:
    kind = draw(st.sampled_from(["point", "line", "polygon", "multipolygon", "star"]))
    if kind == "point":
        return shapely.MultiPoint(draw(st.lists(st.tuples(coord, coord), min_size=1, max_size=5)))
    if kind == "line":
        return shapely.LineString(draw(st.lists(st.tuples(coord, coord), min_size=2, max_size=8)))
    if kind == "star":  # arbitrary rings: often self-intersecting, sometimes left invalid
        pts = draw(st.lists(st.tuples(coord, coord), min_size=3, max_size=9))
        star = shapely.Polygon(pts)
        return star if draw(st.booleans()) else shapely.make_valid(star)
    boxes = []
    for _ in range(draw(st.integers(1, 3 if kind == "multipolygon" else 1))):
        x, y = draw(coord), draw(coord)
        w, h = draw(st.integers(1, 900)), draw(st.integers(1, 900))
        boxes.append(shapely.box(x, y, x + w, y + h))
    shape = shapely.union_all(boxes)
    if draw(st.booleans()):
        c = shape.centroid
        shape = shape.difference(c.buffer(draw(st.integers(1, 200)), quad_segs=3))
    return shape


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_geometries(), min_size=1, max_size=6))
def test_random_geometries_follow_the_spec_and_decode_to_their_tile_geometry(
    geoms: list[shapely.Geometry],
) -> None:
    # the source CRS here is tile units with y up, so the affine is only a flip
    tg = to_tile_coords(
        np.array(geoms, dtype=object), (0.0, 0.0, EXTENT, EXTENT), EXTENT, 64, simplify=0
    )
    enc = LayerEncoder("t")
    drawn = enc.add_many(tg, range(len(tg)), [[("k", i)] for i in range(len(tg))])
    tile = encode_tile([enc])
    assert _check_spec(tile) == drawn
    if not drawn:
        return
    by_id = {f["id"]: f for f in _decode(tile)["t"]["features"]}
    for i, g in enumerate(tg):
        if i not in by_id:
            continue
        back = shapely.geometry.shape(by_id[i]["geometry"])
        assert by_id[i]["properties"] == {"k": i}
        if g.geom_type == "GeometryCollection":  # the encoder keeps the highest dimension
            parts = shapely.get_parts(shapely.get_parts(g))
            dims = shapely.get_dimensions(parts)
            g = shapely.union_all(parts[dims == dims.max()])
        if g.geom_type.endswith("Polygon"):
            assert back.is_valid
            # area within what dropping collapsed slivers can remove
            assert abs(back.area - g.area) <= 1e-9 + 0.01 * g.area
        else:
            assert shapely.hausdorff_distance(back, g) <= 1e-9 or back.equals(g)


def test_self_crossing_polygon_across_the_tile_edge_is_repaired() -> None:
    # GEOS cannot clip this bowtie as it is; the encoder repairs it instead of failing
    bowtie = shapely.Polygon([(-10, 0), (30, 40), (30, 0), (-10, 40)])
    out = to_tile_coords(np.array([bowtie], dtype=object), BOUNDS, EXTENT, 64)
    assert shapely.is_valid(out).all()
    enc = LayerEncoder("t")
    assert enc.add_many(out, [1], [[]]) == 1
    tile = encode_tile([enc])
    assert _check_spec(tile) == 1
    back = _back(_decode(tile)["t"]["features"][0]["geometry"])
    # both lobes of the bowtie, clipped to the tile + buffer: area as make_valid computes it
    clip = shapely.box(-64 / 4.096, -64 / 4.096, 1000 + 64 / 4.096, 1000 + 64 / 4.096)
    expected = shapely.make_valid(bowtie).intersection(clip).area
    assert back.area == pytest.approx(expected, rel=0.02)
