"""The request mix of the load test and benchmark, built from a published catalog."""

from __future__ import annotations

import random

import morecantile

from tiles.catalog import Catalog

TMS = morecantile.tms.get("WebMercatorQuad")
# Share of each kind of request in the mix (sums to 1).
MIX = {"cached": 0.45, "uncached": 0.1, "raster": 0.2, "tilejson": 0.1, "missing": 0.15}


def request_mix(catalog: Catalog, total: int, seed: int = 0) -> tuple[list[str], dict[str, int]]:
    """``total`` request paths in a shuffled mix, and how many of each kind.

    - cached: 24 vector tiles at z12-z14 asked again and again (hit the tile cache);
    - uncached: distinct vector tiles at z13-z16, each asked once;
    - raster: PNG tiles of the raster layers at z10-z13 (12 distinct);
    - tilejson: every layer's TileJSON;
    - missing: unknown layers, tiles outside the layer and beyond max zoom (404).
    """
    rng = random.Random(seed)
    vectors = [n for n, e in catalog.layers.items() if e.kind == "vector" and e.count > 0]
    rasters = [n for n, e in catalog.layers.items() if e.kind == "raster"]

    def tiles(name: str, zoom: int) -> list[str]:
        entry = catalog.layers[name]
        zoom = min(max(zoom, entry.minzoom), entry.maxzoom)  # inside the layer's zooms
        b = entry.bounds
        return [f"/tiles/{name}/{t.z}/{t.x}/{t.y}" for t in TMS.tiles(*b, zooms=[zoom])]

    counts = {k: round(v * total) for k, v in MIX.items()}
    counts["cached"] += total - sum(counts.values())
    hot = [rng.choice(tiles(rng.choice(vectors), rng.choice((12, 13, 14)))) for _ in range(24)]
    cold_pool = [p for n in vectors for z in (13, 14, 15, 16) for p in tiles(n, z)]
    cold_pool = sorted(set(cold_pool) - set(hot))
    if len(cold_pool) < counts["uncached"]:
        raise ValueError(f"only {len(cold_pool)} distinct tiles for {counts['uncached']} uncached")
    cold = rng.sample(cold_pool, counts["uncached"])
    ras = [rng.choice(tiles(rng.choice(rasters), rng.choice((10, 11, 12, 13)))) for _ in range(12)]
    missing = [
        "/tiles/no_such_layer/12/3418/1686.mvt",
        f"/tiles/{vectors[0]}/14/0/0.mvt",  # outside the layer
        f"/tiles/{vectors[0]}/25/0/0.mvt",  # beyond max zoom
        "/tiles/no_such_layer/tilejson.json",
    ]
    paths = (
        [rng.choice(hot) + ".mvt" for _ in range(counts["cached"])]
        + [p + ".mvt" for p in cold]
        + [rng.choice(ras) + ".png" for _ in range(counts["raster"])]
        + [
            f"/tiles/{rng.choice(vectors + rasters)}/tilejson.json"
            for _ in range(counts["tilejson"])
        ]
        + [rng.choice(missing) for _ in range(counts["missing"])]
    )
    rng.shuffle(paths)
    return paths, counts
