"""Faults: SIGKILL mid-build, a rebuild under load, a full disk, a read-only workspace.

What must hold after every fault: ``catalog.json`` parses and names the
previous complete version of every layer (or, for a build killed after its
catalog swap, a new complete one whose history starts with the previous);
every artifact it names reads back with the count the catalog states; the
next build succeeds and sweeps away whatever the killed ones left behind.
"""

from __future__ import annotations

import errno
import json
import os
import random
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import httpx
import mapbox_vector_tile
import morecantile
import numpy as np
import pyarrow.parquet as pq
import pytest
import rasterio

from tests.reliability.conftest import Server, Zygote, cli, published_files
from tiles import leftover_temp_files
from tiles.catalog import Catalog, read_catalog
from twin import artifacts
from twin.workspace import Twin

pytestmark = pytest.mark.slow

# Every builder kind, each with what a forced build of it rebuilds around it.
KILL_PLAN = {"county": 6, "dem": 6, "roads": 3, "coverage": 4, "villages": 2}
TMS = morecantile.tms.get("WebMercatorQuad")


@pytest.fixture(scope="module")
def small_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo county at 200 m: every builder the kills reach, a few seconds per full build.

    Without the orthophoto: no kill lands in it (nothing of KILL_PLAN depends on it) and it
    took most of this fixture's time.
    """
    root = tmp_path_factory.mktemp("faults") / "demo"
    Twin.demo(root, resolution=200.0, imagery=False)
    return root


@pytest.fixture(scope="module")
def zygote() -> Iterator[Zygote]:
    z = Zygote()
    yield z
    z.close()


def _check_readable(build: Path, catalog: Catalog, names: set[str]) -> None:
    """Every artifact the catalog names exists; those of ``names`` read back in full."""
    for name, entry in catalog.layers.items():
        path = build / entry.artifacts["data"]
        assert path.is_file(), f"{name}: {path} is missing"
        if (entry.parent or name) not in names:
            continue
        if entry.kind == "vector":
            assert pq.read_table(path).num_rows == entry.count, name
        else:
            with rasterio.open(path) as src:
                data = src.read(out_shape=(src.count, 16, 16))
                assert data.shape[0] == len(entry.bands), name


def _leftovers(build: Path, catalog: Catalog) -> list[str]:
    """Temporary directories and files, and version directories no catalog entry names."""
    live: set[Path] = set()
    for name, entry in catalog.layers.items():
        owner = build / (entry.parent or name)
        live.update(owner / v for v in [entry.version, *entry.history])
    out = [p.name for p in leftover_temp_files(build, "catalog.json")]
    for layer_dir in (p for p in build.iterdir() if p.is_dir()):
        out += [str(p.relative_to(build)) for p in layer_dir.iterdir() if p not in live]
    return out


def test_kill_9_at_21_points_across_builders(small_demo: Path, zygote: Zygote) -> None:
    build = small_demo / "build"
    cat_path = build / "catalog.json"
    rng = random.Random(10)
    kills = survived = 0
    for layer, points in KILL_PLAN.items():
        # How long a forced build of this layer takes (it publishes a new version).
        code, duration = zygote.build(small_demo, [layer], force=True)
        assert code == 0
        print(f"{layer}: a forced build takes {duration:.2f} s")
        for i in range(points):
            before = read_catalog(cat_path)
            before_bytes = cat_path.read_bytes()
            # Spread over the whole build, jittered so runs don't always hit the same step.
            delay = duration * (i + rng.uniform(0.1, 0.9)) / points
            code, _ = zygote.build(small_demo, [layer], force=True, kill_after=delay)
            kills += 1
            after = read_catalog(cat_path)  # parses: never half-written
            if code == 0:
                continue  # the kill came after the end: a complete new build
            assert code == -9, code
            survived += 1
            # workers the build forked (coverage sums bands in a process pool) die with it
            assert zygote.strays() == [], f"{layer}: workers outlived the killed build"

            changed = set()
            for name, entry in after.layers.items():
                old = before.layers.get(name)
                assert old is not None, f"{name} appeared from a killed build"
                if entry.version != old.version:
                    # killed after this layer's catalog swap: a complete new version
                    assert entry.history[0] == old.version
                    changed.add(entry.parent or name)
            assert set(after.layers) == set(before.layers)
            if not changed:
                assert cat_path.read_bytes() == before_bytes
            _check_readable(build, after, changed | {layer})
    print(f"\nkill -9: {kills} kills, {survived} landed mid-build, all survived")
    assert kills == sum(KILL_PLAN.values()) and survived >= 15, (kills, survived)
    # The next build succeeds, rebuilds nothing that was published, and cleans up.
    code, _ = zygote.build(small_demo)
    assert code == 0
    final = read_catalog(cat_path)
    assert _leftovers(build, final) == []
    _check_readable(build, final, set(final.layers))


def _tiles_of(entry_bounds: tuple[float, ...], zoom: int) -> list[morecantile.Tile]:
    return list(TMS.tiles(*entry_bounds, zooms=[zoom]))


def test_rebuild_under_load_serves_one_version_per_tile(tmp_path: Path, small_ws: Path) -> None:
    """``wrk`` hammers the server while a layer is rebuilt 4 times with new data.

    Each build writes a ``gen`` property equal in every feature; a tile that
    mixed two versions would hold two ``gen`` values, and an ETag must always
    come with the same content.
    """
    if shutil.which("wrk") is None:
        pytest.fail("wrk is not installed (Debian package 'wrk', see .ci/run)")
    src = small_ws / "sources" / "zones.geojson"
    zones = gpd.read_file(src)

    def write_gen(gen: int) -> None:
        zones.assign(gen=gen).to_file(src, driver="GeoJSON")

    write_gen(0)
    code, _, err = cli("-w", str(small_ws), "build", "-q")
    assert code == 0, err
    cat = read_catalog(small_ws / "build" / "catalog.json")
    tiles = _tiles_of(tuple(cat.layers["zones"].bounds), 14)[:6]
    paths = [f"/tiles/zones/{t.z}/{t.x}/{t.y}.mvt" for t in tiles]
    server = Server(small_ws / "build" / "catalog.json", reload_interval="0")
    stop = threading.Event()
    seen: dict[str, set[int]] = {}
    errors: list[str] = []

    def check() -> None:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            while not stop.is_set():
                for path in paths:
                    r = client.get(path)
                    if r.status_code != 200:
                        errors.append(f"{path}: {r.status_code}")
                        continue
                    layer = mapbox_vector_tile.decode(r.content)["zones"]
                    gens = {f["properties"]["gen"] for f in layer["features"]}
                    if len(gens) != 1:
                        errors.append(f"{path}: versions {gens} in one tile")
                    seen.setdefault(r.headers["etag"], set()).update(gens)

    lua = tmp_path / "paths.lua"
    lua.write_text(
        "paths = {" + ",".join(json.dumps(p) for p in paths) + "}\n"
        "n = 0\n"
        "request = function()\n  n = n + 1\n"
        "  return wrk.format('GET', paths[(n % #paths) + 1])\nend\n",
        encoding="utf-8",
    )
    try:
        checker = threading.Thread(target=check)
        checker.start()
        wrk = subprocess.Popen(
            ["wrk", "-t2", "-c32", "-d8s", "-s", str(lua), server.url],
            stdout=subprocess.PIPE,
            text=True,
        )
        for gen in range(1, 5):
            write_gen(gen)
            code, _, err = cli("-w", str(small_ws), "build", "zones", "-q")
            assert code == 0, err
        out, _ = wrk.communicate(timeout=60)
        stop.set()
        checker.join(timeout=30)
    finally:
        stop.set()
        server.stop()
    assert errors == []
    assert "Non-2xx" not in out and "Socket errors" not in out, out
    assert all(len(g) == 1 for g in seen.values()), seen
    # the checker saw the versions change while the load ran
    assert len({g for gens in seen.values() for g in gens}) >= 2, seen


# -- disk full, read-only workspace -------------------------------------------------------------


def _mount(*args: str) -> bool:
    return subprocess.run(["mount", *args], capture_output=True).returncode == 0


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[tuple[Path, bool]]:
    """A 4 MiB tmpfs when we may mount one (root with CAP_SYS_ADMIN), else a plain directory.

    Yields the directory and whether it is a real small disk; without one the
    test injects the OSError a full disk raises at the artifact's write.
    """
    where = tmp_path / "disk"
    where.mkdir()
    mounted = os.geteuid() == 0 and _mount("-t", "tmpfs", "-o", "size=4m", "tmpfs", str(where))
    try:
        yield where, mounted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(where)], check=False)


def test_disk_full_fails_in_one_line_and_publishes_nothing(
    tiny_disk: tuple[Path, bool], small_ws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    disk, real_disk = tiny_disk
    ws = disk / "ws"
    shutil.copytree(small_ws, ws)
    code, _, err = cli("-w", str(ws), "build", "-q")
    assert code == 0, err
    before = published_files(ws / "build")
    catalog = (ws / "build" / "catalog.json").read_bytes()
    # Noise at 1 m is 4000 x 3000 float32 that barely compresses: 48 MB, twelve times the disk.
    with rasterio.open(ws / "sources" / "dem.tif", "r+") as dem:
        noise = np.random.default_rng(1).uniform(0, 500, (1, dem.height, dem.width))
        dem.write(noise.astype("float32"))
    toml = ws / "twin.toml"
    toml.write_text(toml.read_text().replace("resolution = 100", "resolution = 1"))
    if not real_disk:

        def full(raster: object, path: Path, metadata: object) -> None:
            path.write_bytes(b"\0" * 65536)  # what a full disk leaves: part of a file
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

        monkeypatch.setattr(artifacts, "write_raster", full)
    code, _, err = cli("-w", str(ws), "build", "-q")
    lines = err.strip().splitlines()
    assert code == 1 and len(lines) == 1, err
    assert "layer 'dem'" in lines[0] and "No space left on device" in lines[0], lines[0]
    assert (ws / "build" / "catalog.json").read_bytes() == catalog
    assert published_files(ws / "build") == before
    assert list((ws / "build" / "dem").glob(".tmp-*")) == []


@pytest.fixture
def read_only(small_ws: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The small workspace, built, then bind-mounted read-only over itself.

    root ignores permission bits, so chmod would prove nothing. Where mounting is
    not allowed, opening a file for writing under the workspace raises EROFS instead.
    """
    code, _, err = cli("-w", str(small_ws), "build", "-q")
    assert code == 0, err
    mounted = os.geteuid() == 0 and _mount("--bind", str(small_ws), str(small_ws))
    try:
        if mounted:
            assert _mount("-o", "remount,ro,bind", str(small_ws))
            with pytest.raises(OSError):
                (small_ws / "probe").write_text("")
        else:
            real_open = os.open
            writes = os.O_WRONLY | os.O_RDWR | os.O_CREAT

            def ro_open(path: object, flags: int, *args: object, **kwargs: object) -> int:
                if str(path).startswith(str(small_ws)) and flags & writes:
                    raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
                return real_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]

            monkeypatch.setattr(os, "open", ro_open)
        yield small_ws
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(small_ws)], check=False)


def test_read_only_workspace_fails_in_one_line(read_only: Path) -> None:
    before = published_files(read_only / "build")
    for args in (["build", "-q"], ["build", "--force", "-q"], ["build", "dem", "--force", "-q"]):
        code, _, err = cli("-w", str(read_only), *args)
        lines = err.strip().splitlines()
        assert code == 1 and len(lines) == 1, err
        assert "Read-only file system" in lines[0] and str(read_only) in lines[0], lines[0]
    assert published_files(read_only / "build") == before
    # reading still works: the published layers are intact
    assert len(Twin.open(read_only).layer("zones")) == 12
