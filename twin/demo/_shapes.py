"""Boundaries of the demo county: the county outline, villages and townships.

Everything is in the working CRS (EPSG:4549, metres) and snapped to a 1 cm
grid, so that villages built from one Voronoi diagram share their edges
exactly and their union is the county to the square centimetre.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from pyproj import Transformer
from shapely.geometry import MultiPoint, Point, Polygon

from twin.demo._names import TOWNSHIPS, Township

WORK_CRS = "EPSG:4549"
#: Deqing's real extent in WGS84: west, south, east, north.
DEQING_EXTENT = (119.76, 30.43, 120.34, 30.69)
GRID = 0.01  # metres: the precision every boundary is snapped to
N_VILLAGES = 137
MIN_VILLAGES_PER_TOWNSHIP = 5

TO_WORK = Transformer.from_crs("EPSG:4326", WORK_CRS, always_xy=True)
TO_LONLAT = Transformer.from_crs(WORK_CRS, "EPSG:4326", always_xy=True)


def inner_extent(margin: float = 1500.0) -> tuple[float, float, float, float]:
    """The largest axis-aligned box in EPSG:4549 inside Deqing's lon/lat extent, less ``margin``."""
    w, s, e, n = DEQING_EXTENT
    xs, ys = TO_WORK.transform([w, w, e, e], [s, n, s, n])
    return (
        max(xs[0], xs[1]) + margin,
        max(ys[0], ys[2]) + margin,
        min(xs[2], xs[3]) - margin,
        min(ys[1], ys[3]) - margin,
    )


def smooth_periodic(
    rng: np.random.Generator,
    theta: np.ndarray,
    kmin: int,
    kmax: int,
    std: float,
    slope: float = 1.3,
) -> np.ndarray:
    """A smooth random function of the angle: harmonics ``kmin..kmax`` with a power-law spectrum."""
    ks = np.arange(kmin, kmax + 1)
    amp = ks.astype(float) ** -slope * rng.normal(1.0, 0.25, size=ks.size)
    phase = rng.uniform(0.0, 2 * np.pi, size=ks.size)
    values = (amp[:, None] * np.cos(ks[:, None] * theta[None, :] + phase[:, None])).sum(axis=0)
    return values * (std / max(float(values.std()), 1e-12))


def blob(
    rng: np.random.Generator,
    cx: float,
    cy: float,
    rx: float,
    ry: float,
    roughness: float = 0.12,
    n: int = 360,
) -> Polygon:
    """An irregular star-shaped polygon around (cx, cy) with semi-axes ``rx``, ``ry``."""
    theta = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
    wobble = smooth_periodic(rng, theta, 2, 9, roughness)
    r = 1.0 / np.sqrt((np.cos(theta) / rx) ** 2 + (np.sin(theta) / ry) ** 2)
    r = r * np.clip(1.0 + wobble, 0.4, None)
    return Polygon(np.column_stack([cx + r * np.cos(theta), cy + r * np.sin(theta)]))


def county_polygon(rng: np.random.Generator, target_km2: float = 936.0) -> Polygon:
    """An irregular county outline of ``target_km2`` inside Deqing's extent.

    A radial function (an ellipse filling the extent, perturbed by smooth
    low-order harmonics and a little high-order roughness) is scaled to the
    target area; draws that would leave the extent are redrawn.
    """
    x0, y0, x1, y1 = inner_extent()
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    hx, hy = (x1 - x0) / 2, (y1 - y0) / 2
    theta = np.linspace(0.0, 2 * np.pi, 720, endpoint=False)
    ellipse = 1.0 / np.sqrt((np.cos(theta) / hx) ** 2 + (np.sin(theta) / hy) ** 2)
    for _ in range(200):
        noise = smooth_periodic(rng, theta, 2, 7, 0.11) + smooth_periodic(rng, theta, 8, 48, 0.022)
        r = ellipse * (1.0 + noise)
        ring = np.column_stack([r * np.cos(theta), r * np.sin(theta)])
        scale = np.sqrt(target_km2 * 1e6 / Polygon(ring).area)
        ring = ring * scale
        if np.all(np.abs(ring[:, 0]) <= hx) and np.all(np.abs(ring[:, 1]) <= hy):
            poly = Polygon(ring + np.array([cx, cy]))
            return shapely.set_precision(poly, GRID)
    raise RuntimeError("could not draw a county outline inside the extent")  # pragma: no cover


def county_frame(county: Polygon) -> tuple[float, float, float, float]:
    """The county's bounding box, the frame township positions (u, v) refer to."""
    return tuple(float(v) for v in county.bounds)  # type: ignore[return-value]


def uv_to_xy(county: Polygon, u: float, v: float) -> tuple[float, float]:
    x0, y0, x1, y1 = county_frame(county)
    return x0 + u * (x1 - x0), y0 + v * (y1 - y0)


def village_seeds(rng: np.random.Generator, county: Polygon, n: int = N_VILLAGES) -> np.ndarray:
    """``n`` well-spread points in the county, sparser in the western hills.

    Dart throwing with a shrinking minimum distance: each pass fills the
    county at one spacing, so the last points land in the remaining gaps
    rather than clustering.
    """
    x0, y0, x1, y1 = county.bounds
    cand = rng.uniform([x0, y0], [x1, y1], size=(8000, 2))
    cand = cand[shapely.contains_xy(county, cand[:, 0], cand[:, 1])]
    u = (cand[:, 0] - x0) / (x1 - x0)
    density = 0.45 + 0.55 * _smoothstep(0.15, 0.5, u)
    spacing = np.sqrt(county.area / n)
    d0 = 1.3 * spacing
    accepted: list[int] = []
    taken = np.zeros(len(cand), dtype=bool)
    while len(accepted) < n:
        for i in range(len(cand)):
            if taken[i]:
                continue
            dmin = d0 / np.sqrt(density[i])
            if accepted:
                pts = cand[accepted]
                if np.min(np.hypot(pts[:, 0] - cand[i, 0], pts[:, 1] - cand[i, 1])) < dmin:
                    continue
            accepted.append(i)
            taken[i] = True
            if len(accepted) == n:
                break
        d0 *= 0.93
    return cand[accepted]


def _smoothstep(e0: float, e1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def _shared_length(a: shapely.Geometry, b: shapely.Geometry) -> float:
    return float(shapely.length(shapely.intersection(a.boundary, b.boundary, grid_size=GRID)))


def village_polygons(county: Polygon, seeds: np.ndarray) -> list[Polygon]:
    """Voronoi cells of ``seeds`` clipped to the county; stray fragments join a neighbour."""
    frame = shapely.box(*county.bounds).buffer(10_000)
    cells = shapely.voronoi_polygons(MultiPoint(seeds), extend_to=frame, ordered=True)
    parts = shapely.intersection(np.asarray(shapely.get_parts(cells)), county, grid_size=GRID)
    polys: list[shapely.Geometry] = list(parts)
    # A concave stretch of the outline can cut a cell in two: the piece away
    # from the seed goes to the neighbour it shares the longest edge with.
    for i, geom in enumerate(list(polys)):
        if geom.geom_type == "Polygon":
            continue
        pieces = sorted(shapely.get_parts(geom), key=lambda p: -p.area)
        keep = next((p for p in pieces if p.contains(Point(seeds[i]))), pieces[0])
        polys[i] = keep
        for piece in pieces:
            if piece is keep:
                continue
            best = max(
                (j for j in range(len(polys)) if j != i),
                key=lambda j: _shared_length(piece, polys[j]),
            )
            polys[best] = shapely.union(polys[best], piece, grid_size=GRID)
    out = []
    for geom in polys:
        if geom.geom_type != "Polygon":
            raise RuntimeError("a village polygon came out in several parts")  # pragma: no cover
        out.append(geom)
    return out


@dataclass
class Boundaries:
    """The county, its villages (in code order) and townships."""

    county: Polygon
    villages: list[Polygon]
    village_points: np.ndarray  # the village's settlement (where its roads start)
    village_town: np.ndarray  # index into TOWNSHIPS for each village
    townships: list[Polygon]
    seats: np.ndarray  # (13, 2) town seat coordinates


def township_seats(county: Polygon) -> np.ndarray:
    """Seat coordinates of the townships, pulled inside the county if needed."""
    c = county.centroid
    seats = []
    for t in TOWNSHIPS:
        x, y = uv_to_xy(county, t.u, t.v)
        inner = county.buffer(-(t.radius_km * 1000 + 500))
        for f in np.linspace(0.0, 1.0, 41):
            px, py = x + f * (c.x - x), y + f * (c.y - y)
            if inner.contains(Point(px, py)):
                break
        seats.append((px, py))
    return np.array(seats)


def assign_townships(
    villages: list[Polygon],
    seeds: np.ndarray,
    seats: np.ndarray,
    towns: tuple[Township, ...] = TOWNSHIPS,
) -> np.ndarray:
    """Give every village a township: nearest seat, balanced and contiguous.

    Distances are divided by a per-township weight that grows for townships
    left with too few villages; the village holding a seat always belongs to
    it; a township split in pieces hands the pieces away from its seat to the
    neighbour sharing the longest border.
    """
    n_t = len(towns)
    weight = np.array([t.weight for t in towns]) ** 0.25
    seat_pts = shapely.points(seats)
    village_arr = np.asarray(villages, dtype=object)
    holder = np.array([int(np.flatnonzero(shapely.contains(village_arr, p))[0]) for p in seat_pts])
    for _ in range(60):
        d = np.hypot(seeds[:, None, 0] - seats[None, :, 0], seeds[:, None, 1] - seats[None, :, 1])
        town = np.argmin(d / weight[None, :], axis=1)
        town[holder] = np.arange(n_t)
        town = _make_contiguous(village_arr, town, holder)
        counts = np.bincount(town, minlength=n_t)
        if counts.min() >= MIN_VILLAGES_PER_TOWNSHIP:
            return town
        weight = weight * np.where(counts < MIN_VILLAGES_PER_TOWNSHIP, 1.08, 1.0)
    raise RuntimeError("could not balance villages between townships")  # pragma: no cover


def _make_contiguous(villages: np.ndarray, town: np.ndarray, holder: np.ndarray) -> np.ndarray:
    town = town.copy()
    for _ in range(20):
        changed = False
        for t in range(len(holder)):
            members = np.flatnonzero(town == t)
            union = shapely.union_all(villages[members], grid_size=GRID)
            if union.geom_type == "Polygon":
                continue
            seat_village = villages[holder[t]]
            for piece in shapely.get_parts(union):
                if piece.intersects(seat_village.representative_point()):
                    continue
                inside = members[shapely.within(villages[members], piece.buffer(1.0))]
                others = np.flatnonzero(town != t)
                best = max(others, key=lambda j: _shared_length(piece, villages[j]))
                town[inside] = town[best]
                changed = True
        if not changed:
            break
    return town


def make_boundaries(
    rng: np.random.Generator, lakes: list[Polygon] | None = None, county: Polygon | None = None
) -> Boundaries:
    """County, villages and townships, with each village's settlement point off the lakes."""
    county = county if county is not None else county_polygon(rng)
    seeds = village_seeds(rng, county)
    villages = village_polygons(county, seeds)
    seats = township_seats(county)
    town = assign_townships(villages, seeds, seats)
    # Villages take their codes township by township, west to east inside each.
    order = np.lexsort((seeds[:, 0], town))
    villages = [villages[i] for i in order]
    seeds, town = seeds[order], town[order]
    water = shapely.union_all(lakes) if lakes else None
    points = []
    for poly, seed in zip(villages, seeds, strict=True):
        p = Point(seed)
        if not poly.contains(p) or (water is not None and water.buffer(100).contains(p)):
            land = poly.difference(water.buffer(100)) if water is not None else poly
            p = (land if not land.is_empty else poly).point_on_surface()
        points.append((p.x, p.y))
    villages_arr = np.asarray(villages, dtype=object)
    townships = [
        shapely.union_all(villages_arr[town == t], grid_size=GRID) for t in range(len(TOWNSHIPS))
    ]
    # Clipping snaps the new vertices where cells meet the outline to the grid,
    # moving the outline by up to a centimetre there; the county is therefore
    # redefined as the union of its villages, so that they tile it exactly.
    county = shapely.union_all(townships, grid_size=GRID)
    if county.geom_type != "Polygon" or len(county.interiors):
        raise RuntimeError("the villages do not tile one simple county polygon")  # pragma: no cover
    return Boundaries(county, villages, np.array(points), town, townships, seats)
