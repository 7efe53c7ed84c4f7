"""Archives written by tiles.export, read back with the `pmtiles` package and sqlite3."""

from __future__ import annotations

import gzip
import json
import multiprocessing as mp
import sqlite3
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import geopandas as gpd
import mapbox_vector_tile
import morecantile
import numpy as np
import pytest
import shapely
from pmtiles.reader import MmapSource, Reader, all_tiles
from pmtiles.tile import Compression, TileType
from pyproj import Transformer

from tiles.errors import InvalidParameterError
from tiles.export import ExportOptions, VectorLayer, export_vector, export_vectors
from tiles.generalize import Generalization
from tiles.pmtiles import PMTilesReader

CRS = "EPSG:4549"
X0, Y0 = 496_000.0, 3_378_000.0
MERCATOR = morecantile.tms.get("WebMercatorQuad")
TO_3857 = Transformer.from_crs(CRS, "EPSG:3857", always_xy=True)
TO_4326 = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)


def _write(tmp_path: Path, name: str, gdf: gpd.GeoDataFrame) -> Path:
    path = tmp_path / f"{name}.parquet"
    gdf.to_parquet(path)
    return path


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """A big square (many identical interior tiles), a hole, lines and typed properties."""
    big = shapely.Polygon(
        [(X0, Y0), (X0 + 8000, Y0), (X0 + 8000, Y0 + 8000), (X0, Y0 + 8000)],
        [shapely.box(X0 + 3000, Y0 + 3000, X0 + 3500, Y0 + 3500).exterior.coords],
    )
    line = shapely.LineString([(X0 - 500, Y0 - 500), (X0 + 9000, Y0 + 4000)])
    gdf = gpd.GeoDataFrame(
        {
            "id": np.array([10, 11], dtype="int64"),
            "name": ["land", "road"],
            "count": np.array([3, -4], dtype="int64"),
            "share": [0.25, np.nan],
            "ok": [True, False],
        },
        geometry=[big, line],
        crs=CRS,
    )
    return _write(tmp_path, "mixed", gdf)


@pytest.fixture
def points(tmp_path: Path) -> Path:
    rng = np.random.default_rng(5)
    xy = rng.uniform(0, 6000, (400, 2)) + np.array([X0, Y0])
    gdf = gpd.GeoDataFrame(
        {"kind": [f"k{i % 4}" for i in range(400)], "rank": np.arange(400)},
        geometry=shapely.points(xy),
        crs=CRS,
    )
    return _write(tmp_path, "points", gdf)


def _read_pmtiles(path: Path) -> tuple[dict, dict, dict[tuple[int, int, int], bytes]]:
    with open(path, "rb") as fh:
        reader = Reader(MmapSource(fh))
        header, meta = reader.header(), reader.metadata()
        tiles = dict(all_tiles(reader.get_bytes))
    return header, meta, tiles


def _decode(data: bytes) -> dict:
    return mapbox_vector_tile.decode(gzip.decompress(data), default_options={"y_coord_down": True})


def test_pmtiles_archive_reads_back_with_the_reference_reader(mixed: Path, tmp_path: Path) -> None:
    out = tmp_path / "mixed.pmtiles"
    res = export_vector(mixed, out, "mixed", ExportOptions(minzoom=10, maxzoom=15))
    header, meta, tiles = _read_pmtiles(out)
    assert header["tile_type"] == TileType.MVT and header["tile_compression"] == Compression.GZIP
    assert header["clustered"] and (header["min_zoom"], header["max_zoom"]) == (10, 15)
    assert header["addressed_tiles_count"] == len(tiles) == res.tiles
    # interior tiles of the big square are all the same full square: stored once, run-length coded
    assert header["tile_contents_count"] == res.contents < res.tiles
    assert header["tile_entries_count"] < res.tiles
    # TileJSON fields in the metadata
    assert meta["tilejson"] == "3.0.0" and meta["minzoom"] == 10 and meta["maxzoom"] == 15
    (vl,) = meta["vector_layers"]
    assert vl["id"] == "mixed" and set(vl["fields"]) == {"id", "name", "count", "share", "ok"}
    west, south, _, _ = meta["bounds"]
    lon0, lat0 = TO_4326.transform(X0 - 500, Y0 - 500)
    assert west == pytest.approx(lon0, abs=1e-6) and south == pytest.approx(lat0, abs=1e-6)
    assert header["min_lon_e7"] == round(west * 1e7)
    # every tile decodes; features keep ids and typed properties
    ours = PMTilesReader(str(out))
    for (z, x, y), data in tiles.items():
        assert ours.get(z, x, y) == data  # our own reader agrees byte for byte
        layer = _decode(data)["mixed"]
        assert layer["features"]
        for f in layer["features"]:
            assert f["id"] in (10, 11)
            expected = {"id": 10, "name": "land", "count": 3, "share": 0.25, "ok": True}
            if f["id"] == 11:
                expected = {"id": 11, "name": "road", "count": -4, "ok": False}
            assert f["properties"] == expected
    ours.close()
    # the tile that holds the square's south-west corner shows the corner where it is
    lon, lat = TO_4326.transform(X0 + 1, Y0 + 1)
    t = MERCATOR.tile(lon, lat, 15)
    land = [f for f in _decode(tiles[(15, t.x, t.y)])["mixed"]["features"] if f["id"] == 10]
    got = shapely.geometry.shape(land[0]["geometry"])
    b = MERCATOR.xy_bounds(t)
    cx, cy = TO_3857.transform(X0, Y0)
    px = ((cx - b.left) / (b.right - b.left) * 4096, (b.top - cy) / (b.top - b.bottom) * 4096)
    assert got.distance(shapely.Point(px)) <= 1.0
    assert got.contains(shapely.Point(px[0] + 20, px[1] - 20))


def test_point_tiles_are_exactly_the_tiles_holding_points(points: Path, tmp_path: Path) -> None:
    out = tmp_path / "p.pmtiles"
    export_vector(points, out, "p", ExportOptions(minzoom=9, maxzoom=14, buffer=0))
    _, _, tiles = _read_pmtiles(out)
    gdf = gpd.read_parquet(points).to_crs("EPSG:4326")
    expected: dict[tuple[int, int, int], int] = {}
    for lon, lat in shapely.get_coordinates(gdf.geometry.array):
        for z in range(9, 15):
            t = MERCATOR.tile(lon, lat, z)
            expected[(z, t.x, t.y)] = expected.get((z, t.x, t.y), 0) + 1
    assert set(tiles) == set(expected)
    for zxy, data in tiles.items():
        features = _decode(data)["p"]["features"]
        drawn = [shapely.geometry.shape(f["geometry"]) for f in features]
        assert len(shapely.get_coordinates(drawn)) == expected[zxy]


def test_mbtiles_matches_the_pmtiles_archive(mixed: Path, tmp_path: Path) -> None:
    opts = ExportOptions(minzoom=10, maxzoom=14)
    export_vector(mixed, tmp_path / "a.pmtiles", "mixed", opts)
    res = export_vector(mixed, tmp_path / "a.mbtiles", "mixed", opts, fmt="mbtiles")
    _, _, tiles = _read_pmtiles(tmp_path / "a.pmtiles")
    db = sqlite3.connect(tmp_path / "a.mbtiles")
    meta = dict(db.execute("SELECT name, value FROM metadata"))
    assert meta["format"] == "pbf" and (meta["minzoom"], meta["maxzoom"]) == ("10", "14")
    assert json.loads(meta["json"])["vector_layers"][0]["id"] == "mixed"
    rows = db.execute("SELECT zoom_level, tile_column, tile_row, tile_data FROM tiles").fetchall()
    images = db.execute("SELECT count(*) FROM images").fetchone()[0]
    db.close()
    assert len(rows) == res.tiles == len(tiles) and images == res.contents < len(rows)
    for z, x, tms_row, data in rows:
        y = (1 << z) - 1 - tms_row  # MBTiles rows count from the south
        assert gzip.decompress(data) == gzip.decompress(tiles[(z, x, y)])


def test_multi_layer_archive_holds_each_layers_tiles(
    mixed: Path, points: Path, tmp_path: Path
) -> None:
    """One archive of two layers: each tile's layers as the one-layer archives have them."""
    capped = Generalization(max_features=40)
    opts = ExportOptions(minzoom=8, maxzoom=13)
    # each layer alone, with the zooms and thinning it has in the archive below
    export_vector(points, tmp_path / "p.pmtiles", "p", replace(opts, generalization=capped))
    export_vector(mixed, tmp_path / "m.pmtiles", "mixed", replace(opts, minzoom=10))
    layers = [
        VectorLayer(mixed, "mixed", minzoom=10, metadata={"version": "v1"}),
        VectorLayer(points, "p", maxzoom=20, generalization=capped),
    ]
    for fmt in ("pmtiles", "mbtiles"):
        export_vectors(layers, tmp_path / f"both.{fmt}", opts, fmt=fmt)
    header, meta, both = _read_pmtiles(tmp_path / "both.pmtiles")
    _, _, alone_p = _read_pmtiles(tmp_path / "p.pmtiles")
    _, _, alone_m = _read_pmtiles(tmp_path / "m.pmtiles")
    assert (header["min_zoom"], header["max_zoom"]) == (8, 13) and meta["name"] == "mixed,p"
    assert [(v["id"], v["minzoom"], v["maxzoom"]) for v in meta["vector_layers"]] == [
        ("mixed", 10, 13),
        ("p", 8, 13),
    ]
    assert meta["vector_layers"][0]["version"] == "v1"
    assert set(both) == set(alone_p) | set(alone_m)
    assert {z for z, _, _ in alone_m} == {10, 11, 12, 13} and set(alone_m) & set(alone_p)
    reader = PMTilesReader(str(tmp_path / "both.pmtiles"))
    for zxy, data in both.items():
        decoded = _decode(data)
        expected = {}
        for name, alone in (("mixed", alone_m), ("p", alone_p)):
            if zxy in alone:
                expected[name] = _decode(alone[zxy])[name]
        assert decoded == expected, zxy
        # the layers in the order given, each as its one-layer tile's bytes
        parts = [gzip.decompress(a[zxy]) for a in (alone_m, alone_p) if zxy in a]
        assert gzip.decompress(data) == b"".join(parts)
        # what a server cuts from it for a composite of some layers, in the asked order
        picked = [gzip.decompress(a[zxy]) for a in (alone_p, alone_m) if zxy in a]
        assert reader.get_layers(*zxy, ["p", "nope", "mixed"]) == b"".join(picked)
        assert reader.get_layers(*zxy, ["nope"]) == b""
    assert reader.get_layers(0, 0, 0, ["p"]) is None
    reader.close()
    db = sqlite3.connect(tmp_path / "both.mbtiles")
    rows = db.execute("SELECT zoom_level, tile_column, tile_row, tile_data FROM tiles").fetchall()
    ids = [
        v["id"]
        for v in json.loads(dict(db.execute("SELECT * FROM metadata"))["json"])["vector_layers"]
    ]
    db.close()
    assert ids == ["mixed", "p"] and len(rows) == len(both)
    for z, x, tms_row, data in rows:
        assert gzip.decompress(data) == gzip.decompress(both[(z, x, (1 << z) - 1 - tms_row)])
    with pytest.raises(InvalidParameterError, match="repeat"):
        export_vectors([layers[0], layers[0]], tmp_path / "x.pmtiles", opts)
    with pytest.raises(InvalidParameterError, match="outside"):
        export_vectors([VectorLayer(points, "p", minzoom=15)], tmp_path / "x.pmtiles", opts)
    assert not (tmp_path / "x.pmtiles").exists()


def test_workers_write_the_same_archive(points: Path, tmp_path: Path) -> None:
    opts = ExportOptions(minzoom=8, maxzoom=13)
    export_vector(points, tmp_path / "one.pmtiles", "p", opts)
    calls: list[tuple[int, int]] = []
    # processes forked at the first chunk, as twin's pools are (tiles starts none itself)
    with ProcessPoolExecutor(2, mp_context=mp.get_context("fork")) as pool:
        export_vector(
            points,
            tmp_path / "two.pmtiles",
            "p",
            opts,
            map_chunks=pool.map,
            progress=lambda d, t: calls.append((d, t)),
        )
    assert (tmp_path / "one.pmtiles").read_bytes() == (tmp_path / "two.pmtiles").read_bytes()
    assert calls and calls[-1][0] == calls[-1][1]
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_failed_export_leaves_nothing_behind(points: Path, tmp_path: Path) -> None:
    out = tmp_path / "x.pmtiles"
    out.write_bytes(b"previous")

    def boom(done: int, total: int) -> None:
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        export_vector(points, out, "p", ExportOptions(minzoom=8, maxzoom=12), progress=boom)
    assert out.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["points.parquet", "x.pmtiles"]
    with pytest.raises(InvalidParameterError, match="format"):
        export_vector(points, out, "p", fmt="geojson")
    with pytest.raises(InvalidParameterError, match="zooms"):
        ExportOptions(minzoom=5, maxzoom=3)


def test_feature_cap_keeps_the_spread_or_the_largest(points: Path, tmp_path: Path) -> None:
    opts = ExportOptions(minzoom=8, maxzoom=11)
    export_vector(points, tmp_path / "all.pmtiles", "p", opts)
    g = Generalization(max_features=12, drop="densest")
    out = tmp_path / "d.pmtiles"
    export_vector(points, out, "p", ExportOptions(8, 11, generalization=g))
    _, _, full = _read_pmtiles(tmp_path / "all.pmtiles")
    _, _, tiles = _read_pmtiles(out)
    assert set(tiles) == set(full)
    for zxy, data in tiles.items():
        feats = _decode(data)["p"]["features"]
        every = _decode(full[zxy])["p"]["features"]
        assert len(feats) == min(12, len(every))
        assert {f["id"] for f in feats} <= {f["id"] for f in every}
        if len(every) > 12:
            # thinning by grid keeps the spread: the kept points span most of the extent
            kept = np.array([f["geometry"]["coordinates"] for f in feats])
            xy = np.array([f["geometry"]["coordinates"] for f in every])
            span = np.ptp(kept, axis=0) / np.maximum(np.ptp(xy, axis=0), 1)
            assert (span >= 0.6).all(), zxy

    # smallest first: of squares of growing size, the largest survive
    sizes = np.arange(1, 41) * 20.0
    squares = [shapely.box(X0 + i * 900, Y0, X0 + i * 900 + s, Y0 + s) for i, s in enumerate(sizes)]
    gdf = gpd.GeoDataFrame({"size": sizes}, geometry=squares, crs=CRS)
    src = _write(tmp_path, "squares", gdf)
    g = Generalization(max_features=5, drop="smallest", tiny_polygon=0)
    export_vector(src, tmp_path / "s.pmtiles", "s", ExportOptions(10, 10, generalization=g))
    _, _, tiles = _read_pmtiles(tmp_path / "s.pmtiles")
    for data in tiles.values():
        kept = sorted(f["properties"]["size"] for f in _decode(data)["s"]["features"])
        assert len(kept) <= 5
    all_kept = {
        f["properties"]["size"] for d in tiles.values() for f in _decode(d)["s"]["features"]
    }
    assert max(sizes) in all_kept


def test_byte_cap_and_attributes_by_zoom(points: Path, tmp_path: Path) -> None:
    g = Generalization(max_tile_bytes=600, attributes_by_zoom={12: ["kind"], 13: ["kind", "rank"]})
    out = tmp_path / "b.pmtiles"
    export_vector(points, out, "p", ExportOptions(minzoom=8, maxzoom=13, generalization=g))
    _, _, tiles = _read_pmtiles(out)
    for (z, _, _), data in tiles.items():
        assert len(gzip.decompress(data)) <= 600
        for f in _decode(data)["p"]["features"]:
            assert set(f["properties"]) == ({"kind", "rank"} if z >= 13 else {"kind"})


def test_tiny_polygons_keep_their_total_area(tmp_path: Path) -> None:
    # 2000 specks of 20 m x 20 m: far below a pixel at z10 (a pixel is ~130 m there)
    rng = np.random.default_rng(1)
    xy = rng.uniform(0, 3000, (2000, 2)) + np.array([X0, Y0])
    specks = shapely.box(xy[:, 0], xy[:, 1], xy[:, 0] + 20, xy[:, 1] + 20)
    src = _write(tmp_path, "specks", gpd.GeoDataFrame(geometry=specks, crs=CRS))
    out = tmp_path / "t.pmtiles"
    export_vector(src, out, "t", ExportOptions(10, 10, buffer=0))
    _, _, tiles = _read_pmtiles(out)
    feats = [f for d in tiles.values() for f in _decode(d)["t"]["features"]]
    assert feats, "specks must not vanish altogether"
    drawn = sum(shapely.geometry.shape(f["geometry"]).area for f in feats)  # tile units^2
    lon, lat = TO_4326.transform(X0 + 1500, Y0 + 1500)
    t = MERCATOR.tile(lon, lat, 10)
    b = MERCATOR.xy_bounds(t)
    scale = (4096 / (b.right - b.left)) ** 2
    # source area in Web Mercator m^2 (specks are tiny: the local scale factor is enough)
    k = 1 / np.cos(np.radians(lat))
    source = 2000 * 400.0 * k * k * scale
    assert 0.5 * source <= drawn <= 2.0 * source
    for f in feats:  # each drawn speck is one pixel square
        assert shapely.geometry.shape(f["geometry"]).area == pytest.approx(256, abs=40)
