"""The twin CLI through typer's CliRunner, and once as a real process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from twin.cli import app

runner = CliRunner()


def invoke(*args: str, cwd: Path | None = None):  # type: ignore[no-untyped-def]
    old = Path.cwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        return runner.invoke(app, list(args))
    finally:
        os.chdir(old)


def test_build_stats_layers_validate(workspace: Path) -> None:
    res = invoke("-w", str(workspace), "build", "--json")
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["ok"] and set(report["built"]) == {"zones", "points", "dem"}

    res = invoke("build", cwd=workspace / "sources")  # found by searching up, like git
    assert res.exit_code == 0, res.output
    assert "0 built, 3 skipped" in res.stdout

    res = invoke("stats", "--json", "-w", str(workspace))
    data = json.loads(res.stdout)
    assert data["region"]["name"] == "Test County"
    assert data["figures"][0] == {
        "name": "area_km2",
        "label": "Area",
        "value": 12.0,
        "unit": "km²",
        "layer": None,
        "label_i18n": {"zh": "面积"},
        "unit_i18n": {},
    }

    res = invoke("layers", "--json", cwd=workspace)
    layers = json.loads(res.stdout)
    assert layers["zones"]["count"] == 12 and layers["dem"]["kind"] == "raster"

    res = invoke("validate", cwd=workspace)
    assert res.exit_code == 0 and res.stdout.startswith("ok: 4 sources, 3 layers, 3 published")

    res = invoke("stats", cwd=workspace)
    assert "Area" in res.stdout and "12.00" in res.stdout


def test_dry_run_says_what_would_build(workspace: Path) -> None:
    res = invoke("build", "--dry-run", "points", cwd=workspace)
    assert res.exit_code == 0
    assert res.stdout.strip() == "points: build: never built"


def test_init_creates_a_workspace_that_opens(tmp_path: Path) -> None:
    res = invoke("init", str(tmp_path / "county"), "--name", "Anji")
    assert res.exit_code == 0, res.output
    assert (tmp_path / "county" / "sources").is_dir()
    res = invoke("validate", "-w", str(tmp_path / "county"))
    assert res.exit_code == 0 and "ok: 0 sources, 0 layers" in res.stdout
    again = invoke("init", str(tmp_path / "county"))
    assert again.exit_code == 1
    assert again.stderr.strip().endswith("twin.toml: already exists")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("-w", "/nonexistent/place", "build"), "/nonexistent/place: no such directory"),
        (("build", "nope"), "twin.toml: no layer 'nope' (layers: dem, points, zones)"),
        (("init", "--crs", "EPSG:4326", "x"), "region.crs: 'EPSG:4326' is not a projected CRS"),
    ],
)
def test_errors_are_one_line_and_exit_1(
    workspace: Path, args: tuple[str, ...], message: str
) -> None:
    res = invoke(*args, cwd=workspace)
    assert res.exit_code == 1
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("twin: error: ")
    assert message in lines[0]
    assert "Traceback" not in res.output


def test_validate_lists_every_problem(workspace: Path) -> None:
    assert invoke("build", cwd=workspace).exit_code == 0
    (workspace / "sources" / "dem.tif").write_bytes(b"not a tiff")
    for parquet in (workspace / "build" / "points").rglob("*.parquet"):
        parquet.unlink()
    res = invoke("validate", "--json", cwd=workspace)
    assert res.exit_code == 1
    problems = json.loads(res.stdout)["problems"]
    assert any(p.startswith("sources.dem:") for p in problems)
    assert any(p.startswith("layer points: artifact data missing") for p in problems)


def test_broken_source_fails_the_build_with_its_name(workspace: Path) -> None:
    (workspace / "sources" / "zones.geojson").write_text("{ not json", encoding="utf-8")
    res = invoke("build", cwd=workspace)
    assert res.exit_code == 1
    errors = [line for line in res.stderr.splitlines() if line.startswith("twin: error:")]
    assert len(errors) == 1
    assert "layer 'zones'" in errors[0] and "zones.geojson" in errors[0]
    # The independent layers were still built.
    assert json.loads((workspace / "build" / "catalog.json").read_text())["layers"].keys() == {
        "points",
        "dem",
    }


def test_debug_shows_the_traceback(workspace: Path) -> None:
    res = invoke("--debug", "build", "nope", cwd=workspace)
    assert res.exit_code != 0
    assert res.exception is not None and "no layer 'nope'" in str(res.exception)


def test_real_process(workspace: Path) -> None:
    exe = shutil.which("twin", path=str(Path(sys.executable).parent))
    assert exe is not None, "the console script is installed with the project"
    done = subprocess.run(
        [exe, "-w", str(workspace), "build", "--quiet"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    layers = subprocess.run(
        [exe, "layers", "--json"], cwd=workspace, capture_output=True, text=True, timeout=60
    )
    assert set(json.loads(layers.stdout)) == {"zones", "points", "dem"}
    bad = subprocess.run(
        [exe, "build", "missing"], cwd=workspace, capture_output=True, text=True, timeout=60
    )
    assert bad.returncode == 1
    assert bad.stderr.count("\n") == 1 and "no layer 'missing'" in bad.stderr


def test_verbose_shows_the_log_on_stderr_and_stdout_stays_the_same(workspace: Path) -> None:
    res = invoke("-vv", "build", cwd=workspace)
    assert res.exit_code == 0, res.output
    assert res.stdout.strip().splitlines()[-1] == "3 built, 0 skipped"
    log = res.stderr.splitlines()
    assert any(line.startswith("twin: INFO: twin.build: plan: 3 layers: ") for line in log)
    for name in ("zones", "points", "dem"):
        assert any(line.startswith(f"twin: INFO: twin.build: {name}: built ") for line in log)
    # -vv: the readers' DEBUG lines too, with what they read
    assert any(
        line.startswith("twin: DEBUG: layers.vector:") and "zones.geojson: read 12 features" in line
        for line in log
    ), log

    res = invoke("build", "--force", cwd=workspace)  # default: warnings only, none here
    assert res.exit_code == 0, res.output
    assert res.stdout.strip().splitlines()[-1] == "3 built, 0 skipped"
    assert "twin: INFO" not in res.stderr and "twin: DEBUG" not in res.stderr


def test_help_loads_none_of_the_heavy_packages() -> None:
    # `twin --help` and `twin --version` answer without geopandas, rasterio, pyogrio,
    # fastapi (nor layers/ or tiles/): those come with the commands that use them
    script = (
        "import sys\n"
        "from twin.cli import main\n"
        "sys.argv = ['twin', *sys.argv[1:]]\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exc:\n"
        "    code = exc.code\n"
        "heavy = ('geopandas', 'rasterio', 'pyogrio', 'fastapi', 'pandas', 'layers', 'tiles')\n"
        "print(code, sorted(m for m in heavy if m in sys.modules), file=sys.stderr)\n"
    )
    for args in (["--help"], ["--version"], ["export", "--help"]):
        done = subprocess.run(
            [sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        assert done.stderr.splitlines()[-1] == "0 []", (args, done.stderr)
        assert "twin" in done.stdout
