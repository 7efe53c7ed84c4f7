"""Periods in the villages layer: parsing, gaps, and change and rank per period."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from layers.errors import ValidationError
from layers.villages_periods import (
    build_villages_periods,
    find_period_column,
    parse_period,
    parse_periods,
    period_in_name,
    period_stats,
    split_periods,
    stack_by_name,
)

X0, Y0 = 480_000.0, 3_380_000.0
CODES = ["A", "B", "C", "D"]
#: sensors and reported issues per village, per month; C has no row in 2026-02, and
#: 2026-04 is missing from the sequence.
SENSORS = {
    "2026-01": {"A": 1, "B": 2, "C": 3, "D": 4},
    "2026-02": {"A": 5, "B": 2, "D": 4},
    "2026-03": {"A": 5, "B": 6, "C": 1, "D": 4},
    "2026-05": {"A": 2, "B": 6, "C": 7, "D": 8},
}
ISSUES = {
    "2026-01": {"A": 10, "B": 40, "C": 30, "D": 20},
    "2026-02": {"A": 10, "B": 20, "D": 30},
    "2026-03": {"A": 40, "B": 30, "C": 20, "D": 10},
    "2026-05": {"A": 10, "B": 20, "C": 30, "D": 40},
}
SPEC = {"supervision": {"sup_sensors": 1.0}, "governance": {"gov_reported_issues": -1.0}}


@pytest.mark.parametrize(
    ("value", "kind", "expected"),
    [
        ("2026-10", "month", "2026-10"),
        ("2026-3", "month", "2026-03"),
        ("2026/03", "month", "2026-03"),
        ("202603", "month", "2026-03"),
        (202603, "month", "2026-03"),
        ("2026年3月", "month", "2026-03"),
        (pd.Timestamp("2026-03-01"), "month", "2026-03"),
        (pd.Timestamp("2026-03-02"), "month", None),
        ("2026-13", "month", None),
        ("2026-00", "month", None),
        ("2026", "month", None),
        ("2026-03-01", "month", None),
        ("Mar 2026", "month", None),
        ("2026Q3", "quarter", "2026Q3"),
        ("2026-q4", "quarter", "2026Q4"),
        ("2026年第3季度", "quarter", "2026Q3"),
        ("2026年三季度", "quarter", "2026Q3"),
        ("2026Q5", "quarter", None),
        ("2026-03", "quarter", None),
        ("2026", "year", "2026"),
        (2026, "year", "2026"),
        (2026.0, "year", "2026"),
        ("2026年度", "year", "2026"),
        ("2026-01", "year", None),
        (2026.5, "year", None),
        ("1066", "year", None),
        (float("nan"), "year", None),
        (None, "month", None),
    ],
)
def test_periods_parse_strictly(value: object, kind: str, expected: str | None) -> None:
    assert parse_period(value, kind) == expected  # type: ignore[arg-type]


def test_a_value_that_is_not_a_period_is_one_line_naming_table_column_and_count() -> None:
    values = pd.Series(["2026-01", "2026-02", "Feb", "2026-13", "2026-03"])
    with pytest.raises(ValidationError) as err:
        parse_periods(values, "month", "indicators", "月份")
    message = str(err.value)
    assert "\n" not in message
    assert "indicators" in message and "'月份'" in message
    assert "2 of 5 row(s)" in message and "'Feb'" in message and "2026-10" in message


def test_the_period_column_is_found_or_named() -> None:
    assert find_period_column(pd.DataFrame(columns=["code", "月份"]), "t", None) == "月份"
    assert find_period_column(pd.DataFrame(columns=["code", " Period "]), "t", None) == " Period "
    assert find_period_column(pd.DataFrame(columns=["code", "when"]), "t", "when") == "when"
    with pytest.raises(ValidationError, match="t: no period column"):
        find_period_column(pd.DataFrame(columns=["code", "x"]), "t", None)
    with pytest.raises(ValidationError, match="several period columns"):
        find_period_column(pd.DataFrame(columns=["code", "年份", "月份"]), "t", None)
    with pytest.raises(ValidationError, match="no period column 'when'"):
        find_period_column(pd.DataFrame(columns=["code"]), "t", "when")


def test_files_named_by_period_stack_into_one_table() -> None:
    assert period_in_name("indicators_2026-10.csv", "month") == "2026-10"
    assert period_in_name("村级指标_2026年10月.xlsx", "month") == "2026-10"
    assert period_in_name("2026Q3.csv", "quarter") == "2026Q3"
    assert period_in_name("indicators.csv", "month") is None
    assert period_in_name("2026-09_to_2026-10.csv", "month") is None  # two periods: which?
    one = pd.DataFrame({"code": ["A", "B"], "x": [1, 2]})
    stacked = stack_by_name({"i_2026-10.csv": one, "i_2026-11.csv": one}, "month", "i")
    assert stacked["period"].tolist() == ["2026-10", "2026-10", "2026-11", "2026-11"]
    with pytest.raises(ValidationError, match=r"'i\.csv': its name holds no single month"):
        stack_by_name({"i.csv": one}, "month", "i")
    with pytest.raises(ValidationError, match="are both 2026-10"):
        stack_by_name({"i_2026-10.csv": one, "j_2026-10.csv": one}, "month", "i")


def _table() -> pd.DataFrame:
    rows = [
        {"code": c, "月份": p, "sensors": SENSORS[p][c], "reported_issues": ISSUES[p][c]}
        for p in SENSORS
        for c in SENSORS[p]
    ]
    rows.append({"code": "Z", "月份": "2026-03", "sensors": 1, "reported_issues": 1})
    return pd.DataFrame(rows)


def test_gaps_are_reported_with_counts_never_filled() -> None:
    boundaries = _boundaries()
    result = build_villages_periods(boundaries, "code", {"iot": _table()}, "month", scores=SPEC)
    gaps = [w for w in result.warnings if "period" in w or "iot" in w]
    assert any(
        "periods: 1 month(s) of 2026-01..2026-05 with no rows: 2026-04" in w for w in gaps
    ), gaps
    assert any(
        "iot: 1 village(s) with no row in 1 of 4 months (1 village-months" in w
        and "C in 2026-02" in w
        for w in gaps
    ), gaps
    assert any("iot: 1 code(s) in some month with no village boundary: Z" in w for w in gaps), gaps
    long = result.periods
    assert long is not None
    # C has no row in 2026-02, and nothing is made up for it or for 2026-04
    assert long[(long["code"] == "C") & (long["period"] == "2026-02")].empty
    assert sorted(set(long["period"])) == ["2026-01", "2026-02", "2026-03", "2026-05"]
    assert period_stats(long, "month", len(CODES)) == {
        "period_kind": "month",
        "periods": "2026-01,2026-02,2026-03,2026-05",
        "period_count": 4,
        "period_missing": 1,  # 2026-04
        "period_gaps": 1,  # C in 2026-02
    }


def _boundaries() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"code": CODES, "name": ["Ann", "Bo", "", "Di"]},
        geometry=[box(X0 + i * 1000, Y0, X0 + (i + 1) * 1000, Y0 + 1000) for i in range(4)],
        crs="EPSG:4549",
    )


def _percentile(values: dict[str, float], reverse: bool = False) -> dict[str, float]:
    """0-100 percentile rank, ties averaged, computed without pandas."""
    ordered = sorted(values.values())
    n = len(ordered)
    out = {}
    for code, v in values.items():
        below = sum(1 for o in ordered if o < v)
        equal = sum(1 for o in ordered if o == v)
        pct = (below + (equal - 1) / 2) / (n - 1)
        out[code] = 100 * (1 - pct if reverse else pct)
    return out


def test_scores_change_and_rank_per_period_match_an_independent_computation() -> None:
    result = build_villages_periods(
        _boundaries(), "code", {"iot": _table()}, "month", scores=SPEC, lag_threshold=40
    )
    long = result.periods
    assert long is not None
    assert list(long.columns) == [
        "code",
        "name",
        "period",
        "indicator",
        "value",
        "change",
        "rank",
        "lagging",
    ]
    got = long.set_index(["indicator", "period", "code"])
    expected: dict[tuple[str, str, str], float] = {}
    for period in SENSORS:
        sup = _percentile(SENSORS[period])
        gov = _percentile(ISSUES[period], reverse=True)
        for code in SENSORS[period]:
            expected["sup_sensors", period, code] = SENSORS[period][code]
            expected["gov_reported_issues", period, code] = ISSUES[period][code]
            expected["score_supervision", period, code] = round(sup[code], 2)
            expected["score_governance", period, code] = round(gov[code], 2)
            expected["score_total", period, code] = round((sup[code] + gov[code]) / 2, 2)
            lag = [d for d, s in (("supervision", sup), ("governance", gov)) if s[code] < 40]
            assert got.loc[("score_total", period, code), "lagging"] == ",".join(lag)
    for key, value in expected.items():
        assert got.loc[key, "value"] == pytest.approx(value, abs=0.011), key
    assert len(got) == len(expected)  # one row per value there is, none made up
    # change since the previous month: none in the first month, none after a missing
    # month (2026-04), none where the village had no row (C in 2026-02)
    order = list(SENSORS)
    for (indicator, period, code), value in expected.items():
        change = got.loc[(indicator, period, code), "change"]
        prev = order[order.index(period) - 1] if period != order[0] else None
        if prev is None or period == "2026-05" or (indicator, prev, code) not in expected:
            assert math.isnan(change), (indicator, period, code)
        else:
            assert change == pytest.approx(value - expected[indicator, prev, code], abs=0.02)
    # rank 1 is the best: most sensors, fewest issues (weighted negatively), best score
    for period in SENSORS:
        for indicator, values, best_low in (
            ("sup_sensors", SENSORS[period], False),
            ("gov_reported_issues", ISSUES[period], True),
        ):
            for code, v in values.items():
                better = sum(1 for o in values.values() if (o < v if best_low else o > v))
                assert got.loc[(indicator, period, code), "rank"] == better + 1
    # the village without a name is shown by its code
    assert set(long.loc[long["code"] == "C", "name"]) == {"C"}


def test_the_layer_shows_the_latest_period_and_equals_its_row_of_the_table() -> None:
    result = build_villages_periods(_boundaries(), "code", {"iot": _table()}, "month", scores=SPEC)
    layer = result.villages
    assert (layer["period"] == "2026-05").all()
    assert layer.set_index("code")["sup_sensors"].to_dict() == SENSORS["2026-05"]
    long = result.periods
    assert long is not None
    latest = long[long["period"] == "2026-05"].pivot(
        index="code", columns="indicator", values="value"
    )
    for col in ("score_supervision", "score_governance", "score_total"):
        np.testing.assert_allclose(latest[col].to_numpy(), layer.set_index("code")[col].to_numpy())


def test_tables_split_by_period_keep_every_table_in_every_period() -> None:
    a = pd.DataFrame({"code": ["A", "B"], "period": ["2026", "2027"], "x": [1, 2]})
    b = pd.DataFrame({"code": ["A"], "period": ["2027"], "y": [3]})
    split = split_periods({"a": a, "b": b}, "year")
    assert split.periods == ["2026", "2027"] and split.missing == []
    assert split.tables["2026"]["b"].empty and list(split.tables["2026"]["b"].columns) == [
        "code",
        "y",
    ]
    with pytest.raises(
        ValidationError, match=r"a: column 'period': 2 of 2 row\(s\) are not a month"
    ):
        split_periods({"a": a}, "month")
