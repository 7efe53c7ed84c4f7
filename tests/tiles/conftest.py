"""A small test workspace built in code: three vector layers, one COG, a catalog.

Coordinates are EPSG:4549 (CGCS2000 / 3-degree Gauss-Kruger CM 120E, metres)
around Deqing county (about 119.97E, 30.54N). The raster's values follow a
formula so tests can compute the expected value of any pixel independently.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from affine import Affine
from fastapi.testclient import TestClient
from pyproj import Transformer
from rasterio.warp import transform_bounds

from tiles import create_app
from tiles.catalog import Band, Catalog, Figure, LayerEntry, Provenance, write_catalog
from tiles.settings import Settings

CRS = "EPSG:4549"
# South-west corner of the test area in EPSG:4549 metres.
X0, Y0 = 496_000.0, 3_378_000.0
PUBLIC_URL = "http://tiles.example.test"
XSS_NAME = '<img src=x onerror="window.__xss=1">&</script>'

# The COG: 10 m pixels, 600 x 600, value = 0.5 * column + 0.01 * row, nodata in the NW corner.
RASTER_RES = 10.0
RASTER_SIZE = 600
RASTER_NODATA = -9999.0
NODATA_BLOCK = 50  # rows/cols of the north-west nodata corner


def raster_value(col: np.ndarray, row: np.ndarray) -> np.ndarray:
    """The test raster's value at pixel (col, row) (the formula the COG was written from)."""
    return 0.5 * col + 0.01 * row


def raster_transform() -> Affine:
    top = Y0 + RASTER_SIZE * RASTER_RES
    return Affine(RASTER_RES, 0.0, X0, 0.0, -RASTER_RES, top)


def _villages() -> gpd.GeoDataFrame:
    size = 2000.0
    polys, names = [], []
    for i in range(2):
        for j in range(2):
            x, y = X0 + 500 + i * size, Y0 + 500 + j * size
            shell = [(x, y), (x + size, y), (x + size, y + size), (x, y + size)]
            holes = []
            if i == 0 and j == 0:  # a village with a lake in it
                holes = [
                    [
                        (x + 600, y + 600),
                        (x + 600, y + 1400),
                        (x + 1400, y + 1400),
                        (x + 1400, y + 600),
                    ]
                ]
            polys.append(shapely.Polygon(shell, holes))
            names.append(f"village {i}{j}")
    names[3] = XSS_NAME
    return gpd.GeoDataFrame(
        {
            "name": names,
            "population": np.array([1200, 850, 2300, 410], dtype="int64"),
            "share_5g": np.array([0.91, 0.5, 0.735, 1.0]),
            "active": np.array([True, False, True, True]),
        },
        geometry=polys,
        crs=CRS,
    )


def _roads() -> gpd.GeoDataFrame:
    # a long gently curving road with vertices every ~7 m, and two straight ones
    t = np.linspace(0.0, 1.0, 600)
    curve = np.column_stack((X0 + 300 + 4000 * t, Y0 + 2500 + 400 * np.sin(t * 6.0)))
    lines = [
        shapely.LineString(curve),
        shapely.LineString([(X0 + 1000, Y0 + 200), (X0 + 1000, Y0 + 4800)]),
        shapely.LineString([(X0 + 200, Y0 + 4000), (X0 + 3000, Y0 + 4100), (X0 + 4700, Y0 + 3000)]),
    ]
    return gpd.GeoDataFrame(
        {
            "road_class": ["primary", "secondary", "track"],
            "lanes": np.array([4, 2, 1], dtype="int64"),
            "length_m": [float(line.length) for line in lines],
            "oneway": [False, True, False],
        },
        geometry=lines,
        crs=CRS,
    )


def _sites() -> gpd.GeoDataFrame:
    pts = [
        (X0 + 700, Y0 + 700),
        (X0 + 2500, Y0 + 1300),
        (X0 + 4100, Y0 + 4300),
        (X0 + 3333.33, Y0 + 2777.77),
    ]
    return gpd.GeoDataFrame(
        {
            "id": np.array([101, 102, 103, 104], dtype="int64"),
            "band": ["n78", "n41", "n78", "n28"],
            "power_dbm": [46.0, 43.5, 46.0, -3.25],
            "height_m": np.array([30, 25, 35, 20], dtype="int64"),
        },
        geometry=[shapely.Point(p) for p in pts],
        crs=CRS,
    )


def _write_cog(path: Path) -> None:
    rows, cols = np.mgrid[0:RASTER_SIZE, 0:RASTER_SIZE]
    data = raster_value(cols, rows).astype("float32")
    data[:NODATA_BLOCK, :NODATA_BLOCK] = RASTER_NODATA
    profile = {
        "driver": "COG",
        "width": RASTER_SIZE,
        "height": RASTER_SIZE,
        "count": 1,
        "dtype": "float32",
        "crs": CRS,
        "transform": raster_transform(),
        "nodata": RASTER_NODATA,
        "blocksize": 256,
        "overview_resampling": "average",
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data, 1)
        dst.set_band_description(1, "elevation")


def _wgs84_bounds(gdf: gpd.GeoDataFrame) -> tuple[float, float, float, float]:
    w, s, e, n = gdf.to_crs("EPSG:4326").total_bounds
    return (float(w), float(s), float(e), float(n))


def _provenance(builder: str) -> Provenance:
    return Provenance(
        builder=builder,
        builder_version="1",
        fingerprint="sha256:test",
        built_at="2026-11-28T05:00:00Z",
    )


FIELDS = {
    "villages": {"name": "string", "population": "int", "share_5g": "float", "active": "bool"},
    "roads": {"road_class": "string", "lanes": "int", "length_m": "float", "oneway": "bool"},
    "sites": {"id": "int", "band": "string", "power_dbm": "float", "height_m": "int"},
}
STYLES = {
    "roads": {"color": "#e4572e"},
    "villages": {"property": "share_5g", "range": [0, 1]},
    "sites": {"property": "band", "range": [0, 1]},  # a string field: no ramp
}
GEOMETRY = {"villages": "Polygon", "roads": "LineString", "sites": "Point"}
FRAMES = {"villages": _villages, "roads": _roads, "sites": _sites}


def vector_entry(name: str, gdf: gpd.GeoDataFrame, version: str, artifact: str) -> LayerEntry:
    return LayerEntry(
        kind="vector",
        title=name.title() if name != "villages" else "Villages <b>&amp;</b>",
        version=version,
        artifacts={"data": artifact},
        crs=CRS,
        bounds=_wgs84_bounds(gdf),
        minzoom=8,
        maxzoom=20,
        geometry_type=GEOMETRY[name],
        fields=FIELDS[name],
        count=len(gdf),
        style=STYLES.get(name, {}),
        provenance=_provenance(name),
    )


def build_workspace(root: Path) -> Path:
    """Write the test workspace under ``root``; returns the catalog path."""
    build = root / "build"
    layers: dict[str, LayerEntry] = {}
    for name, make in FRAMES.items():
        gdf = make()
        rel = f"{name}/v1/data.parquet"
        (build / name / "v1").mkdir(parents=True)
        gdf.to_parquet(build / rel)
        layers[name] = vector_entry(name, gdf, "v1", rel)
    (build / "dem" / "v1").mkdir(parents=True)
    _write_cog(build / "dem" / "v1" / "data.tif")
    with rasterio.open(build / "dem" / "v1" / "data.tif") as src:
        bounds = transform_bounds(src.crs, "EPSG:4326", *src.bounds)
    layers["dem"] = LayerEntry(
        kind="raster",
        title="Elevation",
        version="v1",
        artifacts={"data": "dem/v1/data.tif"},
        crs=CRS,
        bounds=bounds,
        minzoom=8,
        maxzoom=18,
        bands=[
            Band(
                name="elevation",
                dtype="float32",
                nodata=RASTER_NODATA,
                unit="m",
                min=0.0,
                max=305.0,
            )
        ],
        resolution=RASTER_RES,
        style={"colormap": "terrain", "rescale": [0, 300]},
        provenance=_provenance("raster"),
    )
    catalog = Catalog(
        workspace="Test County",
        updated="2026-11-28T05:00:00Z",
        figures=[
            Figure(name="villages", label="Administrative villages", value=4),
            Figure(name="roads_km", label="Road length", value=12.5, unit="km"),
            Figure(name="xss", label=XSS_NAME, value=XSS_NAME),
        ],
        layers=layers,
    )
    path = build / "catalog.json"
    write_catalog(catalog, path)
    return path


@pytest.fixture(scope="session")
def workspace_catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shared, read-only test workspace's catalog."""
    return build_workspace(tmp_path_factory.mktemp("ws"))


@pytest.fixture
def own_catalog(workspace_catalog: Path, tmp_path: Path) -> Path:
    """A private copy of the workspace that a test may change (publish versions, ...)."""
    shutil.copytree(workspace_catalog.parent, tmp_path / "build")
    return tmp_path / "build" / "catalog.json"


@contextmanager
def make_client(catalog: Path, **settings: object) -> Iterator[TestClient]:
    """A TestClient with the lifespan run (catalog loaded) and the given settings."""
    conf = Settings(public_url=PUBLIC_URL, **settings)
    with TestClient(create_app(catalog, conf)) as client:
        yield client


@pytest.fixture
def client(workspace_catalog: Path) -> Iterator[TestClient]:
    with make_client(workspace_catalog) as c:
        yield c


def to_lonlat() -> Transformer:
    return Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # rasterio 1.4.4 builds transforms with `Affine * Affine`, which affine 3 marks as pending
    # deprecation; it fires inside rio-tiler/rasterio calls we cannot change.
    mark = pytest.mark.filterwarnings("ignore:Use `@` matmul:PendingDeprecationWarning")
    for item in items:
        if Path(str(item.path)).parent == Path(__file__).parent:
            item.add_marker(mark)
