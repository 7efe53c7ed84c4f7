"""The working CRS fits the region, figures on the ellipsoid, data outside the region,
layers that end up with no features: through ``twin init/build/validate/stats``.

Fixtures are built here: a Helsinki boundary (the Helsinki.osm.pbf extract's
surroundings, EPSG:4326 shapefile with sidecars) and a Deqing-like county near
119.97E 30.54N (a GeoPackage in EPSG:4490).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import Geod
from shapely.geometry import Polygon
from typer.testing import CliRunner

from twin.cli import app
from twin.errors import BuildError, ConfigError
from twin.workspace import Twin

HELSINKI_PBF = Path(__file__).resolve().parents[1] / "data" / "Helsinki.osm.pbf"
# Around the Helsinki.osm.pbf extract (24.935-24.953E, 60.164-60.179N).
HELSINKI = Polygon(
    [(24.925, 60.160), (24.962, 60.158), (24.965, 60.183), (24.940, 60.186), (24.922, 60.175)]
)
# A county-sized polygon near Deqing, Zhejiang.
DEQING = Polygon(
    [(119.78, 30.45), (120.15, 30.42), (120.32, 30.55), (120.20, 30.70), (119.85, 30.66)]
)
GEOD = Geod(ellps="WGS84")
runner = CliRunner()


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args))


def _write_boundary(path: Path, polygon: Polygon, crs: str = "EPSG:4326") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    gdf = gpd.GeoDataFrame({"name": ["region"]}, geometry=[polygon], crs="EPSG:4326")
    gdf.to_crs(crs).to_file(path, engine="pyogrio")
    return path


def _geodesic_km2(polygon: Polygon) -> float:
    return abs(GEOD.geometry_area_perimeter(polygon)[0]) / 1e6


def _points_csv(path: Path, lonlat: np.ndarray, swap: bool = False) -> None:
    xy = lonlat[:, ::-1] if swap else lonlat
    path.write_text(
        "id,lon,lat\n" + "".join(f"{i},{x:.6f},{y:.6f}\n" for i, (x, y) in enumerate(xy)),
        encoding="utf-8",
    )


def _inside_points(polygon: Polygon, n: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    w, s, e, nn = polygon.bounds
    out: list[tuple[float, float]] = []
    while len(out) < n:
        x, y = rng.uniform(w, e), rng.uniform(s, nn)
        if polygon.contains(shapely.Point(x, y)):
            out.append((x, y))
    return np.array(out)


# -- twin init --boundary -------------------------------------------------------------------


def test_init_with_a_boundary_picks_the_crs_that_fits_it(tmp_path: Path) -> None:
    hel = _write_boundary(tmp_path / "in" / "helsinki.shp", HELSINKI)
    res = invoke("init", str(tmp_path / "hel"), "--boundary", str(hel))
    assert res.exit_code == 0, res.output
    assert "EPSG:32635" in res.stdout
    twin = Twin.open(tmp_path / "hel")
    assert twin.config.region.crs == "EPSG:32635"
    assert twin.config.region.boundary == "boundary"
    assert twin.config.sources["boundary"].path == "sources/helsinki.shp"
    # the shapefile came with its sidecars: it reads, with its CRS
    copied = sorted(p.name for p in (tmp_path / "hel" / "sources").iterdir())
    assert copied == [f"helsinki.{s}" for s in ("cpg", "dbf", "prj", "shp", "shx")]
    twin.build()
    area = twin.stats().loc["area_km2", "value"]
    assert area == pytest.approx(_geodesic_km2(HELSINKI), rel=1e-4)

    deqing = _write_boundary(tmp_path / "in" / "deqing.gpkg", DEQING, crs="EPSG:4490")
    twin = Twin.init(tmp_path / "dq", boundary=deqing)
    assert twin.config.region.crs == "EPSG:4549"  # CGCS2000 3-degree GK CM 120E


def test_init_with_a_crs_that_does_not_fit_warns_and_build_stops(tmp_path: Path) -> None:
    hel = _write_boundary(tmp_path / "helsinki.gpkg", HELSINKI)
    ws = tmp_path / "hel"
    res = invoke("init", str(ws), "--boundary", str(hel), "--crs", "EPSG:4549")
    assert res.exit_code == 0, res.output
    assert res.stderr.startswith("twin: warning: twin.toml: region.crs: EPSG:4549")
    expected = (
        "twin: error: twin.toml: region.crs: EPSG:4549 (CGCS2000 / 3-degree Gauss-Kruger "
        "CM 120E) is made for 118.5°E–121.5°E, 24.4°N–53.4°N; the region lies at "
        "24.9°E–25°E, 60.1°N–60.2°N: use EPSG:32635 (WGS 84 / UTM zone 35N), "
        "or set allow_outside_area = true in [region]"
    )
    res = invoke("-w", str(ws), "build")
    assert res.exit_code == 1
    assert res.stderr.strip() == expected
    assert not (ws / "build" / "catalog.json").exists()  # stopped before building anything
    res = invoke("-w", str(ws), "validate")
    assert res.exit_code == 1
    assert res.stderr.strip() == expected.replace("twin: error:", "twin: problem:")
    res = invoke("-w", str(ws), "build", "--dry-run")
    assert res.exit_code == 1 and "allow_outside_area" in res.stderr


def test_init_boundary_errors_are_one_line(tmp_path: Path) -> None:
    res = invoke("init", str(tmp_path / "x"), "--boundary", str(tmp_path / "nope.shp"))
    assert res.exit_code == 1
    assert res.stderr.strip() == f"twin: error: --boundary: {tmp_path / 'nope.shp'}: no such file"
    assert not (tmp_path / "x" / "twin.toml").exists()


# -- figures on the ellipsoid ---------------------------------------------------------------


def _roads_workspace(root: Path, crs: str, allow: bool = False) -> Twin:
    (root / "sources").mkdir(parents=True)
    shutil.copy(HELSINKI_PBF, root / "sources" / "helsinki.osm.pbf")
    _write_boundary(root / "sources" / "helsinki.gpkg", HELSINKI)
    (root / "twin.toml").write_text(
        f"""
[region]
name = "Helsinki"
crs = "{crs}"
boundary = "boundary"
{"allow_outside_area = true" if allow else ""}

[sources.boundary]
path = "sources/helsinki.gpkg"

[sources.osm]
path = "sources/helsinki.osm.pbf"

[layers.roads]
builder = "roads"
inputs = {{ osm = "osm", zones = "boundary" }}
""",
        encoding="utf-8",
    )
    return Twin.open(root)


def test_figures_do_not_depend_on_the_working_crs(tmp_path: Path) -> None:
    """Helsinki in CGCS2000 GK CM 120E (95 degrees off its meridian) gives the same figures
    as in UTM 35N; planar figures in that CRS are a third too large."""
    good = _roads_workspace(tmp_path / "good", "EPSG:32635")
    bad = _roads_workspace(tmp_path / "bad", "EPSG:4549", allow=True)
    good.build()
    bad.build()
    g, b = good.stats()["value"], bad.stats()["value"]
    for name in ("area_km2", "road_km", "road_density"):
        assert b[name] == pytest.approx(g[name], rel=1e-3), name
    assert g["area_km2"] == pytest.approx(_geodesic_km2(HELSINKI), rel=1e-4)
    # per zone too
    gz, bz = good.layer("roads_zones"), bad.layer("roads_zones")
    for col in ("road_km", "area_km2", "density_km_per_km2"):
        assert bz[col].iloc[0] == pytest.approx(gz[col].iloc[0], rel=1e-3), col
    # the edges' own lengths agree one by one
    ge, be = good.layer("roads"), bad.layer("roads")
    assert len(ge) == len(be)
    np.testing.assert_allclose(
        np.sort(be["length_m"].to_numpy()), np.sort(ge["length_m"].to_numpy()), rtol=1e-3
    )
    # what a planar measure in the bad CRS would have said
    planar_area = bad.layer("roads_zones").area.iloc[0] / 1e6
    planar_km = bad.layer("roads").length.sum() / 1000
    assert planar_area / g["area_km2"] > 1.2
    assert planar_km / g["road_km"] > 1.1


# -- data outside the region ----------------------------------------------------------------

REGIONS = pytest.mark.parametrize(
    ("polygon", "crs"),
    [(HELSINKI, "EPSG:32635"), (DEQING, "EPSG:4549")],
    ids=["helsinki", "deqing"],
)


def _points_workspace(root: Path, polygon: Polygon, crs: str, clip: bool = False) -> Path:
    _write_boundary(root / "sources" / "county.gpkg", polygon)
    (root / "twin.toml").write_text(
        f"""
[region]
name = "County"
crs = "{crs}"
boundary = "county"

[sources.county]
path = "sources/county.gpkg"

[sources.shops]
path = "sources/shops.csv"

[layers.shops]
builder = "vector"
inputs = {{ source = "shops" }}
params = {{ id = "id", clip_to_region = {"true" if clip else "false"} }}
""",
        encoding="utf-8",
    )
    return root


@REGIONS
def test_features_outside_the_region_are_counted(
    tmp_path: Path, polygon: Polygon, crs: str
) -> None:
    root = _points_workspace(tmp_path / "ws", polygon, crs)
    inside = _inside_points(polygon, 94)
    _, _, e, n = polygon.bounds
    away = np.array([[e + 0.05 + 0.01 * i, n + 0.02] for i in range(6)])  # the next county
    _points_csv(root / "sources" / "shops.csv", np.vstack([inside, away]))
    report = Twin.open(root).build()
    assert report.warnings["shops"] == ["6 of 100 features lie outside the region boundary"]
    twin = Twin.open(root)
    assert twin.catalog.layers["shops"].stats["outside_region"] == 6
    assert twin.catalog.layers["shops"].count == 100  # counted, not dropped


@REGIONS
def test_swapped_lon_lat_stops_the_build_with_a_hint(
    tmp_path: Path, polygon: Polygon, crs: str
) -> None:
    root = _points_workspace(tmp_path / "ws", polygon, crs)
    pts = _inside_points(polygon, 50)
    _points_csv(root / "sources" / "shops.csv", pts)
    twin = Twin.open(root)
    twin.build()
    published = twin.catalog.layers["shops"].version
    _points_csv(root / "sources" / "shops.csv", pts, swap=True)
    res = invoke("-w", str(root), "build", "-q")
    assert res.exit_code == 1
    line = res.stderr.strip()
    assert "\n" not in line
    if polygon is HELSINKI:
        # (60.17, 24.94) as lon/lat is in Iran: valid, 3,500 km away
        assert line == (
            "twin: error: layer 'shops': all 50 features lie outside the region; with longitude "
            "and latitude swapped they would lie inside it: check the x/y columns of sources.shops"
        )
    else:
        # (30.5, 120.0) as lon/lat has no latitude 120: the reader says so, and why
        assert line.startswith("twin: error: layer 'shops': ") and "shops.csv: row 0" in line
        assert line.endswith(
            "are not longitude/latitude (50 row(s)); longitude and latitude look swapped: "
            "check the x/y columns"
        )
    assert Twin.open(root).catalog.layers["shops"].version == published
    assert sorted(p.name for p in (root / "build" / "shops").iterdir()) == [published]


# -- zero features --------------------------------------------------------------------------


def test_a_header_only_csv_fails_in_one_line_and_leaves_nothing(tmp_path: Path) -> None:
    root = _points_workspace(tmp_path / "ws", HELSINKI, "EPSG:32635")
    (root / "sources" / "shops.csv").write_text("id,lon,lat\n", encoding="utf-8")
    res = invoke("-w", str(root), "build", "-q")
    assert res.exit_code == 1
    assert res.stderr.strip() == "twin: error: layer 'shops': sources/shops.csv has no rows"
    assert not (root / "build" / "shops").exists()


def test_a_clip_that_removes_every_row_keeps_the_previous_version(tmp_path: Path) -> None:
    root = _points_workspace(tmp_path / "ws", HELSINKI, "EPSG:32635", clip=True)
    shops = root / "sources" / "shops.csv"
    _points_csv(shops, _inside_points(HELSINKI, 20))
    twin = Twin.open(root)
    twin.build()
    before = twin.catalog.layers["shops"]
    # the next delivery is the neighbouring town's (Espoo), not Helsinki's
    _points_csv(shops, _inside_points(HELSINKI, 20) - [0.15, 0.0])
    with pytest.raises(BuildError) as info:
        Twin.open(root).build()
    assert str(info.value) == (
        "layer 'shops': clip_to_region removed all 20 rows; the source lies outside the region"
    )
    after = Twin.open(root).catalog.layers["shops"]
    assert after.version == before.version and after.count == 20
    assert sorted(p.name for p in (root / "build" / "shops").iterdir()) == [before.version]


def test_any_builder_returning_an_empty_layer_fails_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from twin.builders import _REGISTRY, Builder, Output

    def run(ctx):  # type: ignore[no-untyped-def]
        return Output(data=gpd.GeoDataFrame(geometry=[], crs=ctx.crs))

    monkeypatch.setitem(_REGISTRY, "nothing", Builder(name="nothing", version="1", run=run))
    root = tmp_path / "ws"
    (root / "sources").mkdir(parents=True)
    (root / "twin.toml").write_text(
        '[region]\nname = "X"\n\n[layers.empty]\nbuilder = "nothing"\n', encoding="utf-8"
    )
    with pytest.raises(BuildError) as info:
        Twin.open(root).build()
    assert str(info.value) == (
        "layer 'empty': output check failed: the layer has no features "
        "(nothing to publish; the previous version stays)"
    )
    assert not (root / "build" / "empty").exists()
    catalog = json.loads((root / "build" / "catalog.json").read_text(encoding="utf-8"))
    assert catalog["layers"] == {}


def test_allow_outside_area_is_kept_in_twin_toml(tmp_path: Path) -> None:
    hel = _write_boundary(tmp_path / "helsinki.gpkg", HELSINKI)
    twin = Twin.init(tmp_path / "ws", boundary=hel, crs="EPSG:4549")
    with pytest.raises(ConfigError, match="allow_outside_area"):
        twin.check_crs()
    toml = tmp_path / "ws" / "twin.toml"
    text = toml.read_text(encoding="utf-8")
    assert "allow_outside_area" not in text
    toml.write_text(
        text.replace('boundary = "boundary"', 'boundary = "boundary"\nallow_outside_area = true'),
        encoding="utf-8",
    )
    Twin.open(tmp_path / "ws").check_crs()  # no error
    assert os.path.exists(tmp_path / "ws" / "sources" / "helsinki.gpkg")
