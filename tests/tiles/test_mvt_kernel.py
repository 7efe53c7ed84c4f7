"""The compiled MVT kernels write the same bytes as the numpy encoder they replaced.

Real roads (tests/data/Helsinki.osm.pbf through the roads reader), Voronoi
polygons with holes and multipolygons, and points, cut into tiles at several
zooms; every layer is encoded twice, by :class:`tiles.mvt.LayerEncoder` and by
the numpy reference in ``tests/tiles/_mvt_numpy.py``, and the bytes compared.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import shapely

from layers.roads import read_osm_roads
from tests.tiles._mvt_numpy import NumpyLayerEncoder, encode_geometries_packed
from tiles import _mvt_kernel
from tiles._geoparquet import mvt_values
from tiles._mvt_geometry import encode_geometries_packed as kernel_packed
from tiles.mvt import (
    LayerEncoder,
    PropertyTable,
    encode_layer_parts,
    encode_tile,
    to_tile_coords,
)

HELSINKI = Path(__file__).resolve().parents[1] / "data" / "Helsinki.osm.pbf"


@pytest.fixture(scope="module")
def roads() -> tuple[np.ndarray, PropertyTable]:
    edges = read_osm_roads(HELSINKI, network="all").edges
    # the properties as a layer's GeoParquet gives them to tiles
    table = pa.Table.from_pandas(
        edges[["road_class", "name", "lanes", "oneway"]], preserve_index=False
    )
    cols = [(c, mvt_values(table.column(c))) for c in table.column_names]
    return np.asarray(edges.geometry.array), PropertyTable.factorise(cols)


def tiles_over(bounds: np.ndarray, zooms: range) -> list[tuple[float, float, float, float]]:
    """Square tiles (in the data's metres) of a quadtree over ``bounds``."""
    x0, y0, x1, y1 = bounds
    side = max(x1 - x0, y1 - y0)
    out = []
    for z in zooms:
        size = side / 2**z
        for i in range(2**z):
            for j in range(2**z):
                out.append((x0 + i * size, y0 + j * size, x0 + (i + 1) * size, y0 + (j + 1) * size))
    return out


def assert_same_layers(geoms: np.ndarray, table: PropertyTable, tiles: list, **kw: float) -> int:
    """Encode every tile both ways; how many features were drawn in all."""
    tree = shapely.STRtree(geoms)
    drawn = 0
    for bounds in tiles:
        hits = np.sort(tree.query(shapely.box(*bounds)))
        tile_geoms = to_tile_coords(geoms[hits], bounds, **kw)
        ours, ref = LayerEncoder("l"), NumpyLayerEncoder("l")
        ids = hits.astype(np.uint64) * 7
        drawn += ours.add_columns(tile_geoms, ids, table, hits)
        assert ref.add_columns(tile_geoms, ids, table, hits) == len(ours)
        assert ours.encode() == ref.encode(), bounds
        # the geometry buffers alone, span by span
        k1, b1, s1, e1 = kernel_packed(tile_geoms)
        k2, b2, s2, e2 = encode_geometries_packed(tile_geoms)
        assert k1.tolist() == k2.tolist()
        for i in np.flatnonzero(k1):
            assert b1[s1[i] : e1[i]].tobytes() == b2[s2[i] : e2[i]]
    return drawn


def test_roads_bytes_match_numpy_encoder(roads: tuple[np.ndarray, PropertyTable]) -> None:
    geoms, table = roads
    tiles = tiles_over(shapely.total_bounds(geoms), range(0, 4))
    assert assert_same_layers(geoms, table, tiles) > len(geoms)  # edges cross tiles


@pytest.mark.parametrize("simplify", [0.0, 1.0, 8.0])
def test_polygons_and_points_bytes_match_numpy_encoder(simplify: float) -> None:
    rng = np.random.default_rng(7)
    cells = shapely.get_parts(
        shapely.voronoi_polygons(shapely.multipoints(rng.uniform(0, 1000, (60, 2))))
    )
    cells = shapely.clip_by_rect(cells, 0, 0, 1000, 1000)
    holed = shapely.difference(cells[:20], shapely.buffer(shapely.centroid(cells[:20]), 15))
    multi = shapely.multipolygons(
        [[shapely.box(x, 5, x + 3, 8), shapely.box(x + 6, 5, x + 9, 8)] for x in range(0, 900, 90)]
    )
    specks = shapely.box(rng.uniform(0, 999, 30), 500, rng.uniform(0, 999, 30) + 0.01, 500.01)
    points = shapely.points(rng.uniform(0, 1000, (300, 2)))
    multipoints = shapely.multipoints(rng.uniform(0, 1000, (20, 3, 2)))
    lines = shapely.linestrings(rng.uniform(0, 1000, (40, 6, 2)))
    geoms = np.concatenate(
        [cells, holed, multi, specks, points, multipoints, lines, [None, shapely.Polygon()]]
    )
    n = len(geoms)
    table = PropertyTable.factorise(
        [
            ("k", [i % 5 if i % 3 else None for i in range(n)]),
            ("s", [f"v{i % 11}" for i in range(n)]),
            ("f", [i / 4 for i in range(n)]),
        ]
    )
    tiles = tiles_over(np.array([0.0, 0.0, 1000.0, 1000.0]), range(0, 4))
    kinds = set()
    for bounds in tiles[:3]:
        tg = to_tile_coords(geoms, bounds, simplify=simplify)
        kinds |= set(kernel_packed(tg)[0].tolist())
    assert kinds == {0, 1, 2, 3}  # every kind drawn, and some dropped
    assert assert_same_layers(geoms, table, tiles, simplify=simplify) > 0


def test_all_points_only_layer_matches() -> None:
    """A layer of bare points takes to_tile_coords' no-GEOS path."""
    rng = np.random.default_rng(3)
    geoms = shapely.points(rng.uniform(-50, 1050, (2000, 2)))
    table = PropertyTable.factorise([("n", list(range(len(geoms))))])
    tiles = tiles_over(np.array([0.0, 0.0, 1000.0, 1000.0]), range(0, 4))
    assert assert_same_layers(geoms, table, tiles) > len(geoms)


def test_point_layer_fast_path_matches_generic_path(tmp_path: Path) -> None:
    """A GeoParquet layer of points is cut without GEOS; the tiles are those of the GEOS path."""
    import dataclasses

    import geopandas as gpd
    import morecantile

    from tiles.grids import get_grid
    from tiles.vector import load_source

    rng = np.random.default_rng(5)
    lon, lat = rng.uniform(120.0, 120.2, 3000), rng.uniform(30.4, 30.6, 3000)
    lon[:10], lat[:10] = 120.1, 30.5  # several points on one spot
    gdf = gpd.GeoDataFrame(
        {"kind": rng.choice(["shop", "farm", None], 3000), "staff": rng.integers(0, 9, 3000)},
        geometry=gpd.points_from_xy(lon, lat),
        crs=4326,
    )
    gdf.to_parquet(tmp_path / "p.parquet")
    grid = get_grid("WebMercatorQuad")
    fast = load_source(str(tmp_path / "p.parquet"), "p", "v", grid)
    assert fast.points is not None
    slow = dataclasses.replace(fast, points=None)
    compared = 0
    tms = morecantile.tms.get("WebMercatorQuad")
    for z in (9, 11, 13, 15):
        for t in {tms.tile(float(a), float(b), z) for a, b in zip(lon[:40], lat[:40], strict=True)}:
            x, y = t.x, t.y
            bounds = grid.tile_bounds(z, x, y)
            a, b = fast.layer(bounds, 4096, 64, 1.0), slow.layer(bounds, 4096, 64, 1.0)
            assert len(a) == len(b) > 0
            assert a.encode() == b.encode()
            compared += 1
    assert compared > 40


def _encoded_layers(
    geoms: np.ndarray, table: PropertyTable, tiles: list, coords: list
) -> list[bytes]:
    """Every tile's layer of ``geoms`` (``coords``: in each tile's coordinates) through the
    kernels, one at a time and all tiles' in one call (with ids), and one of bare points."""
    out = []
    for tile_geoms in coords:
        layer = LayerEncoder("l")
        layer.add_columns(tile_geoms, None, table, np.arange(len(geoms)))
        out.append(layer.encode())
    joined = np.concatenate(coords)
    rows = np.tile(np.arange(len(geoms)), len(tiles))
    starts = np.arange(len(tiles) + 1) * len(geoms)
    packed = kernel_packed(joined)
    out.extend(encode_layer_parts("l", 4096, packed, rows * 3, table, rows, starts))
    xy = shapely.get_coordinates(shapely.centroid(geoms))
    order = np.argsort(xy[:, 0], kind="stable")
    xs, ys = np.ascontiguousarray(xy[order, 0]), np.ascontiguousarray(xy[order, 1])
    for x0, y0, x1, y1 in tiles:
        hits = _mvt_kernel.points_in_box(xs, ys, order, (x0, y0, x1, y1))
        sx, sy = 4096 / (x1 - x0), 4096 / (y1 - y0)
        pts, inside = _mvt_kernel.points_to_tile(
            xy[hits, 0], xy[hits, 1], x0, y1, sx, sy, -64.0, 4160.0
        )
        layer = LayerEncoder("p")
        layer.add_points(pts[inside], hits[inside].astype(np.uint64), table, hits[inside])
        out.append(layer.encode())
    return out


def test_layer_parts_of_many_tiles_are_each_tiles_encoded_layer(
    roads: tuple[np.ndarray, PropertyTable],
) -> None:
    """One kernel call writes the tiles' layers as ``LayerEncoder`` does tile by tile:
    ids, keys of only the columns the tile uses, values in code order, empty tiles."""
    geoms, table = roads
    table = table.select(table.names[::2])
    tiles = tiles_over(shapely.total_bounds(geoms), range(2, 4))
    tiles.append((0.0, 0.0, 1.0, 1.0))  # far away: nothing draws
    tile_geoms, rows, expected = [], [], []
    rng = np.random.default_rng(4)
    for bounds in tiles:
        tg = to_tile_coords(geoms, bounds)
        keep = np.flatnonzero(~shapely.is_empty(tg) | (rng.random(len(tg)) < 0.01))
        layer = LayerEncoder("roads")
        layer.add_columns(tg[keep], keep * 7, table, keep)
        expected.append(encode_tile([layer]))
        tile_geoms.append(tg[keep])
        rows.append(keep)
    starts = np.r_[0, np.cumsum([len(r) for r in rows])]
    rows_all = np.concatenate(rows)
    packed = kernel_packed(np.concatenate(tile_geoms))
    parts = encode_layer_parts("roads", 4096, packed, rows_all * 7, table, rows_all, starts)
    assert parts == expected
    assert parts[-1] == b"" and sum(1 for p in parts if p) > 10


def test_interpreted_kernels_write_the_compiled_bytes(
    roads: tuple[np.ndarray, PropertyTable], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Small work runs the kernels as plain Python (no numba start-up): the same bytes."""
    geoms, table = roads
    tiles = tiles_over(shapely.total_bounds(geoms), range(0, 3))
    # (the tile coordinates come from GEOS, not the kernels: made once for both runs)
    coords = [to_tile_coords(geoms, bounds) for bounds in tiles]
    _mvt_kernel.load_compiled()
    compiled = _encoded_layers(geoms, table, tiles, coords)
    monkeypatch.setattr(_mvt_kernel, "_compiled", None)
    monkeypatch.setattr(_mvt_kernel, "_budget", 10**12)
    interpreted = _encoded_layers(geoms, table, tiles, coords)
    assert _mvt_kernel._compiled is None and _mvt_kernel._budget < 10**12  # ran interpreted
    assert sum(len(b) for b in compiled) > 50_000  # the tiles hold the roads
    assert interpreted == compiled


def test_kernels_switch_to_compiled_once_the_work_is_large(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_mvt_kernel, "_compiled", None)
    monkeypatch.setattr(_mvt_kernel, "_budget", 200)
    xs = np.arange(60, dtype=np.float64)
    small = _mvt_kernel.points_in_box(xs, xs, np.arange(60), (10.0, 10.0, 20.0, 20.0))
    assert _mvt_kernel._compiled is None and _mvt_kernel._budget == 200 - 3 * 60
    large = _mvt_kernel.points_in_box(xs, xs, np.arange(60), (10.0, 10.0, 20.0, 20.0))
    assert _mvt_kernel._compiled is not None  # over the budget: numba from here on
    assert small.tolist() == large.tolist() == list(range(10, 21))
