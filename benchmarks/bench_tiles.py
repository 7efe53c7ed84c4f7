"""Tiles: our server, encoder and export side by side with the peers, in one run.

The table of issue 16, measured in interleaved rounds (ours first in odd rounds,
the peers first in even ones) on the workload of ``tiles_workload.py``: real
Helsinki OSM roads, the demo county's 137 village polygons and 10,000 enterprise
points, ``--tiles`` composite vector tiles z10-z16 and ``--raster-tiles`` DEM tiles
z10-z14. Rows (``ours ÷ peer`` is always our speed over the peer's, > 1: ours faster):

1. a 3-layer tile built per request: our server over HTTP, tile cache off, 1 and 2
   workers (``twin serve -j``), with ``wrk`` at as many connections, and at 64; vs
   PostGIS ``ST_AsMVT`` of the same layers in one statement (encoder only, no HTTP:
   psycopg clients on a unix socket, 1 and 2 threads; 64 connections are compared
   with 2 threads, as many as the cores);
2. cached tiles at 1/16/64 connections: our server with its default workers and tile
   cache, warmed, vs TileServer GL light (npm) serving an MBTiles of the same tiles
   (the bytes our server answered);
3. archive serving, cache off, 1/16/64: our server composing the tile from the
   layers' PMTiles (``twin export`` z0-z16) vs TileServer GL light, PMTiles;
4. generation of one archive of the 3 layers, z0-z14 and z0-z16: ``twin export
   villages,roads,enterprises`` (or, while the CLI exports one layer at a time, one
   export per layer, so labelled) vs tippecanoe 2.72 keep-all
   (``--no-feature-limit --no-tile-size-limit -r1``) and default; wall time;
5. raster PNG tiles, cache off, 1/4 connections: our server vs a titiler.core 2.4
   ``TilerFactory`` app, with the DEM COG in EPSG:4549 and the same DEM in a
   workspace in EPSG:3857;
6. CLI start-up: ``twin --help`` and ``twin export`` of a 10-point layer at z0 (best
   of 3 per round), against the 0.5 s goal; this checkout's modules byte-compiled
   first, as an installed package's are (run with ``PYTHONDONTWRITEBYTECODE``, a
   checkout would compile them again at every start: some 0.1 s of an export).

Each row shows the median over rounds and the min-max; the machine line gives the
CPU, the cores and the 1-minute load average before and after each round. A peer
that cannot be installed or run shows as "unavailable: <why>". Everything listens
on 127.0.0.1, every run is bounded in time, and servers and the PostgreSQL cluster
are stopped at the end. Our processes run this checkout's code (``PYTHONPATH``).

Run (``make bench``, or)::

    .venv/bin/python benchmarks/bench_tiles.py [--quick] [--rounds N]

Writes ``benchmarks/out/bench_tiles.md`` (and the raw values, ``bench_tiles.json``).
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# the helper modules next to this file, and this checkout's packages before any installed ones
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import peers
import tiles_workload as wl
from peers import log
from tiles_table import GOAL_CLI_S, Row, report, rows

OUT = wl.OUT
COMPOSITE = ",".join(wl.VECTOR)


# -- preparation (once, before the rounds) -----------------------------------------------------


@dataclass
class Context:
    args: argparse.Namespace
    table: dict[str, Row]
    vector: list[wl.Tile]
    raster: list[wl.Tile]
    archives_catalog: Path
    tsgl_archives: dict[str, Path]
    pg: peers.PostGIS | None
    pg_error: str
    multi_export: bool
    round_no: int = 0


def twin_cmd(*args: str) -> list[str]:
    return [str(wl.BIN / "twin"), *args]


def serve_cmd(port: int, workspace: Path | None = None, *options: str) -> list[str]:
    """``twin serve`` on 127.0.0.1:``port`` (``options`` after ``serve``)."""
    ws = ["-w", str(workspace)] if workspace is not None else []
    return twin_cmd(*ws, "serve", "--host", "127.0.0.1", "--port", str(port), *options)


def vector_paths(tiles: list[wl.Tile]) -> list[str]:
    return [f"/tiles/{COMPOSITE}/{z}/{x}/{y}.mvt" for z, x, y in tiles]


def archives_catalog(timeout: float) -> Path:
    """The workspace's catalog with each vector layer's z0-z16 PMTiles (``twin export``)."""
    cat = json.loads((wl.WS / "build" / "catalog.json").read_text())
    folder = OUT / "serve"
    folder.mkdir(parents=True, exist_ok=True)
    for name, entry in cat["layers"].items():
        entry["artifacts"] = {k: str(wl.WS / "build" / v) for k, v in entry["artifacts"].items()}
        if name not in wl.VECTOR:
            continue
        archive = folder / f"{name}.pmtiles"
        if (
            not archive.exists()
            or archive.stat().st_mtime < Path(entry["artifacts"]["data"]).stat().st_mtime
        ):
            log(f"twin export {name} z0-z16 (the archive our server composes from) ...")
            peers.run_timed(
                twin_cmd(
                    "-w",
                    str(wl.WS),
                    "export",
                    name,
                    "-f",
                    "pmtiles",
                    "--minzoom",
                    "0",
                    "--maxzoom",
                    "16",
                    "-o",
                    str(archive),
                    "-q",
                ),
                timeout,
                peers.our_env(),
            )
        entry["artifacts"]["pmtiles"] = str(archive)
    path = folder / "catalog-archives.json"
    path.write_text(json.dumps(cat))
    return path


def same_tiles(tiles: list[wl.Tile]) -> tuple[list[wl.Tile], dict[str, Path]]:
    """Our server's answers for ``tiles``, stored as an MBTiles and a PMTiles for TileServer GL.

    Tiles our server answers as empty are dropped from the workload (TileServer GL
    would answer them 404, which ``wrk`` counts as errors).
    """
    from tiles.mbtiles import MBTilesWriter
    from tiles.pmtiles import zxy_to_tileid
    from tiles.pmtiles_write import PMTilesWriter

    port = peers.free_port()
    paths = vector_paths(tiles)
    with peers.server(serve_cmd(port, wl.WS), port, paths[0], peers.our_env(TWIN_CACHE_MB="0")):
        answers = peers.fetch_all(port, paths)
    kept = [
        (t, body)
        for t, (status, body) in zip(tiles, answers, strict=True)
        if status == 200 and body
    ]
    if len(kept) < len(tiles):
        log(f"{len(tiles) - len(kept)} of {len(tiles)} tiles are empty for our server: left out")
    folder = OUT / "serve"
    mb, pm = folder / "same.mbtiles", folder / "same.pmtiles"
    mb.unlink(missing_ok=True)
    pm.unlink(missing_ok=True)
    zooms = [t[0] for t, _ in kept]
    bounds = (119.0, 30.0, 121.0, 31.0)  # only a hint for viewers; the tiles are what counts
    meta = {"vector_layers": [{"id": n, "fields": {}} for n in wl.VECTOR]}
    mbw = MBTilesWriter(mb)
    pmw = PMTilesWriter(pm)
    for (z, x, y), body in sorted(kept, key=lambda tb: zxy_to_tileid(*tb[0])):
        mbw.add(z, x, y, body)
        pmw.add(zxy_to_tileid(z, x, y), body)
    mbw.finish("same", min(zooms), max(zooms), bounds, meta)
    pmw.finish(meta, min(zooms), max(zooms), bounds)
    return [t for t, _ in kept], {"mb": mb, "pm": pm}


def multi_layer_export(timeout: float) -> bool:
    """Whether ``twin export a,b,c`` writes one archive holding the three layers."""
    from tiles.pmtiles import PMTilesReader

    out = OUT / "gen" / "probe.pmtiles"
    out.unlink(missing_ok=True)
    try:
        peers.run_timed(
            twin_cmd(
                "-w",
                str(wl.WS),
                "export",
                COMPOSITE,
                "-f",
                "pmtiles",
                "--minzoom",
                "0",
                "--maxzoom",
                "0",
                "-o",
                str(out),
                "-q",
            ),
            timeout,
            peers.our_env(),
        )
        reader = PMTilesReader(str(out))
        layers = {v["id"] for v in reader.metadata().get("vector_layers", [])}
        reader.close()
        return layers == set(wl.VECTOR)
    except Exception:
        return False


def prepare(args: argparse.Namespace) -> Context:
    wl.ensure_workspaces(args.timeout)
    vector = wl.vector_tiles(args.tiles)
    raster = wl.raster_tiles(args.raster_tiles)
    catalog = archives_catalog(args.timeout)
    vector, tsgl = same_tiles(vector)
    for layer in wl.VECTOR:
        wl.geojsonseq(layer)
    multi = multi_layer_export(args.timeout)
    if not multi:
        log("twin export takes one layer: generation is timed as one export per layer")
    pg: peers.PostGIS | None = None
    pg_error = "not measured (--only)"
    if "otf" in args.only:  # started last: nothing after it can fail and leave it running
        pg = peers.PostGIS()
        try:
            pg.start()
            pg.load({n: wl.artifact(wl.WS, n) for n in wl.VECTOR})
            size = pg.encode(vector)
            log(f"PostGIS: {len(vector)} composite tiles, {size / 1e6:.1f} MB")
        except BaseException as exc:  # a peer that is missing is reported, not fatal
            pg.stop()
            pg = None
            if not isinstance(exc, Exception):
                raise
            pg_error = f"unavailable: {str(exc).splitlines()[0][:150]}"
    log(f"workload: {len(vector)} vector tiles, {len(raster)} raster tiles")
    return Context(args, rows(), vector, raster, catalog, tsgl, pg, pg_error, multi)


# -- the groups of a round -----------------------------------------------------------------------

Got = dict[str, float]
Side = Callable[[Got], None]  # fills in the values of its rows as it measures them


def measure(ctx: Context, keys: list[str], ours: Side, peer: Side, ours_first: bool) -> None:
    """Run both sides in this round's order and put their values into the table's rows.

    A side that fails keeps what it measured before and leaves a note on the rest.
    """
    got: dict[str, Got] = {"ours": {}, "peer": {}}
    order = [("ours", ours), ("peer", peer)]
    for side, fn in order if ours_first else order[::-1]:
        try:
            fn(got[side])
        except Exception as exc:  # one failing side leaves a note, the round goes on
            why = f"unavailable: {str(exc).strip().splitlines()[-1][:150]}"
            log(f"round {ctx.round_no} {side}: {why}")
            for k in keys:
                if k not in got[side]:
                    ctx.table[k].notes[side] = why
    for k in keys:
        row = ctx.table[k]
        o, p = got["ours"].get(k), got["peer"].get(k)
        if o is not None:
            row.our_vals.append(o)
        if p is not None:
            row.peer_vals.append(p)
        if o and p:
            row.ratios.append(row.speed_ratio(o, p))
        log(f"round {ctx.round_no} {k}: ours {o} peer {p}")


def wrk_series(
    got: Got, port: int, paths: list[str], conns: dict[str, int], warmup: float, duration: float
) -> None:
    """A warm-up ``wrk`` run at the most connections (not counted), then one run per entry."""
    peers.wrk(port, paths, max(conns.values()), warmup, warmup=True)
    for k, c in conns.items():
        got[k] = peers.wrk(port, paths, c, duration)


def on_the_fly(ctx: Context, ours_first: bool) -> None:
    a = ctx.args
    paths = vector_paths(ctx.vector)

    def ours(got: Got) -> None:
        for workers in (1, 2):
            port = peers.free_port()
            cmd = serve_cmd(port, wl.WS, "--workers", str(workers))
            with peers.server(cmd, port, paths[0], peers.our_env(TWIN_CACHE_MB="0")):
                conns = {f"otf{workers}": workers, f"otf64w{workers}": 64}
                wrk_series(got, port, paths, conns, a.warmup, a.duration)

    def peer(got: Got) -> None:
        if ctx.pg is None:
            raise RuntimeError(ctx.pg_error)
        got["otf1"] = ctx.pg.rate(ctx.vector, 1, a.duration)
        two = ctx.pg.rate(ctx.vector, 2, a.duration)
        got.update(otf2=two, otf64w1=two, otf64w2=two)  # 2 threads: as many as the cores

    measure(ctx, ["otf1", "otf2", "otf64w1", "otf64w2"], ours, peer, ours_first)


def served(ctx: Context, ours_first: bool) -> None:
    """Cached and archive tiles: our two set-ups vs one TileServer GL serving both archives."""
    a = ctx.args
    paths = vector_paths(ctx.vector)
    conns = (1, 16, 64)

    def ours(got: Got) -> None:
        port = peers.free_port()
        with peers.server(serve_cmd(port, wl.WS), port, paths[0], peers.our_env()):
            peers.fetch_all(port, paths)  # every tile once, then wrk's warm-up for every worker
            series = {f"cached{c}": c for c in conns}
            wrk_series(got, port, paths, series, a.warmup, a.duration)
        port = peers.free_port()
        cmd = serve_cmd(port, None, "--catalog", str(ctx.archives_catalog))
        with peers.server(cmd, port, paths[0], peers.our_env(TWIN_CACHE_MB="0")):
            series = {f"archive{c}": c for c in conns}
            wrk_series(got, port, paths, series, a.warmup, a.duration)

    def peer(got: Got) -> None:
        port = peers.free_port()
        tsgl = {
            k: [f"/data/{k}/{z}/{x}/{y}.pbf" for z, x, y in ctx.vector] for k in ctx.tsgl_archives
        }
        with peers.server(peers.tileserver_gl(ctx.tsgl_archives, port), port, tsgl["mb"][0]):
            for key, kind in (("mb", "cached"), ("pm", "archive")):
                series = {f"{kind}{c}": c for c in conns}
                wrk_series(got, port, tsgl[key], series, a.warmup, a.duration)

    keys = [f"{kind}{c}" for kind in ("cached", "archive") for c in conns]
    measure(ctx, keys, ours, peer, ours_first)


def raster(ctx: Context, ours_first: bool) -> None:
    a = ctx.args
    band = json.loads((wl.WS / "build" / "catalog.json").read_text())["layers"]["dem"]["bands"][0]
    q = f"colormap_name=terrain&rescale={float(band['min']):.1f},{float(band['max']):.1f}"
    tiles = ctx.raster
    spaces = {"4549": wl.WS, "3857": wl.WS3857}

    def ours(got: Got) -> None:
        paths = [f"/tiles/dem/{z}/{x}/{y}.png?{q}" for z, x, y in tiles]
        for crs, ws in spaces.items():
            port = peers.free_port()
            env = peers.our_env(TWIN_CACHE_MB="0")
            with peers.server(serve_cmd(port, ws), port, paths[0], env):
                conns = {f"raster{crs}c{c}": c for c in (1, 4)}
                wrk_series(got, port, paths, conns, a.warmup / 2, a.duration)

    def peer(got: Got) -> None:
        port = peers.free_port()
        first = f"/tiles/WebMercatorQuad/{tiles[0][0]}/{tiles[0][1]}/{tiles[0][2]}.png"
        probe = f"{first}?url={wl.artifact(wl.WS, 'dem')}&{q}"
        with peers.server(peers.titiler(port), port, probe):
            for crs, ws in spaces.items():
                cog = wl.artifact(ws, "dem")
                paths = [
                    f"/tiles/WebMercatorQuad/{z}/{x}/{y}.png?url={cog}&{q}" for z, x, y in tiles
                ]
                conns = {f"raster{crs}c{c}": c for c in (1, 4)}
                wrk_series(got, port, paths, conns, a.warmup / 2, a.duration)

    measure(ctx, [f"raster{crs}c{c}" for crs in spaces for c in (1, 4)], ours, peer, ours_first)


def _export(hi: int, layers: str, out: Path, timeout: float) -> float:
    """Wall seconds of ``twin export LAYERS -f pmtiles`` z0-``hi``."""
    cmd = twin_cmd("-w", str(wl.WS), "export", layers, "-f", "pmtiles", "--minzoom", "0")
    return peers.run_timed(
        [*cmd, "--maxzoom", str(hi), "-o", str(out), "-q"], timeout, peers.our_env()
    )[0]


def generation(ctx: Context, ours_first: bool) -> None:
    a = ctx.args
    gen = OUT / "gen"
    modes = {"keep-all": ["--no-feature-limit", "--no-tile-size-limit", "-r1"], "default": []}

    def ours(got: Got) -> None:
        for hi in (14, 16):
            if ctx.multi_export:
                out = gen / f"ours.z{hi}.pmtiles"
                wall, size = _export(hi, COMPOSITE, out, a.timeout), out.stat().st_size
            else:  # one archive per layer, timed one after another
                wall, size = 0.0, 0
                for layer in wl.VECTOR:
                    out = gen / f"ours.{layer}.z{hi}.pmtiles"
                    wall += _export(hi, layer, out, a.timeout)
                    size += out.stat().st_size
            for mode in modes:
                got[f"gen{hi}{mode}"] = wall
                ctx.table[f"gen{hi}{mode}"].notes.setdefault("ours size", f"{size / 1e6:.1f} MB")

    def peer(got: Got) -> None:
        exe = peers.tippecanoe()
        inputs = [f"-L{n}:{wl.geojsonseq(n)}" for n in wl.VECTOR]
        for hi in (14, 16):
            for mode, flags in modes.items():
                out = gen / f"tippecanoe.{mode}.z{hi}.pmtiles"
                cmd = [exe, "-o", str(out), "-Z0", f"-z{hi}", "--force", "--quiet", *flags, *inputs]
                got[f"gen{hi}{mode}"] = peers.run_timed(cmd, a.timeout)[0]
                size = f"{out.stat().st_size / 1e6:.1f} MB"
                ctx.table[f"gen{hi}{mode}"].notes.setdefault("peer size", size)

    keys = [f"gen{hi}{mode}" for hi in (14, 16) for mode in modes]
    measure(ctx, keys, ours, peer, ours_first)


def cli(ctx: Context, ours_first: bool) -> None:
    for package in ("twin", "tiles", "layers"):  # as pip compiles an installed package
        compileall.compile_dir(wl.ROOT / package, quiet=1)
    tiny = twin_cmd("-w", str(wl.WS), "export", "tiny", "-f", "pmtiles", "--minzoom", "0")
    runs = {
        "cli_help": twin_cmd("--help"),
        "cli_export": [*tiny, "--maxzoom", "0", "-o", str(OUT / "gen" / "tiny.pmtiles"), "-q"],
    }

    def ours(got: Got) -> None:
        for k, cmd in runs.items():
            got[k] = min(peers.run_timed(cmd, 120, peers.our_env())[0] for _ in range(3))

    def goal(got: Got) -> None:
        got.update(dict.fromkeys(runs, GOAL_CLI_S))

    measure(ctx, list(runs), ours, goal, ours_first)


GROUPS = {"otf": on_the_fly, "serve": served, "raster": raster, "gen": generation, "cli": cli}
#: the rows of each group, by key prefix
PREFIXES = {
    "otf": ("otf",),
    "serve": ("cached", "archive"),
    "raster": ("raster",),
    "gen": ("gen",),
    "cli": ("cli",),
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--rounds", type=int, default=3, help="interleaved rounds (at least 3 for a spread)"
    )
    p.add_argument("--tiles", type=int, default=500, help="composite vector tiles, z10-z16")
    p.add_argument("--raster-tiles", type=int, default=300, help="DEM tiles, z10-z14")
    p.add_argument("--duration", type=float, default=8.0, help="seconds of each measured run")
    p.add_argument(
        "--warmup", type=float, default=3.0, help="seconds of wrk before a server's runs"
    )
    p.add_argument("--timeout", type=float, default=900.0, help="bound of each build or export")
    p.add_argument("--only", nargs="*", default=list(GROUPS), choices=list(GROUPS))
    p.add_argument(
        "--quick", action="store_true", help="a smoke run: 1 round, fewer tiles, short runs"
    )
    args = p.parse_args()
    if args.quick:
        args.rounds, args.tiles, args.raster_tiles, args.duration, args.warmup = (
            1,
            100,
            60,
            3.0,
            1.0,
        )
    ctx = prepare(args)
    if not ctx.multi_export:
        for hi in (14, 16):
            for mode in ("keep-all", "default"):
                ctx.table[
                    f"gen{hi}{mode}"
                ].ours = "3 × `twin export` (one per layer: no multi-layer export yet)"
    keep = tuple(k for g in args.only for k in PREFIXES[g])
    ctx.table = {k: r for k, r in ctx.table.items() if k.startswith(keep)}
    loads: list[tuple[float, float]] = []
    try:
        for r in range(args.rounds):
            ctx.round_no = r + 1
            before = os.getloadavg()[0]
            log(f"round {r + 1} of {args.rounds}, load {before:.2f}")
            for name in args.only:
                GROUPS[name](ctx, ours_first=r % 2 == 0)
            loads.append((before, os.getloadavg()[0]))
    finally:
        if ctx.pg is not None:
            ctx.pg.stop()
    info = (
        f"Workload: {len(ctx.vector)} composite tiles z10–z16 (villages, roads, enterprises), "
        f"{len(ctx.raster)} DEM tiles z10–z14."
    )
    text = report(ctx.table, loads, args, info)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "bench_tiles.md").write_text(text)
    raw = {k: vars(r) for k, r in ctx.table.items()}
    (OUT / "bench_tiles.json").write_text(json.dumps({"loads": loads, "rows": raw}, indent=1))
    print(text)


if __name__ == "__main__":
    main()
