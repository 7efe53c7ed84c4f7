"""Layers shipped between processes (tiles._ship) come back as the same geometries,
coordinate for coordinate, and their spatial index answers as before."""

from __future__ import annotations

import pickle

import numpy as np
import shapely

from tiles._ship import dumps


def _geometries() -> np.ndarray:
    rng = np.random.default_rng(3)
    points = shapely.points(rng.uniform(-1e7, 1e7, (500, 2)))
    lines = shapely.linestrings(rng.uniform(0, 1000, (200, 5, 3)))  # with z
    holed = shapely.box(0, 0, 10, 10).difference(shapely.box(2, 2, 4, 4))
    multi = shapely.MultiPolygon([shapely.box(0, 0, 1, 1), shapely.box(5, 5, 6.5, 6.25)])
    measured = shapely.from_wkt("LINESTRING M (0 0 1, 1 1 2, 2 0 0.5)")
    mixed = shapely.GeometryCollection([shapely.Point(1, 2), shapely.box(3, 3, 4, 4)])
    return np.array([*points, *lines, holed, multi, measured, mixed], dtype=object)


def test_geometries_come_back_coordinate_for_coordinate() -> None:
    geoms = _geometries()
    back = pickle.loads(dumps({"geoms": geoms, "other": [1, "x"]}))
    assert back["other"] == [1, "x"]
    shipped = back["geoms"]
    assert shipped.dtype == object and len(shipped) == len(geoms)
    np.testing.assert_array_equal(shapely.get_type_id(shipped), shapely.get_type_id(geoms))
    np.testing.assert_array_equal(shapely.has_z(shipped), shapely.has_z(geoms))
    np.testing.assert_array_equal(shapely.has_m(shipped), shapely.has_m(geoms))
    for a, b in zip(shipped, geoms, strict=True):
        assert a.wkt == b.wkt  # every digit of every coordinate (z and m too)
    # faster than object by object, which is what makes shipping layers pay
    assert len(dumps(geoms)) < len(pickle.dumps(geoms))


def test_a_spatial_index_comes_back_over_the_same_geometries() -> None:
    geoms = _geometries()
    source, tree = pickle.loads(dumps((geoms, shapely.STRtree(geoms))))
    assert all(a is b for a, b in zip(tree.geometries, source, strict=True))  # shipped once
    boxes = shapely.box([0, -5e6, 900], [0, -5e6, 900], [10, 5e6, 1000], [10, 5e6, 1000])
    np.testing.assert_array_equal(
        tree.query(boxes, predicate="intersects"),
        shapely.STRtree(geoms).query(boxes, predicate="intersects"),
    )
