"""A villages layer with periods: the artifact, ``twin stats --period/--compare``, history.

Four 1 km villages in a row; sensors and issue resolution over three months.
V4 has no row in 2026-09. In 2026-11 V3 and V4 drop to the fewest sensors, so
they fall behind in supervision, and V1 and V2 improve.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box
from typer.testing import CliRunner

from twin.cli import app
from twin.errors import BuildError
from twin.workspace import Twin

X0, Y0 = 480_000.0, 3_380_000.0
CODES = ["V1", "V2", "V3", "V4"]
NAMES = ["东村", "南村", "西村", "北村"]
MONTHS = ["2026-09", "2026-10", "2026-11"]
SENSORS = {
    "2026-09": {"V1": 10, "V2": 20, "V3": 30},
    "2026-10": {"V1": 10, "V2": 20, "V3": 30, "V4": 40},
    "2026-11": {"V1": 30, "V2": 40, "V3": 10, "V4": 20},
}
RESOLVED = {"V1": 5, "V2": 6, "V3": 7, "V4": 8}  # of 10 reported, every month

TOML = """
[region]
name = "Periods"
crs = "EPSG:4549"
{lang}
[sources.villages]
path = "sources/villages.gpkg"
[sources.indicators]
path = "{table}"

[layers.villages]
builder = "villages"
inputs = {{ boundaries = "villages", indicators = "indicators" }}

[layers.villages.params]
tables = ["indicators"]
period = "month"
scores.supervision = {{ sup_sensors = 1 }}
scores.governance = {{ gov_resolution_rate = 1 }}
"""


def _rows(month: str) -> list[dict[str, object]]:
    return [
        {"village_code": c, "sensors": n, "reported_issues": 10, "resolved_issues": RESOLVED[c]}
        for c, n in SENSORS[month].items()
    ]


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("periods") / "sources"
    src.mkdir()
    gpd.GeoDataFrame(
        {"village_code": CODES, "name": NAMES},
        geometry=[box(X0 + i * 1000, Y0, X0 + (i + 1) * 1000, Y0 + 1000) for i in range(4)],
        crs="EPSG:4549",
    ).to_file(src / "villages.gpkg")
    long = pd.DataFrame([{"月份": m, **r} for m in MONTHS for r in _rows(m)])
    long.to_csv(src / "indicators.csv", index=False)
    (src / "monthly").mkdir()
    for m in MONTHS:  # the same, one file per month named by it
        pd.DataFrame(_rows(m)).to_csv(src / "monthly" / f"村级指标_{m}.csv", index=False)
    bad = long.astype({"月份": str})
    bad.loc[3, "月份"] = "2026-9月"
    bad.to_csv(src / "bad.csv", index=False)
    return src


def _workspace(tmp_path: Path, sources: Path, table: str, lang: str = "") -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "sources").symlink_to(sources)
    text = TOML.format(table=table, lang=f'lang = "{lang}"\n' if lang else "")
    (root / "twin.toml").write_text(text, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, sources: Path) -> Twin:
    root = _workspace(tmp_path_factory.mktemp("built"), sources, "sources/indicators.csv")
    twin = Twin.open(root)
    report = twin.build()
    twin.warnings = report.warnings["villages"]  # type: ignore[attr-defined]
    return twin


def _validate(root: Path) -> list[str]:
    res = CliRunner().invoke(app, ["-w", str(root), "validate", "--json"])
    return json.loads(res.stdout)["problems"]


def _percentiles(values: dict[str, int]) -> dict[str, float]:
    """0-100 percentile ranks of distinct values, counted by hand."""
    n = len(values)
    return {c: 100 * sum(o < v for o in values.values()) / (n - 1) for c, v in values.items()}


def _lagging_supervision(month: str) -> set[str]:
    return {c for c, p in _percentiles(SENSORS[month]).items() if p < 40}


def test_the_periods_artifact_reads_back_beside_the_layer(built: Twin) -> None:
    entry = built.catalog.layers["villages"]
    rel = entry.artifacts["periods"]
    assert rel == f"villages/{entry.version}/periods.parquet"
    assert entry.stats["period_kind"] == "month"
    assert entry.stats["periods"] == ",".join(MONTHS) and entry.stats["period_count"] == 3
    assert entry.stats["period_gaps"] == 1 and entry.stats["period_missing"] == 0
    assert entry.field_info["period"].label == {"zh": "统计期", "en": "Period"}
    long = pd.read_parquet(built.build_dir / rel)
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
    sensors = long[long["indicator"] == "sup_sensors"]
    got = {(r.period, r.code): r.value for r in sensors.itertuples()}
    assert got == {(m, c): v for m in MONTHS for c, v in SENSORS[m].items()}  # no V4 in 09
    rates = long[long["indicator"] == "gov_resolution_rate"].set_index(["period", "code"])
    assert rates.loc[("2026-10", "V2"), "value"] == pytest.approx(0.6)
    # the layer shows the latest month, and its scores are that month's rows
    layer = built.layer("villages").set_index("village_code")
    assert (layer["period"] == "2026-11").all()
    latest = long[long["period"] == "2026-11"].pivot(
        index="code", columns="indicator", values="value"
    )
    for col in ("sup_sensors", "score_supervision", "score_governance", "score_total"):
        np.testing.assert_allclose(latest.loc[CODES, col], layer.loc[CODES, col].astype(float))
    # every byte of it is checked like the layer's own files
    assert _validate(built.root) == []


def test_gaps_are_build_warnings(built: Twin) -> None:
    warnings = built.warnings  # type: ignore[attr-defined]
    assert any(
        w.startswith("indicators: 1 village(s) with no row in 1 of 3 months")
        and "V4 in 2026-09" in w
        for w in warnings
    ), warnings


def test_history_is_tidy_with_change_and_rank(built: Twin) -> None:
    h = built.history("villages", "sup_sensors")
    assert list(h.columns) == [
        "code",
        "name",
        "period",
        "date",
        "value",
        "change",
        "rank",
        "lagging",
    ]
    assert len(h) == sum(len(v) for v in SENSORS.values())
    row = h[(h["code"] == "V1") & (h["period"] == "2026-11")].iloc[0]
    assert row["value"] == 30 and row["change"] == 30 - 10 and row["name"] == "东村"
    assert row["date"] == pd.Timestamp("2026-11-01")
    assert row["rank"] == 2  # V2 has more sensors
    v4 = h[h["code"] == "V4"].set_index("period")
    assert "2026-09" not in v4.index and np.isnan(v4.loc["2026-10", "change"])
    every = built.history("villages")
    assert {"sup_sensors", "gov_resolution_rate", "score_total"} <= set(every["indicator"])
    assert "indicator" in every.columns
    with pytest.raises(Exception, match="no period indicator 'nope'"):
        built.history("villages", "nope")


def test_compare_says_who_fell_behind_and_who_improved(built: Twin) -> None:
    res = CliRunner().invoke(
        app, ["-w", str(built.root), "stats", "--compare", "2026-10", "--json"]
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["period"] == "2026-11" and doc["periods"] == MONTHS
    change = doc["compare"]
    assert change["period"] == "2026-11" and change["base"] == "2026-10"
    now, then = _lagging_supervision("2026-11"), _lagging_supervision("2026-10")
    assert {v["code"] for v in change["fell_behind"]} == now - then == {"V3", "V4"}
    assert {v["code"] for v in change["improved"]} == then - now == {"V1", "V2"}
    assert all(v["domains"] == ["supervision"] for v in change["fell_behind"])
    before, after = _percentiles(SENSORS["2026-10"]), _percentiles(SENSORS["2026-11"])
    drops = change["drops"]["score_supervision"]
    expected = sorted((after[c] - before[c], c) for c in CODES if after[c] < before[c])
    assert [(round(d["change"], 1), d["code"]) for d in drops] == [
        (round(x, 1), c) for x, c in expected
    ]
    gains = change["gains"]["score_supervision"]
    assert {g["code"] for g in gains} == {c for c in CODES if after[c] > before[c]}
    assert change["drops"]["score_governance"] == [] == change["gains"]["score_governance"]
    assert drops[0]["rank_from"] < drops[0]["rank_to"]


def test_a_period_shows_its_figures(built: Twin) -> None:
    res = CliRunner().invoke(app, ["-w", str(built.root), "stats", "--period", "2026-09", "--json"])
    assert res.exit_code == 0, res.output
    figures = {f["name"]: f["value"] for f in json.loads(res.stdout)["figures"]}
    assert figures["villages"] == 3 and figures["villages_missing"] == 1
    lagging = {c for c, p in _percentiles(SENSORS["2026-09"]).items() if p < 40}
    assert figures["lagging_supervision"] == len(lagging)
    res = CliRunner().invoke(app, ["-w", str(built.root), "stats", "--period", "2026-09"])
    assert res.exit_code == 0 and "Villages with no data" in res.stdout


def test_stats_speak_chinese(tmp_path: Path, sources: Path) -> None:
    root = _workspace(tmp_path, sources, "sources/indicators.csv", lang="zh")
    Twin.open(root).build()
    res = CliRunner().invoke(app, ["-w", str(root), "stats", "--compare", "previous"])
    assert res.exit_code == 0, res.output
    assert "较 2026-10 退步的村" in res.stdout and "监管" in res.stdout
    assert "西村" in res.stdout and "较 2026-10 降幅最大" in res.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--period", "2026-13"], "--period '2026-13': not a month (written like 2026-10)"),
        (["--period", "2026-01"], "--period 2026-01: villages has no rows for it"),
        (["--compare", "2026-11"], "--compare 2026-11 is the period shown"),
        (["--period", "latest", "--layer", "roads"], "no published layer 'roads'"),
    ],
)
def test_stats_errors_are_one_line(built: Twin, args: list[str], message: str) -> None:
    res = CliRunner().invoke(app, ["-w", str(built.root), "stats", *args])
    assert res.exit_code == 1
    assert res.stderr.count("\n") == 1 and message in res.stderr, res.stderr


def test_one_file_per_month_makes_the_same_table(
    tmp_path: Path, sources: Path, built: Twin
) -> None:
    root = _workspace(tmp_path, sources, "sources/monthly/*.csv")
    twin = Twin.open(root)
    twin.build()
    mine = pd.read_parquet(twin.build_dir / twin.catalog.layers["villages"].artifacts["periods"])
    theirs = pd.read_parquet(
        built.build_dir / built.catalog.layers["villages"].artifacts["periods"]
    )
    pd.testing.assert_frame_equal(mine, theirs)
    assert _validate(root) == []  # every file of the glob opens


def test_a_value_that_is_no_month_fails_the_build_in_one_line(
    tmp_path: Path, sources: Path
) -> None:
    twin = Twin.open(_workspace(tmp_path, sources, "sources/bad.csv"))
    with pytest.raises(BuildError) as err:
        twin.build()
    message = str(err.value)
    assert "\n" not in message
    assert "indicators: column '月份': 1 of 11 row(s) are not a month" in message
    assert "'2026-9月'" in message
    assert "villages" not in twin.catalog.layers


def test_without_periods_stats_says_how_to_get_them(workspace: Path) -> None:
    res = CliRunner().invoke(app, ["-w", str(workspace), "stats", "--compare", "previous"])
    assert res.exit_code == 1 and "no published layer has periods" in res.stderr
