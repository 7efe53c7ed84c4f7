"""Load: the real server (uvicorn, 2 workers) under ``wrk`` at 64 connections.

A fixed list of requests mixing cached and uncached vector tiles, raster
tiles, TileJSON and 404s, each sent once: no 5xx, no socket errors, exactly
the 404s the mix holds, and the workers' resident memory grows by less than
the tile cache's bound plus :data:`RSS_SLACK_MIB` when the same mix is sent
again.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.reliability.conftest import Server
from tests.reliability.load_mix import request_mix
from tests.reliability.wrk import run_wrk
from tiles.catalog import read_catalog

pytestmark = pytest.mark.slow

REQUESTS = 3000
CACHE_MIB = 16
# Beyond the tile cache: allocator high-water marks, GDAL's block cache warming up.
RSS_SLACK_MIB = 96


def test_load_mix_no_5xx_no_socket_errors_bounded_memory(demo_county: Path, tmp_path: Path) -> None:
    if shutil.which("wrk") is None:
        pytest.fail("wrk is not installed (Debian package 'wrk', see .ci/run)")
    catalog_path = demo_county / "build" / "catalog.json"
    catalog = read_catalog(catalog_path)
    # warm-up: every layer opened in both workers, so growth after it is the steady state
    warm, _ = request_mix(catalog, 2000, seed=1)
    paths, counts = request_mix(catalog, REQUESTS, seed=2)
    server = Server(catalog_path, workers=2, cache_mb=str(CACHE_MIB))
    try:
        first = run_wrk(server.url, warm, tmp_path, connections=64)
        assert first.socket_errors == 0 and not any(s >= 500 for s in first.statuses)
        result = run_wrk(server.url, paths, tmp_path, connections=64)
        # Memory is judged on the same mix sent again. The kernel hands connections to
        # the workers unevenly, so one may open a layer's data for the first time during
        # any single run; a repeat of work both workers have done must not grow them.
        before = server.rss_kib()
        again = run_wrk(server.url, paths, tmp_path, connections=64)
        after = server.rss_kib()
        assert again.socket_errors == 0 and not any(s >= 500 for s in again.statuses)
        assert server.proc.poll() is None, "the server died under load"
    finally:
        server.stop()
    print(
        f"\nload: {result.requests} requests in {result.seconds:.1f} s = {result.rps:.0f} req/s, "
        f"p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms; statuses {result.statuses}; "
        f"RSS KiB before {before} after {after}"
    )
    assert result.errors == {"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0} or (
        result.socket_errors == 0
    ), result.errors
    assert not [s for s in result.statuses if s >= 500], result.statuses
    # each thread stops at its quota of responses; a few may be /healthz sent meanwhile
    assert REQUESTS <= sum(result.statuses.values()) <= REQUESTS + 64
    # the 404s are those the mix asked for (a tile that is only empty answers 204), less
    # any still in flight when wrk stopped
    assert counts["missing"] - 64 <= result.statuses.get(404, 0) <= counts["missing"]
    assert set(result.statuses) <= {200, 204, 404}, result.statuses
    for pid, kib in after.items():
        if pid in before:
            growth_mib = (kib - before[pid]) / 1024
            assert growth_mib < CACHE_MIB + RSS_SLACK_MIB, (pid, before[pid], kib)
