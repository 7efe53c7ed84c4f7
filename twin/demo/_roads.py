"""The road network of the demo county, laid out in the working CRS.

Routes are drawn as smooth meandering polylines between town seats: an
expressway (two one-way carriageways with diamond interchanges), a national
trunk road, provincial primary and secondary roads, county roads along a
minimum spanning tree of the seats, a street grid in every town, and a road
from every village settlement to the nearest road built so far (so every
village is reachable). :mod:`twin.demo._osm` then nodes, bridges and writes it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import shapely
from scipy.sparse.csgraph import minimum_spanning_tree
from shapely.geometry import LineString, Point

from twin.demo._names import TOWNSHIPS, street_names, syllable_names
from twin.demo._shapes import Boundaries
from twin.demo._terrain import meander_coords


@dataclass
class Way:
    """A road way before noding: vertices in the working CRS and OSM tags."""

    coords: np.ndarray
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def highway(self) -> str:
        return self.tags.get("highway", "")

    @property
    def line(self) -> LineString:
        return LineString(self.coords)


# (highway, ref, name, waypoints as township indexes; "S"/"N"/"E"/"W" leave the map that way)
MAJOR_ROUTES: tuple[tuple[str, str, str, tuple[int | str, ...]], ...] = (
    ("trunk", "G104", "104国道", ("S", 11, 4, 5, 7, "N")),
    ("primary", "S304", "304省道", (0, 5, 6, "E")),
    ("secondary", "S201", "201省道", (12, 2, 0, 1, "S")),
    ("secondary", "S306", "306省道", (4, 9, 10, "E")),
)
MAJOR_TAGS = {
    "trunk": {"lanes": "4", "maxspeed": "80"},
    "primary": {"lanes": "4", "maxspeed": "60"},
    "secondary": {"lanes": "2", "maxspeed": "60"},
    "tertiary": {"lanes": "2", "maxspeed": "50"},
}
LOOP_SHARE = 0.5  # villages that get a second road out
RAMP_OFFSET = 500.0  # metres along the expressway between a crossing and its ramp ends


def _edge_point(
    frame: tuple[float, float, float, float], near: np.ndarray, side: str, rng: np.random.Generator
) -> np.ndarray:
    x0, y0, x1, y1 = frame
    jitter = rng.uniform(-2500, 2500)
    if side == "S":
        return np.array([near[0] + jitter, y0])
    if side == "N":
        return np.array([near[0] + jitter, y1])
    if side == "E":
        return np.array([x1, near[1] + jitter])
    return np.array([x0, near[1] + jitter])


def _route(rng: np.random.Generator, points: list[np.ndarray], wiggle: list[float]) -> np.ndarray:
    parts = []
    for k in range(len(points) - 1):
        seg = meander_coords(rng, points[k], points[k + 1], wiggle[k], step=200.0)
        parts.append(seg if k == 0 else seg[1:])
    return np.vstack(parts)


def _hilly(b: Boundaries, p: np.ndarray) -> bool:
    x0, _, x1, _ = b.county.bounds
    return (p[0] - x0) / (x1 - x0) < 0.35


def major_roads(
    rng: np.random.Generator, b: Boundaries, frame: tuple[float, float, float, float]
) -> list[Way]:
    """Trunk, primary, secondary routes through the seats, plus county roads (MST edges)."""
    ways: list[Way] = []
    linked: set[tuple[int, int]] = set()
    for highway, ref, name, stops in MAJOR_ROUTES:
        pts: list[np.ndarray] = []
        towns = [s for s in stops if isinstance(s, int)]
        for i, s in enumerate(stops):
            if isinstance(s, int):
                pts.append(b.seats[s])
            else:
                near = b.seats[towns[0] if i == 0 else towns[-1]]
                pts.append(_edge_point(frame, near, s, rng))
        for a, c in itertools.pairwise(towns):
            linked.add((min(a, c), max(a, c)))
        wiggle = [
            0.08 if _hilly(b, pts[k]) or _hilly(b, pts[k + 1]) else 0.035
            for k in range(len(pts) - 1)
        ]
        tags = {"highway": highway, "ref": ref, "name": name, **MAJOR_TAGS[highway]}
        ways.append(Way(_route(rng, pts, wiggle), tags))
    n = len(b.seats)
    dist = np.hypot(
        b.seats[:, None, 0] - b.seats[None, :, 0], b.seats[:, None, 1] - b.seats[None, :, 1]
    )
    mst = minimum_spanning_tree(dist).tocoo()
    number = 1
    for a, c in sorted(zip(mst.row.tolist(), mst.col.tolist(), strict=True)):
        if (min(a, c), max(a, c)) in linked:
            continue
        pts = [b.seats[a], b.seats[c]]
        wiggle = [0.09 if _hilly(b, pts[0]) or _hilly(b, pts[1]) else 0.05]
        tags = {
            "highway": "tertiary",
            "ref": f"X{number:02d}",
            "name": f"{TOWNSHIPS[a].name[:2]}{TOWNSHIPS[c].name[:2]}线",
            **MAJOR_TAGS["tertiary"],
        }
        if number == 3:
            tags["maxspeed"] = "50 mph"  # a foreign unit now and then keeps parsers honest
        ways.append(Way(_route(rng, pts, wiggle), tags))
        number += 1
    assert n == len(TOWNSHIPS)
    return ways


def town_grids(rng: np.random.Generator, b: Boundaries) -> list[Way]:
    """A rotated street grid around every seat; every street crosses a main street."""
    ways: list[Way] = []
    names = iter(street_names(rng, 600))
    for t, town in enumerate(TOWNSHIPS):
        radius = town.radius_km * 1000.0
        spacing = 300.0 if radius > 2000 else 250.0
        angle = rng.uniform(-0.35, 0.35)
        centre = b.seats[t]
        k_max = int(radius // spacing)
        for axis in (0, 1):
            a = angle + axis * np.pi / 2
            d = np.array([np.cos(a), np.sin(a)])
            nrm = np.array([-d[1], d[0]])
            for k in range(-k_max, k_max + 1):
                off = k * spacing
                half = np.sqrt(max(radius**2 - off**2, 0.0))
                if half < 150.0:
                    continue
                p0 = centre + off * nrm - half * d
                p1 = centre + off * nrm + half * d
                n_pts = max(2, int(2 * half // 100) + 1)
                coords = p0[None, :] + np.linspace(0, 1, n_pts)[:, None] * (p1 - p0)[None, :]
                ways.append(Way(coords, _street_tags(rng, main=(k == 0), name=next(names))))
    return ways


def _street_tags(rng: np.random.Generator, main: bool, name: str) -> dict[str, str]:
    if main:
        return {
            "highway": "tertiary",
            "name": name,
            "lanes": "4",
            "maxspeed": str(rng.choice(["50", "CN:urban"])),
        }
    tags = {"highway": "residential"}
    if rng.random() < 0.8:
        tags["name"] = name
    r = rng.random()
    if r < 0.3:
        tags["maxspeed"] = "30"
    elif r < 0.5:
        tags["maxspeed"] = "40"
    elif r < 0.6:
        tags["maxspeed"] = "CN:urban"
    if rng.random() < 0.5:
        tags["lanes"] = "2"
    r = rng.random()
    if r < 0.08:
        tags["oneway"] = "yes"
    elif r < 0.11:
        tags["oneway"] = "-1"
    return tags


def expressway(
    rng: np.random.Generator,
    b: Boundaries,
    frame: tuple[float, float, float, float],
    majors: list[Way],
) -> list[Way]:
    """G25: two one-way carriageways and two diamond interchanges.

    Interchanges go where major roads cross, south to north; when fewer than
    two cross, the towns nearest the expressway get an access road to one.
    """
    x0, _, x1, _ = b.county.bounds
    south = np.array([x0 + 0.43 * (x1 - x0), frame[1]])
    north = np.array([x0 + 0.41 * (x1 - x0), frame[3]])
    centre = LineString(meander_coords(rng, south, north, 0.01, step=200.0))
    base = {
        "highway": "motorway",
        "ref": "G25",
        "name": "长深高速",
        "oneway": "yes",
        "lanes": "2",
        "maxspeed": "120",
    }
    # Traffic keeps right: the northbound carriageway is the eastern one.
    east = shapely.offset_curve(centre, -12.0)
    west = shapely.offset_curve(centre, 12.0)
    ways = [
        Way(np.asarray(east.coords), dict(base)),
        Way(np.asarray(west.coords)[::-1].copy(), dict(base)),
    ]
    crossings: list[tuple[float, Way]] = []
    for road in majors:
        if road.highway not in ("trunk", "primary", "secondary", "tertiary"):
            continue
        for p in shapely.get_parts(shapely.intersection(centre, road.line)):
            if p.geom_type == "Point":
                crossings.append((centre.project(p), road))
    crossings.sort(key=lambda c: c[0])
    done: list[float] = []
    for d, road in crossings:
        if len(done) == 2:
            break
        if not _junction_room(centre, d, done):
            continue
        ways += _diamond(centre, east, west, road.line, d)
        done.append(d)
    # Too few crossings: give the towns nearest the expressway an access road and a junction.
    for t in np.argsort(shapely.distance(shapely.points(b.seats), centre)):
        if len(done) >= 2:
            break
        seat = b.seats[t]
        d = centre.project(Point(seat))
        if not _junction_room(centre, d, done):
            continue
        p = np.asarray(centre.interpolate(d).coords[0])
        ahead = (p - seat) / np.hypot(*(p - seat))
        tags = {"highway": "tertiary", "name": f"{TOWNSHIPS[t].name[:2]}互通连接线", "lanes": "4"}
        access = Way(meander_coords(rng, seat, p + 800.0 * ahead, 0.03, step=200.0), tags)
        hits = [
            q for q in shapely.get_parts(centre.intersection(access.line)) if q.geom_type == "Point"
        ]
        if len(hits) != 1 or not _junction_room(centre, centre.project(hits[0]), done):
            continue
        d = centre.project(hits[0])
        ways += [access, *_diamond(centre, east, west, access.line, d)]
        done.append(d)
    return ways


def _junction_room(centre: LineString, d: float, done: list[float]) -> bool:
    """Whether a junction at ``d`` along the expressway keeps clear of the ends and the others."""
    if d < 2 * RAMP_OFFSET or d > centre.length - 2 * RAMP_OFFSET:
        return False
    return all(abs(d - e) >= 4 * RAMP_OFFSET for e in done)


def _bezier(a: np.ndarray, c: np.ndarray, b: np.ndarray, n: int = 14) -> np.ndarray:
    t = np.linspace(0.0, 1.0, n)[:, None]
    return (1 - t) ** 2 * a + 2 * (1 - t) * t * c + t**2 * b


def _diamond(
    centre: LineString, east: LineString, west: LineString, road: LineString, d: float
) -> list[Way]:
    p = centre.interpolate(d)
    ahead = np.asarray(centre.interpolate(d + 20).coords[0]) - np.asarray(p.coords[0])
    tangent = ahead / np.hypot(*ahead)
    right = np.array([tangent[1], -tangent[0]])
    s = road.project(p)
    q1 = np.asarray(road.interpolate(max(s - 220.0, 0.0)).coords[0])
    q2 = np.asarray(road.interpolate(min(s + 220.0, road.length)).coords[0])
    pc = np.asarray(p.coords[0])
    qe, qw = (q1, q2) if np.dot(q1 - pc, right) > np.dot(q2 - pc, right) else (q2, q1)

    def on(line: LineString, dist: float) -> np.ndarray:
        return np.asarray(line.interpolate(line.project(centre.interpolate(dist))).coords[0])

    tags = {"highway": "motorway_link", "oneway": "yes", "lanes": "1", "maxspeed": "40"}
    a_ne, b_ne = on(east, d - RAMP_OFFSET), on(east, d + RAMP_OFFSET)
    a_sw, b_sw = on(west, d + RAMP_OFFSET), on(west, d - RAMP_OFFSET)
    return [
        # northbound off-ramp, then on-ramp, on the east side
        Way(_bezier(a_ne, a_ne + 250 * tangent + 40 * right, qe), dict(tags)),
        Way(_bezier(qe, b_ne - 250 * tangent + 40 * right, b_ne), dict(tags)),
        # southbound off-ramp, then on-ramp, on the west side
        Way(_bezier(a_sw, a_sw - 250 * tangent - 40 * right, qw), dict(tags)),
        Way(_bezier(qw, b_sw + 250 * tangent - 40 * right, b_sw), dict(tags)),
    ]


def village_roads(
    rng: np.random.Generator,
    b: Boundaries,
    network: list[Way],
    names: list[str],
    avoid: shapely.Geometry | None,
) -> tuple[list[Way], np.ndarray]:
    """A road from every village settlement to the nearest road, nearest village first.

    Returns the new ways and the settlement points (moved onto the road when
    a village sits right beside one).
    """
    lines = [w.line for w in network]
    pts = b.village_points.copy()
    n = len(pts)
    geoms = shapely.points(pts)
    dist = np.full(n, np.inf)
    target = np.zeros(n, dtype=int)
    for j, line in enumerate(lines):
        dj = shapely.distance(geoms, line)
        better = dj < dist
        dist[better], target[better] = dj[better], j
    done = np.zeros(n, dtype=bool)
    ways: list[Way] = []
    for _ in range(n):
        i = int(np.argmin(np.where(done, np.inf, dist)))
        done[i] = True
        line = lines[target[i]]
        end = np.asarray(line.interpolate(line.project(Point(pts[i]))).coords[0])
        if dist[i] < 20.0:
            pts[i] = end  # the settlement sits on the road already
        else:
            new = _connector(rng, b, pts[i], end, names[i])
            ways.append(new)
            lines.append(new.line)
            dj = shapely.distance(geoms, new.line)
            better = (dj < dist) & ~done
            dist[better], target[better] = dj[better], len(lines) - 1
    # A second way out for about half the villages closes loops, as real
    # networks have; it goes to a road that does not already pass the village.
    arr = np.array(lines, dtype=object)
    for i in range(n):
        if rng.random() >= LOOP_SHARE:
            continue
        d = shapely.distance(arr, geoms[i])
        d[d < 300.0] = np.inf
        j = int(np.argmin(d))
        if d[j] > 2500.0:
            continue
        end = np.asarray(arr[j].interpolate(arr[j].project(geoms[i])).coords[0])
        ways.append(_connector(rng, b, pts[i], end, names[i]))
    for i in range(n):
        ways += _spurs(rng, b, i, pts[i], avoid)
    return ways, pts


def _connector(
    rng: np.random.Generator, b: Boundaries, start: np.ndarray, end: np.ndarray, name: str
) -> Way:
    wiggle = 0.1 if _hilly(b, start) else 0.05
    coords = meander_coords(rng, start, end, wiggle, step=120.0)
    tags = {"highway": "unclassified", "surface": str(rng.choice(["asphalt", "concrete"]))}
    if rng.random() < 0.35:
        tags["name"] = f"{name[:-1]}路"
    if rng.random() < 0.3:
        tags["maxspeed"] = str(rng.choice(["30", "40"]))
    return Way(coords, tags)


def _spurs(
    rng: np.random.Generator,
    b: Boundaries,
    i: int,
    start: np.ndarray,
    avoid: shapely.Geometry | None,
) -> list[Way]:
    out = []
    village = b.villages[i]
    base = rng.uniform(0, 2 * np.pi)
    for k in range(int(rng.integers(1, 4))):
        ang = base + k * 2 * np.pi / 3 + rng.uniform(-0.3, 0.3)
        length = rng.uniform(150, 450)
        end = start + length * np.array([np.cos(ang), np.sin(ang)])
        coords = meander_coords(rng, start, end, 0.06, step=60.0)
        line = LineString(coords)
        if not village.contains(Point(end)) or (avoid is not None and avoid.intersects(line)):
            continue
        tags = {"highway": "residential"}
        if rng.random() < 0.2:
            tags["name"] = f"{syllable_names(rng, 1)[0][0]}弄"
        out.append(Way(coords, tags))
    return out


def make_roads(
    rng: np.random.Generator,
    b: Boundaries,
    frame: tuple[float, float, float, float],
    village_names: list[str],
    lakes: shapely.Geometry | None,
) -> tuple[list[Way], np.ndarray]:
    """Every road way of the county (not yet noded) and the village settlement points."""
    majors = major_roads(rng, b, frame)
    streets = town_grids(rng, b)
    motorway = expressway(rng, b, frame, majors)
    villages, points = village_roads(rng, b, majors + streets, village_names, lakes)
    return motorway + majors + streets + villages, points
