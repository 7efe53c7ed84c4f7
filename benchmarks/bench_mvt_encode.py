"""The on-the-fly vector tile encoder alone: ours (two checkouts) vs PostGIS ``ST_AsMVT``.

The workload of issue 16: real Helsinki OSM roads (``tests/data/Helsinki.osm.pbf``,
every highway, 1 x 1.7 km), 137 polygons (Voronoi cells) and 10,000 points over
a 20 km square around them, cut into 3-layer tiles at z10-z16: ``spread`` is
500 tiles sampled evenly from all of them (mostly z15-z16, a few features
each), ``dense`` the 42 tiles over the roads (up to every road and a few
thousand points in one tile), requests cycling through them. Each request
is what the server does for a composite tile without HTTP: query the spatial
index of each layer, clip,
simplify, snap, encode the layers, and gzip the tile.

Checkouts are compared in fresh processes, interleaved round by round, so a
noisy shared machine hits them alike; each round reports wall and CPU time.
PostGIS (a throwaway cluster from ``bench_tiles.PostGIS``) answers the same
tiles with one query of three ``ST_AsMVT`` over ``ST_AsMVTGeom``, 4096 extent
and a 64 unit buffer, from 1 and 2 connections.

Run::

    .venv/bin/python benchmarks/bench_mvt_encode.py [--base DIR] [--rounds 3] [--requests 500]

``--base`` is a copy of an older checkout (``git archive REV tiles layers twin | tar -x -C DIR``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out" / "mvt_encode"
HELSINKI = ROOT / "tests" / "data" / "Helsinki.osm.pbf"
LAYERS = ("roads", "villages", "points")


def log(msg: str) -> None:
    print(f"[bench_mvt_encode] {msg}", file=sys.stderr, flush=True)


def prepare() -> dict[str, list[tuple[int, int, int]]]:
    """Write the three GeoParquet layers and the tile lists (once)."""
    tiles_json = OUT / "tiles.json"
    if tiles_json.exists():
        return json.loads(tiles_json.read_text())
    import geopandas as gpd
    import numpy as np
    import shapely

    from layers.roads import read_osm_roads

    OUT.mkdir(parents=True, exist_ok=True)
    roads = read_osm_roads(HELSINKI, network="all").edges
    crs = roads.crs
    rx0, ry0, rx1, ry1 = roads.total_bounds
    cx, cy = (rx0 + rx1) / 2, (ry0 + ry1) / 2
    x0, y0, x1, y1 = cx - 10_000, cy - 10_000, cx + 10_000, cy + 10_000
    roads.to_parquet(OUT / "roads.parquet")
    rng = np.random.default_rng(16)
    seeds = shapely.multipoints(rng.uniform((x0, y0), (x1, y1), size=(137, 2)))
    area = shapely.box(x0, y0, x1, y1)
    cells = shapely.get_parts(shapely.voronoi_polygons(seeds, extend_to=area))
    cells = shapely.clip_by_rect(cells, x0, y0, x1, y1)
    n = len(cells)
    gpd.GeoDataFrame(
        {
            "name": [f"村{i:03d}" for i in range(n)],
            "population": rng.integers(100, 5000, n),
            "share_5g": rng.uniform(0, 1, n).round(3),
        },
        geometry=cells,
        crs=crs,
    ).to_parquet(OUT / "villages.parquet")
    xy = rng.uniform((x0, y0), (x1, y1), size=(10_000, 2))
    kinds = np.array(["shop", "school", "clinic", "factory", "farm"])
    gpd.GeoDataFrame(
        {
            "kind": kinds[rng.integers(0, len(kinds), len(xy))],
            "staff": rng.integers(1, 300, len(xy)),
            "score": rng.uniform(0, 100, len(xy)).round(1),
        },
        geometry=shapely.points(xy),
        crs=crs,
    ).to_parquet(OUT / "points.parquet")
    import morecantile

    tms = morecantile.tms.get("WebMercatorQuad")

    def tiles_over(box: tuple[float, float, float, float]) -> list[tuple[int, int, int]]:
        lonlat = gpd.GeoSeries([shapely.box(*box)], crs=crs).to_crs(4326).total_bounds
        return [(t.z, t.x, t.y) for z in range(10, 17) for t in tms.tiles(*lonlat, [z])]

    spread = tiles_over((x0, y0, x1, y1))
    lists = {
        "spread": spread[:: max(1, len(spread) // 500)][:500],
        "dense": tiles_over((rx0, ry0, rx1, ry1)),
    }
    tiles_json.write_text(json.dumps(lists))
    return lists


CHILD = textwrap.dedent(
    """
    import gzip, json, sys, time
    from tiles.grids import get_grid
    from tiles import mvt
    from tiles.mvt import encode_tile
    from tiles.vector import load_source
    out, requests = sys.argv[1], json.loads(sys.argv[2])
    t_import = time.perf_counter()
    grid = get_grid("WebMercatorQuad")
    names = ("roads", "villages", "points")
    sources = [load_source(f"{out}/{n}.parquet", n, "v", grid) for n in names]
    compress = getattr(mvt, "gzip_tile", None) or (
        lambda b: gzip.compress(b, compresslevel=6, mtime=0))
    def one(z, x, y):
        bounds = grid.tile_bounds(z, x, y)
        body = b"".join(encode_tile([s.layer(bounds, 4096, 64, 1.0, s.name)]) for s in sources)
        return compress(body) if body else b""
    t0 = time.perf_counter()
    one(*requests[0])
    first = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), time.process_time()
    size = 0
    for z, x, y in requests:
        size += len(one(z, x, y))
    print(json.dumps({"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0,
                      "n": len(requests), "bytes": size, "first": first}))
    """
)


def run_ours(path: Path, requests: list[tuple[int, int, int]]) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(path), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(OUT), json.dumps(requests)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=900,
        cwd=OUT,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def postgis_sql(columns: dict[str, list[str]]) -> str:
    parts = []
    for layer in LAYERS:
        props = "".join(f', "{c}"' for c in columns[layer])
        parts.append(
            f"(SELECT ST_AsMVT(q, '{layer}', 4096, 'geom', 'id') FROM ("
            f"SELECT id{props}, ST_AsMVTGeom(geom, ST_TileEnvelope(%(z)s, %(x)s, %(y)s),"
            f' 4096, 64, true) AS geom FROM "{layer}"'
            " WHERE geom && ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => 64.0 / 4096)) q)"
        )
    return "SELECT " + " || ".join(parts)


def load_postgis(pg, conn) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    import geopandas as gpd
    import pandas as pd
    import shapely

    columns = {}
    for layer in LAYERS:
        gdf = gpd.read_parquet(OUT / f"{layer}.parquet").to_crs(3857)
        cols, defs = [], []
        for c in gdf.columns:
            if c in (gdf.geometry.name, "id"):
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
        conn.execute(f'DROP TABLE IF EXISTS "{layer}"')
        conn.execute(f'CREATE TABLE "{layer}" (id bigint, {", ".join(defs)}, geom geometry)')
        ewkb = shapely.to_wkb(
            shapely.set_srid(gdf.geometry.values._data, 3857), hex=True, include_srid=True
        )
        values = [
            [
                None if pd.isna(v) else (v if isinstance(v, bool | int | float) else str(v))
                for v in gdf[c].astype(object)
            ]
            for c in cols
        ]
        names = ", ".join(["id", *[f'"{c}"' for c in cols], "geom"])
        with conn.cursor().copy(f'COPY "{layer}" ({names}) FROM STDIN') as copy:
            for i, hexwkb in enumerate(ewkb):
                copy.write_row([i, *(col[i] for col in values), hexwkb])
        conn.execute(f'CREATE INDEX ON "{layer}" USING gist (geom)')
        conn.execute(f'ANALYZE "{layer}"')
        columns[layer] = cols
    return columns


def run_postgis(pg, sql: str, requests: list[tuple[int, int, int]], conns: int) -> dict:  # type: ignore[no-untyped-def]
    """Tiles/s of ``conns`` connections splitting the requests."""
    connections = [pg.connect() for _ in range(conns)]
    sizes = [0] * conns

    def work(i: int) -> None:
        cur = connections[i].cursor()
        for z, x, y in requests[i::conns]:
            cur.execute(sql, {"z": z, "x": x, "y": y}, prepare=True)
            sizes[i] += len(cur.fetchone()[0] or b"")

    for i in range(conns):  # plan once per connection
        z, x, y = requests[0]
        connections[i].execute(sql, {"z": z, "x": x, "y": y}, prepare=True)
    t0 = time.perf_counter()
    threads = [threading.Thread(target=work, args=(i,)) for i in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    for c in connections:
        c.close()
    return {"wall": wall, "n": len(requests), "bytes": sum(sizes)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--base", type=Path, help="an older checkout to compare with")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--requests", type=int, default=500, help="per workload")
    p.add_argument("--no-postgis", action="store_true")
    args = p.parse_args()
    lists = prepare()
    workloads = {
        name: [tiles[i % len(tiles)] for i in range(args.requests)] for name, tiles in lists.items()
    }
    checkouts = {"ours": ROOT}
    if args.base:
        checkouts = {"base": args.base, **checkouts}
    pg = conn = sql = None
    if not args.no_postgis:
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from bench_tiles import PostGIS

        pg = PostGIS()
        try:
            pg.start()
            conn = pg.connect()
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
            sql = postgis_sql(load_postgis(pg, conn))
        except Exception as exc:
            log(f"PostGIS unavailable: {exc}")
            pg.stop()
            pg = None
    results: dict[str, list[dict]] = {}
    try:
        for r in range(args.rounds):
            for work, requests in workloads.items():
                for name, path in checkouts.items():
                    res = run_ours(path, requests)
                    results.setdefault(f"{work} | {name}", []).append(res)
                    log(f"round {r} {work} {name}: {res}")
                if pg is not None:
                    for c in (1, 2):
                        res = run_postgis(pg, sql, requests, c)
                        results.setdefault(f"{work} | PostGIS {c} conn", []).append(res)
                        log(f"round {r} {work} PostGIS {c} conn: {res}")
    finally:
        if pg is not None:
            conn.close()
            pg.stop()
    lines = [
        "| tiles | encoder | tiles/s (median) | range | CPU ms/tile | wall ms/tile | KB/tile"
        " | first tile ms |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, rs in results.items():
        tps = [x["n"] / x["wall"] for x in rs]
        cpu = [1e3 * x["cpu"] / x["n"] for x in rs if "cpu" in x]
        first = [1e3 * x["first"] for x in rs if "first" in x]
        lines.append(
            f"| {name} | {statistics.median(tps):,.0f} | {min(tps):,.0f}-{max(tps):,.0f} | "
            + (f"{statistics.median(cpu):.2f}" if cpu else "")
            + f" | {1e3 / statistics.median(tps):.2f} | {rs[0]['bytes'] / rs[0]['n'] / 1e3:.1f} | "
            + (f"{statistics.median(first):.0f}" if first else "")
            + " |"
        )
    load = os.getloadavg()
    text = "\n".join(lines) + f"\n\nload average at the end: {load[0]:.1f}\n"
    (OUT / "result.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
