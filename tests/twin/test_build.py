"""The build graph: order, incremental rebuilds, atomic publishing, kills."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from shapely.geometry import Point

from tests.twin.conftest import TOML
from tiles.catalog import read_catalog
from twin.builders import Builder, Output, register
from twin.errors import BuildError, WorkspaceError
from twin.workspace import Twin


def _with_zones_builder(builder: str) -> str:
    """The sample config with the zones layer made by ``builder`` (which takes no params)."""
    text = TOML.replace(
        'builder = "vector"\ntitle = "Zones"', f'builder = "{builder}"\ntitle = "Zones"'
    )
    return text.replace('params = { id = "code" }\n', "", 1)


def _touch_source(path: Path) -> None:
    """Change a file's content (not only its mtime)."""
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("k0", "k9", 1), encoding="utf-8")


def test_first_build_publishes_every_layer(twin: Twin) -> None:
    report = twin.build()
    assert set(report.built) == {"zones", "points", "dem"}
    cat = read_catalog(twin.catalog_path)
    zones = cat.layers["zones"]
    assert zones.kind == "vector" and zones.count == 12 and zones.title == "Zones"
    assert zones.geometry_type == "Polygon"
    assert zones.fields == {"code": "string", "pop": "int"}
    west, south, east, north = zones.bounds
    assert 119.7 < west < east < 119.9 and 30.5 < south < north < 30.6
    assert zones.provenance.inputs["source"].startswith("sha256:")
    dem = cat.layers["dem"]
    assert dem.kind == "raster" and dem.resolution == 100.0
    assert dem.bands[0].unit == "m" and dem.style["colormap"] == "terrain"
    # The published artifact is what the source holds, in the working CRS.
    back = twin.layer("zones")
    assert isinstance(back, gpd.GeoDataFrame)
    assert back.crs.to_epsg() == 4549 and sorted(back["code"]) == [f"Z{i:02d}" for i in range(12)]
    assert back.area.sum() == pytest.approx(12e6)
    with rasterio.open(twin.build_dir / dem.artifacts["data"]) as src:
        assert src.crs.to_epsg() == 4549 and src.res == (100.0, 100.0)
        assert src.profile["tiled"] and src.nodata == -9999
    area = twin.stats().loc["area_km2"]
    assert area["value"] == pytest.approx(12.0) and area["unit"] == "km²"


def test_second_build_rebuilds_nothing(twin: Twin) -> None:
    first = twin.build()
    before = twin.catalog_path.read_bytes()
    report = twin.build()
    assert report.built == {}
    assert report.skipped == dict.fromkeys(first.built, "up to date")
    assert twin.catalog_path.read_bytes() == before


def test_changed_input_rebuilds_only_its_layer(twin: Twin, workspace: Path) -> None:
    twin.build()
    old = twin.catalog.layers
    _touch_source(workspace / "sources" / "points.csv")
    report = twin.build()
    assert set(report.built) == {"points"}
    new = twin.catalog.layers
    assert new["points"].version != old["points"].version
    assert new["points"].history == [old["points"].version]
    assert new["zones"].version == old["zones"].version
    # The old version's files stay on disk while history lists them.
    assert (twin.build_dir / old["points"].artifacts["data"]).exists()


def test_changed_parameter_rebuilds(workspace: Path) -> None:
    Twin.open(workspace).build()
    (workspace / "twin.toml").write_text(
        TOML.replace("resolution = 100", "resolution = 200"), encoding="utf-8"
    )
    twin = Twin.open(workspace)
    assert twin.plan() == {
        "zones": "skip: up to date",
        "points": "skip: up to date",
        "dem": "build: params.resolution changed (100.0 -> 200.0)",
    }
    report = twin.build()
    assert set(report.built) == {"dem"}
    assert twin.catalog.layers["dem"].resolution == 200.0


def test_force_rebuilds_named_layers_only(twin: Twin) -> None:
    twin.build()
    report = twin.build(["points"], force=True)
    assert set(report.built) == {"points"}
    assert twin.build(force=True).built.keys() == {"zones", "points", "dem"}


def test_upstream_layers_build_first_and_changes_propagate(workspace: Path) -> None:
    text = TOML + textwrap.dedent(
        """
        [layers.zones_copy]
        builder = "vector"
        inputs = { source = "layers.zones" }
        params = { columns = ["code"] }
        """
    )
    (workspace / "twin.toml").write_text(text, encoding="utf-8")
    twin = Twin.open(workspace)
    order: list[str] = []

    class Events:
        def plan(self, names: list[str]) -> None:
            pass

        def skip(self, name: str, reason: str) -> None:
            pass

        def start(self, name: str) -> None:
            order.append(name)

        def finish(self, name: str, version: str, seconds: float) -> None:
            pass

        def fail(self, name: str, message: str) -> None:
            pass

    report = twin.build(["zones_copy"], events=Events())
    assert set(report.built) == {"zones", "zones_copy"}
    assert order.index("zones") < order.index("zones_copy")
    copy = twin.catalog.layers["zones_copy"]
    assert copy.provenance.inputs["source"] == f"layer:zones@{twin.catalog.layers['zones'].version}"
    assert list(twin.layer("zones_copy").columns) == ["code", "geometry"]
    # The dry run agrees with the build: a layer reading an up-to-date layer is up to date.
    assert twin.plan(["zones_copy"]) == dict.fromkeys(["zones", "zones_copy"], "skip: up to date")
    # A new version of zones makes zones_copy stale.
    twin.build(["zones"], force=True)
    assert twin.build().built.keys() == {"zones_copy", "points", "dem"}


def test_parallel_build_matches_serial(workspace: Path, tmp_path: Path) -> None:
    twin = Twin.open(workspace)
    report = twin.build(workers=2)
    assert set(report.built) == {"zones", "points", "dem"}
    assert twin.build(workers=2).built == {}
    fingerprints = {n: e.provenance.fingerprint for n, e in twin.catalog.layers.items()}
    serial = Twin.open(workspace)
    serial.build(force=True)
    assert {n: e.provenance.fingerprint for n, e in serial.catalog.layers.items()} == fingerprints


def _explode(ctx) -> Output:  # type: ignore[no-untyped-def]
    gdf = ctx.read_vector("source")
    if len(gdf) > 0:
        raise ValueError("boom in the middle of a build")
    return Output(data=gdf)


register(Builder(name="test_explode", version="1", run=_explode, inputs=("source",)))


def test_failing_builder_publishes_nothing(twin: Twin, workspace: Path) -> None:
    twin.build()
    before = twin.catalog_path.read_bytes()
    files_before = sorted(p for p in twin.build_dir.rglob("*") if ".hashes" not in p.name)
    text = _with_zones_builder("test_explode")
    (workspace / "twin.toml").write_text(text, encoding="utf-8")
    broken = Twin.open(workspace)
    with pytest.raises(BuildError) as info:
        broken.build()
    assert "layer 'zones'" in str(info.value) and "boom" in str(info.value)
    assert info.value.report.failed.keys() == {"zones"}  # type: ignore[attr-defined]
    assert twin.catalog_path.read_bytes() == before
    files_after = sorted(p for p in twin.build_dir.rglob("*") if ".hashes" not in p.name)
    assert files_after == files_before
    assert twin.layer("zones")["code"].tolist()  # the old version still reads


def test_invalid_output_is_rejected(twin: Twin, workspace: Path) -> None:
    def bad(ctx) -> Output:  # type: ignore[no-untyped-def]
        gdf = ctx.read_vector("source")
        gdf.loc[0, "geometry"] = None
        return Output(data=gdf)

    register(Builder(name="test_bad_output", version="1", run=bad, inputs=("source",)))
    text = _with_zones_builder("test_bad_output")
    (workspace / "twin.toml").write_text(text, encoding="utf-8")
    with pytest.raises(BuildError, match="output check failed: 1 empty or missing geometries"):
        Twin.open(workspace).build()
    # The other layers are independent and were published; zones was not.
    assert set(twin.catalog.layers) == {"points", "dem"}
    assert not list((twin.build_dir / "zones").rglob("*"))


def test_concurrent_build_is_refused(twin: Twin) -> None:
    import fcntl

    twin.build_dir.mkdir(exist_ok=True)
    fd = os.open(twin.build_dir / ".lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with pytest.raises(WorkspaceError, match="another build is running"):
            twin.build()
    finally:
        os.close(fd)


SLOW_BUILDER = textwrap.dedent(
    """
    import sys, time
    import geopandas as gpd, numpy as np
    from twin.builders import Builder, Output, register
    from twin.workspace import Twin

    def slow(ctx):
        rng = np.random.default_rng(int(ctx.params.model_dump().get("seed", 0)) if False else 0)
        n = 400_000
        xy = rng.uniform([480000, 3380000], [484000, 3383000], size=(n, 2))
        gdf = gpd.GeoDataFrame(
            {"v": np.arange(n), "s": np.char.mod("p%d", np.arange(n))},
            geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs="EPSG:4549",
        )
        print("writing", flush=True)
        return Output(data=gdf)

    register(Builder(name="test_slow", version=sys.argv[2], run=slow, inputs=("source",)))
    print("building", flush=True)
    Twin.open(sys.argv[1]).build(["zones"])
    print("done", flush=True)
    """
)


def test_kill_9_mid_build_leaves_previous_version(workspace: Path) -> None:
    text = _with_zones_builder("test_slow")
    (workspace / "twin.toml").write_text(text, encoding="utf-8")
    script = workspace.parent / "slow_build.py"
    script.write_text(SLOW_BUILDER, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}

    def run(version: str, kill_after: float | None) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, str(script), str(workspace), version],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        if kill_after is not None:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "building"
            time.sleep(kill_after)
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=120)
        assert proc.stdout is not None
        proc.stdout.close()
        return proc

    first = run("1", None)
    assert first.returncode == 0
    cat_path = workspace / "build" / "catalog.json"
    published = cat_path.read_bytes()
    entry = json.loads(published)["layers"]["zones"]
    rng = random.Random(7)
    # Kill at points spread over the build: while the builder runs, while the
    # artifact is written and verified, around the rename and the catalog swap.
    for attempt, delay in enumerate(sorted(rng.uniform(0.0, 3.0) for _ in range(6))):
        proc = run(f"k{attempt}", delay)
        if proc.returncode == 0:  # finished before the kill: that is a new, complete version
            published = cat_path.read_bytes()
            entry = json.loads(published)["layers"]["zones"]
            continue
        assert proc.returncode == -signal.SIGKILL
        now = cat_path.read_bytes()
        if now != published:
            # Killed after its catalog swap: the new version must be complete.
            new = json.loads(now)["layers"]["zones"]
            assert new["history"][0] == entry["version"]
            published, entry = now, new
        back = gpd.read_parquet(workspace / "build" / entry["artifacts"]["data"])
        assert len(back) == 400_000
    # The next build succeeds and sweeps away what the killed ones left behind.
    assert run("final", None).returncode == 0
    leftovers = [p for p in (workspace / "build" / "zones").iterdir() if p.name.startswith(".tmp")]
    assert leftovers == []
    cat = read_catalog(cat_path)
    live = {cat.layers["zones"].version, *cat.layers["zones"].history}
    assert {p.name for p in (workspace / "build" / "zones").iterdir()} == live


def test_synthetic_sources_mark_artifacts(workspace: Path) -> None:
    text = TOML.replace(
        '[sources.dem]\npath = "sources/dem.tif"',
        '[sources.dem]\npath = "sources/dem.tif"\nsynthetic = true',
    )
    (workspace / "twin.toml").write_text(text, encoding="utf-8")
    twin = Twin.open(workspace)
    twin.build()
    dem = twin.catalog.layers["dem"]
    assert dem.provenance.synthetic
    assert not twin.catalog.layers["zones"].provenance.synthetic
    with rasterio.open(twin.build_dir / dem.artifacts["data"]) as src:
        assert src.tags()["SYNTHETIC"] == "yes"
        assert json.loads(src.tags()["TWIN"])["synthetic"] is True


def test_csv_points_and_invalid_geometries(workspace: Path) -> None:
    bowtie = gpd.GeoDataFrame(
        {"code": ["bow", "ok", "empty"]},
        geometry=[
            gpd.GeoSeries.from_wkt(["POLYGON((0 0, 1 1, 1 0, 0 1, 0 0))"]).iloc[0],
            Point(0.5, 0.5).buffer(0.1),
            gpd.GeoSeries.from_wkt(["POLYGON EMPTY"]).iloc[0],
        ],
        crs="EPSG:4549",
    )
    bowtie["geometry"] = bowtie.geometry.translate(481000, 3381000).scale(
        100, 100, origin=(481000, 3381000)
    )
    bowtie.to_file(workspace / "sources" / "zones.geojson", driver="GeoJSON")
    twin = Twin.open(workspace)
    report = twin.build(["zones"])
    zones = twin.layer("zones")
    assert zones["code"].tolist() == ["bow", "ok"]
    assert zones.is_valid.all()
    assert "repaired 1" in report.warnings["zones"][0] and "1 empty" in report.warnings["zones"][0]
    assert twin.catalog.layers["zones"].stats == {
        "dropped_empty": 1,
        "repaired": 1,
        "dropped_invalid": 0,
        "outside_region": 0,
    }
    points = twin.layer("points") if "points" in twin.catalog.layers else None
    assert points is None  # only zones was asked for
    twin.build(["points"])
    pts = twin.layer("points")
    assert len(pts) == 12 and pts.crs.to_epsg() == 4549
    assert np.all((pts.geometry.x > 480000) & (pts.geometry.x < 484000))


def test_forked_children_do_not_hold_the_build_lock(twin: Twin) -> None:
    """A worker a builder forks must not keep the workspace locked after the build dies."""
    from twin.build import build_lock

    read, write = os.pipe()
    with build_lock(twin.build_dir):
        pid = os.fork()
        if pid == 0:  # the child: a builder's worker that outlives its parent's build
            os.close(read)
            os.write(write, b"x")
            time.sleep(5)
            os._exit(0)
        os.close(write)
        assert os.read(read, 1) == b"x"
    os.close(read)
    try:
        # The child still runs, yet the build's lock is free.
        with build_lock(twin.build_dir):
            pass
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


def test_prune_keeps_the_newest_versions(twin: Twin, workspace: Path) -> None:
    from typer.testing import CliRunner

    from twin.cli import app

    twin.build()
    versions = [twin.catalog.layers["points"].version]
    for _ in range(3):
        twin.build(["points"], force=True)  # a forced build is a new version
        versions.append(twin.catalog.layers["points"].version)
    assert twin.catalog.layers["points"].history == versions[-2::-1]
    res = CliRunner().invoke(app, ["-w", str(workspace), "prune", "--keep", "2", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout) == {"points": versions[:2][::-1]}
    entry = twin.catalog.layers["points"]
    assert entry.version == versions[-1] and entry.history == [versions[-2]]
    on_disk = {p.name for p in (twin.build_dir / "points").iterdir()}
    assert on_disk == {versions[-1], versions[-2]}
    assert len(twin.layer("points")) == 12
    assert twin.prune(keep=1) == {"points": [versions[-2]]}
    assert {p.name for p in (twin.build_dir / "points").iterdir()} == {versions[-1]}
    with pytest.raises(WorkspaceError, match="keep must be at least 1"):
        twin.prune(keep=0)
