"""PMTiles published by `twin build` (tiles options in twin.toml) and `twin export`."""

from __future__ import annotations

import gzip
import sqlite3
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import mapbox_vector_tile
import pytest
import rasterio
from fastapi.testclient import TestClient
from pmtiles.reader import MmapSource, Reader, all_tiles
from typer.testing import CliRunner

from tests.twin.conftest import TOML
from tiles import create_app
from tiles.catalog import read_catalog
from tiles.settings import Settings
from twin.cli import app
from twin.workspace import Twin

runner = CliRunner()

ZONES = """[layers.zones]
builder = "vector"
title = "Zones"
inputs = { source = "zones" }
params = { id = "code" }
"""
ZONES_TILED = ZONES + (
    'tiles = { minzoom = 11, maxzoom = 14, pmtiles = true, max_features = 3, drop = "densest",'
    ' attributes_by_zoom = { 11 = ["code"], 13 = ["code", "pop"] } }\n'
)


def _tiled(workspace: Path) -> Twin:
    text = TOML.replace(ZONES, ZONES_TILED)
    assert text != TOML
    (workspace / "twin.toml").write_text(text, encoding="utf-8")
    return Twin.open(workspace)


def _archive_tiles(path: Path) -> dict[tuple[int, int, int], bytes]:
    with open(path, "rb") as fh:
        return dict(all_tiles(Reader(MmapSource(fh)).get_bytes))


def test_build_publishes_a_pmtiles_archive_the_server_uses(workspace: Path) -> None:
    twin = _tiled(workspace)
    twin.build(["zones"])
    catalog = read_catalog(twin.catalog_path)
    entry = catalog.layers["zones"]
    assert set(entry.artifacts) == {"data", "pmtiles"}
    archive = twin.catalog_path.parent / entry.artifacts["pmtiles"]
    assert archive.parent == (twin.catalog_path.parent / entry.artifacts["data"]).parent
    tiles = _archive_tiles(archive)
    assert {z for z, _, _ in tiles} == {11, 12, 13, 14}
    for (z, _, _), data in tiles.items():
        features = mapbox_vector_tile.decode(gzip.decompress(data))["zones"]["features"]
        assert 0 < len(features) <= 3  # max_features
        for f in features:
            assert set(f["properties"]) <= ({"code", "pop"} if z >= 13 else {"code"})
    # the server answers from the archive: the same bytes, still gzip-encoded
    (z, x, y), stored = next((k, v) for k, v in tiles.items() if k[0] == 14)
    settings = Settings(catalog=twin.catalog_path)
    with TestClient(create_app(twin.catalog_path, settings)) as client:
        r = client.get(f"/tiles/zones/{z}/{x}/{y}.mvt", headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200 and r.content == gzip.decompress(stored)
    # no pmtiles asked for: none published (the option is part of the fingerprint)
    (workspace / "twin.toml").write_text(TOML, encoding="utf-8")
    Twin.open(workspace).build(["zones"])
    assert set(read_catalog(twin.catalog_path).layers["zones"].artifacts) == {"data"}


def test_export_command_writes_each_format(workspace: Path, tmp_path: Path) -> None:
    twin = _tiled(workspace)
    twin.build()
    ws = ["-w", str(workspace)]
    out = tmp_path / "z.mbtiles"
    res = runner.invoke(
        app, [*ws, "export", "zones", "-f", "mbtiles", "--maxzoom", "12", "-o", str(out)]
    )
    assert res.exit_code == 0, res.output
    db = sqlite3.connect(out)
    zooms = {z for (z,) in db.execute("SELECT DISTINCT zoom_level FROM tiles")}
    data = db.execute("SELECT tile_data FROM tiles LIMIT 1").fetchone()[0]
    db.close()
    assert zooms == {11, 12}
    assert mapbox_vector_tile.decode(gzip.decompress(data))["zones"]["features"]

    res = runner.invoke(
        app, [*ws, "export", "zones", "-f", "pmtiles", "-o", str(tmp_path / "z.pmtiles"), "-j", "2"]
    )
    assert res.exit_code == 0, res.output
    assert {z for z, _, _ in _archive_tiles(tmp_path / "z.pmtiles")} == {11, 12, 13, 14}

    source = gpd.read_parquet(
        twin.catalog_path.parent / read_catalog(twin.catalog_path).layers["zones"].artifacts["data"]
    )
    for fmt, crs in (("gpkg", source.crs), ("geojson", "EPSG:4326")):
        path = tmp_path / f"z.{fmt}"
        res = runner.invoke(app, [*ws, "export", "zones", "-f", fmt, "-o", str(path)])
        assert res.exit_code == 0, res.output
        back = gpd.read_file(path)
        assert back.crs == crs and len(back) == len(source)
        assert sorted(back["code"]) == sorted(source["code"])

    res = runner.invoke(app, [*ws, "export", "dem", "-f", "cog", "-o", str(tmp_path / "d.tif")])
    assert res.exit_code == 0, res.output
    with rasterio.open(tmp_path / "d.tif") as ds:
        assert ds.crs is not None and ds.overviews(1) is not None

    for args, message in (
        (["export", "dem", "-f", "pmtiles"], "raster layer"),
        (["export", "zones", "-f", "cog"], "vector layer"),
        (["export", "zones", "-f", "shp"], "format 'shp'"),
        (["export", "nope"], "not published"),
    ):
        res = runner.invoke(app, [*ws, *args, "-o", str(tmp_path / "bad.out")])
        assert res.exit_code == 1 and message in res.output, res.output
    assert not (tmp_path / "bad.out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_export_command_puts_several_layers_in_one_archive(
    workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    twin = _tiled(workspace)  # zones tiled with its own options (z11-14, 3 features a tile)
    twin.build()
    ws = ["-w", str(workspace)]
    alone = {}
    for name in ("zones", "points"):
        out = tmp_path / f"{name}.pmtiles"
        res = runner.invoke(app, [*ws, "export", name, "-f", "pmtiles", "-o", str(out)])
        assert res.exit_code == 0, res.output
        alone[name] = _archive_tiles(out)
    monkeypatch.chdir(tmp_path)  # the default name: the layers' names joined
    res = runner.invoke(app, [*ws, "export", "points,zones", "-f", "pmtiles", "-j", "2"])
    assert res.exit_code == 0, res.output
    out = tmp_path / "points-zones.pmtiles"
    both = _archive_tiles(out)
    assert set(both) == set(alone["zones"]) | set(alone["points"])
    assert {z for z, _, _ in alone["zones"]} == {11, 12, 13, 14}
    for zxy, data in both.items():
        decoded = mapbox_vector_tile.decode(gzip.decompress(data))
        expected = {
            name: mapbox_vector_tile.decode(gzip.decompress(tiles[zxy]))[name]
            for name, tiles in alone.items()
            if zxy in tiles
        }
        assert decoded == expected, zxy
    with open(out, "rb") as fh:
        meta = Reader(MmapSource(fh)).metadata()
    entries = read_catalog(twin.catalog_path).layers
    assert [(v["id"], v["version"]) for v in meta["vector_layers"]] == [
        (n, entries[n].version) for n in ("points", "zones")
    ]
    for args, message in (
        (["points,dem"], "raster layer"),
        (["points,zones", "-f", "gpkg"], "only into pmtiles or mbtiles"),
        (["points,points"], "named twice"),
        (["points,"], "names separated by commas"),
        (["points,zones", "-f", "geojson", "--crs", "GCJ-02"], "single layer"),
    ):
        res = runner.invoke(app, [*ws, "export", *args, "-o", str(tmp_path / "bad.out")])
        assert res.exit_code == 1 and message in res.output, (args, res.output)
    assert not (tmp_path / "bad.out").exists()


@pytest.mark.parametrize("value", ['"most"', "0"])
def test_bad_tile_options_name_the_key(workspace: Path, value: str) -> None:
    key = "drop" if value.startswith('"') else "max_features"
    text = TOML.replace(ZONES, ZONES + f"tiles = {{ {key} = {value} }}\n")
    (workspace / "twin.toml").write_text(text, encoding="utf-8")
    res = runner.invoke(app, ["-w", str(workspace), "layers"])
    assert res.exit_code == 1 and key in res.output


def test_a_small_tile_export_starts_light(workspace: Path, tmp_path: Path) -> None:
    # Its fixed cost is imports: a few features are encoded without numba (the kernels run
    # interpreted), a workspace of vector and raster layers loads no other builder
    # (the coverage model's scipy) and no rasterio, and GeoParquet is read without pandas,
    # geopandas or pyogrio (tiles._geoparquet; the workspace loads the readers to build)
    Twin.open(workspace).build(["zones"])
    out = tmp_path / "z.pmtiles"
    script = (
        "import sys\n"
        "from twin.cli import main\n"
        "sys.argv = ['twin', *sys.argv[1:]]\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exc:\n"
        "    code = exc.code\n"
        "heavy = ('numba', 'scipy', 'rasterio', 'twin.builders.coverage', 'twin.builders.roads',\n"
        "         'pandas', 'geopandas', 'pyogrio')\n"
        "import threading\n"
        "left = [t.name for t in threading.enumerate() if t.name == 'tiles-proj']\n"
        "print(code, sorted(m for m in heavy if m in sys.modules), left, file=sys.stderr)\n"
    )
    args = ["-w", str(workspace), "export", "zones", "--maxzoom", "12", "-o", str(out), "-q"]
    done = subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=300
    )
    # and the reprojection's PROJ search, started ahead in a thread (tiles.proj), was used up
    assert done.stderr.splitlines()[-1] == "0 [] []", done.stderr
    tiles = _archive_tiles(out)
    assert max(z for z, _, _ in tiles) == 12
    codes = {
        f["properties"]["code"]
        for data in tiles.values()
        for f in mapbox_vector_tile.decode(gzip.decompress(data))["zones"]["features"]
    }
    source = gpd.read_parquet(
        workspace
        / "build"
        / read_catalog(workspace / "build" / "catalog.json").layers["zones"].artifacts["data"]
    )
    assert codes == set(source["code"])
