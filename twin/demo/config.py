"""The ``twin.toml`` of the demo workspace: its sources and layers.

To add a layer to the demo, add one entry to the ``layers`` dict in
:func:`demo_config` (the helpers below keep each entry to a line or two).
"""

from __future__ import annotations

import math
from typing import Any

from twin.config import LayerConfig, RegionConfig, SourceConfig, TileOptions, TwinConfig
from twin.demo.generate import ORTHO_DIR, SOURCE_FILES

SYNTHETIC_NOTE = "Synthetic demo data modelled on Deqing county; not a real place's data."
# Metres per pixel of a Web Mercator tile at zoom 0 and the county's latitude (30.56 N).
_M_PER_PX_Z0 = 156_543.03 * math.cos(math.radians(30.56))

# Source name -> (title, what it holds, extra SourceConfig fields).
_SOURCES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "county": ("County", "The county boundary", {"layer": "county"}),
    "townships": ("Townships", "13 towns and subdistricts", {"layer": "townships"}),
    "villages": ("Villages", "137 administrative villages", {"layer": "villages"}),
    "dem": ("Elevation", "DEM in metres, EPSG:4549", {}),
    "water": ("Water", "Lakes and canal areas", {"layer": "water"}),
    "canals": ("Canals", "Canal and river centre lines", {"layer": "canals"}),
    "roads": ("Roads", "Road network, OpenStreetMap PBF", {}),
    "cell_sites": (
        "5G cells",
        "One row per sector of each 5G site",
        {"crs": "EPSG:4326", "x": "lon", "y": "lat"},
    ),
    "drive_test": (
        "5G drive test",
        "SS-RSRP measured along the main roads, with the serving cell",
        {"crs": "EPSG:4326", "x": "lon", "y": "lat"},
    ),
    "enterprises": (
        "Enterprises",
        "Registered enterprises",
        {"crs": "EPSG:4326", "x": "lon", "y": "lat"},
    ),
    "facilities": (
        "Service facilities",
        "Clinics, schools, elderly care, bus stops",
        {"crs": "EPSG:4326", "x": "lon", "y": "lat"},
    ),
    "village_indicators": (
        "Village indicators",
        "One row per village and month, keyed by village_code and period (2025-12 .. 2026-11)",
        {},
    ),
    "landcover": (
        "Land cover",
        "Land-cover classes (the coverage model's clutter)",
        {"layer": "landcover"},
    ),
    "buildings": (
        "Buildings",
        "Building footprints in the towns and villages, with their floors",
        {"layer": "buildings"},
    ),
}


def raster_maxzoom(resolution: float) -> int:
    """The Web Mercator zoom whose pixels are as fine as ``resolution`` metres."""
    return max(8, math.ceil(math.log2(_M_PER_PX_Z0 / resolution)))


def _vector(source: str, title: str, zh: str, id_column: str, **style: Any) -> LayerConfig:
    return LayerConfig(
        builder="vector",
        title=title,
        title_i18n={"zh": zh},
        inputs={"source": source},
        params={"id": id_column},
        tiles=TileOptions(minzoom=8, maxzoom=18, style=style),
    )


def _villages(with_coverage: bool) -> LayerConfig:
    """The digital-village one map: every village's five domains, styled by its total score."""
    inputs = {
        "boundaries": "villages",
        "indicators": "village_indicators",
        "enterprises": "enterprises",
        "facilities": "facilities",
        "roads": "layers.roads",
    }
    if with_coverage:
        inputs["coverage"] = "layers.coverage"
    return LayerConfig(
        builder="villages",
        title="Villages (five domains)",
        title_i18n={"zh": "行政村（五大领域）"},
        inputs=inputs,
        params={
            "tables": ["indicators"],
            "period": "month",  # the table's `period` column: the layer shows the latest month
            "points": {
                "enterprises": {
                    "domain": "business",
                    "category": "industry",
                    "sum": ["revenue_10k_cny", "employees"],
                },
                "facilities": {
                    "domain": "services",
                    "category": "type",
                    "reach": ["clinic", "school", "elderly_care", "bus_stop"],
                },
            },
        },
        tiles=TileOptions(minzoom=8, maxzoom=18, style={"property": "score_total"}),
    )


def _ortho() -> tuple[SourceConfig, LayerConfig]:
    """The 10 cm orthophoto of 武康街道's centre (:mod:`twin.demo._ortho`) and its mosaic."""
    source = SourceConfig(
        path=f"sources/{ORTHO_DIR}",
        title="Orthophoto sheets",
        description="16 overlapping 10 cm sheets of 武康街道's centre with black collars, "
        f"15 in EPSG:4549 and one JPEG + world file in EPSG:4490. {SYNTHETIC_NOTE}",
        synthetic=True,
    )
    layer = LayerConfig(
        builder="imagery",
        title="Orthophoto (10 cm)",
        title_i18n={"zh": "正射影像（10 厘米）"},
        inputs={"sheets": "ortho"},
        params={"collar": "black"},
        tiles=TileOptions(minzoom=12),
    )
    return source, layer


def demo_config(
    *,
    name: str = "Demo County",
    resolution: float = 20.0,
    history: bool = True,
    imagery: bool = False,
) -> TwinConfig:
    """The configuration of the demo workspace written by :func:`twin.demo.generate_sources`.

    Parameters
    ----------
    name
        The region's name.
    resolution
        The DEM's pixel size in metres (sets the raster layer's resolution and max zoom).
    history
        Add the ``coverage_change`` layer (the coverage against its previous version);
        the demo's first build then makes a coverage version before three new sites
        (:mod:`twin.demo._coverage_history`).
    imagery
        With the ``ortho`` source and layer: the sheets ``generate_sources(imagery=True)``
        writes.
    """
    sources = {
        key: SourceConfig(
            path=f"sources/{SOURCE_FILES[key]}",
            title=title,
            description=f"{what}. {SYNTHETIC_NOTE}",
            synthetic=True,
            **extra,
        )
        for key, (title, what, extra) in _SOURCES.items()
    }
    layers = {
        "county": _vector("county", "County boundary", "县界", "county_code", color="#333333"),
        "townships": _vector("townships", "Townships", "乡镇", "town_code", color="#7a5195"),
        "village_boundaries": _vector(
            "villages", "Village boundaries", "村界", "village_code", color="#ef5675"
        ),
        "water": _vector("water", "Lakes and canals", "水系", "water_id", color="#4a90d9"),
        "enterprises": _vector(
            "enterprises", "Enterprises", "企业", "enterprise_id", property="industry"
        ),
        "facilities": _vector(
            "facilities", "Service facilities", "公共服务设施", "facility_id", property="type"
        ),
        "cell_sites": _vector("cell_sites", "5G cell sites", "5G 基站", "cell_id", property="band"),
        "landcover": _vector(
            "landcover", "Land cover", "土地覆盖", "landcover_id", property="class", visible=False
        ),
        # footprints, standing floors x 3 m tall in the viewer's 3D view; drawn from zoom 13
        "buildings": LayerConfig(
            builder="vector",
            title="Buildings",
            title_i18n={"zh": "建筑"},
            inputs={"source": "buildings"},
            params={"id": "building_id", "height": {"floors": "floors", "floor_height": 3.0}},
            tiles=TileOptions(minzoom=13, maxzoom=18, style={"color": "#b59b7c", "visible": True}),
        ),
        "roads": LayerConfig(
            builder="roads",
            title="Roads",
            title_i18n={"zh": "道路"},
            inputs={"osm": "roads", "zones": "layers.village_boundaries"},
            params={"network": "drive", "zone_id": "village_code"},
            tiles=TileOptions(minzoom=8, maxzoom=18, style={"property": "road_class"}),
        ),
        "dem": LayerConfig(
            builder="raster",
            title="Elevation (m)",
            title_i18n={"zh": "高程（米）"},
            inputs={"source": "dem"},
            params={"resolution": resolution, "resampling": "bilinear"},
            tiles=TileOptions(
                minzoom=8,
                maxzoom=raster_maxzoom(resolution),
                # Off at first: drawn over the coverage raster it would hide it. The ground
                # of the viewer's 3D view all the same (terrain).
                style={
                    "colormap": "terrain",
                    "rescale": [0, 700],
                    "visible": False,
                    "terrain": True,
                    "exaggeration": 1.5,
                },
            ),
        ),
    }
    layers["coverage"] = LayerConfig(
        builder="coverage",
        title="5G coverage (SS-RSRP, dBm)",
        title_i18n={"zh": "5G 覆盖（SS-RSRP，dBm）"},
        inputs={
            "dem": "dem",
            "sites": "cell_sites",
            "zones": "layers.village_boundaries",
            "landcover": "landcover",
            "measurements": "drive_test",
        },
        params={"resolution": max(resolution, 20.0), "zone_id": "village_code", "calibrate": True},
        tiles=TileOptions(minzoom=8, maxzoom=raster_maxzoom(max(resolution, 20.0))),
    )
    if history:
        layers["coverage_change"] = LayerConfig(
            builder="diff",
            title="5G coverage change (SS-RSRP, dB)",
            title_i18n={"zh": "5G 覆盖变化（SS-RSRP，dB）"},
            inputs={"layer": "layers.coverage"},
            params={"against": "previous"},
            tiles=TileOptions(
                minzoom=8, maxzoom=raster_maxzoom(max(resolution, 20.0)), style={"visible": False}
            ),
        )
    layers["villages"] = _villages(with_coverage="coverage" in layers)
    if imagery:
        sources["ortho"], layers["ortho"] = _ortho()
    return TwinConfig(
        region=RegionConfig(name=name, crs="EPSG:4549", boundary="county"),
        sources=sources,
        layers=layers,
    )
