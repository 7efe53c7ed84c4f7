"""Bad input files and bad ``twin.toml``: one clear line, exit 1, nothing published.

Every case starts from a built workspace, breaks one input (or the config),
runs ``twin build`` through the real CLI and checks that the error is one line
naming the file (or key) and the problem, and that not a byte under
``build/`` changed: the layer that read the bad file keeps its old version.
"""

from __future__ import annotations

import json
import re
import shutil
import warnings
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pyogrio
import pytest
import rasterio
from rasterio.transform import from_origin
from shapely.geometry import Point, Polygon, box

from tests.reliability.conftest import HELSINKI, ROADS_TOML, cli, published_files
from tests.twin.conftest import TOML, X0, Y0

Breaker = Callable[[Path], None]


def _truncate(path: Path, keep: float) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def _garbage(path: Path, head: bytes = b"") -> None:
    rng = np.random.default_rng(0)
    path.write_bytes(head + rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())


def _zones(**overrides: object) -> gpd.GeoDataFrame:
    cells = [box(X0 + i * 1000, Y0, X0 + (i + 1) * 1000, Y0 + 1000) for i in range(3)]
    data = {"code": ["Z00", "Z01", "Z02"], "pop": [1, 2, 3], **overrides}
    geometry = data.pop("geometry", cells)
    return gpd.GeoDataFrame(data, geometry=geometry, crs="EPSG:4549")


def _set_zones_source(ws: Path, name: str) -> None:
    toml = ws / "twin.toml"
    text = toml.read_text(encoding="utf-8")
    toml.write_text(text.replace("sources/zones.geojson", f"sources/{name}"), encoding="utf-8")


def _zones_parquet(ws: Path) -> Path:
    path = ws / "sources" / "zones.parquet"
    _zones().to_parquet(path)
    _set_zones_source(ws, "zones.parquet")
    return path


# -- the bad files: each breaks the input of one layer, in place --------------------------------


def truncated_pbf(ws: Path) -> None:
    _truncate(ws / "sources" / "roads.osm.pbf", 0.4)


def corrupt_pbf(ws: Path) -> None:
    _garbage(ws / "sources" / "roads.osm.pbf", head=b"\x00\x00\x00\x0d\n\tOSMHeader")


def truncated_geotiff(ws: Path) -> None:
    _truncate(ws / "sources" / "dem.tif", 0.5)


def corrupt_geotiff(ws: Path) -> None:
    _garbage(ws / "sources" / "dem.tif", head=b"II*\x00")


def geotiff_without_crs(ws: Path) -> None:
    path = ws / "sources" / "dem.tif"
    profile = {"driver": "GTiff", "width": 8, "height": 6, "count": 1, "dtype": "float32"}
    with rasterio.open(path, "w", transform=from_origin(X0, Y0 + 3000, 500, 500), **profile) as d:
        d.write(np.ones((1, 6, 8), dtype="float32"))


def truncated_geoparquet(ws: Path) -> None:
    _truncate(ws / "sources" / "zones.parquet", 0.6)


def parquet_without_geo_metadata(ws: Path) -> None:
    pq.write_table(pa.table({"code": ["a"], "geometry": [b"\x00"]}), ws / "sources/zones.parquet")


def truncated_geojson(ws: Path) -> None:
    _truncate(ws / "sources" / "zones.geojson", 0.5)


def corrupt_geojson(ws: Path) -> None:
    (ws / "sources" / "zones.geojson").write_text('{"type": "FeatureCollection", "features": [')


def geojson_wrong_crs(ws: Path) -> None:
    # Metres written where GeoJSON promises degrees: 480000 "degrees" is nowhere on Earth.
    gdf = _zones().set_crs("EPSG:4326", allow_override=True)
    gdf.to_file(ws / "sources" / "zones.geojson", driver="GeoJSON")


def gpkg_without_crs(ws: Path) -> None:
    path = ws / "sources" / "zones.gpkg"
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "'crs' was not provided", UserWarning)
        pyogrio.write_dataframe(_zones().set_crs(None, allow_override=True), path, layer="zones")
    _set_zones_source(ws, "zones.gpkg")


def all_geometries_empty(ws: Path) -> None:
    empty = gpd.GeoSeries.from_wkt(["POLYGON EMPTY"] * 3).tolist()
    _zones(geometry=empty).to_file(ws / "sources" / "zones.geojson", driver="GeoJSON")


def invalid_unrepairable_geometries(ws: Path) -> None:
    # Zero-area "polygons" (a line walked there and back) have no polygonal part to keep.
    flat = [Polygon([(X0, Y0), (X0 + 10, Y0), (X0 + 20, Y0), (X0, Y0)])] * 3
    _zones(geometry=flat).to_file(ws / "sources" / "zones.geojson", driver="GeoJSON")


def duplicate_ids(ws: Path) -> None:
    _zones(code=["Z00", "Z01", "Z00"]).to_file(ws / "sources/zones.geojson", driver="GeoJSON")


def null_ids(ws: Path) -> None:
    _zones(code=["Z00", None, "Z02"]).to_file(ws / "sources/zones.geojson", driver="GeoJSON")


def huge_coordinates(ws: Path) -> None:
    far = [box(1e20, 1e20, 1e20 + 10, 1e20 + 10), *_zones().geometry[1:]]
    _zones(geometry=far).to_parquet(ws / "sources" / "zones.parquet")


def infinite_coordinates(ws: Path) -> None:
    inf = [Point(np.inf, Y0), *[Point(X0 + i, Y0) for i in (1, 2)]]
    _zones(geometry=inf).to_parquet(ws / "sources" / "zones.parquet")


def csv_not_utf8(ws: Path) -> None:
    # neither UTF-8 nor GB18030 (GBK text is read, with a warning): nothing to guess
    (ws / "sources" / "points.csv").write_bytes(b"id,lon,lat,kind\n1,119.9,30.5,\xff\x80\n")


def csv_bad_coordinates(ws: Path) -> None:
    (ws / "sources" / "points.csv").write_text("id,lon,lat,kind\n1,abc,30.5,a\n")


def csv_coordinates_out_of_range(ws: Path) -> None:
    (ws / "sources" / "points.csv").write_text("id,lon,lat,kind\n1,1000,95,a\n2,119.9,30.5,b\n")


def geojson_not_utf8_attributes(ws: Path) -> None:
    feature = {
        "type": "Feature",
        "properties": {"code": "Z00", "name": "XX"},
        "geometry": {"type": "Point", "coordinates": [119.9, 30.5]},
    }
    text = json.dumps({"type": "FeatureCollection", "features": [feature]})
    data = text.encode("utf-8").replace(b"XX", "德清".encode("gbk"))
    (ws / "sources" / "zones.geojson").write_bytes(data)


def empty_file(ws: Path) -> None:
    (ws / "sources" / "zones.geojson").write_bytes(b"")


# name -> (breaker, layer it breaks, needs the parquet/roads variant, words the error must hold)
CASES: dict[str, tuple[Breaker, str, str, tuple[str, ...]]] = {
    "truncated_pbf": (truncated_pbf, "roads", "roads", ("roads.osm.pbf",)),
    "corrupt_pbf": (corrupt_pbf, "roads", "roads", ("roads.osm.pbf",)),
    "truncated_geotiff": (truncated_geotiff, "dem", "", ("dem.tif",)),
    "corrupt_geotiff": (corrupt_geotiff, "dem", "", ("dem.tif",)),
    "geotiff_without_crs": (geotiff_without_crs, "dem", "", ("dem.tif", "CRS")),
    "truncated_geoparquet": (truncated_geoparquet, "zones", "parquet", ("zones.parquet",)),
    "parquet_without_geo_metadata": (
        parquet_without_geo_metadata,
        "zones",
        "parquet",
        ("zones.parquet",),
    ),
    "truncated_geojson": (truncated_geojson, "zones", "", ("zones.geojson",)),
    "corrupt_geojson": (corrupt_geojson, "zones", "", ("zones.geojson",)),
    "empty_file": (empty_file, "zones", "", ("zones.geojson",)),
    "geojson_wrong_crs": (geojson_wrong_crs, "zones", "", ("zones.geojson",)),
    "gpkg_without_crs": (gpkg_without_crs, "zones", "", ("zones.gpkg", "CRS")),
    "all_geometries_empty": (all_geometries_empty, "zones", "", ("zones.geojson", "empty")),
    "invalid_unrepairable_geometries": (
        invalid_unrepairable_geometries,
        "zones",
        "",
        ("zones.geojson",),
    ),
    "duplicate_ids": (duplicate_ids, "zones", "", ("zones.geojson", "Z00")),
    "null_ids": (null_ids, "zones", "", ("zones.geojson", "code")),
    "huge_coordinates": (huge_coordinates, "zones", "parquet", ("zones.parquet",)),
    "infinite_coordinates": (infinite_coordinates, "zones", "parquet", ("zones.parquet",)),
    "csv_not_utf8": (csv_not_utf8, "points", "", ("points.csv", "UTF-8", "encoding")),
    "csv_bad_coordinates": (csv_bad_coordinates, "points", "", ("points.csv", "line 2")),
    "csv_coordinates_out_of_range": (
        csv_coordinates_out_of_range,
        "points",
        "",
        ("points.csv",),
    ),
    "geojson_not_utf8_attributes": (
        geojson_not_utf8_attributes,
        "zones",
        "",
        ("zones.geojson",),
    ),
}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Three built workspaces (plain, zones from GeoParquet, with roads), copied per test."""
    from tests.twin.conftest import make_sources

    out = {}
    for variant in ("", "parquet", "roads"):
        root = tmp_path_factory.mktemp(f"bad-{variant or 'plain'}") / "ws"
        make_sources(root)
        text = TOML + (ROADS_TOML if variant == "roads" else "")
        (root / "twin.toml").write_text(text, encoding="utf-8")
        if variant == "roads":
            shutil.copy(HELSINKI, root / "sources" / "roads.osm.pbf")
        if variant == "parquet":
            _zones_parquet(root)
        code, _, stderr = cli("-w", str(root), "build", "-q")
        assert code == 0, stderr
        out[variant] = root
    return out


def _copy(built: dict[str, Path], variant: str, tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    shutil.copytree(built[variant], ws)
    # the copy's catalog names paths relative to build/, so it stands alone
    return ws


def _assert_one_line_error(code: int, stderr: str, words: tuple[str, ...], ws: Path) -> str:
    assert code == 1, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    line = lines[0]
    assert line.startswith("twin: error: "), line
    for word in words:
        assert word in line, f"{word!r} not in {line!r}"
    # "unexpected <Exception>" is how the build reports a bug in a builder
    assert "Traceback" not in stderr and not re.search(r"unexpected \w+(Error|Exception)", line)
    # short, once the (temporary, long) workspace path is taken out
    assert len(line.replace(str(ws), "<ws>")) < 300, line
    return line


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_file_is_one_line_and_publishes_nothing(
    case: str, built: dict[str, Path], tmp_path: Path
) -> None:
    breaker, layer, variant, words = CASES[case]
    ws = _copy(built, variant, tmp_path)
    before = published_files(ws / "build")
    catalog = (ws / "build" / "catalog.json").read_bytes()
    breaker(ws)
    code, _, stderr = cli("-w", str(ws), "build", "-q")
    _assert_one_line_error(code, stderr, (f"layer {layer!r}", *words), ws)
    assert (ws / "build" / "catalog.json").read_bytes() == catalog
    assert published_files(ws / "build") == before


# -- twin.toml: every kind of mistake -----------------------------------------------------------

TOML_CASES: dict[str, tuple[Callable[[str], str], tuple[str, ...]]] = {
    "not_toml": (lambda t: t + "\n[layers.broken\n", ("not valid TOML",)),
    "unknown_key": (lambda t: t.replace('name = "Test County"', 'nmae = "x"'), ("region.nmae",)),
    "missing_region": (lambda t: t.replace("[region]", "[regio]"), ("regio",)),
    "missing_builder": (
        lambda t: t.replace('builder = "vector"\ntitle = "Zones"', 'title = "Zones"'),
        ("layers.zones.builder", "missing"),
    ),
    "wrong_type": (
        lambda t: t.replace("params = { resolution = 100", "params = { resolution = 'fine'"),
        ("layers.dem.params.resolution",),
    ),
    "negative_resolution": (
        lambda t: t.replace("resolution = 100", "resolution = -5"),
        ("layers.dem.params.resolution",),
    ),
    "unknown_param": (
        lambda t: t.replace('params = { id = "code" }', 'params = { idd = "code" }'),
        ("layers.zones.params.idd", "unknown parameter"),
    ),
    "unknown_builder": (
        lambda t: t.replace('builder = "raster"', 'builder = "rastr"'),
        ("layers.dem.builder", "rastr"),
    ),
    "unknown_source": (
        lambda t: t.replace('inputs = { source = "dem" }', 'inputs = { source = "dme" }'),
        ("layers.dem.inputs.source", "dme"),
    ),
    "unknown_layer_ref": (
        lambda t: t.replace('inputs = { source = "dem" }', 'inputs = { source = "layers.x" }'),
        ("layers.dem.inputs.source", "'x'"),
    ),
    "missing_input": (
        lambda t: t.replace('inputs = { source = "dem" }', "inputs = {}"),
        ("layers.dem.inputs", "'source'"),
    ),
    "extra_input": (
        lambda t: t.replace(
            'inputs = { source = "dem" }', 'inputs = { source = "dem", b = "dem" }'
        ),
        ("layers.dem.inputs.b",),
    ),
    "cycle": (
        lambda t: t.replace(
            'inputs = { source = "zones" }', 'inputs = { source = "layers.zones" }'
        ),
        ("cycle", "zones"),
    ),
    "unknown_crs": (
        lambda t: t.replace('crs = "EPSG:4549"', 'crs = "EPSG:99999999"'),
        ("region.crs", "EPSG:99999999"),
    ),
    "geographic_crs": (
        lambda t: t.replace('crs = "EPSG:4549"', 'crs = "EPSG:4326"'),
        ("region.crs", "projected"),
    ),
    "missing_source_file": (
        lambda t: t.replace("sources/dem.tif", "sources/nope.tif"),
        ("sources.dem.path", "nope.tif"),
    ),
    "missing_boundary": (
        lambda t: t.replace('boundary = "county"', 'boundary = "nowhere"'),
        ("region.boundary", "nowhere"),
    ),
    "bad_layer_name": (
        lambda t: t.replace("[layers.points]", '[layers."Points/../x"]'),
        ("Points/../x",),
    ),
    "zoom_order": (
        lambda t: t.replace(
            "rescale = [0, 500] } }", "rescale = [0, 500] }, minzoom = 9, maxzoom = 3 }"
        ),
        ("layers.dem.tiles", "minzoom 9"),
    ),
    "zoom_out_of_range": (
        lambda t: t.replace("rescale = [0, 500] } }", "rescale = [0, 500] }, maxzoom = 99 }"),
        ("layers.dem.tiles.maxzoom",),
    ),
    "bad_resampling": (
        lambda t: t.replace('unit = "m"', 'unit = "m", resampling = "magic"'),
        ("layers.dem", "magic"),
    ),
}


@pytest.mark.parametrize("case", sorted(TOML_CASES))
def test_bad_config_is_one_line_and_publishes_nothing(
    case: str, built: dict[str, Path], tmp_path: Path
) -> None:
    edit, words = TOML_CASES[case]
    ws = _copy(built, "", tmp_path)
    toml = ws / "twin.toml"
    text = toml.read_text(encoding="utf-8")
    broken = edit(text)
    assert broken != text, "the edit did not apply"
    toml.write_text(broken, encoding="utf-8")
    before = published_files(ws / "build")
    code, _, stderr = cli("-w", str(ws), "build", "-q")
    _assert_one_line_error(code, stderr, ("twin.toml", *words), ws)
    assert published_files(ws / "build") == before


def test_config_not_utf8(built: dict[str, Path], tmp_path: Path) -> None:
    ws = _copy(built, "", tmp_path)
    toml = ws / "twin.toml"
    toml.write_bytes(toml.read_text(encoding="utf-8").replace("Test", "德清").encode("gbk"))
    code, _, stderr = cli("-w", str(ws), "build", "-q")
    _assert_one_line_error(code, stderr, ("twin.toml", "UTF-8"), ws)
