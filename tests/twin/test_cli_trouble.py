"""The CLI when things go wrong: a failing layer, Ctrl-C, a busy port, a bad setting."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pytest
from shapely import wkt
from typer.testing import CliRunner

from tiles.settings import Settings, SettingsError
from twin.cli import app

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]


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


def _twin(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The installed ``twin`` console script as a real process, this checkout first."""
    exe = shutil.which("twin", path=str(Path(sys.executable).parent))
    assert exe is not None, "the console script is installed with the project"
    full = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([exe, *args], capture_output=True, text=True, env=full, timeout=120)


def test_a_busy_port_is_one_line(workspace: Path) -> None:
    assert runner.invoke(app, ["-w", str(workspace), "build", "-q"]).exit_code == 0
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        for workers in ("1", "2"):
            done = _twin("-w", str(workspace), "serve", "--port", str(port), "-j", workers)
            assert done.returncode == 1
            assert done.stderr == (
                f"twin: error: port {port} on 127.0.0.1 is in use; pick another with --port\n"
            )
            assert done.stdout == ""


def test_a_bad_setting_is_one_line(workspace: Path) -> None:
    assert runner.invoke(app, ["-w", str(workspace), "build", "-q"]).exit_code == 0
    done = _twin("-w", str(workspace), "serve", "--port", "1", env={"TWIN_EXTENT": "big"})
    assert done.returncode == 1
    assert done.stderr.startswith("twin: error: TWIN_EXTENT='big': input should be a valid int")
    assert len(done.stderr.splitlines()) == 1 and done.stdout == ""


#: a value of each variable in the README's settings table, as documented there
DOCUMENTED = {
    "TWIN_CATALOG": ("build/catalog.json", Path("build/catalog.json")),
    "TWIN_PUBLIC_URL": ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
    "TWIN_TITLE": ("Deqing", "Deqing"),
    "TWIN_EXTENT": ("4096", 4096),
    "TWIN_BUFFER": ("64", 64),
    "TWIN_SIMPLIFY": ("1.0", 1.0),
    "TWIN_EMPTY_TILE_STATUS": ("204", 204),
    "TWIN_CACHE_MB": ("64", 64.0),
    "TWIN_CACHE_MAX_AGE": ("60", 60),
    "TWIN_CORS_ORIGINS": ('["*"]', ["*"]),
    "TWIN_RASTER_TILE_SIZE": ("512", 512),
    "TWIN_MAX_COMPOSITE": ("16", 16),
    "TWIN_RELOAD_INTERVAL": ("0", 0.0),
    "TWIN_MAPLIBRE_JS": ("http://intranet/maplibre-gl.js", "http://intranet/maplibre-gl.js"),
    "TWIN_MAPLIBRE_CSS": ("http://intranet/maplibre-gl.css", "http://intranet/maplibre-gl.css"),
}


def test_every_documented_setting_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text.split("Settings (environment variables", 1)[1].split("\n\n", 2)[1]
    documented = {
        name for row in table.splitlines()[2:] for name in re.findall(r"`(TWIN_\w+)`", row)
    }
    assert documented == set(DOCUMENTED)
    for name, (value, _) in DOCUMENTED.items():
        monkeypatch.setenv(name, value)
    settings = Settings.from_env()
    for name, (_, expected) in DOCUMENTED.items():
        assert getattr(settings, name.removeprefix("TWIN_").lower()) == expected, name
    # both documented values of the empty-tile status, as text like any variable
    monkeypatch.setenv("TWIN_EMPTY_TILE_STATUS", "200")
    assert Settings.from_env().empty_tile_status == 200
    monkeypatch.setenv("TWIN_EMPTY_TILE_STATUS", "201")
    with pytest.raises(SettingsError, match=r"^TWIN_EMPTY_TILE_STATUS='201': input should be"):
        Settings.from_env()
    monkeypatch.setenv("TWIN_EMPTY_TILE_STATUS", "204")
    monkeypatch.setenv("TWIN_CORS_ORIGINS", "*")
    with pytest.raises(SettingsError, match=r"^TWIN_CORS_ORIGINS='\*': expected a JSON list"):
        Settings.from_env()
