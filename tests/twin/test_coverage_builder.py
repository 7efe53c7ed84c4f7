"""The ``coverage`` builder through a real workspace build, read back from its artifacts."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import rasterio.features
from pyproj import Transformer
from rasterio.transform import from_origin
from shapely.geometry import box

from layers.coverage import CoverageParams
from layers.coverage.zones import coverage_share
from layers.raster import read_raster
from tests.twin.conftest import TOML, X0, Y0, make_sources
from tiles.catalog import read_catalog
from twin.builders import get_builder
from twin.builders.context import BuildContext, Input
from twin.config import LayerConfig, RegionConfig, SourceConfig
from twin.errors import BuildError
from twin.workspace import Twin

COLUMNS = (
    "site_id,cell_id,lon,lat,height_m,azimuth_deg,downtilt_deg,band,freq_mhz,bandwidth_mhz,"
    "tx_power_dbm,scenario"
)

COVERAGE = """
[sources.sites]
path = "sources/cell_sites.csv"
crs = "EPSG:4326"
x = "lon"
y = "lat"

[layers.coverage]
builder = "coverage"
inputs = { dem = "dem", sites = "sites", zones = "zones" }
params = { resolution = 50, zone_id = "code", rsrp_bands_dbm = [-80, -90, -100, -105] }
"""


def write_sites(root: Path, rows: list[str] | None = None) -> None:
    to_ll = Transformer.from_crs("EPSG:4549", "EPSG:4326", always_xy=True)
    lines = [COLUMNS]
    if rows is None:
        rows = []
        for s, (x, y, band) in enumerate(
            [
                (X0 + 1000, Y0 + 1500, "n78"),
                (X0 + 3200, Y0 + 1200, "n78"),
                (X0 + 2000, Y0 + 2600, "n28"),
            ]
        ):
            lon, lat = to_ll.transform(x, y)
            for k in range(3):
                freq, bw, p, sc = (3500, 100, 49, "UMa") if band == "n78" else (700, 20, 46, "RMa")
                rows.append(
                    f"S{s},S{s}-{k},{lon:.7f},{lat:.7f},30,{120 * k + 30},4,"
                    f"{band},{freq},{bw},{p},{sc}"
                )
    lines += rows
    (root / "sources" / "cell_sites.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    make_sources(root)
    write_sites(root)
    (root / "twin.toml").write_text(TOML + COVERAGE, encoding="utf-8")
    return root


def test_build_publishes_rasters_polygons_and_zone_shares(ws: Path):
    twin = Twin.open(ws)
    twin.build(["coverage"])
    catalog = read_catalog(twin.catalog_path)
    names = {
        "coverage",
        "coverage_sinr",
        "coverage_serving",
        "coverage_polygons",
        "coverage_cells",
        "coverage_zones",
    }
    assert names <= set(catalog.layers)
    entry = catalog.layers["coverage"]
    assert entry.kind == "raster" and entry.style["rescale"] == [-130, -60]

    rsrp_path = twin.build_dir / entry.artifacts["data"]
    with rasterio.open(rsrp_path) as src:
        assert src.dtypes[0] == "float32" and src.crs.to_epsg() == 4549
        assert src.nodata == -9999.0 and src.res == (50.0, 50.0)
        assert src.units[0] == "dBm"
        rsrp = src.read(1, masked=True).filled(np.nan)
    with rasterio.open(
        twin.build_dir / catalog.layers["coverage_serving"].artifacts["data"]
    ) as src:
        assert src.dtypes[0] == "int32" and src.nodata == -1
        serving = src.read(1)
    finite = np.isfinite(rsrp)
    assert finite.any() and (rsrp[finite] < 0).all() and (rsrp[finite] > -150).all()
    assert np.array_equal(finite, serving >= 0)
    assert set(np.unique(serving[serving >= 0])) <= set(range(9))

    # the county share in the stats, recomputed from the published rasters
    sinr = read_raster(twin.build_dir / catalog.layers["coverage_sinr"].artifacts["data"])
    rsrp_r = read_raster(rsrp_path)
    county = gpd.read_file(ws / "sources" / "county.gpkg", layer="county")
    region = rasterio.features.rasterize(
        [(g, 1) for g in county.geometry], out_shape=rsrp.shape, transform=rsrp_r.transform
    ).astype(bool)
    covered = finite & (rsrp >= -105) & (sinr.data[0] >= -3)
    share = 100 * (covered & region).sum() / region.sum()
    assert entry.stats["coverage_share_pct"] == pytest.approx(share, abs=0.01)
    figures = {f.name: f for f in catalog.figures}
    assert figures["coverage_share"].value == pytest.approx(round(share, 1))

    zones = gpd.read_parquet(twin.build_dir / catalog.layers["coverage_zones"].artifacts["data"])
    again = coverage_share(rsrp_r, zones, -105.0, sinr=sinr, id_column="code")
    np.testing.assert_allclose(zones["coverage_share_pct"], 100 * again["share"], atol=1e-9)

    polys = gpd.read_parquet(twin.build_dir / catalog.layers["coverage_polygons"].artifacts["data"])
    assert polys.crs.to_epsg() == 4549 and polys.geometry.is_valid.all()
    rsrp_rows = polys[polys["metric"] == "rsrp"].set_index("threshold")
    for t, row in rsrp_rows.iterrows():
        assert row["area_km2"] == pytest.approx((finite & (rsrp >= t)).sum() * 0.0025)
    cells = gpd.read_parquet(twin.build_dir / catalog.layers["coverage_cells"].artifacts["data"])
    assert sorted(cells["index"]) == list(range(9))
    served = cells.set_index("index")["served_km2"]
    for i in range(9):
        assert served[i] == pytest.approx((serving == i).sum() * 0.0025)


def test_missing_column_fails_and_publishes_nothing(ws: Path):
    text = (ws / "sources" / "cell_sites.csv").read_text().splitlines()
    header = text[0].replace(",tx_power_dbm", "")
    body = [",".join(r.split(",")[:10] + r.split(",")[11:]) for r in text[1:]]
    (ws / "sources" / "cell_sites.csv").write_text("\n".join([header, *body]) + "\n")
    twin = Twin.open(ws)
    with pytest.raises(BuildError, match=r"missing column\(s\) tx_power_dbm"):
        twin.build(["coverage"])
    assert "coverage" not in read_catalog(twin.catalog_path).layers


def test_sites_outside_the_dem_fail_unless_skipped(ws: Path):
    to_ll = Transformer.from_crs("EPSG:4549", "EPSG:4326", always_xy=True)
    lon, lat = to_ll.transform(X0 + 9000, Y0 + 1000)
    write_sites(ws)
    with open(ws / "sources" / "cell_sites.csv", "a", encoding="utf-8") as fh:
        fh.write(f"FAR,FAR-1,{lon:.7f},{lat:.7f},30,0,4,n78,3500,100,49,UMa\n")
    twin = Twin.open(ws)
    with pytest.raises(BuildError, match=r"outside the DEM.*'FAR-1'"):
        twin.build(["coverage"])
    assert "coverage" not in read_catalog(twin.catalog_path).layers


def test_run_with_a_hand_made_context_and_overrides(ws: Path):
    builder = get_builder("coverage")
    assert builder is not None and builder.inputs == ("dem", "sites")
    src = SourceConfig(path="x")
    sites = SourceConfig(path="sources/cell_sites.csv", crs="EPSG:4326", x="lon", y="lat")
    ctx = BuildContext(
        layer="cov",
        config=LayerConfig(builder="coverage"),
        params=CoverageParams(resolution=100, scenario="UMi", outside="skip", max_radius_km=2),
        region=RegionConfig(name="T", crs="EPSG:4549"),
        root=ws,
        inputs={
            "dem": Input("dem", "source", "dem", ws / "sources/dem.tif", source=src),
            "sites": Input("sites", "source", "sites", ws / "sources/cell_sites.csv", source=sites),
        },
    )
    out = builder.run(ctx)
    assert out.data.resolution == (100.0, 100.0)
    cells = out.extras["cells"].data
    assert set(cells["scenario"]) == {"UMi"}
    assert "zones" not in out.extras
    # UMi is fitted at 10 m masts: the 30 m ones are used as given and counted
    assert out.stats["clamped_bs_height"] > 0


LANDCOVER = """
[sources.landcover]
path = "sources/{file}"

[layers.coverage]
builder = "coverage"
inputs = {{ dem = "dem", sites = "sites", zones = "zones", landcover = "landcover" }}
params = {{ resolution = 50, zone_id = "code", rsrp_bands_dbm = [-80, -90, -100, -105], \
clutter_classes = {{ 1 = "forest", 2 = "Farmland" }}, clutter_loss_db = {{ forest = 12.5 }} }}
"""


def _published_rsrp(twin: Twin) -> np.ndarray:
    entry = read_catalog(twin.catalog_path).layers["coverage"]
    with rasterio.open(twin.build_dir / entry.artifacts["data"]) as src:
        return src.read(1, masked=True).filled(np.nan)


def test_landcover_polygons_or_class_raster_lower_rsrp_by_class(ws: Path):
    twin = Twin.open(ws)
    twin.build(["coverage"])
    bare = _published_rsrp(twin)
    # west half forest, east half farmland, as coded polygons and as a class raster
    west = box(X0, Y0, X0 + 2000, Y0 + 3000)
    east = box(X0 + 2000, Y0, X0 + 4000, Y0 + 3000)
    gpd.GeoDataFrame({"class": [1, 2]}, geometry=[west, east], crs="EPSG:4549").to_file(
        ws / "sources" / "landcover.gpkg", layer="landcover"
    )
    codes = np.ones((60, 80), dtype="uint8")
    codes[:, 40:] = 2
    with rasterio.open(
        ws / "sources" / "landcover.tif",
        "w",
        driver="GTiff",
        width=80,
        height=60,
        count=1,
        dtype="uint8",
        crs="EPSG:4549",
        transform=from_origin(X0, Y0 + 3000, 50, 50),
        nodata=0,
    ) as dst:
        dst.write(codes, 1)
    got = {}
    for file in ("landcover.gpkg", "landcover.tif"):
        toml = TOML + COVERAGE.split("[layers.coverage]")[0] + LANDCOVER.format(file=file)
        (ws / "twin.toml").write_text(toml, encoding="utf-8")
        twin = Twin.open(ws)
        twin.build(["coverage"])
        got[file] = _published_rsrp(twin)
    np.testing.assert_array_equal(got["landcover.gpkg"], got["landcover.tif"])
    lc = got["landcover.gpkg"]
    both = np.isfinite(bare) & np.isfinite(lc)
    assert both[:, :40].sum() > 500 and both[:, 40:].sum() > 500
    np.testing.assert_allclose(
        lc[:, :40][both[:, :40]], bare[:, :40][both[:, :40]] - 12.5, atol=1e-3
    )
    np.testing.assert_allclose(
        lc[:, 40:][both[:, 40:]], bare[:, 40:][both[:, 40:]] - 2.0, atol=1e-3
    )


def test_unknown_landcover_class_fails_naming_it(ws: Path):
    gpd.GeoDataFrame(
        {"class": ["forest", "稻田"]},
        geometry=[box(X0, Y0, X0 + 2000, Y0 + 3000), box(X0 + 2000, Y0, X0 + 4000, Y0 + 3000)],
        crs="EPSG:4549",
    ).to_file(ws / "sources" / "landcover.gpkg", layer="landcover")
    toml = TOML + COVERAGE.split("[layers.coverage]")[0] + LANDCOVER.format(file="landcover.gpkg")
    (ws / "twin.toml").write_text(
        toml.replace('clutter_classes = { 1 = "forest", 2 = "Farmland" }, ', ""), encoding="utf-8"
    )
    twin = Twin.open(ws)
    with pytest.raises(BuildError, match="unknown clutter class '稻田'") as err:
        twin.build(["coverage"])
    assert "\n" not in str(err.value)
    assert "coverage" not in read_catalog(twin.catalog_path).layers
