"""The villages layer and the county's key figures on the demo county."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from layers.geodesy import geodesic_length
from layers.villages import DEFAULT_SCORES, DOMAINS, PREFIX
from twin.cli import app
from twin.workspace import Twin

INDICATORS = [
    "biz_enterprises",
    "biz_revenue_10k_cny",
    "biz_homestays",
    "biz_collective_income_10k_cny",
    "svc_facilities",
    "svc_clinic_dist_m",
    "svc_school_dist_m",
    "svc_elderly_care_dist_m",
    "svc_bus_stop_dist_m",
    "sup_inspections",
    "sup_sensors",
    "gov_population",
    "gov_households",
    "gov_reported_issues",
    "gov_resolved_issues",
    "gov_resolution_rate",
    "inf_5g_share",
    "inf_road_km",
    "inf_road_density_km_per_km2",
    "inf_smart_road_km",
    "inf_fibre_coverage",
]


@pytest.fixture(scope="module")
def twin(demo_county: Path) -> Twin:
    return Twin.open(demo_county)


def test_every_village_has_every_indicator(twin: Twin) -> None:
    villages = twin.layer("villages")
    assert len(villages) == 137 and villages["village_code"].is_unique
    missing = [c for c in INDICATORS if c not in villages.columns]
    assert missing == []
    assert not villages[INDICATORS].isna().any().any()
    for domain in DOMAINS:
        assert any(c.startswith(PREFIX[domain] + "_") for c in villages.columns)
        score = villages[f"score_{domain}"]
        assert score.between(0, 100).all()
    entry = twin.catalog.layers["villages"]
    assert entry.stats["join_unknown_codes"] == 0 and entry.stats["join_overlaps"] == 0
    assert entry.stats["join_gap_m2"] < 1.0
    assert entry.style["property"] == "score_total"
    # the dashboard ranks what the scores weigh negatively lowest first
    negative = {c for w in DEFAULT_SCORES.values() for c, v in w.items() if v < 0}
    assert set(entry.style["lower_better"]) == negative & set(villages.columns)


def test_village_shares_add_up_to_the_county_share(twin: Twin) -> None:
    villages = twin.layer("villages")
    county_pct = float(twin.catalog.layers["coverage"].stats["coverage_share_pct"])
    weighted = float(np.average(villages["inf_5g_share"], weights=villages["area_km2"]))
    assert 100 * weighted == pytest.approx(county_pct, abs=0.2)
    assert villages["inf_5g_share"].between(0, 1).all()


def test_road_km_per_village_adds_up_to_the_network(twin: Twin) -> None:
    villages = twin.layer("villages")
    roads = twin.layer("roads")
    clipped = roads.clip(villages.union_all())
    # road km are measured on the ellipsoid, whatever the working CRS
    inside = geodesic_length(clipped.geometry.values, clipped.crs).sum() / 1000
    assert villages["inf_road_km"].sum() == pytest.approx(inside, rel=1e-6)
    assert (villages["inf_smart_road_km"] <= villages["inf_road_km"] + 1e-9).all()


def test_enterprises_counted_once(twin: Twin) -> None:
    villages = twin.layer("villages")
    enterprises = twin.layer("enterprises")
    inside = enterprises.within(twin.layer("county").union_all()).sum()
    assert villages["biz_enterprises"].sum() == inside


def test_stats_show_the_whole_county(demo_county: Path) -> None:
    res = CliRunner().invoke(app, ["-w", str(demo_county), "stats", "--json"])
    assert res.exit_code == 0, res.output
    figures = {f["name"]: f for f in json.loads(res.stdout)["figures"]}
    for name in (
        "area_km2",
        "villages",
        "population",
        "coverage_share",
        "road_km",
        "smart_road_km",
        "enterprises",
        "clinic_within_3km_pct",
        "lowest_scoring",
    ):
        assert name in figures, name
    assert figures["villages"]["value"] == 137
    # one coverage figure: the coverage layer's (the villages' equal one stays in stats)
    assert "coverage_share_pct" not in figures
    assert 900 <= figures["area_km2"]["value"] <= 1000
    villages = Twin.open(demo_county).layer("villages")
    lowest = villages.nsmallest(3, "score_total")["name"].tolist()
    assert figures["lowest_scoring"]["value"] == ", ".join(lowest)


def test_the_villages_have_twelve_months_with_the_gap_reported(twin: Twin) -> None:
    entry = twin.catalog.layers["villages"]
    months = entry.stats["periods"].split(",")  # type: ignore[union-attr]
    assert len(months) == 12 and (months[0], months[-1]) == ("2025-12", "2026-11")
    assert entry.stats["period_gaps"] == 1 and entry.stats["period_missing"] == 0
    assert (twin.layer("villages")["period"] == "2026-11").all()
    history = twin.history("villages", "score_total")
    months_per_village = history.groupby("code")["period"].nunique()
    assert (months_per_village == 12).sum() == 136
    assert months_per_village[months_per_village < 12].tolist() == [11]


def test_which_villages_fell_behind_since_last_month(demo_county: Path) -> None:
    res = CliRunner().invoke(
        app, ["-w", str(demo_county), "stats", "--compare", "previous", "--json"]
    )
    assert res.exit_code == 0, res.output
    change = json.loads(res.stdout)["compare"]
    assert change["base"] == "2026-10" and change["period"] == "2026-11"
    # the answer checked against the long table: domains lagging now that did not then
    history = (
        Twin.open(demo_county)
        .history("villages", "score_total")
        .set_index(["period", "code"])["lagging"]
    )
    now, then = history["2026-11"], history["2026-10"]
    fell = {
        c for c in now.index.intersection(then.index)
        if set(now[c].split(",")) - set(then[c].split(",")) - {""}
    }  # fmt: skip
    assert fell and {v["code"] for v in change["fell_behind"]} == fell
