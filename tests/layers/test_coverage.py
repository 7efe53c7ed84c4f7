"""Best server, SINR and the link budget on small grids, against hand computations."""

from __future__ import annotations

import math

import numpy as np
import pytest

from layers.coverage import CoverageModel, CoverageParams, compute_coverage
from layers.coverage.cells import prepare_cells
from tests.layers._coverage_fixtures import (
    CRS,
    cell,
    cells_frame,
    centre,
    flat_dem,
    rsrp_by_hand,
)

TERRAIN_LOS = CoverageParams(los_mode="terrain")


def two_sites():
    a = centre(50, 20)
    b = centre(50, 80)
    rows = [cell("A-1", *a, azimuth_deg=90.0), cell("B-1", *b, azimuth_deg=270.0)]
    cells, warnings = prepare_cells(cells_frame(rows), CRS)
    assert warnings == []
    return a, b, cells


@pytest.mark.parametrize("pixel", [(40, 60), (55, 35), (70, 90), (20, 52)])
def test_two_sites_best_server_and_sinr_by_hand(pixel):
    a, b, cells = two_sites()
    result = compute_coverage(flat_dem(), cells, TERRAIN_LOS)
    px = centre(*pixel)
    ra = rsrp_by_hand(a, px, 90.0)
    rb = rsrp_by_hand(b, px, 270.0)
    best, other = max(ra, rb), min(ra, rb)
    noise_dbm = -174 + 10 * math.log10(30e3) + 7.0
    sinr = best - 10 * math.log10(10 ** (other / 10) + 10 ** (noise_dbm / 10))
    assert float(result.rsrp.data[0][pixel]) == pytest.approx(best, abs=0.01)
    assert float(result.sinr.data[0][pixel]) == pytest.approx(sinr, abs=0.01)
    serving = result.cell_ids[int(result.serving.data[0][pixel])]
    assert serving == ("A-1" if ra > rb else "B-1")


def test_cell_load_scales_interference():
    a, b, cells = two_sites()
    half = compute_coverage(flat_dem(), cells, CoverageParams(los_mode="terrain", cell_load=0.5))
    px = centre(40, 60)
    ra, rb = rsrp_by_hand(a, px, 90.0), rsrp_by_hand(b, px, 270.0)
    noise_dbm = -174 + 10 * math.log10(30e3) + 7.0
    sinr = max(ra, rb) - 10 * math.log10(0.5 * 10 ** (min(ra, rb) / 10) + 10 ** (noise_dbm / 10))
    assert float(half.sinr.data[0][40, 60]) == pytest.approx(sinr, abs=0.01)


def test_other_bands_do_not_interfere():
    a, b, _ = two_sites()
    rows = [
        cell("A-1", *a, azimuth_deg=90.0),
        cell("B-1", *b, azimuth_deg=270.0, band="n41", freq_mhz=2600.0, scs_khz=30.0),
    ]
    cells, _ = prepare_cells(cells_frame(rows), CRS)
    result = compute_coverage(flat_dem(), cells, TERRAIN_LOS)
    px = centre(50, 30)  # next to A, A serves
    ra = rsrp_by_hand(a, px, 90.0)
    noise_dbm = -174 + 10 * math.log10(30e3) + 7.0
    assert result.cell_ids[int(result.serving.data[0][50, 30])] == "A-1"
    assert float(result.sinr.data[0][50, 30]) == pytest.approx(ra - noise_dbm, abs=0.01)


def test_flat_terrain_equals_the_free_of_obstacles_case():
    _, _, cells = two_sites()
    with_terrain = compute_coverage(flat_dem(height=37.0), cells, CoverageParams())
    without = compute_coverage(flat_dem(height=37.0), cells, CoverageParams(terrain=False))
    np.testing.assert_array_equal(with_terrain.rsrp.data, without.rsrp.data)
    np.testing.assert_array_equal(with_terrain.sinr.data, without.sinr.data)


def test_ridge_makes_nlos_with_diffraction():
    dem = flat_dem()
    dem.data[0, 35, :] = 40.0  # an east-west wall 300 m north of the site
    site = centre(50, 50)
    cells, _ = prepare_cells(cells_frame([cell("S-1", *site, height_m=10.0)]), CRS)
    params = CoverageParams(los_mode="terrain", min_rsrp_dbm=-200.0)
    ridge = compute_coverage(dem, cells, params)
    flat = compute_coverage(flat_dem(), cells, params)
    px = centre(10, 50)  # 800 m north, behind the wall
    # single knife edge: height above the direct path (plus the earth's bulge, k = 4/3),
    # ν, J(ν); the receiver side is clear ground
    d1, d, h_tx, h_rx = 300.0, 800.0, 10.0, 1.5
    bulge = d1 * (d - d1) / (2 * 4 / 3 * 6_371_000.0)
    h = 40.0 + bulge - (h_tx + (h_rx - h_tx) * d1 / d)
    nu = h * math.sqrt(2 * d / ((3e8 / 3.5e9) * d1 * (d - d1)))
    j = 6.9 + 20 * math.log10(math.sqrt((nu - 0.1) ** 2 + 1) + nu - 0.1)
    expected = rsrp_by_hand(site, px, 0.0, h_bs=10.0, nlos_extra=j)
    assert float(ridge.rsrp.data[0][10, 50]) == pytest.approx(expected, abs=0.01)
    assert float(flat.rsrp.data[0][10, 50]) == pytest.approx(
        rsrp_by_hand(site, px, 0.0, h_bs=10.0), abs=0.01
    )
    # south of the site nothing changes
    np.testing.assert_array_equal(ridge.rsrp.data[0][60:], flat.rsrp.data[0][60:])


def test_probability_mode_lies_between_los_and_nlos():
    site = centre(50, 50)
    cells, _ = prepare_cells(cells_frame([cell("S-1", *site)]), CRS)
    mixed = compute_coverage(flat_dem(), cells, CoverageParams()).rsrp.data[0]
    los = compute_coverage(flat_dem(), cells, TERRAIN_LOS).rsrp.data[0]
    px = centre(50, 90)
    nlos = rsrp_by_hand(site, px, 0.0, nlos_extra=0.0)
    assert nlos < mixed[50, 90] < los[50, 90]
    d = 800.0
    p = 18 / d + math.exp(-d / 63) * (1 - 18 / d)
    expected = 10 * math.log10(p * 10 ** (los[50, 90] / 10) + (1 - p) * 10 ** (nlos / 10))
    assert float(mixed[50, 90]) == pytest.approx(expected, abs=0.01)


def test_region_mask_and_min_rsrp_leave_nodata():
    _, _, cells = two_sites()
    region = np.zeros((101, 101), bool)
    region[:, :50] = True
    result = compute_coverage(flat_dem(), cells, TERRAIN_LOS, region=region)
    assert np.isnan(result.rsrp.data[0][:, 50:]).all()
    assert (result.serving.data[0][:, 50:] == -1).all()
    assert np.isfinite(result.rsrp.data[0][:, :50]).all()
    weak = compute_coverage(flat_dem(), cells, CoverageParams(los_mode="terrain", min_rsrp_dbm=-60))
    assert np.isnan(weak.rsrp.data[0]).any()
    assert (np.isnan(weak.rsrp.data[0]) == (weak.serving.data[0] == -1)).all()


def test_radius_stops_where_even_the_best_case_is_too_weak():
    _, _, cells = two_sites()
    model = CoverageModel(flat_dem(), cells, CoverageParams(min_rsrp_dbm=-100, los_mode="terrain"))
    r = model.radius(model.cells.iloc[0])
    assert 10 < r < 5000
    # just beyond the radius the best case (boresight, LOS) is below the floor
    assert rsrp_by_hand((0, 0), (r + 20, 0), 90.0, h_bs=25.0) + (8 - 8) < -100 + 0.5


@pytest.mark.parametrize("keep", [True, False])  # threads (processes: tests/twin/test_processes.py)
def test_workers_give_the_same_answer(keep):
    a, b, _ = two_sites()
    rows = [
        cell(f"{n}-{k}", *xy, azimuth_deg=120.0 * k)
        for n, xy in (("A", a), ("B", b))
        for k in range(3)
    ]
    rows.append(
        cell(
            "C-1",
            *centre(20, 50),
            band="n28",
            freq_mhz=700.0,
            bandwidth_mhz=20.0,
            scenario="RMa",
            height_m=30.0,
        )
    )
    cells, _ = prepare_cells(cells_frame(rows), CRS)
    one = CoverageModel(flat_dem(), cells, CoverageParams(), workers=1, keep=keep).run()
    two = CoverageModel(flat_dem(), cells, CoverageParams(), workers=2, keep=keep).run()
    np.testing.assert_array_equal(one.rsrp.data, two.rsrp.data)
    np.testing.assert_array_equal(one.serving.data, two.serving.data)
    np.testing.assert_allclose(one.sinr.data, two.sinr.data, atol=1e-9)
    assert one.flags == two.flags


def test_clutter_loss_is_taken_off_at_the_receiver():
    _, _, cells = two_sites()
    clutter = np.zeros((101, 101), dtype=np.float32)
    clutter[:, 50:] = 12.5
    params = CoverageParams(los_mode="terrain", min_rsrp_dbm=-200.0)
    base = CoverageModel(flat_dem(), cells, params).run()
    cluttered = CoverageModel(flat_dem(), cells, params, clutter_db=clutter).run()
    np.testing.assert_allclose(
        cluttered.rsrp.data[0][:, 50:], base.rsrp.data[0][:, 50:] - 12.5, atol=1e-3
    )
    np.testing.assert_array_equal(cluttered.rsrp.data[0][:, :50], base.rsrp.data[0][:, :50])
