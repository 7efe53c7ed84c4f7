"""The 3GPP sector antenna (TR 38.901 Table 7.3-1) at the angles the table defines."""

from __future__ import annotations

import math

import numpy as np
import pytest

from layers.coverage.antenna import element_pattern, sector_gain, to_local


def test_boresight_is_the_element_gain():
    assert float(sector_gain(120.0, 90.0, 120.0)) == pytest.approx(8.0)


@pytest.mark.parametrize("offset", [32.5, -32.5])
def test_half_beamwidth_is_3_db_down(offset):
    # 12 (φ / 65°)² at φ = 65° / 2 is exactly 3 dB
    assert float(sector_gain(200.0 + offset, 90.0, 200.0)) == pytest.approx(8.0 - 3.0)


def test_behind_the_antenna_is_the_front_to_back_limit():
    assert float(sector_gain(180.0, 90.0, 0.0)) == pytest.approx(8.0 - 30.0)
    # the combined pattern never goes below -A_max, even off both cuts
    assert float(element_pattern(0.0, 180.0)) == pytest.approx(-30.0)


def test_azimuth_wraps_through_north():
    expected = 8.0 - 12 * (20 / 65) ** 2
    assert float(sector_gain(10.0, 90.0, 350.0)) == pytest.approx(expected)
    assert float(sector_gain(330.0, 90.0, 350.0)) == pytest.approx(expected)


def test_vertical_cut_and_side_lobe_limit():
    # 10° below the horizon on boresight, no tilt
    assert float(sector_gain(0.0, 100.0, 0.0)) == pytest.approx(8.0 - 12 * (10 / 65) ** 2)
    # nearly straight down on boresight: 12 (90/65)² = 23 dB, inside SLA_V
    assert float(sector_gain(0.0, 179.99, 0.0)) == pytest.approx(8.0 - 12 * (89.99 / 65) ** 2)
    # beyond 102.6° off the horizon the vertical cut stops at SLA_V = 30 dB
    assert float(element_pattern(-20.0, 0.0)) == pytest.approx(-30.0)


@pytest.mark.parametrize("tilt", [4.0, 10.0])
def test_down_tilt_moves_the_beam_peak_below_the_horizon(tilt):
    zenith = 90.0 + tilt
    assert float(sector_gain(45.0, zenith, 45.0, mechanical_tilt_deg=tilt)) == pytest.approx(8.0)
    assert float(sector_gain(45.0, zenith, 45.0, electrical_tilt_deg=tilt)) == pytest.approx(8.0)
    at_horizon = 8.0 - 12 * (tilt / 65) ** 2
    assert float(sector_gain(45.0, 90.0, 45.0, mechanical_tilt_deg=tilt)) == pytest.approx(
        at_horizon
    )


def test_mechanical_tilt_rotates_the_panel_electrical_tilt_does_not():
    # 90° to the side on the horizon a mechanically tilted panel's local zenith is
    # still 90° (TR 38.901 eq. 7.1-7), while electrical tilt lowers the beam everywhere.
    theta, phi = to_local(90.0, 90.0, 0.0, 10.0)
    assert float(theta) == pytest.approx(90.0)
    assert abs(float(phi)) == pytest.approx(90.0)
    h_cut = -min(12 * (90 / 65) ** 2, 30)
    assert float(sector_gain(90.0, 90.0, 0.0, mechanical_tilt_deg=10.0)) == pytest.approx(8 + h_cut)
    v_cut = -12 * (10 / 65) ** 2
    combined = -min(-(v_cut + h_cut), 30)
    assert float(sector_gain(90.0, 90.0, 0.0, electrical_tilt_deg=10.0)) == pytest.approx(
        8 + combined
    )


def test_local_angles_follow_eq_7_1_7_and_7_1_8():
    rng = np.random.default_rng(1)
    az, zen, bore, tilt = (
        rng.uniform(0, 360, 50),
        rng.uniform(1, 179, 50),
        rng.uniform(0, 360, 50),
        rng.uniform(-20, 20, 50),
    )
    theta, phi = to_local(az, zen, bore, tilt)
    for i in range(50):
        b, t, p = math.radians(tilt[i]), math.radians(zen[i]), math.radians(az[i] - bore[i])
        th = math.degrees(
            math.acos(math.cos(b) * math.cos(t) + math.sin(b) * math.cos(p) * math.sin(t))
        )
        ph = math.degrees(
            math.atan2(
                math.sin(p) * math.sin(t),
                math.cos(b) * math.sin(t) * math.cos(p) - math.sin(b) * math.cos(t),
            )
        )
        assert theta[i] == pytest.approx(th, abs=1e-9)
        assert phi[i] == pytest.approx(ph, abs=1e-9)


def test_the_per_site_fast_path_matches_the_reference():
    from layers.coverage.antenna import sector_gain_trig

    rng = np.random.default_rng(7)
    bearing = rng.uniform(0, 360, 2000).astype(np.float32)
    zenith = rng.uniform(60, 179, 2000).astype(np.float32)
    b, z = np.radians(bearing), np.radians(zenith)
    trig = (np.cos(b), np.sin(b), np.cos(z), np.sin(z), zenith)
    for az, mt, et, g in [(0.0, 0.0, 0.0, 8.0), (123.0, 6.0, 0.0, 8.0), (300.0, 3.0, 4.0, 17.0)]:
        fast = sector_gain_trig(*trig, az, mt, et, g)
        ref = sector_gain(bearing.astype(float), zenith.astype(float), az, mt, et, g)
        np.testing.assert_allclose(fast, ref, atol=2e-3)
