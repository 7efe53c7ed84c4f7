"""An export encodes a chunk of tiles in one pass: each tile as it would be alone.

``_Layer.encode_tiles`` (GEOS over all the tiles at once, one kernel writing all
their MVT layers) is held to ``_Layer.encode`` (one tile, through ``LayerEncoder``)
byte for byte, and so is a whole archive written in chunks to one written tile by tile.

The layers are real Helsinki roads (tests/data/Helsinki.osm.pbf), polygons made
from them (tiny ones, holes, a self-crossing one), their end points, and a layer
mixing lines and points (some of its tiles hold only points).
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

import tiles.export
from layers.roads import read_osm_roads
from tiles._export_plan import plan_zoom
from tiles.export import ExportOptions, VectorLayer, _Layer, export_vectors
from tiles.generalize import Generalization
from tiles.pmtiles import PMTilesReader

HELSINKI = Path(__file__).resolve().parents[1] / "data" / "Helsinki.osm.pbf"


@pytest.fixture(scope="module")
def layers(tmp_path_factory: pytest.TempPathFactory) -> list[VectorLayer]:
    tmp = tmp_path_factory.mktemp("helsinki")
    roads = read_osm_roads(HELSINKI).edges[["edge_id", "highway", "name", "geometry"]]
    roads = roads.reset_index(drop=True)
    lines = roads.geometry.to_numpy()
    rng = np.random.default_rng(16)
    # polygons: roads buffered from a few centimetres (tiny at every zoom) to 20 m, a
    # polygon with a hole, a multipolygon and a self-crossing (invalid) bowtie
    widths = rng.choice([0.05, 0.5, 3.0, 20.0], len(lines))
    polys = list(shapely.buffer(lines, widths))
    x0, y0, x1, y1 = shapely.total_bounds(lines)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    ring = shapely.box(cx - 300, cy - 300, cx + 300, cy + 300)
    polys.append(ring.difference(shapely.box(cx - 100, cy - 100, cx + 100, cy + 100)))
    polys.append(
        shapely.MultiPolygon(
            [shapely.box(x0, y0, x0 + 50, y0 + 50), shapely.box(x0 + 80, y0, x0 + 90, y0 + 5)]
        )
    )
    polys.append(shapely.Polygon([(cx, cy), (cx + 400, cy + 400), (cx + 400, cy), (cx, cy + 400)]))
    areas = gpd.GeoDataFrame(
        {"kind": [f"k{i % 3}" for i in range(len(polys))], "width": np.r_[widths, 0, 0, 0]},
        geometry=polys,
        crs=roads.crs,
    )
    ends = shapely.get_point(lines, -1)
    points = gpd.GeoDataFrame({"n": np.arange(len(ends))}, geometry=ends, crs=roads.crs)
    # points spread 2 km east of the roads: tiles of this layer with points only
    far = shapely.points(rng.uniform([x1 + 2000, y0], [x1 + 4000, y1], (200, 2)))
    mixed = gpd.GeoDataFrame(
        {"what": ["road"] * 50 + ["point"] * 200},
        geometry=np.r_[lines[:50], far],
        crs=roads.crs,
    )
    specs = []
    for name, gdf in (("roads", roads), ("areas", areas), ("ends", points), ("mixed", mixed)):
        path = tmp / f"{name}.parquet"
        gdf.to_parquet(path)
        specs.append(VectorLayer(path, name))
    # and the roads again with a feature cap: capped tiles are thinned one by one
    specs.append(
        VectorLayer(specs[0].parquet, "capped", generalization=Generalization(max_features=20))
    )
    return specs


def _tiles(path: Path) -> dict[tuple[int, int, int], bytes]:
    reader = PMTilesReader(str(path))
    try:
        return {t: reader.get(*t) for t in reader.tiles()}
    finally:
        reader.close()


def test_chunked_tiles_are_the_bytes_of_tiles_encoded_one_at_a_time(
    layers: list[VectorLayer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    options = ExportOptions(minzoom=10, maxzoom=18)
    monkeypatch.setattr(tiles.export, "_CHUNK", 1)
    one = _tiles(export_vectors(layers, tmp_path / "one.pmtiles", options).path)
    monkeypatch.setattr(tiles.export, "_CHUNK", 10_000)  # a whole zoom per chunk
    many = _tiles(export_vectors(layers, tmp_path / "many.pmtiles", options).path)
    assert len(one) > 300 and one.keys() == many.keys()
    differ = [t for t in one if one[t] != many[t]]
    assert differ == []


def test_a_layers_tiles_encoded_together_are_each_the_bytes_of_the_tile_alone(
    layers: list[VectorLayer],
) -> None:
    options = ExportOptions(minzoom=10, maxzoom=18)
    loaded = tuple(_Layer.load(spec, options) for spec in layers)
    checked = 0
    for z in range(options.minzoom, options.maxzoom + 1):
        for i, layer in enumerate(loaded):
            tiles = [
                (x, y, hits)
                for _, x, y, parts in plan_zoom(loaded, z)
                for j, hits in parts
                if j == i
            ]
            together = layer.encode_tiles(z, tiles)
            alone = [layer.encode(z, x, y, hits) for x, y, hits in tiles]
            assert together == alone, (layer.name, z)
            checked += sum(1 for part in alone if part)
    assert checked > 1000
