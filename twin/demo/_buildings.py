"""Building footprints of the demo county: town centres and village settlements.

Buildings front the roads: plots are laid along every road near a town seat
or a village settlement, both sides, each a rectangle turned to the road's
direction and set back from it. Plots that would stand on a road, in the
water or on another building are dropped. Heights are in floors: 1-3 in the
villages, rising towards the seat in the towns (up to 18 floors in the largest
towns, 8 in the smallest).
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely

from twin.demo._names import TOWNSHIPS
from twin.demo._roads import Way
from twin.demo._shapes import WORK_CRS, Boundaries

#: around a village settlement, the radius in metres that is built up
VILLAGE_CORE_M = 260.0


def town_core(radius_km: float) -> float:
    """The radius in metres of a town's built-up centre (its street grid reaches ``radius_km``)."""
    return 350.0 + 150.0 * radius_km


def town_top(radius_km: float) -> int:
    """The floors of a town's tallest buildings: 8 in the smallest towns, 18 in the largest."""
    return round(8 + 10 * float(np.clip((radius_km - 0.7) / 1.5, 0, 1)))


@dataclass(frozen=True)
class _Kind:
    spacing: tuple[float, float]  # metres between plot centres along a road
    width: tuple[float, float]  # along the road
    depth: tuple[float, float]  # away from the road
    setback: tuple[float, float]  # from the road's centre line to the building
    share: float  # of the plots that are built on


TOWN = _Kind((26.0, 40.0), (12.0, 26.0), (10.0, 18.0), (9.0, 14.0), 0.45)
VILLAGE = _Kind((22.0, 36.0), (9.0, 14.0), (8.0, 12.0), (6.0, 10.0), 0.3)


def _plots(
    rng: np.random.Generator, lines: list[shapely.LineString], kind: _Kind
) -> tuple[np.ndarray, np.ndarray]:
    """Rectangles fronting ``lines`` on both sides, and their centres."""
    polys, centres = [], []
    for line in lines:
        steps = rng.uniform(*kind.spacing, size=int(line.length / kind.spacing[0]) + 1)
        at = np.cumsum(steps) - rng.uniform(0, kind.spacing[0])
        at = at[(at >= 0) & (at <= line.length)]
        if not len(at):
            continue
        here, ahead, behind = (
            shapely.get_coordinates(shapely.line_interpolate_point(line, a))
            for a in (at, np.minimum(at + 5.0, line.length), np.maximum(at - 5.0, 0.0))
        )
        d = ahead - behind
        norm = np.hypot(d[:, 0], d[:, 1])
        ok = norm > 0
        d = d[ok] / norm[ok, None]
        here = here[ok]
        n = np.column_stack([-d[:, 1], d[:, 0]])
        for side in (-1.0, 1.0):
            built = rng.random(len(here)) < kind.share
            k = int(built.sum())
            w = rng.uniform(*kind.width, size=k)[:, None]
            h = rng.uniform(*kind.depth, size=k)[:, None]
            dd, nn = d[built], n[built]
            c = here[built] + side * nn * (rng.uniform(*kind.setback, size=k)[:, None] + h / 2)
            rings = np.stack([c + sx * dd * w / 2 + sy * nn * h / 2 for sx, sy in _CORNERS], 1)
            polys.append(shapely.polygons(rings))
            centres.append(c)
    if not polys:
        return np.array([], dtype=object), np.zeros((0, 2))
    return np.concatenate(polys), np.vstack(centres)


_CORNERS = ((-1, -1), (1, -1), (1, 1), (-1, 1))


def _near(tree: shapely.STRtree, lines: list[shapely.LineString], at: np.ndarray, radius: float):
    """The parts of ``lines`` within ``radius`` of ``at``."""
    disk = shapely.Point(at).buffer(radius, quad_segs=16)
    hits = tree.query(disk, predicate="intersects")
    parts = [lines[i].intersection(disk) for i in hits]
    return [p for g in parts for p in shapely.get_parts(g) if p.geom_type == "LineString"]


def _town_floors(rng: np.random.Generator, d: np.ndarray, top: int) -> np.ndarray:
    """Floors falling from up to ``top`` at the seat (``d`` = 0) to 1-3 at the edge (``d`` = 1)."""
    high = 3 + (top - 3) * (1 - np.clip(d, 0, 1)) ** 1.2
    return np.clip(np.round(high * rng.uniform(0.35, 1.1, len(d))), 1, top).astype(int)


def make_buildings(
    rng: np.random.Generator,
    b: Boundaries,
    ways: list[Way],
    water: shapely.Geometry | None,
    village_codes: list[str],
) -> gpd.GeoDataFrame:
    """Footprints with ``floors`` around every town seat and village settlement."""
    lines = [w.line for w in ways]
    tree = shapely.STRtree(lines)
    frames: list[tuple[np.ndarray, np.ndarray, str, str, str | None]] = []
    for t, town in enumerate(TOWNSHIPS):
        core = town_core(town.radius_km)
        polys, centres = _plots(rng, _near(tree, lines, b.seats[t], core), TOWN)
        d = np.hypot(*(centres - b.seats[t]).T) / core
        floors = _town_floors(rng, d, town_top(town.radius_km))
        frames.append((polys, floors, "town", town.code, None))
    for i, at in enumerate(b.village_points):
        polys, _ = _plots(rng, _near(tree, lines, at, VILLAGE_CORE_M), VILLAGE)
        floors = rng.choice([1, 2, 3], size=len(polys), p=[0.2, 0.55, 0.25])
        town = TOWNSHIPS[b.village_town[i]].code
        frames.append((polys, floors, "village", town, village_codes[i]))
    geoms = np.concatenate([f[0] for f in frames])
    keep = _free(geoms, tree, water, b.county)
    n = [len(f[0]) for f in frames]
    gdf = gpd.GeoDataFrame(
        {
            "floors": np.concatenate([f[1] for f in frames]).astype("int64"),
            "kind": np.repeat([f[2] for f in frames], n),
            "town_code": np.repeat([f[3] for f in frames], n),
            "village_code": np.repeat([f[4] for f in frames], n),
        },
        geometry=geoms,
        crs=WORK_CRS,
    )[keep].reset_index(drop=True)
    gdf.insert(0, "building_id", [f"B{k + 1:05d}" for k in range(len(gdf))])
    gdf["synthetic"] = True
    return gdf


def _free(
    geoms: np.ndarray,
    roads: shapely.STRtree,
    water: shapely.Geometry | None,
    county: shapely.Polygon,
) -> np.ndarray:
    """Which footprints stand clear of the roads, the water, the county's edge and each other."""
    keep = shapely.contains(county, geoms)
    on_road = roads.query(geoms, predicate="dwithin", distance=4.0)[0]
    keep[on_road] = False
    if water is not None:
        keep &= ~shapely.intersects(water, geoms)
    # of two footprints that overlap, the first laid keeps its place
    own = shapely.STRtree(geoms)
    a, c = own.query(geoms, predicate="intersects")
    later = c[a < c]
    first_kept = keep[a[a < c]]
    keep[later[first_kept]] = False
    return keep
