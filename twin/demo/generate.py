"""Generate the synthetic demo county's source files.

The county is modelled on Deqing (Zhejiang): about 936 km² inside Deqing's
real extent, 13 townships, 137 administrative villages, hills to ~700 m in the
west and a water-town plain in the east. Everything comes from
``numpy.random.default_rng(seed)``; each part of the county draws from its own
spawned generator, so the DEM resolution changes the DEM and nothing else.

Examples
--------
>>> from pathlib import Path
>>> from twin.demo import generate_sources
>>> paths = generate_sources(Path("demo-county"), resolution=100)  # doctest: +SKIP
>>> sorted(paths)  # doctest: +SKIP
['cell_sites', 'county', 'dem', 'enterprises', 'facilities', 'roads', ...]
"""

from __future__ import annotations

import copy
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from layers.raster import read_raster
from layers.vector import read_vector
from twin._version import __version__
from twin.demo._buildings import make_buildings
from twin.demo._drive import drive_test
from twin.demo._indicator_history import monthly_history
from twin.demo._io import write_csv, write_dem, write_gpkg
from twin.demo._landcover import landcover
from twin.demo._names import COUNTY_CODE, COUNTY_NAME, COUNTY_PINYIN, TOWNSHIPS, syllable_names
from twin.demo._ortho import TOWN as ORTHO_TOWN
from twin.demo._ortho import make_scene, photo_area, write_ortho
from twin.demo._osm import build_network, write_pbf
from twin.demo._points import (
    Land,
    cell_sites,
    enterprises,
    facilities,
    village_indicators,
)
from twin.demo._roads import make_roads
from twin.demo._shapes import (
    TO_WORK,
    WORK_CRS,
    Boundaries,
    county_polygon,
    make_boundaries,
    township_seats,
)
from twin.demo._terrain import Water, dem_grid, make_dem, make_water
from twin.errors import TwinError

DEFAULT_SEED = 20261128
#: Bump when the same seed would produce different files.
GENERATOR_VERSION = "2"
MIN_RESOLUTION, MAX_RESOLUTION = 5.0, 200.0

#: Source name -> file name under ``sources/``.
SOURCE_FILES = {
    "county": "county.gpkg",
    "townships": "townships.gpkg",
    "villages": "villages.gpkg",
    "dem": "dem.tif",
    "water": "water.gpkg",
    "canals": "water.gpkg",
    "roads": "roads.osm.pbf",
    "cell_sites": "cell_sites.csv",
    "drive_test": "drive_test.csv",
    "enterprises": "enterprises.csv",
    "facilities": "facilities.csv",
    "village_indicators": "village_indicators.csv",
    "landcover": "landcover.gpkg",
    "buildings": "buildings.gpkg",
}
#: the orthophoto's sheets, under ``sources/`` (written when asked for)
ORTHO_DIR = "ortho"


def generator_string(seed: int) -> str:
    """The generator named in every file's metadata."""
    return (
        f"onemap-twin {__version__} demo county generator v{GENERATOR_VERSION} "
        f"(SYNTHETIC data, seed {seed})"
    )


def generate_sources(
    root: Path, *, seed: int = DEFAULT_SEED, resolution: float = 20.0, imagery: bool = False
) -> dict[str, Path]:
    """Write the demo county's raw sources under ``root / "sources"``.

    Parameters
    ----------
    root
        The workspace directory (created if missing).
    seed
        Seed of :func:`numpy.random.default_rng`; the same seed and resolution
        give byte-identical files.
    resolution
        DEM pixel size in metres (20 by default, 10 for high precision).
    imagery
        Also draw the 10 cm orthophoto of 武康街道's centre into ``sources/ortho/``
        (:mod:`twin.demo._ortho`; 16 sheets, 600 m x 600 m, 46 megapixels).

    Returns
    -------
    dict[str, Path]
        Source name -> file path (the names :func:`twin.demo.demo_config` uses); ``ortho``
        is the folder of sheets.

    Raises
    ------
    TwinError
        When ``resolution`` is outside 5-200 m or the files cannot be written.
    """
    if not MIN_RESOLUTION <= float(resolution) <= MAX_RESOLUTION:
        raise TwinError(
            f"demo resolution must be {MIN_RESOLUTION:g}-{MAX_RESOLUTION:g} metres, "
            f"got {resolution!r}"
        )
    out = Path(root) / "sources"
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TwinError(f"{out}: cannot create the sources directory: {exc}") from None
    gen = generator_string(seed)
    rngs = np.random.default_rng(seed).spawn(8)  # a child's stream depends on its index only
    rng_shape, rng_water, rng_dem, rng_roads, rng_points, rng_drive, rng_buildings = rngs[:7]

    county = county_polygon(rng_shape)
    water = make_water(rng_water, county, township_seats(county))
    bounds = make_boundaries(rng_shape, water.lakes, county)
    pairs = syllable_names(rng_shape, len(bounds.villages))
    village_names = [f"{h}村" for h, _ in pairs]
    village_pinyin = [f"{p} Cun" for _, p in pairs]
    codes = _village_codes(bounds)
    meta = {"SYNTHETIC": "yes", "GENERATOR": gen, "SEED": str(seed)}
    note = f"SYNTHETIC demo data, not real boundaries ({gen})."

    _write_boundaries(out, bounds, village_names, village_pinyin, codes, note, meta)
    _write_water(out, water, note, meta)

    grid = dem_grid(bounds.county, float(resolution))
    rng_hills = copy.deepcopy(rng_dem)  # the land cover's hills are the DEM's, at 100 m
    dem = make_dem(rng_dem, bounds.county, grid, water)
    write_dem(
        dem,
        grid,
        WORK_CRS,
        out / "dem.tif",
        {**meta, "DESCRIPTION": f"Synthetic elevation (m) of the demo county, {resolution:g} m"},
    )

    frame = shapely.box(*grid.bounds).buffer(-200).bounds
    lakes = shapely.union_all(water.lakes)
    ways, points = make_roads(rng_roads, bounds, frame, village_names, lakes)
    bounds.village_points = points
    net = build_network(ways, shapely.union_all(water.polygons()))
    if net.components() != 1:
        raise TwinError("demo roads: the generated network is not connected")  # pragma: no cover
    write_pbf(net, out / "roads.osm.pbf", gen, rng_roads)
    cover = landcover(rng_hills, bounds, water)
    write_gpkg(cover, out / "landcover.gpkg", "landcover", note, meta)
    wet = shapely.union_all(water.polygons())
    shapely.prepare(wet)
    houses = make_buildings(rng_buildings, bounds, ways, wet, codes)
    write_gpkg(houses, out / "buildings.gpkg", "buildings", note, meta)
    if imagery:
        area = photo_area(bounds.seats[ORTHO_TOWN])
        scene = make_scene(area, cover, water.polygons(), ways, houses)
        write_ortho(out / ORTHO_DIR, rngs[7], area, scene)

    land = Land(bounds.county, lakes)
    majors = [
        w
        for w in ways
        if w.highway in ("trunk", "primary", "secondary", "tertiary") and "ref" in w.tags
    ]
    sites = cell_sites(rng_points, bounds, land)
    firms = enterprises(rng_points, bounds, land, majors)
    services = facilities(rng_points, bounds, land, village_names, majors)
    homestays = firms[firms["subtype"] == "homestay"]
    hx, hy = TO_WORK.transform(homestays["lon"].to_numpy(), homestays["lat"].to_numpy())
    table = village_indicators(rng_points, bounds, land, codes, np.column_stack([hx, hy]))
    # months before the latest, from a stream of their own (the other files stay as they were)
    table = monthly_history(rng_points.spawn(1)[0], table)
    write_csv(sites, out / "cell_sites.csv")
    drive = drive_test(
        rng_drive,
        [w.line for w in majors],
        bounds.county,
        read_raster(out / "dem.tif"),
        read_vector(out / "cell_sites.csv", crs="EPSG:4326", x="lon", y="lat"),
        max(float(resolution), 20.0),
    )
    write_csv(drive, out / "drive_test.csv")
    write_csv(firms, out / "enterprises.csv")
    write_csv(services, out / "facilities.csv")
    write_csv(table, out / "village_indicators.csv")
    _write_readme(out, seed, resolution, gen, imagery)
    paths = {name: out / file for name, file in SOURCE_FILES.items()}
    if imagery:
        paths["ortho"] = out / ORTHO_DIR
    return paths


def _village_codes(b: Boundaries) -> list[str]:
    codes = []
    for t, town in enumerate(TOWNSHIPS):
        members = np.flatnonzero(b.village_town == t)
        codes += [f"{town.code}{200 + k:03d}" for k in range(1, len(members) + 1)]
    # Villages are ordered township by township, so the codes line up with them.
    return codes


def _write_boundaries(
    out: Path,
    b: Boundaries,
    names: list[str],
    pinyin: list[str],
    codes: list[str],
    note: str,
    meta: dict[str, str],
) -> None:
    county = gpd.GeoDataFrame(
        {
            "county_code": [COUNTY_CODE],
            "name": [COUNTY_NAME],
            "name_en": [COUNTY_PINYIN],
            "area_km2": [round(b.county.area / 1e6, 3)],
            "synthetic": [True],
        },
        geometry=[b.county],
        crs=WORK_CRS,
    )
    write_gpkg(county, out / "county.gpkg", "county", note, meta)
    counts = np.bincount(b.village_town, minlength=len(TOWNSHIPS))
    towns = gpd.GeoDataFrame(
        {
            "town_code": [t.code for t in TOWNSHIPS],
            "name": [t.name for t in TOWNSHIPS],
            "pinyin": [t.pinyin for t in TOWNSHIPS],
            "kind": [t.kind for t in TOWNSHIPS],
            "villages": counts.astype(int),
            "area_km2": [round(p.area / 1e6, 3) for p in b.townships],
            "synthetic": True,
        },
        geometry=b.townships,
        crs=WORK_CRS,
    )
    write_gpkg(towns, out / "townships.gpkg", "townships", note, meta)
    villages = gpd.GeoDataFrame(
        {
            "village_code": codes,
            "name": names,
            "pinyin": pinyin,
            "town_code": [TOWNSHIPS[t].code for t in b.village_town],
            "town_name": [TOWNSHIPS[t].name for t in b.village_town],
            "area_km2": [round(p.area / 1e6, 3) for p in b.villages],
            "synthetic": True,
        },
        geometry=b.villages,
        crs=WORK_CRS,
    )
    write_gpkg(villages, out / "villages.gpkg", "villages", note, meta)


def _write_water(out: Path, water: Water, note: str, meta: dict[str, str]) -> None:
    polys = water.polygons()
    n_lakes = len(water.lakes)
    kinds = ["lake"] * n_lakes + water.canal_kinds
    names = water.lake_names + water.canal_names
    widths = [None] * n_lakes + water.canal_widths
    areas = gpd.GeoDataFrame(
        {
            "water_id": [f"W{i + 1:03d}" for i in range(len(polys))],
            "kind": kinds,
            "name": names,
            "width_m": widths,
            "synthetic": True,
        },
        geometry=polys,
        crs=WORK_CRS,
    )
    path = out / "water.gpkg"
    write_gpkg(areas, path, "water", note, meta)
    lines = gpd.GeoDataFrame(
        {
            "water_id": [f"W{n_lakes + i + 1:03d}" for i in range(len(water.canals))],
            "kind": water.canal_kinds,
            "name": water.canal_names,
            "width_m": water.canal_widths,
            "synthetic": True,
        },
        geometry=water.canals,
        crs=WORK_CRS,
    )
    write_gpkg(lines, path, "canals", note, meta, add=True)


def _write_readme(out: Path, seed: int, resolution: float, gen: str, imagery: bool) -> None:
    ortho = (
        "| ortho/ | a 10 cm orthophoto of 武康街道's centre: 16 overlapping sheets with black "
        "collars, GeoTIFF (JPEG) in EPSG:4549 and one JPEG + .jgw + .prj in EPSG:4490 |\n"
        if imagery
        else ""
    )
    text = f"""# Demo county sources (SYNTHETIC)

Every file in this directory is **synthetic**: generated by `twin demo`
({gen}), seed `{seed}`, DEM resolution {resolution:g} m. The county is modelled
on Deqing county, Zhejiang (township names, extent, terrain character), but
its boundaries, roads, sites, enterprises and figures are invented. Do not use
them as facts about any real place.

| file | content |
| --- | --- |
| county.gpkg | layer `county`: the county polygon (EPSG:4549) |
| townships.gpkg | layer `townships`: 13 towns and subdistricts |
| villages.gpkg | layer `villages`: 137 administrative villages tiling the county |
| dem.tif | elevation in metres, float32, EPSG:4549, nodata -9999, tag SYNTHETIC=yes |
| water.gpkg | layers `water` (lakes and canal areas) and `canals` (centre lines) |
| roads.osm.pbf | road network as OpenStreetMap PBF (WGS84) |
| cell_sites.csv | 5G cells, one row per sector (WGS84 lon/lat) |
| drive_test.csv | 5G drive test along the main roads: SS-RSRP (dBm), serving cell, time |
| enterprises.csv | enterprises with industry, revenue and employees |
| facilities.csv | clinics, schools, elderly care, bus stops |
| village_indicators.csv | one row per village and month, 2025-12 .. 2026-11 (`period`); one gap |
| landcover.gpkg | layer `landcover`: land-cover polygons with a `class` column |
| buildings.gpkg | layer `buildings`: footprints along the roads of towns and villages, `floors` |
{ortho}
Regenerate with the same seed and resolution to get byte-identical files.
"""
    (out / "README.md").write_text(text, encoding="utf-8")
