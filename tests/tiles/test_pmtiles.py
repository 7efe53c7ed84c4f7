"""The PMTiles v3 reader against archives written by the `pmtiles` package, and serving them."""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import mapbox_vector_tile
import morecantile
import numpy as np
import pytest
from pmtiles.tile import Compression, TileType, tileid_to_zxy, zxy_to_tileid
from pmtiles.writer import Writer
from pyproj import Transformer

from tests.tiles.conftest import CRS, X0, Y0, make_client
from tiles.catalog import read_catalog, write_catalog
from tiles.pmtiles import PMTilesReader
from tiles.pmtiles import tileid_to_zxy as our_zxy
from tiles.pmtiles import zxy_to_tileid as our_tileid
from tiles.pmtiles import zxy_to_tileids as our_tileids

MERCATOR = morecantile.tms.get("WebMercatorQuad")


def _write_archive(
    path: Path, tiles: dict[tuple[int, int, int], bytes], tile_type: int = TileType.MVT
) -> None:
    with open(path, "wb") as fh:
        writer = Writer(fh)
        for zxy in sorted(tiles, key=lambda t: zxy_to_tileid(*t)):
            writer.write_tile(zxy_to_tileid(*zxy), tiles[zxy])
        zooms = [z for z, _, _ in tiles]
        writer.finalize(
            {
                "tile_type": tile_type,
                "tile_compression": Compression.GZIP,
                "min_zoom": min(zooms),
                "max_zoom": max(zooms),
                "min_lon_e7": 1197000000,
                "min_lat_e7": 304000000,
                "max_lon_e7": 1203000000,
                "max_lat_e7": 307000000,
                "center_zoom": 12,
                "center_lon_e7": 1199700000,
                "center_lat_e7": 305400000,
            },
            {"name": "test", "vector_layers": []},
        )


def test_tile_ids_match_the_reference_implementation() -> None:
    rng = random.Random(3)
    for _ in range(3000):
        z = rng.randint(0, 26)
        x, y = rng.randrange(2**z), rng.randrange(2**z)
        assert our_tileid(z, x, y) == zxy_to_tileid(z, x, y)
        tile_id = zxy_to_tileid(z, x, y)
        assert our_zxy(tile_id) == tuple(tileid_to_zxy(tile_id)) == (z, x, y)


def test_tile_ids_of_many_tiles_at_once_match_the_reference_implementation() -> None:
    rng = np.random.default_rng(3)
    for z in (0, 1, 2, 5, 13, 26):
        x, y = rng.integers(0, 2**z, 500), rng.integers(0, 2**z, 500)
        expected = [zxy_to_tileid(z, int(a), int(b)) for a, b in zip(x, y, strict=True)]
        assert our_tileids(z, x, y).tolist() == expected


def test_reader_finds_every_tile_through_leaf_directories(tmp_path: Path) -> None:
    rng = random.Random(7)
    tiles = {}
    for _ in range(9000):  # enough scattered entries to need leaf directories
        z = rng.randint(10, 16)
        tiles[(z, rng.randrange(2**z), rng.randrange(2**z))] = gzip.compress(
            rng.randbytes(8), mtime=0
        )
    path = tmp_path / "big.pmtiles"
    _write_archive(path, tiles)
    reader = PMTilesReader(str(path))
    assert reader.header.leaf_length > 0, "the archive should use leaf directories"
    assert (reader.header.min_zoom, reader.header.max_zoom) == (10, 16)
    assert reader.header.tile_format == "mvt" and reader.header.tile_encoding == "gzip"
    assert reader.metadata()["name"] == "test"
    for zxy, data in rng.sample(sorted(tiles.items()), 500):
        assert reader.get(*zxy) == data
    missing = next((10, x, 0) for x in range(1024) if (10, x, 0) not in tiles)
    assert reader.get(*missing) is None
    reader.close()


def test_reader_lists_every_tile_runs_and_leaves_included(tmp_path: Path) -> None:
    rng = random.Random(11)
    tiles = {}
    for _ in range(6000):  # scattered: leaf directories
        z = rng.randint(8, 15)
        tiles[(z, rng.randrange(2**z), rng.randrange(2**z))] = rng.randbytes(6)
    same = gzip.compress(b"sea", mtime=0)  # consecutive equal tiles: one entry, a run of 40
    for tile_id in range(zxy_to_tileid(12, 0, 0), zxy_to_tileid(12, 0, 0) + 40):
        tiles[tuple(tileid_to_zxy(tile_id))] = same
    path = tmp_path / "runs.pmtiles"
    _write_archive(path, tiles)
    reader = PMTilesReader(str(path))
    listed = reader.tiles()
    assert listed == sorted(tiles, key=lambda t: zxy_to_tileid(*t))
    assert len(listed) == reader.check()
    reader.close()


def test_published_archive_is_served_and_gzip_passes_through(own_catalog: Path) -> None:
    lon, lat = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True).transform(
        X0 + 2500, Y0 + 2500
    )
    tile = MERCATOR.tile(lon, lat, 14)
    payload = mapbox_vector_tile.encode(
        [
            {
                "name": "roads",
                "features": [{"geometry": "POINT(100 100)", "properties": {"from_archive": True}}],
            }
        ]
    )
    stored = gzip.compress(payload, mtime=0)
    archive = own_catalog.parent / "roads" / "v1" / "tiles.pmtiles"
    _write_archive(archive, {(14, tile.x, tile.y): stored, (13, tile.x // 2, tile.y // 2): stored})
    catalog = read_catalog(own_catalog)
    catalog.layers["roads"].artifacts["pmtiles"] = "roads/v1/tiles.pmtiles"
    write_catalog(catalog, own_catalog)
    with make_client(own_catalog) as c:
        r = c.get(f"/tiles/roads/14/{tile.x}/{tile.y}.mvt", headers={"Accept-Encoding": "gzip"})
        assert r.status_code == 200 and r.headers["content-encoding"] == "gzip"
        assert r.content == payload  # the stored bytes, decompressed only by the client
        feature = mapbox_vector_tile.decode(r.content)["roads"]["features"][0]
        assert feature["properties"] == {"from_archive": True}
        # a tile the archive does not hold, inside its zooms: empty
        assert c.get(f"/tiles/roads/14/{tile.x + 1}/{tile.y}.mvt").status_code == 204
        # beyond the archive's zooms the GeoParquet answers
        deeper = MERCATOR.tile(lon, lat, 16)
        r = c.get(f"/tiles/roads/16/{deeper.x}/{deeper.y}.mvt")
        props = mapbox_vector_tile.decode(r.content)["roads"]["features"][0]["properties"]
        assert "road_class" in props
        # composite: archive tile + generated layer in one tile
        both = mapbox_vector_tile.decode(
            c.get(f"/tiles/roads,villages/14/{tile.x}/{tile.y}.mvt").content
        )
        assert set(both) == {"roads", "villages"}
        assert both["roads"]["features"][0]["properties"] == {"from_archive": True}
        # other grids never read the Web Mercator archive
        r = c.get(f"/collections/roads/tiles/WorldCRS84Quad/13/{0}/{0}")
        assert r.status_code == 404


@pytest.mark.parametrize("bad", [b"", b"NOTPMTILES" + bytes(200)])
def test_reader_rejects_other_files(tmp_path: Path, bad: bytes) -> None:
    from tiles.errors import ArtifactError

    path = tmp_path / "x.pmtiles"
    path.write_bytes(bad)
    with pytest.raises(ArtifactError, match=r"x\.pmtiles"):
        PMTilesReader(str(path))


def test_check_walks_every_directory_and_names_a_bad_entry(tmp_path: Path) -> None:
    import struct

    from tiles.errors import ArtifactError

    rng = random.Random(11)
    tiles = {}
    for _ in range(9000):  # leaf directories
        z = rng.randint(10, 16)
        tiles[(z, rng.randrange(2**z), rng.randrange(2**z))] = gzip.compress(
            rng.randbytes(8), mtime=0
        )
    path = tmp_path / "big.pmtiles"
    _write_archive(path, tiles)
    good = path.read_bytes()
    reader = PMTilesReader(str(path))
    h = reader.header
    assert h.leaf_length > 0 and reader.check() == len(tiles)
    reader.close()

    def damaged(name: str, data: bytes) -> str:
        bad = tmp_path / f"{name}.pmtiles"
        bad.write_bytes(data)
        reader = PMTilesReader(str(bad))
        try:
            with pytest.raises(ArtifactError) as info:
                reader.check()
        finally:
            reader.close()
        assert str(info.value).startswith(f"{bad}: ")
        return str(info.value)

    # leaf entries pointing past a (shortened) leaf section; tile entries past the data
    short_leaves = good[:48] + struct.pack("<Q", h.leaf_length // 2) + good[56:]
    assert "(leaf directory " in damaged("leaves", short_leaves)
    short_data = good[:64] + struct.pack("<Q", h.data_length // 2) + good[72:]
    assert "(tile " in damaged("data", short_data)
    # a leaf directory overwritten: found only by walking every leaf
    leaf = h.leaf_offset + h.leaf_length // 2
    scribbled = good[:leaf] + bytes(64) + good[leaf + 64 :]
    assert "corrupt directory at byte" in damaged("scribbled", scribbled)
    # a truncated file: the sections end past it
    assert "past the end of the file" in damaged("cut", good[: h.data_offset + 100])
