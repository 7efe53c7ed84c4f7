"""The demo county's land cover: polygons with a ``class`` column tiling the county.

Consistent with the other demo sources: ``water`` is exactly the lakes and canal
areas of ``water.gpkg``; ``dense_urban`` and ``urban`` ring the township seats
(subdistrict seats are dense in their core); ``village`` is a small settlement
around each village's road start; ``forest`` is the western hills (ground
above :data:`FOREST_ABOVE_M` on a 100 m copy of the DEM, so the land cover
does not change with the DEM's resolution); ``farmland`` is the rest of the
plain. The classes are the names of :mod:`layers.coverage.clutter`'s table.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import rasterio.features
import shapely
from shapely.geometry import Polygon, shape

from twin.demo._names import TOWNSHIPS
from twin.demo._shapes import WORK_CRS, Boundaries
from twin.demo._terrain import Water, dem_grid, make_dem

#: Ground above this is wooded hill (the plain lies at 2-10 m).
FOREST_ABOVE_M = 30.0
#: Radius of a village's settlement around its road start, m.
VILLAGE_RADIUS_M = 250.0
#: Share of a town's street-grid radius that is built up, and of a subdistrict's that is dense.
URBAN_SHARE, DENSE_SHARE = 0.8, 0.45

#: The order classes are cut in: each takes its area out of those after it.
CLASS_ORDER = ("water", "dense_urban", "urban", "village", "forest", "farmland")


def landcover(rng_dem: np.random.Generator, b: Boundaries, water: Water) -> gpd.GeoDataFrame:
    """Land-cover polygons (one row per part) with ``landcover_id`` and ``class``.

    ``rng_dem`` must be in the state :func:`twin.demo._terrain.make_dem` received
    (a copy): the hills are those of the DEM.
    """
    county = b.county
    wet = shapely.union_all(water.polygons()).intersection(county)
    dense, urban = [], []
    for t, town in enumerate(TOWNSHIPS):
        seat = shapely.Point(b.seats[t])
        r = town.radius_km * 1000
        urban.append(seat.buffer(URBAN_SHARE * r, quad_segs=16))
        if town.kind == "subdistrict":
            dense.append(seat.buffer(DENSE_SHARE * r, quad_segs=16))
    villages = [shapely.Point(p).buffer(VILLAGE_RADIUS_M, quad_segs=8) for p in b.village_points]
    parts = {
        "water": wet,
        "dense_urban": shapely.union_all(dense),
        "urban": shapely.union_all(urban),
        "village": shapely.union_all(villages),
        "forest": _hills(rng_dem, county, water),
        "farmland": county,
    }
    taken = shapely.Polygon()
    rows: list[tuple[str, Polygon]] = []
    for name in CLASS_ORDER:
        area = parts[name].intersection(county).difference(taken)
        taken = taken.union(area)
        for poly in shapely.get_parts(area):
            if isinstance(poly, Polygon) and poly.area > 1.0:
                rows.append((name, poly))
    return gpd.GeoDataFrame(
        {
            "landcover_id": [f"LC{i + 1:05d}" for i in range(len(rows))],
            "class": [name for name, _ in rows],
            "area_km2": [round(p.area / 1e6, 4) for _, p in rows],
            "synthetic": True,
        },
        geometry=[p for _, p in rows],
        crs=WORK_CRS,
    )


def _hills(rng_dem: np.random.Generator, county: Polygon, water: Water) -> shapely.Geometry:
    """The ground above :data:`FOREST_ABOVE_M` on a 100 m DEM, as smoothed polygons."""
    grid = dem_grid(county, 100.0)
    high = make_dem(rng_dem, county, grid, water) > FOREST_ABOVE_M
    polys = [
        shape(geom)
        for geom, value in rasterio.features.shapes(
            high.astype(np.uint8), mask=high, transform=grid.transform
        )
        if value
    ]
    # Pixel staircases become smooth edges; specks under a hectare's size go.
    return shapely.union_all(polys).buffer(60, quad_segs=4).buffer(-60).simplify(30)


__all__ = ["CLASS_ORDER", "landcover"]
