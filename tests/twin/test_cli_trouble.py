"""The CLI when things go wrong: a failing layer, Ctrl-C, a busy port, a bad setting."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
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
    "TWIN_ENCODE_THREADS": ("2", 2),
    "TWIN_RELOAD_INTERVAL": ("0", 0.0),
    "TWIN_MOSAIC_MAX_SHEETS": ("4", 4),
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


INTERRUPTED = re.compile(
    r"twin: interrupted: (nothing published, the previous catalog stands|"
    r"published (?P<layers>[\w, ]+); the rest not published, the previous catalog stands for them)"
)


def _versions(catalog: bytes) -> dict[str, str]:
    layers = json.loads(catalog)["layers"]
    return {n: e["version"] for n, e in layers.items() if not e.get("parent")}


def _wait_until_handled(pid: int) -> None:
    """Until the command handles SIGINT: its watchdog thread (the first thread) runs.

    Before that the interpreter itself is starting, which no program of ours can handle.
    """
    deadline = time.monotonic() + 30
    while len(os.listdir(f"/proc/{pid}/task")) < 2:
        assert time.monotonic() < deadline, "the command never started"
        time.sleep(0.005)


def _group(pgid: int) -> list[str]:
    """The processes (zombies included) of process group ``pgid``: ``pid ppid state``."""
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            fields = (Path("/proc") / entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            found.append(f"{entry} {fields[1]} {fields[0]}")
    return found


def _depth(pgid: int) -> int:
    """How deep the command's process tree is (1: the command alone).

    3 under ``-j 2``: the forkserver's layer workers; 4: the coverage builder's
    forked workers under one of them.
    """
    parent = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            fields = (Path("/proc") / entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            parent[int(entry)] = int(fields[1])
    depth = 0
    for pid in parent:
        n = 1
        while pid != pgid and pid in parent:
            pid, n = parent[pid], n + 1
        depth = max(depth, n)
    return depth


def _sigint_blocked(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status").read_text()
    mask = int(re.search(r"^SigBlk:\s*([0-9a-f]+)$", status, re.M)[1], 16)  # type: ignore[index]
    return bool(mask >> (signal.SIGINT - 1) & 1)


def test_a_ctrl_c_cannot_reach_the_forkserver_or_its_workers() -> None:
    """SIGINT is blocked in the forkserver from its first instruction, so a Ctrl-C to the
    process group while it imports its modules prints no traceback; this process keeps it."""
    from multiprocessing import forkserver

    from twin._executors import open_executor

    with open_executor(2) as running:
        assert running.pool is not None
        worker = running.pool.submit(os.getpid).result()
        server = forkserver._forkserver._forkserver_pid
        assert server is not None
        assert _sigint_blocked(server) and _sigint_blocked(worker)
    assert not _sigint_blocked(os.getpid())


@pytest.mark.slow
def test_ctrl_c_at_any_moment_of_a_build(tmp_path: Path) -> None:
    """SIGINT at random moments of `twin build -j 2`, a third in the coverage step."""
    ws = tmp_path / "county"
    # no orthophoto: the builds below never reach it, and on a busy machine it took
    # most of the two minutes this setup may take
    made = _twin("demo", str(ws), "--resolution", "100", "--no-imagery", "-q", "-j", "2")
    assert made.returncode == 0, made.stderr
    catalog = ws / "build" / "catalog.json"
    exe = shutil.which("twin", path=str(Path(sys.executable).parent))
    assert exe is not None
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    rng = random.Random(14)
    interrupted = in_coverage = 0
    for attempt in range(30):
        before = catalog.read_bytes()
        proc = subprocess.Popen(
            [exe, "-w", str(ws), "build", "--force", "coverage", "-j", "2"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            start_new_session=True,  # its own process group: what is left of it can be found
        )
        _wait_until_handled(proc.pid)
        if attempt % 3 == 0:  # while coverage's forked workers sum the bands
            deadline = time.monotonic() + 20
            while _depth(proc.pid) < 4 and time.monotonic() < deadline:
                time.sleep(0.01)
            in_coverage += _depth(proc.pid) == 4
            time.sleep(rng.uniform(0.0, 0.3))
        else:
            time.sleep(rng.uniform(0.0, 2.5))
        sent = time.monotonic()
        # as a terminal does (the whole group), or to the command alone
        if attempt % 2:
            os.killpg(proc.pid, signal.SIGINT)
        else:
            proc.send_signal(signal.SIGINT)
        try:
            _, stderr = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            pytest.fail(f"attempt {attempt}: hung after SIGINT")
        took = time.monotonic() - sent
        assert _group(proc.pid) == [], f"attempt {attempt}: left behind"
        after = catalog.read_bytes()
        if proc.returncode == 0:  # done before the signal: a complete new build
            continue
        interrupted += 1
        assert proc.returncode == 130, f"attempt {attempt}: exit {proc.returncode}: {stderr!r}"
        # prompt, not a race: the build itself runs for many seconds; the bound leaves room
        # for a CI machine whose two cores are busy with other jobs
        assert took < 5.0, f"attempt {attempt}: {took:.2f} s to exit; stderr: {stderr!r}"
        said = INTERRUPTED.fullmatch(stderr.strip())
        assert said is not None, f"attempt {attempt}: {stderr!r}"
        if said["layers"] is None:
            assert after == before
        else:
            old, new = _versions(before), _versions(after)
            changed = {n for n in new if new[n] != old.get(n)}
            assert changed == set(said["layers"].split(", "))
            for name in changed:
                entry = json.loads(after)["layers"][name]
                assert (ws / "build" / entry["artifacts"]["data"]).is_file()
    assert interrupted >= 25 and in_coverage >= 8
