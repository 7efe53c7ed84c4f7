"""Every vector tile of the demo county decodes: all tiles to z10, a sample at z11-z14.

Decoded with ``mapbox_vector_tile`` (every tile) and with tippecanoe's own
decoder (a sample), both independent of our encoder.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

import mapbox_vector_tile
import morecantile
import pytest

from tests.reliability._mvt_check import check_tile
from tests.tiles.conftest import make_client
from tiles.catalog import read_catalog

pytestmark = pytest.mark.slow

TMS = morecantile.tms.get("WebMercatorQuad")
SAMPLE_PER_ZOOM = 12  # per layer, at each of z11-z14


def test_demo_county_tiles_decode(demo_county: Path, tmp_path: Path) -> None:
    catalog_path = demo_county / "build" / "catalog.json"
    catalog = read_catalog(catalog_path)
    rng = random.Random(14)
    decoder = Path(sys.executable).parent / "tippecanoe-decode"
    if not decoder.exists():
        decoder = Path(shutil.which("tippecanoe-decode") or "tippecanoe-decode")
    decoded = features = checked_by_tippecanoe = 0
    with make_client(catalog_path) as client:
        for name, entry in catalog.layers.items():
            if entry.kind != "vector" or entry.count == 0:
                continue
            for z in range(entry.minzoom, min(entry.maxzoom, 14) + 1):
                tiles = list(TMS.tiles(*entry.bounds, zooms=[z]))
                if z > 10:
                    tiles = rng.sample(tiles, min(SAMPLE_PER_ZOOM, len(tiles)))
                for t in tiles:
                    r = client.get(f"/tiles/{name}/{t.z}/{t.x}/{t.y}.mvt")
                    assert r.status_code in (200, 204), (name, t, r.status_code)
                    if r.status_code == 204:
                        continue
                    assert check_tile(r.content) == [], (name, t)
                    tile = mapbox_vector_tile.decode(r.content)
                    assert set(tile) == {name}
                    assert tile[name]["extent"] == 4096 and tile[name]["features"]
                    decoded += 1
                    features += len(tile[name]["features"])
                    if rng.random() < 0.05:
                        path = tmp_path / f"{name}-{t.z}-{t.x}-{t.y}.pbf"
                        path.write_bytes(r.content)
                        out = subprocess.run(
                            [str(decoder), str(path), str(t.z), str(t.x), str(t.y)],
                            capture_output=True,
                            text=True,
                            timeout=60,
                        )
                        assert out.returncode == 0, out.stderr
                        geojson = json.loads(out.stdout)
                        n = sum(len(f["features"]) for f in geojson["features"])
                        assert n == len(tile[name]["features"]), (name, t)
                        checked_by_tippecanoe += 1
    print(f"\n{decoded} tiles decoded ({features} features), {checked_by_tippecanoe} by tippecanoe")
    assert decoded > 200 and checked_by_tippecanoe >= 5
