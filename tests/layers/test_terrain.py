"""Terrain line of sight and knife-edge diffraction against hand-built profiles."""

from __future__ import annotations

import math

import numpy as np
import pytest

from layers.coverage.terrain import EARTH_RADIUS_M, knife_edge_loss, sweep

LAMBDA = 3.0e8 / 3.5e9


def j(nu: float) -> float:
    """ITU-R P.526 eq. 31."""
    return 6.9 + 20 * math.log10(math.sqrt((nu - 0.1) ** 2 + 1) + nu - 0.1) if nu > -0.78 else 0.0


def nu_of(h: float, d1: float, d2: float) -> float:
    return h * math.sqrt(2 * (d1 + d2) / (LAMBDA * d1 * d2))


def max_nu(profile: list[tuple[float, float]], a: tuple[float, float], b: tuple[float, float]):
    """The point of ``profile`` (distance, height) with the largest ν over the path a -> b."""
    best = (-math.inf, None)
    for d, z in profile:
        if a[0] < d < b[0]:
            line = a[1] + (b[1] - a[1]) * (d - a[0]) / (b[0] - a[0])
            nu = nu_of(z - line, d - a[0], b[0] - d)
            best = max(best, (nu, (d, z)), key=lambda t: t[0])
    return best


def test_knife_edge_loss_at_grazing_and_clear():
    assert float(knife_edge_loss(0.0)) == pytest.approx(
        6.03, abs=0.01
    )  # the 6 dB of a grazing edge
    assert float(knife_edge_loss(-1.0)) == 0.0
    assert float(knife_edge_loss(2.4)) == pytest.approx(j(2.4))


def ridge_dem(n=201, wall_row=70, height=40.0) -> np.ndarray:
    dem = np.zeros((n, n))
    dem[wall_row, :] = height  # an east-west wall 300 m north of the site
    return dem


def test_ridge_blocks_and_adds_deygout_loss():
    res, tx, rx = 10.0, 10.0, 1.5
    view = sweep(ridge_dem(), res, 100.5, 100.5, tx, rx, 1000.0, LAMBDA, k_factor=math.inf)
    # the receiver 800 m north, behind the wall
    r, c = 20 - view.rows.start, 100 - view.cols.start
    assert view.blocked[r, c]
    # Deygout over the profile sampled every 10 m: main edge, then each side
    profile = [(d, 40.0 if d == 300.0 else 0.0) for d in np.arange(10.0, 800.0, 10.0)]
    a, b = (0.0, tx), (800.0, rx)
    nu_p, edge = max_nu(profile, a, b)
    assert edge == (300.0, 40.0)
    nu_t, _ = max_nu(profile, a, edge)
    nu_r, _ = max_nu(profile, edge, b)
    jp = j(nu_p)
    expected = jp + (1 - math.exp(-jp / 6)) * (j(nu_t) + j(nu_r))
    assert expected > 20.0
    assert float(view.diffraction_db[r, c]) == pytest.approx(expected, abs=0.01)


def test_pixels_before_the_ridge_and_on_the_open_side_are_clear():
    view = sweep(ridge_dem(), 10.0, 100.5, 100.5, 10.0, 1.5, 1000.0, LAMBDA, k_factor=math.inf)
    for row, col in [(80, 100), (180, 100), (100, 190), (100, 10)]:
        r, c = row - view.rows.start, col - view.cols.start
        assert not view.blocked[r, c]
        assert view.diffraction_db[r, c] == 0.0
    # the whole strip north of the wall (bar the near-field) is in its shadow
    north = view.blocked[
        10 - view.rows.start : 69 - view.rows.start, 95 - view.cols.start : 106 - view.cols.start
    ]
    assert north.all()


def test_a_second_ridge_adds_the_receiver_side_edge():
    dem = ridge_dem()
    dem[40, :] = 25.0  # a lower wall 600 m north, between the main edge and the receiver
    view = sweep(dem, 10.0, 100.5, 100.5, 10.0, 1.5, 1000.0, LAMBDA, k_factor=math.inf)
    r, c = 20 - view.rows.start, 100 - view.cols.start
    profile = [(d, {300.0: 40.0, 600.0: 25.0}.get(d, 0.0)) for d in np.arange(10.0, 800.0, 10.0)]
    a, b = (0.0, 10.0), (800.0, 1.5)
    nu_p, edge = max_nu(profile, a, b)
    nu_r, second = max_nu(profile, edge, b)
    assert second == (600.0, 25.0) and nu_r > 0
    jp = j(nu_p)
    expected = jp + (1 - math.exp(-jp / 6)) * j(nu_r)
    assert float(view.diffraction_db[r, c]) == pytest.approx(expected, abs=0.01)


def test_flat_terrain_is_clear_everywhere():
    view = sweep(np.full((150, 150), 12.0), 20.0, 75.5, 75.5, 25.0, 1.5, 1400.0, LAMBDA)
    assert not view.blocked.any()
    assert not view.diffraction_db.any()
    assert view.inside.sum() == pytest.approx(math.pi * (1400 / 20) ** 2, rel=0.02)


def test_earth_curvature_hides_the_ground_at_20_km():
    res, tx, rx = 100.0, 10.0, 1.5
    dem = np.zeros((420, 5))
    row0 = 415.5  # site near the south end of a north-south strip
    curved = sweep(dem, res, row0, 2.5, tx, rx, 20_500.0, LAMBDA)
    flat = sweep(dem, res, row0, 2.5, tx, rx, 20_500.0, LAMBDA, k_factor=math.inf)
    col = 2 - curved.cols.start

    def at(view, km):
        return view.rows.start, int(415 - km * 10) - view.rows.start

    _, r20 = at(curved, 20)
    _, r15 = at(curved, 15)
    assert curved.blocked[r20, col] and curved.diffraction_db[r20, col] > 0
    assert not flat.blocked[r20, col] and flat.diffraction_db[r20, col] == 0
    assert not curved.blocked[r15, col]
    # the first blocked pixel sits at the radio horizon of both antennas (k = 4/3)
    ae = 4 / 3 * EARTH_RADIUS_M
    horizon = math.sqrt(2 * ae * tx) + math.sqrt(2 * ae * rx)
    north = curved.blocked[: int(row0) - curved.rows.start, col][::-1]
    first = (np.argmax(north) + 1) * res
    assert first == pytest.approx(horizon, abs=3 * res)
    # deeper into the shadow, more loss
    _, r19 = at(curved, 19)
    assert curved.diffraction_db[r20, col] > curved.diffraction_db[r19, col] > 0


def test_wanted_pixels_keep_their_values_and_only_they_get_losses():
    rng = np.random.default_rng(5)
    dem = (rng.random((161, 161)) * 60).astype(np.float32)
    args = (dem, 10.0, 80.5, 80.5, 30.0, 1.5, 700.0, 0.086)
    whole = sweep(*args)
    wanted = np.zeros(whole.inside.shape, dtype=bool)
    c1 = min(150, wanted.shape[1])
    wanted[10:40, 100:c1] = True  # one window north-east of the site
    wanted[12, 101] = False
    part = sweep(*args, wanted=wanted)
    # the view is the window's box, in the same grid
    r0, c0 = whole.rows.start, whole.cols.start
    assert (part.rows, part.cols) == (slice(r0 + 10, r0 + 40), slice(c0 + 100, c0 + c1))
    box = (slice(10, 40), slice(100, c1))
    on = wanted[box] & whole.inside[box]
    assert whole.blocked[box][on].any() and (~whole.blocked[box][on]).any()
    np.testing.assert_array_equal(part.inside, whole.inside[box])
    np.testing.assert_array_equal(part.d2d, whole.d2d[box])
    np.testing.assert_array_equal(part.blocked[on], whole.blocked[box][on])
    np.testing.assert_array_equal(part.diffraction_db[on], whole.diffraction_db[box][on])
    # nothing wanted: an empty view
    empty = sweep(*args, wanted=np.zeros_like(wanted))
    assert empty.d2d.size == 0 and not empty.blocked.any()


def test_running_maximum_down_the_steps_matches_numpy():
    from layers.coverage.terrain import _cummax

    rng = np.random.default_rng(3)
    for a in (rng.normal(size=(37, 5)).astype(np.float32), rng.integers(0, 9, (20, 3))):
        np.testing.assert_array_equal(_cummax(a), np.maximum.accumulate(a, axis=0))
    a = rng.normal(size=(12, 4))
    expected = np.maximum.accumulate(a, axis=0)
    assert _cummax(a, out=a) is a  # in place
    np.testing.assert_array_equal(a, expected)
    assert _cummax(np.zeros((0, 3))).shape == (0, 3)


def test_bearing_is_the_compass_direction_to_each_pixel():
    view = sweep(np.zeros((41, 41)), 10.0, 20.5, 20.5, 10.0, 1.5, 150.0, LAMBDA)
    at = {(10, 20): 0.0, (20, 30): 90.0, (30, 20): 180.0, (20, 10): 270.0, (10, 30): 45.0}
    for (row, col), expected in at.items():
        got = float(view.bearing[row - view.rows.start, col - view.cols.start])
        assert got == pytest.approx(expected, abs=1e-4)
    dy = (20.5 - (np.arange(view.rows.start, view.rows.stop) + 0.5))[:, None]
    dx = (np.arange(view.cols.start, view.cols.stop) + 0.5 - 20.5)[None, :]
    expected = np.degrees(np.arctan2(dx, dy)) % 360
    far = np.hypot(dx, dy) > 1  # away from the site's own pixel
    diff = (view.bearing - expected + 180) % 360 - 180
    assert np.abs(diff[far]).max() < 1e-3
