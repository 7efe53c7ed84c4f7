"""A layer's fingerprint covers every file its sources are read from, and says which changed.

Shapefile sidecars (.dbf, .cpg), a raster's .aux.xml and .prj, and the tiles
of a glob each decide what a layer holds: changing one must rebuild the
layer with the new data, and ``twin build --dry-run`` must name the file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from pyproj import CRS
from rasterio.transform import from_origin
from shapely.geometry import box
from typer.testing import CliRunner

from layers.raster import read_raster
from layers.sources import expand
from tests.twin.conftest import TOML, X0, Y0
from twin.builders import Builder, Output, register
from twin.cli import app
from twin.workspace import Twin

runner = CliRunner()


def _dry_run(workspace: Path, *layers: str) -> dict[str, str]:
    res = runner.invoke(app, ["-w", str(workspace), "build", "--dry-run", "--json", *layers])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def _zones_as_shapefile(workspace: Path) -> Twin:
    """The zones source as a shapefile with Big5 names and no .cpg, as departments send them."""
    src = workspace / "sources"
    zones = gpd.read_file(src / "zones.geojson")
    zones["name"] = [f"城關鎮{i}" for i in range(len(zones))]
    zones.to_file(src / "zones.shp", engine="pyogrio", encoding="big5")
    (src / "zones.cpg").unlink()
    (workspace / "twin.toml").write_text(
        TOML.replace("zones.geojson", "zones.shp"), encoding="utf-8"
    )
    return Twin.open(workspace)


def test_adding_a_cpg_rebuilds_the_shapefile_layer(workspace: Path) -> None:
    twin = _zones_as_shapefile(workspace)
    twin.build(["zones"])
    before = twin.layer("zones")
    assert "城關鎮0" not in before["name"].tolist()  # read without its code page
    assert _dry_run(workspace, "zones") == {"zones": "skip: up to date"}

    (workspace / "sources" / "zones.cpg").write_text("950", encoding="ascii")  # Big5
    assert _dry_run(workspace, "zones") == {"zones": "build: sources/zones.cpg added"}
    assert Twin.open(workspace).build(["zones"]).built.keys() == {"zones"}
    after = twin.layer("zones").set_index("code")
    assert after.loc["Z00", "name"] == "城關鎮0"
    files = twin.catalog.layers["zones"].provenance.files
    assert {"sources/zones.shp", "sources/zones.dbf", "sources/zones.cpg"} <= files.keys()
    assert "sources/county.gpkg" in files  # the region boundary is read too


def test_editing_the_dbf_rebuilds_with_the_new_value(workspace: Path) -> None:
    twin = _zones_as_shapefile(workspace)
    twin.build(["zones"])
    dbf = workspace / "sources" / "zones.dbf"
    data = dbf.read_bytes()
    assert data.count(b"Z03") == 1
    dbf.write_bytes(data.replace(b"Z03", b"Q03"))  # the .shp is untouched
    assert _dry_run(workspace, "zones") == {"zones": "build: sources/zones.dbf changed"}
    Twin.open(workspace).build(["zones"])
    codes = set(twin.layer("zones")["code"])
    assert "Q03" in codes and "Z03" not in codes
    # removing a sidecar is a change too
    (workspace / "sources" / "zones.prj").unlink()
    assert _dry_run(workspace, "zones") == {"zones": "build: sources/zones.prj removed"}


def _published_origin(twin: Twin, layer: str) -> tuple[float, float]:
    with rasterio.open(twin.build_dir / twin.catalog.layers[layer].artifacts["data"]) as src:
        return src.transform.c, src.transform.f


def test_adding_an_aux_xml_to_a_raster_rebuilds_it(twin: Twin, workspace: Path) -> None:
    twin.build(["dem"])
    x, y = _published_origin(twin, "dem")
    # A corrected georeference delivered beside the GeoTIFF: the grid 500 m further east.
    aux = workspace / "sources" / "dem.tif.aux.xml"
    aux.write_text(
        f"<PAMDataset><GeoTransform>{X0 + 500}, 50, 0, {Y0 + 3000}, 0, -50</GeoTransform>"
        "</PAMDataset>",
        encoding="utf-8",
    )
    assert _dry_run(workspace, "dem") == {"dem": "build: sources/dem.tif.aux.xml added"}
    Twin.open(workspace).build(["dem"])
    x2, y2 = _published_origin(twin, "dem")
    assert x2 - x == 500 and y2 == y


def test_a_changed_prj_moves_an_ascii_grid(workspace: Path) -> None:
    dem = workspace / "sources" / "dem.tif"
    asc = dem.with_suffix(".asc")
    with rasterio.open(dem) as src:
        profile = {**src.profile, "driver": "AAIGrid"}
        for key in ("blockxsize", "blockysize", "tiled", "compress", "interleave", "crs"):
            profile.pop(key, None)
        with rasterio.open(asc, "w", **profile) as dst:
            dst.write(src.read())
    prj = asc.with_suffix(".prj")
    gk = CRS.from_epsg(4549)
    prj.write_text(gk.to_wkt(version="WKT1_ESRI"), encoding="ascii")
    (workspace / "twin.toml").write_text(TOML.replace("dem.tif", "dem.asc"), encoding="utf-8")
    twin = Twin.open(workspace)
    twin.build(["dem"])
    x, _ = _published_origin(twin, "dem")
    # The department fixes its projection file: the false easting was off by 1 km.
    fixed = gk.to_json_dict()
    for p in fixed["conversion"]["parameters"]:
        if p["name"] == "False easting":
            p["value"] -= 1000
    prj.write_text(CRS.from_json_dict(fixed).to_wkt(version="WKT1_ESRI"), encoding="ascii")
    assert _dry_run(workspace, "dem") == {"dem": "build: sources/dem.prj changed"}
    Twin.open(workspace).build(["dem"])
    x2, _ = _published_origin(twin, "dem")
    assert x2 - x == pytest.approx(1000, abs=0.01)


def _tile_means(ctx) -> Output:  # type: ignore[no-untyped-def]
    """One footprint per DEM tile with its mean: every file of a glob source is read."""
    rows = []
    for path in expand(ctx.path("source")):
        r = read_raster(path)
        rows.append({"tile": path.name, "mean": float(r.data.mean()), "geometry": box(*r.bounds)})
    return Output(data=gpd.GeoDataFrame(rows, crs=ctx.crs))


register(Builder(name="test_tile_means", version="1", run=_tile_means, inputs=("source",)))

TILES = """
[sources.tiles]
path = "sources/dem/*.tif"

[layers.tiles]
builder = "test_tile_means"
inputs = { source = "tiles" }
"""


def _write_tile(path: Path, col: int, value: float) -> None:
    with rasterio.open(
        path, "w", driver="GTiff", width=20, height=20, count=1, dtype="float32",
        crs="EPSG:4549", transform=from_origin(X0 + col * 1000, Y0 + 3000, 50, 50),
    ) as dst:  # fmt: skip
        dst.write(np.full((1, 20, 20), value, "float32"))


def test_a_tile_added_to_a_glob_rebuilds_with_it(workspace: Path) -> None:
    tiles = workspace / "sources" / "dem"
    tiles.mkdir()
    _write_tile(tiles / "t0.tif", 0, 10.0)
    _write_tile(tiles / "t1.tif", 1, 20.0)
    (workspace / "twin.toml").write_text(TOML + TILES, encoding="utf-8")
    twin = Twin.open(workspace)
    twin.build(["tiles"])
    assert sorted(twin.layer("tiles")["tile"]) == ["t0.tif", "t1.tif"]

    _write_tile(tiles / "t2.tif", 2, 30.0)
    assert _dry_run(workspace, "tiles") == {"tiles": "build: sources/dem/t2.tif added"}
    Twin.open(workspace).build(["tiles"])
    back = twin.layer("tiles").set_index("tile")
    assert back["mean"].to_dict() == {"t0.tif": 10.0, "t1.tif": 20.0, "t2.tif": 30.0}

    # A tile renamed with the same bytes still changes what the layer says.
    os.rename(tiles / "t0.tif", tiles / "t9.tif")
    assert _dry_run(workspace, "tiles") == {
        "tiles": "build: sources/dem/t0.tif removed; sources/dem/t9.tif added"
    }


def test_other_reasons_are_named(workspace: Path) -> None:
    twin = Twin.open(workspace)
    twin.build()
    text = TOML.replace("resolution = 100", "resolution = 200").replace(
        'params = { id = "code" }', 'params = { id = "code", columns = ["code"] }'
    )
    text = text.replace('title = "Zones"', 'title = "Zones of the county"')
    (workspace / "twin.toml").write_text(text, encoding="utf-8")
    assert Twin.open(workspace).plan() == {
        "zones": "build: params.columns changed (None -> ['code'])",
        "points": "skip: up to date",
        "dem": "build: params.resolution changed (100.0 -> 200.0)",
    }
    (workspace / "twin.toml").write_text(TOML.replace("Zones", "Zones 2"), encoding="utf-8")
    assert Twin.open(workspace).plan()["zones"] == (
        "build: working CRS, boundary, title or tile options changed"
    )


def test_a_catalog_from_before_files_were_recorded_stays_up_to_date(twin: Twin) -> None:
    twin.build()
    data = json.loads(twin.catalog_path.read_text(encoding="utf-8"))
    for entry in data["layers"].values():
        del entry["provenance"]["files"]
    twin.catalog_path.write_text(json.dumps(data), encoding="utf-8")
    # one-file sources hash as they did, so upgrading rebuilds nothing
    assert set(twin.plan().values()) == {"skip: up to date"}
    points = twin.root / "sources" / "points.csv"
    points.write_text(points.read_text(encoding="utf-8").replace("k0", "k9", 1), encoding="utf-8")
    assert twin.plan()["points"] == "build: input source changed"


def test_a_rebuilt_upstream_layer_is_named(workspace: Path) -> None:
    copy = '\n[layers.zones_copy]\nbuilder = "vector"\ninputs = { source = "layers.zones" }\n'
    (workspace / "twin.toml").write_text(TOML + copy, encoding="utf-8")
    twin = Twin.open(workspace)
    twin.build(["zones_copy"])
    geojson = workspace / "sources" / "zones.geojson"
    geojson.write_text(geojson.read_text(encoding="utf-8").replace("Z03", "Q03"), "utf-8")
    assert twin.plan(["zones_copy"]) == {
        "zones": "build: sources/zones.geojson changed",
        "zones_copy": "build: upstream layer zones is to be rebuilt",
    }
    twin.build(["zones"])
    version = twin.catalog.layers["zones"].version
    assert (
        twin.plan(["zones_copy"])["zones_copy"] == f"build: upstream layer zones is now {version}"
    )


def test_a_file_geodatabase_is_hashed_file_by_file(workspace: Path) -> None:
    src = workspace / "sources"
    zones = gpd.read_file(src / "zones.geojson")
    zones.to_file(src / "zones.gdb", driver="OpenFileGDB", layer="zones")
    text = TOML.replace(
        'path = "sources/zones.geojson"', 'path = "sources/zones.gdb"\nlayer = "zones"'
    )
    (workspace / "twin.toml").write_text(text, encoding="utf-8")
    twin = Twin.open(workspace)
    twin.build(["zones"])
    files = twin.catalog.layers["zones"].provenance.files
    assert len([f for f in files if f.startswith("sources/zones.gdb/")]) > 10

    zones.loc[zones["code"] == "Z03", "pop"] = 12345
    zones.to_file(src / "zones.gdb", driver="OpenFileGDB", layer="zones")  # rewritten in place
    why = _dry_run(workspace, "zones")["zones"]
    assert why.startswith("build: sources/zones.gdb/") and " changed" in why
    Twin.open(workspace).build(["zones"])
    assert twin.layer("zones").set_index("code").loc["Z03", "pop"] == 12345
