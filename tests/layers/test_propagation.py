"""Path loss against the formulas of 3GPP TR 38.901 Table 7.4.1-1, written out again here.

Each golden value is computed in this file, scalar by scalar with ``math``,
straight from the standard's table, on both sides of each breakpoint.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from layers.coverage.propagation import (
    Flag,
    cost231_hata,
    free_space,
    los_nlos,
    los_probability,
    path_loss,
    rma_breakpoint,
    rma_los,
    rma_nlos,
    uma_breakpoint,
    uma_los,
    uma_nlos,
    umi_los,
    umi_nlos,
)
from layers.errors import ParameterError

C = 3.0e8
log10 = math.log10


def d3(d2d: float, h_bs: float, h_ut: float) -> float:
    return math.sqrt(d2d**2 + (h_bs - h_ut) ** 2)


# -- the standard's formulas, one scalar at a time ---------------------------------------


def ref_rma_los(d2d, h_bs, h_ut, fc, h=5.0):
    dbp = 2 * math.pi * h_bs * h_ut * fc * 1e9 / C

    def pl1(d):
        return (
            20 * log10(40 * math.pi * d * fc / 3)
            + min(0.03 * h**1.72, 10) * log10(d)
            - min(0.044 * h**1.72, 14.77)
            + 0.002 * log10(h) * d
        )

    dd = d3(d2d, h_bs, h_ut)
    return pl1(dd) if d2d <= dbp else pl1(dbp) + 40 * log10(dd / dbp)


def ref_rma_nlos(d2d, h_bs, h_ut, fc, h=5.0, w=20.0):
    dd = d3(d2d, h_bs, h_ut)
    prime = (
        161.04
        - 7.1 * log10(w)
        + 7.5 * log10(h)
        - (24.37 - 3.7 * (h / h_bs) ** 2) * log10(h_bs)
        + (43.42 - 3.1 * log10(h_bs)) * (log10(dd) - 3)
        + 20 * log10(fc)
        - (3.2 * (log10(11.75 * h_ut)) ** 2 - 4.97)
    )
    return max(ref_rma_los(d2d, h_bs, h_ut, fc, h), prime)


def ref_uma_los(d2d, h_bs, h_ut, fc):
    dbp = 4 * (h_bs - 1) * (h_ut - 1) * fc * 1e9 / C
    dd = d3(d2d, h_bs, h_ut)
    if d2d <= dbp:
        return 28.0 + 22 * log10(dd) + 20 * log10(fc)
    return 28.0 + 40 * log10(dd) + 20 * log10(fc) - 9 * log10(dbp**2 + (h_bs - h_ut) ** 2)


def ref_uma_nlos(d2d, h_bs, h_ut, fc):
    dd = d3(d2d, h_bs, h_ut)
    prime = 13.54 + 39.08 * log10(dd) + 20 * log10(fc) - 0.6 * (h_ut - 1.5)
    return max(ref_uma_los(d2d, h_bs, h_ut, fc), prime)


def ref_umi_los(d2d, h_bs, h_ut, fc):
    dbp = 4 * (h_bs - 1) * (h_ut - 1) * fc * 1e9 / C
    dd = d3(d2d, h_bs, h_ut)
    if d2d <= dbp:
        return 32.4 + 21 * log10(dd) + 20 * log10(fc)
    return 32.4 + 40 * log10(dd) + 20 * log10(fc) - 9.5 * log10(dbp**2 + (h_bs - h_ut) ** 2)


def ref_umi_nlos(d2d, h_bs, h_ut, fc):
    dd = d3(d2d, h_bs, h_ut)
    prime = 35.3 * log10(dd) + 22.4 + 21.3 * log10(fc) - 0.3 * (h_ut - 1.5)
    return max(ref_umi_los(d2d, h_bs, h_ut, fc), prime)


# -- golden values on both sides of the breakpoints --------------------------------------

# (function, reference, h_bs, h_ut, fc GHz, breakpoint function, distances)
CASES = [
    (rma_los, ref_rma_los, 35.0, 1.5, 0.7, rma_breakpoint, (50.0, 300.0, 2000.0, 9000.0)),
    (rma_los, ref_rma_los, 35.0, 1.5, 3.5, rma_breakpoint, (500.0, 3000.0, 6000.0)),
    (rma_nlos, ref_rma_nlos, 35.0, 1.5, 0.7, rma_breakpoint, (50.0, 300.0, 2000.0, 4900.0)),
    (rma_nlos, ref_rma_nlos, 20.0, 2.0, 3.5, rma_breakpoint, (100.0, 1000.0, 4000.0)),
    (uma_los, ref_uma_los, 25.0, 1.5, 3.5, uma_breakpoint, (30.0, 200.0, 1500.0, 4500.0)),
    (uma_los, ref_uma_los, 25.0, 1.5, 0.7, uma_breakpoint, (30.0, 100.0, 300.0)),
    (uma_nlos, ref_uma_nlos, 25.0, 1.5, 3.5, uma_breakpoint, (30.0, 200.0, 1500.0, 4500.0)),
    (uma_nlos, ref_uma_nlos, 25.0, 1.5, 28.0, uma_breakpoint, (50.0, 500.0, 4900.0)),
    (umi_los, ref_umi_los, 10.0, 1.5, 3.5, uma_breakpoint, (20.0, 150.0, 600.0, 3000.0)),
    (umi_nlos, ref_umi_nlos, 10.0, 1.5, 3.5, uma_breakpoint, (20.0, 150.0, 600.0, 3000.0)),
    (umi_nlos, ref_umi_nlos, 10.0, 1.5, 28.0, uma_breakpoint, (20.0, 900.0, 2000.0)),
    (uma_nlos, ref_uma_nlos, 25.0, 4.0, 0.7, uma_breakpoint, (50.0, 500.0, 4000.0)),
]


@pytest.mark.parametrize(("fn", "ref", "h_bs", "h_ut", "fc", "bp", "distances"), CASES)
def test_golden_values(fn, ref, h_bs, h_ut, fc, bp, distances):
    dbp = float(bp(h_bs, h_ut, fc))
    assert min(distances) < dbp < max(distances), "each case spans its breakpoint"
    d2d = np.array(distances)
    d3d = np.sqrt(d2d**2 + (h_bs - h_ut) ** 2)
    got = fn(d2d, d3d, h_bs, h_ut, fc)
    expected = [ref(d, h_bs, h_ut, fc) for d in distances]
    np.testing.assert_allclose(got.loss, expected, atol=0.01, rtol=0)
    assert not got.flags.any() or fn in (uma_los, uma_nlos, umi_los, umi_nlos)


def test_breakpoint_distances_from_note_1_and_5():
    assert float(rma_breakpoint(35, 1.5, 0.7)) == pytest.approx(2 * math.pi * 35 * 1.5 * 0.7e9 / C)
    assert float(uma_breakpoint(25, 1.5, 3.5)) == pytest.approx(4 * 24 * 0.5 * 3.5e9 / C)


def test_pl2_joins_pl1_at_the_breakpoint():
    # PL2 = PL1(d_BP) + 40 log10(d3D / d_BP) meets PL1 at the breakpoint; the switch is on
    # d2D while both evaluate d3D, which leaves a gap of a few thousandths of a dB.
    dbp = float(rma_breakpoint(35, 1.5, 0.7))
    a = rma_los(dbp - 1e-6, d3(dbp, 35, 1.5), 35, 1.5, 0.7).loss
    b = rma_los(dbp + 1e-6, d3(dbp, 35, 1.5), 35, 1.5, 0.7).loss
    assert float(b - a) == pytest.approx(0.0, abs=0.02)


def test_nlos_is_never_below_los():
    d = np.geomspace(10, 5000, 200)
    for scenario, hb in (("RMa", 35.0), ("UMa", 25.0), ("UMi", 10.0)):
        los, nlos = los_nlos(scenario, d, np.hypot(d, hb - 1.5), hb, 1.5, 3.5)
        assert (nlos.loss >= los.loss - 1e-9).all()
        assert np.array_equal(
            path_loss(scenario, False, d, np.hypot(d, hb - 1.5), hb, 1.5, 3.5).loss, nlos.loss
        )


# -- validity: clamp and flag ------------------------------------------------------------


def test_short_distance_is_clamped_and_flagged():
    got = uma_los(5.0, d3(5.0, 25, 1.5), 25.0, 1.5, 3.5)
    assert int(got.flags) & Flag.DISTANCE_MIN
    # the clamp keeps the height difference: the value is the one at d2D = 10 m
    assert float(got.loss) == pytest.approx(ref_uma_los(10.0, 25, 1.5, 3.5), abs=0.01)


def test_long_distance_is_clamped_and_flagged():
    got = uma_nlos(8000.0, d3(8000.0, 25, 1.5), 25.0, 1.5, 3.5)
    assert int(got.flags) & Flag.DISTANCE_MAX
    assert float(got.loss) == pytest.approx(ref_uma_nlos(5000.0, 25, 1.5, 3.5), abs=0.01)
    # RMa LOS is specified to 10 km, its NLOS to 5 km
    assert not int(rma_los(8000.0, 8000.1, 35, 1.5, 0.7).flags) & Flag.DISTANCE_MAX
    assert int(rma_nlos(8000.0, 8000.1, 35, 1.5, 0.7).flags) & Flag.DISTANCE_MAX


def test_frequency_and_heights_are_clamped_and_flagged():
    low = rma_nlos(1000.0, d3(1000, 35, 1.5), 35, 1.5, 0.3)
    assert int(low.flags) & Flag.FREQUENCY
    assert float(low.loss) == pytest.approx(ref_rma_nlos(1000.0, 35, 1.5, 0.5), abs=0.01)
    high = rma_los(1000.0, d3(1000, 35, 1.5), 35, 1.5, 40.0)
    assert int(high.flags) & Flag.FREQUENCY
    short_mast = rma_los(1000.0, d3(1000, 5, 1.5), 5.0, 1.5, 0.7)
    assert int(short_mast.flags) & Flag.BS_HEIGHT
    low_ut = uma_nlos(500.0, d3(500, 25, 0.5), 25.0, 0.5, 3.5)
    assert int(low_ut.flags) & Flag.UT_HEIGHT
    env = rma_nlos(1000.0, d3(1000, 35, 1.5), 35, 1.5, 0.7, h=80.0)
    assert int(env.flags) & Flag.ENVIRONMENT
    # UMa's 25 m is a nominal height: other heights are used as given, and flagged
    tall = uma_los(1000.0, d3(1000, 40, 1.5), 40.0, 1.5, 3.5)
    assert int(tall.flags) & Flag.BS_HEIGHT
    assert float(tall.loss) == pytest.approx(ref_uma_los(1000.0, 40, 1.5, 3.5), abs=0.01)


def test_unknown_scenario_is_an_error():
    with pytest.raises(ParameterError, match="scenario 'SMa'"):
        path_loss("SMa", True, 100.0, 100.0, 25.0, 1.5, 3.5)


# -- comparison models and LOS probability -----------------------------------------------


def test_free_space():
    assert float(free_space(1000.0, 3.5)) == pytest.approx(
        20 * log10(4 * math.pi * 1000 * 3.5e9 / C), abs=1e-9
    )
    # 6 dB per doubling of distance
    assert float(free_space(2000.0, 3.5) - free_space(1000.0, 3.5)) == pytest.approx(
        6.0206, abs=1e-3
    )


def test_cost231_hata():
    f, hb, hm, d = 1800.0, 30.0, 1.5, 5.0
    a_hm = (1.1 * log10(f) - 0.7) * hm - (1.56 * log10(f) - 0.8)
    ref = 46.3 + 33.9 * log10(f) - 13.82 * log10(hb) - a_hm + (44.9 - 6.55 * log10(hb)) * log10(d)
    got = cost231_hata(5000.0, f, hb, hm)
    assert float(got.loss) == pytest.approx(ref, abs=0.01)
    assert int(got.flags) == 0
    assert float(cost231_hata(5000.0, f, hb, hm, metropolitan=True).loss) == pytest.approx(ref + 3)
    assert int(cost231_hata(5000.0, 3500.0, hb, hm).flags) & Flag.FREQUENCY


def test_los_probability_table_7_4_2_1():
    d = 200.0
    assert float(los_probability("RMa", d)) == pytest.approx(math.exp(-(d - 10) / 1000))
    assert float(los_probability("UMi", d)) == pytest.approx(
        18 / d + math.exp(-d / 36) * (1 - 18 / d)
    )
    assert float(los_probability("UMa", d)) == pytest.approx(
        18 / d + math.exp(-d / 63) * (1 - 18 / d)
    )
    c = ((20 - 13) / 10) ** 1.5
    uma_tall = (18 / d + math.exp(-d / 63) * (1 - 18 / d)) * (
        1 + c * 5 / 4 * (d / 100) ** 3 * math.exp(-d / 150)
    )
    assert float(los_probability("UMa", d, h_ut=20.0)) == pytest.approx(uma_tall)
    assert float(los_probability("UMa", 10.0)) == 1.0


def test_a_raster_clamps_only_its_out_of_range_pixels():
    # float32 pixels below 10 m and beyond 5 km, as a 2-D raster: those are clamped
    # (keeping the height difference) and flagged, the others are left alone.
    d2d = np.array([[0.5, 4.0, 10.0, 250.0], [4999.0, 5000.0, 5200.0, 7000.0]], dtype=np.float32)
    dz = 23.5
    d3d = np.hypot(d2d, np.float32(dz)).astype(np.float32)
    clamped = np.clip(d2d.astype(np.float64), 10.0, 5000.0)
    d3_ref = np.sqrt(clamped**2 + (d3d.astype(np.float64) ** 2 - d2d.astype(np.float64) ** 2))
    for fn in (uma_los, umi_nlos, rma_nlos):
        raster = fn(d2d=d2d, d3d=d3d)
        reference = fn(d2d=clamped, d3d=d3_ref)  # in range, float64: nothing to clamp
        np.testing.assert_allclose(raster.loss, reference.loss, atol=2e-3)
        assert not (reference.flags & (Flag.DISTANCE_MIN | Flag.DISTANCE_MAX)).any()
        np.testing.assert_array_equal((raster.flags & Flag.DISTANCE_MIN) > 0, d2d < 10)
        np.testing.assert_array_equal((raster.flags & Flag.DISTANCE_MAX) > 0, d2d > 5000)
