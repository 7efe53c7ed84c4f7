"""Land cover in the coverage model: per-class loss, clutter heights in the terrain profile."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from affine import Affine
from shapely.geometry import box

from layers.coverage import CoverageModel, CoverageParams, run_coverage
from layers.coverage.clutter import (
    DEFAULT_CLUTTER,
    NO_CLASS,
    clutter_table,
    landcover_grid,
)
from layers.coverage.terrain import sweep
from layers.coverage.windows import run_windowed
from layers.errors import ParameterError
from layers.types import RasterData
from tests.layers._coverage_fixtures import CRS, RES, X0, Y1, cell, cells_frame, centre, flat_dem
from tests.layers.test_coverage_windows import assert_same, model

N = 101


def col_x(col: float) -> float:
    """Map x of the left edge of grid column ``col``."""
    return X0 + col * RES


def strip(c0: int, c1: int, name: str) -> tuple:
    """A full-height polygon over columns [c0, c1) of the test grid."""
    return box(col_x(c0), Y1 - N * RES, col_x(c1), Y1), name


def landcover(*parts: tuple, column: str = "class") -> gpd.GeoDataFrame:
    geoms, names = zip(*parts, strict=True)
    return gpd.GeoDataFrame({column: list(names)}, geometry=list(geoms), crs=CRS)


def one_site(height_m: float = 25.0) -> gpd.GeoDataFrame:
    return cells_frame([cell("A-1", *centre(50, 20), azimuth_deg=90.0, height_m=height_m)])


def rsrp(result) -> np.ndarray:
    r = result.rsrp.data[0]
    return np.where(r == result.rsrp.nodata, np.nan, r)


PARAMS = {"los_mode": "terrain", "min_rsrp_dbm": -200.0, "resolution": RES}


def test_class_loss_lowers_rsrp_by_exactly_the_table_value_on_flat_ground():
    params = CoverageParams(**PARAMS)
    cover = landcover(strip(0, 40, "open"), strip(40, 70, "Forest"), strip(70, N, "dense urban"))
    base = run_coverage(flat_dem(), one_site(), params, CRS)
    with_lc = run_coverage(flat_dem(), one_site(), params, CRS, landcover=cover)
    a, b = rsrp(base), rsrp(with_lc)
    assert np.isfinite(a[:, 41:69]).all()
    np.testing.assert_allclose(b[:, 41:69], a[:, 41:69] - DEFAULT_CLUTTER["forest"][0], atol=1e-3)
    np.testing.assert_allclose(b[:, 71:], a[:, 71:] - DEFAULT_CLUTTER["dense_urban"][0], atol=1e-3)
    np.testing.assert_array_equal(b[:, :40], a[:, :40])
    # an override in params replaces the table's value for that class only
    params12 = CoverageParams(**PARAMS, clutter_loss_db={"forest": 3.5})
    over = rsrp(run_coverage(flat_dem(), one_site(), params12, CRS, landcover=cover))
    np.testing.assert_allclose(over[:, 41:69], a[:, 41:69] - 3.5, atol=1e-3)
    # the classes come back per pixel and at points, for per-class errors
    grid = with_lc.clutter
    assert grid is not None and grid.names[grid.classes[10, 50]] == "forest"
    x, y = centre(10, 50), centre(10, 90)
    assert list(grid.at([x[0], y[0]], [x[1], y[1]])) == ["forest", "dense_urban"]


def test_numeric_clutter_raster_and_classes_add_up():
    params = CoverageParams(**PARAMS)
    extra = flat_dem(height=2.0)
    base = rsrp(run_coverage(flat_dem(), one_site(), params, CRS))
    both = run_coverage(
        flat_dem(),
        one_site(),
        params,
        CRS,
        clutter=extra,
        landcover=landcover(strip(40, 70, "forest")),
    )
    np.testing.assert_allclose(rsrp(both)[:, 41:69], base[:, 41:69] - 14.0, atol=1e-3)
    # pixels no polygon covers have no class and only the numeric loss
    assert both.clutter.classes[0, 10] == NO_CLASS
    assert f"landcover: {N * N - 30 * N} of {N * N} region pixels have no class" in both.warnings[0]
    np.testing.assert_allclose(rsrp(both)[:, :39], base[:, :39] - 2.0, atol=1e-3)


def test_a_forest_strip_turns_line_of_sight_into_diffraction():
    """Site at column 20 (10 m mast), 15 m forest over columns 45-50, receivers beyond."""
    dem = flat_dem()
    heights = np.zeros((N, N), dtype=np.float32)
    heights[:, 45:50] = 15.0
    row, col = 50.5, 20.5
    wl = 3e8 / 3.5e9
    bare = sweep(dem.data[0], RES, row, col, 10.0, 1.5, 1500.0, wl, np.inf)
    wood = sweep(dem.data[0], RES, row, col, 10.0, 1.5, 1500.0, wl, np.inf, clutter_m=heights)
    r, c = 50 - bare.rows.start, 80 - bare.cols.start
    assert not bare.blocked[r, c] and wood.blocked[r, c] and wood.diffraction_db[r, c] > 6
    # before the strip nothing changes; the receiver stands on the ground, not on the trees
    before = (slice(None), slice(0, 45 - bare.cols.start))
    np.testing.assert_array_equal(wood.blocked[before], bare.blocked[before])
    assert not wood.blocked[r, 45 - bare.cols.start]

    cover = landcover(strip(45, 50, "forest"))
    site = one_site(height_m=10.0)
    free = CoverageParams(**PARAMS, clutter_loss_db={"forest": 0})
    high = CoverageParams(**PARAMS, clutter_loss_db={"forest": 0}, clutter_heights=True)
    flat = rsrp(run_coverage(dem, site, free, CRS, landcover=cover))
    forest = rsrp(run_coverage(dem, site, high, CRS, landcover=cover))
    # LOS -> NLOS + diffraction behind the trees; unchanged in front of them
    assert forest[50, 80] < flat[50, 80] - 15
    np.testing.assert_array_equal(forest[:, :44], flat[:, :44])


def test_unknown_class_is_one_line_naming_it():
    params = CoverageParams(**PARAMS)
    cover = landcover(strip(0, 50, "forest"), strip(50, N, "bamboo grove"))
    with pytest.raises(ParameterError, match="unknown clutter class 'bamboo grove'") as err:
        run_coverage(flat_dem(), one_site(), params, CRS, landcover=cover)
    assert "\n" not in str(err.value)
    # a class added with its loss is known
    ok = CoverageParams(**PARAMS, clutter_loss_db={"bamboo_grove": 9})
    out = run_coverage(flat_dem(), one_site(), ok, CRS, landcover=cover)
    assert "bamboo_grove" in out.clutter.names
    with pytest.raises(ParameterError, match="code '7' is not in clutter_classes"):
        landcover_grid(
            landcover((box(*flat_dem().bounds), 7)), flat_dem(), clutter_table(), codes={"1": "x"}
        )


def test_polygons_and_a_class_raster_give_the_same_grid():
    table = clutter_table()
    codes = {"10": "farmland", "20": "forest", "50": "village", "80": "water"}
    # a 10 m class raster of the same layout, in another origin, with nodata at the edge
    fine = np.full((2 * N, 2 * N), 255, dtype=np.uint8)
    fine[:, 0:60] = 10
    fine[:, 60:100] = 20
    fine[40:80, 100:160] = 50
    fine[120:200, 100:200] = 80
    raster = RasterData(fine, Affine(RES / 2, 0, X0, 0, -RES / 2, Y1), CRS, 255)
    half = RES / 2
    polys = landcover(
        (box(X0, Y1 - 2 * N * half, X0 + 60 * half, Y1), 10),
        (box(X0 + 60 * half, Y1 - 2 * N * half, X0 + 100 * half, Y1), 20),
        (box(X0 + 100 * half, Y1 - 80 * half, X0 + 160 * half, Y1 - 40 * half), 50),
        (box(X0 + 100 * half, Y1 - 200 * half, X0 + 200 * half, Y1 - 120 * half), 80),
        column="lc",
    )
    like = flat_dem()
    from_raster = landcover_grid(raster, like, table, codes=codes)
    from_polys = landcover_grid(polys, like, table, column="lc", codes=codes)
    np.testing.assert_array_equal(from_raster.classes, from_polys.classes)
    np.testing.assert_array_equal(from_raster.loss_db, from_polys.loss_db)
    assert set(from_raster.shares()) == {"none", "farmland", "forest", "village", "water"}
    with pytest.raises(ParameterError, match="needs clutter_classes"):
        landcover_grid(raster, like, table)


def test_clutter_heights_are_the_same_window_by_window():
    whole = model()
    heights = np.zeros(whole.shape, dtype=np.float32)
    heights[:, 50:60] = 15.0  # a forest strip across the grid
    woods = CoverageModel(
        whole.dem, whole.cells.drop(columns=["row", "col"]), whole.params,
        region=whole.region, clutter_m=heights, workers=1, keep=False,
    )  # fmt: skip
    result = woods.run()
    assert not np.array_equal(result.rsrp.data, whole.run().rsrp.data, equal_nan=True)
    assert_same(run_windowed(woods, size=50), result)
