"""Tile maths of every grid against morecantile and closed-form formulas."""

from __future__ import annotations

import math
import random

import morecantile
import pytest
from pyproj import CRS

from tiles.errors import InvalidParameterError, TileOutsideError
from tiles.grids import GRID_IDS, MAX_ZOOM, get_grid

REFERENCE = {
    "WebMercatorQuad": lambda: morecantile.tms.get("WebMercatorQuad"),
    "WorldCRS84Quad": lambda: morecantile.tms.get("WorldCRS84Quad"),
    # the CGCS2000 quad as morecantile builds a geographic quad from its extent and CRS
    "CGCS2000Quad": lambda: morecantile.TileMatrixSet.custom(
        [-180, -90, 180, 90], CRS.from_epsg(4490), matrix_scale=[2, 1]
    ),
}


def _random_tiles(grid_id: str, n: int = 60) -> list[tuple[int, int, int]]:
    rng = random.Random(grid_id)
    grid = get_grid(grid_id)
    out = []
    for _ in range(n):
        z = rng.randint(0, 22)
        _, _, _, _, w, h = grid.levels[z]
        out.append((z, rng.randrange(w), rng.randrange(h)))
    return out


@pytest.mark.parametrize("grid_id", GRID_IDS)
def test_tile_bounds_match_morecantile(grid_id: str) -> None:
    grid = get_grid(grid_id)
    ref = REFERENCE[grid_id]()
    for z, x, y in _random_tiles(grid_id):
        got = grid.tile_bounds(z, x, y)
        want = ref.xy_bounds(morecantile.Tile(x, y, z))
        span = want.right - want.left
        assert got == pytest.approx(tuple(want), abs=span * 1e-9), (z, x, y)


@pytest.mark.parametrize("grid_id", GRID_IDS)
def test_tile_range_matches_morecantile(grid_id: str) -> None:
    grid = get_grid(grid_id)
    ref = REFERENCE[grid_id]()
    bounds = (119.76, 30.43, 120.34, 30.69)  # Deqing county
    for z in (5, 9, 12, 14):
        col0, row0, col1, row1 = grid.tile_range(grid.lonlat_to_grid(bounds), z)
        tiles = list(ref.tiles(*bounds, zooms=[z]))
        assert (col0, col1) == (min(t.x for t in tiles), max(t.x for t in tiles))
        assert (row0, row1) == (min(t.y for t in tiles), max(t.y for t in tiles))


def test_web_mercator_beyond_zoom_24_halves_the_tile() -> None:
    grid = get_grid("WebMercatorQuad")
    circumference = 2 * math.pi * 6378137.0
    for z in (0, 18, 24, 25, MAX_ZOOM):
        xmin, _, xmax, ymax = grid.tile_bounds(z, 0, 0)
        assert xmax - xmin == pytest.approx(
            circumference / 2**z, rel=1e-12, abs=1e-7
        )  # float64 at 2e7 m: ~4e-9 m
        assert (xmin, ymax) == pytest.approx((-circumference / 2, circumference / 2))
        assert grid.levels[z][4] == 2**z


def test_geographic_quads_have_two_tiles_at_zoom_zero() -> None:
    for grid_id in ("WorldCRS84Quad", "CGCS2000Quad"):
        grid = get_grid(grid_id)
        assert grid.levels[0][4:] == (2, 1)
        assert grid.tile_bounds(0, 1, 0) == pytest.approx((0, -90, 180, 90))
    cgcs = get_grid("CGCS2000Quad")
    assert cgcs.crs.to_epsg() == 4490
    assert cgcs.tms.id == "CGCS2000Quad"


def test_tiles_outside_the_grid_are_refused() -> None:
    grid = get_grid("WebMercatorQuad")
    with pytest.raises(TileOutsideError):
        grid.check_tile(3, 8, 0)
    with pytest.raises(TileOutsideError):
        grid.check_tile(MAX_ZOOM + 1, 0, 0)
    with pytest.raises(TileOutsideError):
        get_grid("WorldCRS84Quad").check_tile(1, 0, 2)
    with pytest.raises(InvalidParameterError):
        get_grid("EuropeanETRS89_LAEAQuad")


@pytest.mark.parametrize("grid_id", GRID_IDS)
def test_levels_are_those_of_morecantiles_models(grid_id: str) -> None:
    # the matrices are read from morecantile's JSON without its pydantic models: the same
    # numbers, to the bit, as the models give (and deeper zooms: zoom 0's cell size / 2**z)
    grid = get_grid(grid_id)
    ref = REFERENCE[grid_id]()
    crs = CRS.from_user_input(ref.crs.srs)
    assert grid.crs == crs
    xy = grid_id != "CGCS2000Quad"  # EPSG:4490 is latitude first
    first = ref.tileMatrices[0]
    for z, level in enumerate(grid.levels):
        if z < len(ref.tileMatrices):
            m = ref.tileMatrices[z]
            cell, width, height = m.cellSize, m.matrixWidth, m.matrixHeight
        else:
            cell, width, height = (
                first.cellSize / 2**z,
                first.matrixWidth * 2**z,
                first.matrixHeight * 2**z,
            )
        p0, p1 = first.pointOfOrigin
        origin = (p0, p1) if xy else (p1, p0)
        want = (*origin, cell * first.tileWidth, cell * first.tileHeight, width, height)
        assert level == want, z
    assert len(grid.tms.tileMatrices) == MAX_ZOOM + 1  # the TileMatrixSet the OGC routes serve
    assert grid.tms.crs.srs == ref.crs.srs and grid.title == (grid.tms.title or grid_id)
