"""Imagery: orthophoto tiles from our server vs titiler with a MosaicJSON, and the mosaic build.

Workload: the demo county's orthophoto (``twin/demo/_ortho.py``: 16 sheets of about
1,700 x 1,700 px at 10 cm, 15 GeoTIFFs in EPSG:4549 and one JPEG + world file in
EPSG:4490, black collars), written by ``twin demo --no-build`` into
``benchmarks/out/imagery/ws`` and built with ``twin build ortho``. Both servers read
the same files: the layer's converted sheet COGs (EPSG:4549, JPEG inside, internal
masks, overviews). Ours finds them through the layer's index (and reads its overview
at small zooms); titiler.mosaic 2.4 (``MosaicTilerFactory`` with cogeo-mosaic 9's
``MosaicBackend``) through a MosaicJSON of those COGs made by cogeo-mosaic
(``MosaicJSON.from_urls``, z14-z22, quadkey zoom 14 by default, cogeo-mosaic's own
default for that minzoom: the 600 m of the demo's photo lie in one or two z14 quadkeys, so
each tile's asset list names (nearly) every sheet and titiler opens them, up to its thread
count at once, until the tile is full; ``--quadkey-zoom 18`` gives it finer lists).

Rows (``ours ÷ peer``: our speed over the peer's in the same round; > 1, ours is faster):

1. PNG tiles in three zoom bands (z14-16, z17-19, z20-22), one connection, one server
   process each, our tile cache off: **cold** is the first request of each tile after
   the server started (both servers are restarted every round), **warm** the same
   tiles again right after;
2. all the tiles, warm, 4 connections (``wrk``);
3. building the mosaic layer (``twin build ortho --force``, 2 converting workers):
   wall and CPU seconds per gigapixel of source sheets, and the peak memory of the build's
   process tree (the sum of its processes' proportional set sizes, PSS, so that pages the
   forked workers share with their parent count once; sampled every 0.2 s). No peer:
   titiler needs the COGs made beforehand.

Interleaved rounds (ours first in odd rounds, titiler first in even ones); medians with
min-max; the 1-minute load average before and after each round. Everything listens on
127.0.0.1 and stops by itself; every request and build is bounded in time.

Run (``make bench``, or)::

    .venv/bin/python benchmarks/bench_imagery.py [--quick] [--rounds N] [--tiles N]

Writes ``benchmarks/out/bench_imagery.md`` (and the raw values, ``bench_imagery.json``).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import peers
from tiles_table import Row, machine, spread

OUT = peers.OUT / "imagery"
WS = OUT / "ws"
BIN = peers.BIN
BANDS = {"z14–16": (14, 16), "z17–19": (17, 19), "z20–22": (20, 22)}

TITILER_MOSAIC_APP = """
import sys, warnings
warnings.simplefilter("ignore")
import uvicorn
from fastapi import FastAPI
from cogeo_mosaic.backends import MosaicBackend
from titiler.core.errors import DEFAULT_STATUS_CODES, add_exception_handlers
from titiler.mosaic.errors import MOSAIC_STATUS_CODES
from titiler.mosaic.factory import MosaicTilerFactory
app = FastAPI()
app.include_router(MosaicTilerFactory(backend=MosaicBackend).router)
add_exception_handlers(app, {**DEFAULT_STATUS_CODES, **MOSAIC_STATUS_CODES})
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""

Tile = tuple[int, int, int]
Got = dict[str, float]


def log(msg: str) -> None:
    print(f"[bench_imagery] {msg}", file=sys.stderr, flush=True)


def twin_cmd(*args: str) -> list[str]:
    return [str(BIN / "twin"), *args]


# -- preparation ------------------------------------------------------------------------------


def prepare(timeout: float) -> None:
    """The demo workspace's sources (orthophoto included) and one build of ``ortho``."""
    if not (WS / "twin.toml").exists():
        log("twin demo --no-build (the orthophoto's sheets) ...")
        peers.run_timed(
            twin_cmd("demo", str(WS), "--no-build", "--quiet"), timeout, peers.our_env()
        )
    if "ortho" not in _catalog().get("layers", {}):
        log("twin build ortho ...")
        peers.run_timed(
            twin_cmd("-w", str(WS), "build", "ortho", "--quiet"), timeout, peers.our_env()
        )


def _catalog() -> dict:
    path = WS / "build" / "catalog.json"
    return json.loads(path.read_text()) if path.exists() else {}


def ortho_files() -> tuple[list[Path], Path, tuple[float, float, float, float]]:
    """The layer's sheet COGs, its index and the WGS84 bounds of its image."""
    import geopandas as gpd

    entry = _catalog()["layers"]["ortho"]
    index_path = WS / "build" / entry["artifacts"]["index"]
    index = gpd.read_parquet(index_path)
    sheets = [index_path.parent / f for f in index["file"]]
    # the ground every sheet covers less the outer collars: 15 m inside the footprints' box
    x0, y0, x1, y1 = index.total_bounds
    inner = gpd.GeoSeries.from_xy([x0 + 15, x1 - 15], [y0 + 15, y1 - 15], crs=index.crs)
    lonlat = inner.to_crs(4326)
    return sheets, index_path, (lonlat.x[0], lonlat.y[0], lonlat.x[1], lonlat.y[1])


def mosaic_json(sheets: list[Path], quadkey_zoom: int) -> Path:
    """A MosaicJSON of ``sheets`` (cogeo-mosaic), z14-z22, its quadkeys at ``quadkey_zoom``."""
    from cogeo_mosaic.backends import MosaicBackend
    from cogeo_mosaic.mosaic import MosaicJSON

    path = OUT / f"ortho.q{quadkey_zoom}.mosaic.json"
    if path.exists() and path.stat().st_mtime > max(s.stat().st_mtime for s in sheets):
        return path
    log(f"cogeo-mosaic: a MosaicJSON of {len(sheets)} COGs ...")
    mosaic = MosaicJSON.from_urls(
        [str(s) for s in sheets], minzoom=14, maxzoom=22, quadkey_zoom=quadkey_zoom, quiet=True
    )
    path.unlink(missing_ok=True)
    with MosaicBackend(str(path), mosaic_def=mosaic) as backend:
        backend.write()
    return path


def pick_tiles(bounds: tuple[float, float, float, float], per_zoom: int, seed: int) -> list[Tile]:
    """Up to ``per_zoom`` Web Mercator tiles per zoom 14-22 wholly inside ``bounds``
    (at small zooms, where none fits, those that meet it)."""
    import morecantile

    tms = morecantile.tms.get("WebMercatorQuad")
    rng = random.Random(seed)
    out: list[Tile] = []
    for z in range(14, 23):
        tiles = list(tms.tiles(*bounds, zooms=[z]))
        inside = [
            t
            for t in tiles
            if (b := tms.bounds(t)).left >= bounds[0]
            and b.bottom >= bounds[1]
            and b.right <= bounds[2]
            and b.top <= bounds[3]
        ]
        pool = inside or tiles
        out += [(t.z, t.x, t.y) for t in rng.sample(pool, min(per_zoom, len(pool)))]
    rng.shuffle(out)
    return out


# -- the two servers --------------------------------------------------------------------------


def ours_server(port: int) -> tuple[list[str], dict[str, str]]:
    cmd = twin_cmd("-w", str(WS), "serve", "--host", "127.0.0.1", "--port", str(port), "-j", "1")
    return cmd, peers.our_env(TWIN_CACHE_MB="0")


def ours_path(t: Tile) -> str:
    return f"/tiles/ortho/{t[0]}/{t[1]}/{t[2]}.png"


def titiler_path(mosaic: Path) -> Callable[[Tile], str]:
    return lambda t: f"/tiles/WebMercatorQuad/{t[0]}/{t[1]}/{t[2]}.png?url={mosaic}"


def serve_and_fetch(
    cmd: list[str], env: dict[str, str] | None, port: int, paths: list[str], tiles: list[Tile]
) -> Got:
    """Start the server, GET every tile twice (cold, then warm; one connection), then ``wrk``
    at 4 connections: tiles/s per zoom band and temperature."""
    got: Got = {}
    # the probe is a tile none of the measured ones is (z13 over the area): nothing measured
    # was read before the cold pass
    probe = paths[0].replace(f"/{tiles[0][0]}/{tiles[0][1]}/{tiles[0][2]}.", "/13/0/0.")
    with peers.server(cmd, port, probe, env):
        for temp in ("cold", "warm"):
            seconds: dict[str, float] = dict.fromkeys(BANDS, 0.0)
            counts: dict[str, int] = dict.fromkeys(BANDS, 0)
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            try:
                for t, path in zip(tiles, paths, strict=True):
                    t0 = time.perf_counter()
                    status, _ = peers.get(port, path, conn)
                    dt = time.perf_counter() - t0
                    if status != 200:
                        raise RuntimeError(f"{path}: HTTP {status}")
                    band = next(b for b, (lo, hi) in BANDS.items() if lo <= t[0] <= hi)
                    seconds[band] += dt
                    counts[band] += 1
            finally:
                conn.close()
            for band in BANDS:
                if counts[band]:
                    got[f"{band}-{temp}"] = counts[band] / seconds[band]
        got["wrk4"] = peers.wrk(port, paths, 4, ARGS.duration)
    return got


# -- the build --------------------------------------------------------------------------------


def build_once(timeout: float) -> tuple[float, float, float]:
    """``twin build ortho --force``: wall s, CPU s, peak memory (MiB, PSS) of its process
    tree."""
    import psutil

    before = os.times()
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        twin_cmd("-w", str(WS), "build", "ortho", "--force", "--quiet"),
        env=peers.our_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        root = psutil.Process(proc.pid)
        while not done.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
                rss = 0
                for p in procs:
                    with contextlib.suppress(psutil.Error):
                        rss += _pss(p)
                peak = max(peak, rss)
            except psutil.Error:
                pass
            done.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        proc.wait()
        raise RuntimeError(f"twin build ortho took more than {timeout:.0f} s") from None
    finally:
        done.set()
        sampler.join()
    wall = time.perf_counter() - t0
    after = os.times()
    if proc.returncode != 0:
        raise RuntimeError(f"twin build ortho exited {proc.returncode}: {err.decode()[-200:]}")
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    return wall, cpu, peak / 2**20


def _pss(p: object) -> int:
    """Proportional set size (shared pages split between the processes sharing them: the
    forked workers share the parent's), else RSS."""
    try:
        return int(p.memory_full_info().pss)  # type: ignore[attr-defined]
    except AttributeError:
        return int(p.memory_info().rss)  # type: ignore[attr-defined]


def source_gigapixels() -> float:
    import rasterio

    total = 0
    for f in sorted((WS / "sources" / "ortho").iterdir()):
        if f.suffix.lower() in (".tif", ".jpg"):
            with rasterio.open(f) as src:
                total += src.width * src.height
    return total / 1e9


# -- rounds and the table ---------------------------------------------------------------------


def rows() -> dict[str, Row]:
    peer = "titiler.mosaic 2.4 + cogeo-mosaic 9 (MosaicJSON), 1 process"
    ours = "`twin serve -j 1`, cache off"
    r: dict[str, Row] = {}
    for band in BANDS:
        for temp in ("cold", "warm"):
            r[f"{band}-{temp}"] = Row(
                f"PNG tiles {band}, {temp}, 1 connection", peer, ours, "tiles/s"
            )
    r["wrk4"] = Row("PNG tiles z14–22, warm, 4 connections", peer, ours, "tiles/s")
    return r


def main() -> int:
    global ARGS
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--tiles", type=int, default=25, help="tiles per zoom, z14-z22")
    p.add_argument("--builds", type=int, default=2, help="builds of the mosaic layer")
    p.add_argument("--duration", type=float, default=10.0, help="wrk seconds")
    p.add_argument(
        "--quadkey-zoom",
        type=int,
        default=14,
        help="the MosaicJSON's quadkey zoom (cogeo-mosaic's default: its minzoom, 14)",
    )
    p.add_argument("--timeout", type=float, default=1200.0, help="per build or preparation, s")
    p.add_argument("--quick", action="store_true", help="one round, 8 tiles per zoom, one build")
    ARGS = args = p.parse_args()
    if args.quick:
        args.rounds, args.tiles, args.builds, args.duration = 1, 8, 1, 5.0
    OUT.mkdir(parents=True, exist_ok=True)
    prepare(args.timeout)
    sheets, _, bounds = ortho_files()
    mosaic = mosaic_json(sheets, args.quadkey_zoom)
    tiles = pick_tiles(bounds, args.tiles, seed=22)
    log(f"workload: {len(sheets)} sheet COGs, {len(tiles)} tiles z14–z22")
    table = rows()
    loads: list[tuple[float, float]] = []
    for k in range(args.rounds):
        before = os.getloadavg()[0]
        got: dict[str, Got] = {}
        sides: list[tuple[str, Callable[[], Got]]] = [
            ("ours", lambda: serve_and_fetch(*_ours(), [ours_path(t) for t in tiles], tiles)),
            ("peer", lambda: _titiler(mosaic, tiles)),
        ]
        for side, fn in sides if k % 2 == 0 else sides[::-1]:
            try:
                got[side] = fn()
            except Exception as exc:  # a failing side leaves a note, the round goes on
                why = f"unavailable: {str(exc).strip().splitlines()[-1][:150]}"
                log(f"round {k + 1} {side}: {why}")
                for row in table.values():
                    row.notes.setdefault(side, why)
                got[side] = {}
        for key, row in table.items():
            o, q = got["ours"].get(key), got["peer"].get(key)
            if o is not None:
                row.our_vals.append(o)
            if q is not None:
                row.peer_vals.append(q)
            if o and q:
                row.ratios.append(o / q)
            log(f"round {k + 1} {key}: ours {o} peer {q}")
        loads.append((before, os.getloadavg()[0]))
    gpx = source_gigapixels()
    builds = []
    for _ in range(args.builds):
        before = os.getloadavg()[0]
        try:
            builds.append(build_once(args.timeout))
            log(f"build: {builds[-1]}")
        except RuntimeError as exc:
            log(f"build: {exc}")
        loads.append((before, os.getloadavg()[0]))
    text = report(table, builds, gpx, len(sheets), len(tiles), loads, args)
    (peers.OUT / "bench_imagery.md").write_text(text)
    raw = {k: {"ours": r.our_vals, "peer": r.peer_vals} for k, r in table.items()}
    raw["build"] = {"wall_cpu_peakmib": builds, "gigapixels": gpx}  # type: ignore[dict-item]
    (peers.OUT / "bench_imagery.json").write_text(json.dumps(raw, indent=1))
    print(text)
    return 0


def _ours() -> tuple[list[str], dict[str, str], int]:
    port = peers.free_port()
    cmd, env = ours_server(port)
    return cmd, env, port


def _titiler(mosaic: Path, tiles: list[Tile]) -> Got:
    port = peers.free_port()
    cmd = [sys.executable, "-c", TITILER_MOSAIC_APP, str(port)]
    path = titiler_path(mosaic)
    return serve_and_fetch(cmd, None, port, [path(t) for t in tiles], tiles)


def report(
    table: dict[str, Row],
    builds: list[tuple[float, float, float]],
    gpx: float,
    n_sheets: int,
    n_tiles: int,
    loads: list[tuple[float, float]],
    args: argparse.Namespace,
) -> str:
    lines = [
        f"Machine: {machine()}. Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: "
        f"{args.rounds} interleaved round(s) of {n_tiles} tiles z14–z22 over the demo's "
        f"orthophoto ({n_sheets} sheet COGs, {gpx * 1000:.0f} megapixels of source sheets), "
        f"wrk {args.duration:.0f} s; MosaicJSON quadkey zoom {args.quadkey_zoom}; "
        f"{len(builds)} build(s).",
        "",
        "1-minute load average before → after each round, then each build: "
        + ", ".join(f"{b:.2f} → {a:.2f}" for b, a in loads),
        "",
        "| workload | peer | peer | ours | ours | ours ÷ peer |",
        "|---|---|---:|---|---:|---:|",
    ]
    for row in table.values():
        peer = row.notes.get("peer") or spread(row.peer_vals, row.unit, 1)
        ours = row.notes.get("ours") or spread(row.our_vals, row.unit, 1)
        ratio = spread(row.ratios, "", 2) if row.ratios else "—"
        lines.append(f"| {row.workload} | {row.peer} | {peer} | {row.ours} | {ours} | {ratio} |")
    if builds:
        wall = [b[0] / gpx for b in builds]
        cpu = [b[1] / gpx for b in builds]
        peak = [b[2] for b in builds]
        lines.append(
            "| mosaic layer build (`twin build ortho --force`, 2 workers) | — (titiler reads "
            "COGs made beforehand) | — | per gigapixel of sheets | "
            f"{spread(wall, 's', 0)} wall, {spread(cpu, 's', 0)} CPU; peak memory (PSS) "
            f"{spread(peak, 'MiB', 0)} | — |"
        )
    return "\n".join(lines) + "\n"


ARGS: argparse.Namespace

if __name__ == "__main__":
    raise SystemExit(main())
