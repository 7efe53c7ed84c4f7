"""Load benchmark: the real tile server (uvicorn, 2 workers) under wrk at 64 connections.

Serves a demo county (built here at 200 m unless ``--workspace`` names a built
one), sends a fixed mix of requests (cached and uncached vector tiles, raster
tiles, TileJSON, 404s; see ``tests/reliability/load_mix.py``) and prints requests/s,
p50/p90/p99 latency, the status counts and the workers' memory as a Markdown
table.

    .venv/bin/python benchmarks/bench_load.py [--requests 6000] [--workspace DIR]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.reliability.conftest import Server
from tests.reliability.load_mix import MIX, request_mix
from tests.reliability.wrk import run_wrk
from tiles.catalog import read_catalog


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=6000)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workspace", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ws = args.workspace
        if ws is None:
            from twin.workspace import Twin

            ws = Path(tmp) / "demo"
            Twin.demo(ws, resolution=200.0)
        catalog_path = ws / "build" / "catalog.json"
        catalog = read_catalog(catalog_path)
        warm, _ = request_mix(catalog, 2000, seed=1)
        paths, counts = request_mix(catalog, args.requests, seed=2)
        server = Server(catalog_path, workers=2, cache_mb="16")
        try:
            run_wrk(server.url, warm, Path(tmp), connections=args.connections)
            before = server.rss_kib()
            res = run_wrk(server.url, paths, Path(tmp), connections=args.connections)
            after = server.rss_kib()
        finally:
            server.stop()
    growth = max((after[p] - before[p]) / 1024 for p in after if p in before)
    mix = ", ".join(f"{k} {v:.0%}" for k, v in MIX.items())
    print(f"Mix of {args.requests} requests ({mix}), {args.connections} connections, 2 workers\n")
    print("| requests | req/s | p50 ms | p90 ms | p99 ms | 5xx | socket errors | RSS growth MiB |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    five = sum(v for s, v in res.statuses.items() if s >= 500)
    print(
        f"| {res.requests} | {res.rps:.0f} | {res.p50_ms:.1f} | {res.p90_ms:.1f} | "
        f"{res.p99_ms:.1f} | {five} | {res.socket_errors} | {growth:.0f} |"
    )
    print(f"\nstatuses: {dict(sorted(res.statuses.items()))}; expected 404s: {counts['missing']}")


if __name__ == "__main__":
    main()
