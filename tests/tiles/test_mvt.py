"""The MVT encoder on its own: geometry commands, winding, properties, ids, clipping."""

from __future__ import annotations

import mapbox_vector_tile
import numpy as np
import pytest
import shapely

from tiles._protobuf import packed_varints, varint
from tiles.mvt import LayerEncoder, encode_tile, to_tile_coords

BOUNDS = (0.0, 0.0, 1000.0, 1000.0)


def _decode(tile: bytes) -> dict:
    return mapbox_vector_tile.decode(tile, default_options={"y_coord_down": True})


def _shoelace(ring: list[list[int]]) -> float:
    pts = np.asarray(ring, dtype=float)
    x, y = pts[:, 0], pts[:, 1]
    return 0.5 * float(np.sum(x[:-1] * y[1:] - x[1:] * y[:-1]))


def test_packed_varints_match_the_scalar_encoding() -> None:
    values = [0, 1, 127, 128, 300, 16383, 16384, 2**32, 2**63 + 7, 2**64 - 1]
    assert packed_varints(np.array(values, dtype=np.uint64)) == b"".join(varint(v) for v in values)


def test_polygon_rings_follow_the_spec_winding_order() -> None:
    # source rings deliberately in the "wrong" orientation for the spec
    shell = [(100, 100), (100, 900), (900, 900), (900, 100)]
    hole = [(300, 300), (700, 300), (700, 700), (300, 700)]
    poly = shapely.Polygon(shell, [hole])
    enc = LayerEncoder("p")
    enc.add(to_tile_coords(np.array([poly]), BOUNDS, 4096, 0)[0], 7)
    feature = _decode(encode_tile([enc]))["p"]["features"][0]
    exterior, interior = feature["geometry"]["coordinates"]
    # spec 4.3.4.4: exterior positive area (surveyor's formula, tile coordinates), holes negative
    assert _shoelace(exterior) > 0
    assert _shoelace(interior) < 0
    # y points down: the source's y = 900 edge is near the tile's top
    assert min(p[1] for p in exterior) == round((1000 - 900) * 4.096)


def test_properties_keep_their_types_and_ids() -> None:
    enc = LayerEncoder("l", extent=4096)
    props = [("s", "x<y&z"), ("i", 42), ("neg", -5), ("f", 0.125), ("b", False), ("none", None)]
    enc.add(shapely.Point(10, 10), 2**40, props)
    enc.add(shapely.Point(20, 20), 0, [("s", "x<y&z"), ("f", float("nan"))])
    layer = _decode(encode_tile([enc]))["l"]
    assert layer["extent"] == 4096 and layer["version"] == 2
    first, second = layer["features"]
    assert first["id"] == 2**40 and second["id"] == 0
    assert first["properties"] == {"s": "x<y&z", "i": 42, "neg": -5, "f": 0.125, "b": False}
    assert isinstance(first["properties"]["b"], bool) and isinstance(
        first["properties"]["f"], float
    )
    assert second["properties"] == {"s": "x<y&z"}  # NaN and None are absent properties


def test_clip_keeps_the_buffer_and_drops_what_is_outside() -> None:
    line = shapely.LineString([(-500, 500), (1500, 500)])
    far = shapely.Point(5000, 5000)
    out = to_tile_coords(np.array([line, far]), BOUNDS, extent=4096, buffer=64)
    xs = shapely.get_coordinates(out[0])[:, 0]
    assert xs.min() == -64 and xs.max() == 4096 + 64
    assert out[1].is_empty


def test_simplify_and_quantise_stay_within_a_tile_unit() -> None:
    t = np.linspace(0, 2 * np.pi, 2000)
    wiggly = shapely.LineString(np.column_stack((500 + 300 * np.cos(t), 500 + 300 * np.sin(t))))
    out = to_tile_coords(np.array([wiggly]), BOUNDS, extent=4096, buffer=0, simplify=1.0)[0]
    assert len(shapely.get_coordinates(out)) < 2000  # simplified
    coords = shapely.get_coordinates(out)
    assert np.all(coords == np.round(coords))  # quantised
    # back to source units: every vertex within one tile unit (+ rounding) of the source
    back = shapely.LineString(np.column_stack((coords[:, 0] / 4.096, 1000 - coords[:, 1] / 4.096)))
    assert shapely.hausdorff_distance(back, wiggly) <= 1.5 / 4.096


def test_tiny_polygons_collapse_to_nothing() -> None:
    speck = shapely.box(1, 1, 1.01, 1.01)
    enc = LayerEncoder("x")
    assert not enc.add(to_tile_coords(np.array([speck]), BOUNDS, 4096, 0)[0])
    assert encode_tile([enc]) == b""


@pytest.mark.parametrize(
    "geom",
    [
        shapely.MultiPoint([(10, 10), (20, 30)]),
        shapely.MultiLineString([[(0, 0), (100, 100)], [(200, 0), (300, 50)]]),
        shapely.MultiPolygon([shapely.box(0, 0, 100, 100), shapely.box(500, 500, 600, 600)]),
    ],
)
def test_multi_geometries_round_trip(geom: shapely.Geometry) -> None:
    tile_geom = to_tile_coords(np.array([geom]), BOUNDS, 4096, 0, simplify=0)[0]
    enc = LayerEncoder("m")
    enc.add(tile_geom, 1)
    decoded = _decode(encode_tile([enc]))["m"]["features"][0]["geometry"]
    assert shapely.geometry.shape(decoded).equals(tile_geom)


def test_collections_keep_their_highest_dimension() -> None:
    mixed = shapely.GeometryCollection(
        [
            shapely.Point(5, 5),
            shapely.LineString([(0, 0), (10, 10)]),
            shapely.MultiPolygon([shapely.box(0, 0, 10, 10), shapely.box(20, 20, 30, 30)]),
            shapely.box(40, 40, 50, 50),
        ]
    )
    enc = LayerEncoder("c")
    assert enc.add(mixed, 1)
    decoded = _decode(encode_tile([enc]))["c"]["features"][0]["geometry"]
    assert decoded["type"] == "MultiPolygon" and len(decoded["coordinates"]) == 3


def test_many_mixed_features_round_trip_in_one_batch() -> None:
    """Batch encoding (one varint buffer sliced per feature) against the reference decoder."""
    rng = np.random.default_rng(42)
    geoms = []
    for i in range(300):
        x, y = rng.integers(-50, 4000, size=2)
        kind = i % 5
        if kind == 0:
            geoms.append(shapely.Point(x, y))
        elif kind == 1:
            geoms.append(shapely.MultiPoint(rng.integers(0, 4096, size=(3, 2))))
        elif kind == 2:
            geoms.append(
                shapely.LineString(
                    np.cumsum(rng.integers(-40, 40, size=(6, 2)), 0) + np.array([x, y])
                )
            )
        elif kind == 3:
            geoms.append(shapely.box(x, y, x + 5 + i, y + 9))
        else:
            outer = shapely.box(x, y, x + 90, y + 90)
            geoms.append(
                shapely.MultiPolygon(
                    [
                        outer.difference(shapely.box(x + 30, y + 30, x + 60, y + 60)),
                        shapely.box(x + 100, y, x + 120, y + 20),
                    ]
                )
            )
    tile_geoms = to_tile_coords(
        np.array(geoms, dtype=object), (0.0, 0.0, 4096.0, 4096.0), 4096, 64, 0
    )
    enc = LayerEncoder("batch")
    drawn = enc.add_many(tile_geoms, list(range(300)), [[("i", i)] for i in range(300)])
    assert drawn == sum(not g.is_empty for g in tile_geoms)
    features = _decode(encode_tile([enc]))["batch"]["features"]
    by_id = {f["id"]: f for f in features}
    for i, geom in enumerate(tile_geoms):
        if geom.is_empty:
            continue
        f = by_id[i]
        assert f["properties"] == {"i": i}
        assert shapely.geometry.shape(f["geometry"]).normalize().equals(geom.normalize()), i
