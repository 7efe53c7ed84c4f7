"""Block-by-block summaries: the same answers as whole-grid numpy, in bounded memory."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio.features
import shapely
from affine import Affine

from layers.blocks import Window, disk_array, exact_median, windows
from layers.coverage.zones import coverage_polygons, coverage_share, zone_labels
from layers.types import RasterData

CRS = "EPSG:32650"
T = Affine(10, 0, 600_000, 0, -10, 3_400_000)


@pytest.mark.parametrize("n", [1, 2, 7, 1000, 1001])
def test_exact_median_equals_numpy(n: int) -> None:
    rng = np.random.default_rng(n)
    # negative and positive values, duplicates, values that share their top bits
    v = np.concatenate(
        [rng.normal(0, 20, n).astype(np.float32), np.full(n // 3, 1.5, dtype=np.float32)]
    )
    v = np.concatenate([v, np.float32(1.5) + rng.random(n // 5).astype(np.float32) * 1e-5])
    chunks = np.array_split(v, 5)
    assert exact_median(lambda: iter(chunks)) == float(np.median(v))


def test_exact_median_of_nothing_is_none() -> None:
    assert exact_median(lambda: iter([np.zeros(0, np.float32)])) is None


def test_windows_tile_the_grid_once() -> None:
    seen = np.zeros((50, 37), dtype=int)
    for w in windows(seen.shape, 16):
        seen[w.slices] += 1
    assert (seen == 1).all()
    w = Window(10, 20, 30, 37)
    outer = w.grow(5, (50, 37))
    assert outer == Window(5, 25, 25, 37)
    assert np.arange(50 * 37).reshape(50, 37)[outer.slices][w.within(outer)].tolist() == (
        np.arange(50 * 37).reshape(50, 37)[w.slices].tolist()
    )


def test_disk_array_is_a_file_filled_without_a_whole_temporary(tmp_path: Path) -> None:
    tracemalloc.start()
    try:
        a = disk_array(tmp_path / "g.npy", (2000, 1500), np.float32, np.nan)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert isinstance(a, np.memmap) and np.isnan(a).all()
    assert peak < a.nbytes / 4
    a[5, 7] = 3.0
    a.flush()
    assert np.load(tmp_path / "g.npy", mmap_mode="r")[5, 7] == 3.0


def _noisy_grids() -> tuple[RasterData, RasterData]:
    """RSRP with blobs, specks and holes across block edges; SINR noisy."""
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:90, 0:110]
    r = (-70 - 0.6 * np.hypot(yy - 40, xx - 50) + rng.normal(0, 6, yy.shape)).astype(np.float32)
    r[rng.random(r.shape) < 0.02] = np.nan
    s = (5 + rng.normal(0, 6, yy.shape)).astype(np.float32)
    return RasterData(r, T, CRS, float("nan")), RasterData(s, T, CRS, float("nan"))


def _zones() -> gpd.GeoDataFrame:
    x0, y1 = T.c, T.f
    polys = [
        shapely.Point(x0 + 300, y1 - 300).buffer(250),
        shapely.box(x0 + 200, y1 - 700, x0 + 900, y1 - 350),
        shapely.box(x0 + 500, y1 - 900, x0 + 1100, y1 - 100),  # overlaps the others
    ]
    return gpd.GeoDataFrame({"code": ["a", "b", "c"]}, geometry=polys, crs=CRS)


def test_blockwise_shares_equal_whole_grid_counts() -> None:
    rsrp, sinr = _noisy_grids()
    zones = _zones()
    # independent whole-grid computation: one rasterisation, numpy counts
    labels = rasterio.features.rasterize(
        [(g, i + 1) for i, g in enumerate(zones.geometry)], out_shape=(90, 110), transform=T
    )
    with np.errstate(invalid="ignore"):
        cov = (rsrp.data[0] >= -105) & (sinr.data[0] >= -3)
    for block in (7, 32, 4096):
        got = coverage_share(rsrp, zones, -105.0, sinr, -3.0, "code", block_px=block)
        for i, code in enumerate(zones["code"], 1):
            row = got.set_index("zone").loc[code]
            assert row["area_km2"] == pytest.approx((labels == i).sum() * 1e-4)
            assert row["covered_km2"] == pytest.approx(((labels == i) & cov).sum() * 1e-4)
    np.testing.assert_array_equal(zone_labels(zones, rsrp), labels)


def test_blockwise_polygons_are_the_exact_pixel_outlines() -> None:
    rsrp, sinr = _noisy_grids()
    whole = coverage_polygons(rsrp, sinr, (-90.0,), simplify=False, sieve_pixels=0, block_px=4096)
    for block in (16, 33):
        got = coverage_polygons(
            rsrp, sinr, (-90.0,), simplify=False, sieve_pixels=0, block_px=block
        )
        for a, b, area in zip(got.geometry, whole.geometry, got["area_km2"], strict=True):
            assert a.is_valid
            # the same point set, to float rounding of the corner coordinates
            assert a.symmetric_difference(b).area < 1e-6
            assert a.area / 1e6 == pytest.approx(area)


def test_blockwise_sieve_keeps_what_the_whole_grid_sieve_keeps() -> None:
    rsrp, sinr = _noisy_grids()
    whole = coverage_polygons(rsrp, sinr, (-90.0,), simplify=False, block_px=4096)
    got = coverage_polygons(rsrp, sinr, (-90.0,), simplify=False, block_px=16)
    for a, b in zip(got.geometry, whole.geometry, strict=True):
        assert a.symmetric_difference(b).area < 1e-6
    # specks were removed: fewer parts than the unsieved outline
    raw = coverage_polygons(rsrp, sinr, (-90.0,), simplify=False, sieve_pixels=0)
    assert len(got.geometry.iloc[0].geoms) < len(raw.geometry.iloc[0].geoms)
