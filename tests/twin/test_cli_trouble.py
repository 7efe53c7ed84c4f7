"""The CLI when things go wrong: a failing layer, Ctrl-C, a busy port, a bad setting."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
from shapely import wkt
from typer.testing import CliRunner

from twin.cli import app

runner = CliRunner()


def _one_good_with_warnings_one_broken(workspace: Path) -> None:
    """zones publishes with a repair warning; points fails (its CSV has no coordinates)."""
    zones = gpd.GeoDataFrame(
        {"code": ["bow", "ok"]},
        geometry=[
            wkt.loads("POLYGON((0 0, 1 1, 1 0, 0 1, 0 0))"),
            wkt.loads("POLYGON((0 0, 1 0, 1 1, 0 1, 0 0))"),
        ],
        crs="EPSG:4549",
    )
    zones["geometry"] = zones.geometry.scale(100, 100, origin=(0, 0)).translate(481000, 3381000)
    zones.to_file(workspace / "sources" / "zones.geojson", driver="GeoJSON")
    (workspace / "sources" / "points.csv").write_text("id,kind\n1,a\n", encoding="utf-8")


def test_a_failing_layer_still_shows_the_warnings_and_the_summary(workspace: Path) -> None:
    _one_good_with_warnings_one_broken(workspace)
    res = runner.invoke(app, ["-w", str(workspace), "build"])
    assert res.exit_code == 1, res.output
    warnings = [line for line in res.stderr.splitlines() if line.startswith("twin: warning:")]
    assert len(warnings) == 1 and "zones.geojson: repaired 1" in warnings[0]
    errors = [line for line in res.stderr.splitlines() if line.startswith("twin: error:")]
    assert len(errors) == 1 and "layer 'points'" in errors[0]
    assert "2 built, 0 skipped, 1 failed" in res.stdout
    assert set(json.loads((workspace / "build" / "catalog.json").read_text())["layers"]) == {
        "zones",
        "dem",
    }


def test_a_failing_layer_in_json_mode(workspace: Path) -> None:
    _one_good_with_warnings_one_broken(workspace)
    res = runner.invoke(app, ["-w", str(workspace), "build", "--json"])
    assert res.exit_code == 1, res.output
    report = json.loads(res.stdout)
    assert not report["ok"] and set(report["built"]) == {"zones", "dem"}
    assert "repaired 1" in report["warnings"]["zones"][0]
    assert set(report["failed"]) == {"points"}
