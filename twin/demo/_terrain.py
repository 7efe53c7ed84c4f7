"""Terrain and water of the demo county: a DEM, lakes and canals that agree.

Noise is defined on lattices fixed in map coordinates (spacings of 16 km down
to 125 m) and interpolated onto the pixel grid, so the same seed gives the
same landscape at 20 m and at 10 m; only the sampling differs. Interpolation
is separable (a sparse Catmull-Rom matrix per axis), which keeps a 10 m grid
of twenty million pixels to a few seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import rasterio.features
import scipy.sparse as sp
import shapely
from affine import Affine
from shapely.geometry import LineString, Polygon

from twin.demo._names import LAKE_NAMES, SMALL_CANAL_NAMES
from twin.demo._shapes import blob, uv_to_xy

DEM_MARGIN = 2000.0  # metres around the county's bounding box
PEAK_M = 719.0  # Mogan Shan's highest point
WATER_LEVEL_M = 1.2  # lakes and canals sit just below the plain
NODATA = -9999.0
OCTAVES = (16000.0, 8000.0, 4000.0, 2000.0, 1000.0, 500.0, 250.0, 125.0)


@dataclass
class Grid:
    """A north-up pixel grid: ``width`` x ``height`` pixels of ``res`` metres from (x0, y1)."""

    x0: float
    y1: float
    res: float
    width: int
    height: int
    frame: tuple[float, float, float, float]  # the 100 m-snapped box noise lattices cover

    @property
    def transform(self) -> Affine:
        return Affine(self.res, 0.0, self.x0, 0.0, -self.res, self.y1)

    @property
    def xs(self) -> np.ndarray:
        return self.x0 + (np.arange(self.width) + 0.5) * self.res

    @property
    def ys(self) -> np.ndarray:
        return self.y1 - (np.arange(self.height) + 0.5) * self.res

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        return (self.x0, self.y1 - self.height * self.res, self.x0 + self.width * self.res, self.y1)


def dem_grid(county: Polygon, res: float) -> Grid:
    """The DEM grid: the county's bbox plus :data:`DEM_MARGIN`, snapped outward to 100 m."""
    x0, y0, x1, y1 = county.bounds
    x0 = np.floor((x0 - DEM_MARGIN) / 100.0) * 100.0
    y0 = np.floor((y0 - DEM_MARGIN) / 100.0) * 100.0
    x1 = np.ceil((x1 + DEM_MARGIN) / 100.0) * 100.0
    y1 = np.ceil((y1 + DEM_MARGIN) / 100.0) * 100.0
    width = int(np.ceil((x1 - x0) / res))
    height = int(np.ceil((y1 - y0) / res))
    frame = (float(x0), float(y0), float(x1), float(y1))
    return Grid(float(x0), float(y1), float(res), width, height, frame)


def _interp_matrix(coords: np.ndarray, origin: float, spacing: float, n: int) -> sp.csr_matrix:
    """Sparse Catmull-Rom weights mapping ``n`` lattice values to ``coords``."""
    t = (coords - origin) / spacing
    i = np.floor(t).astype(np.int64)
    f = t - i
    f2, f3 = f * f, f * f * f
    w = np.stack(
        [
            -0.5 * f3 + f2 - 0.5 * f,
            1.5 * f3 - 2.5 * f2 + 1.0,
            -1.5 * f3 + 2.0 * f2 + 0.5 * f,
            0.5 * f3 - 0.5 * f2,
        ],
        axis=1,
    )
    cols = np.clip(i[:, None] + np.arange(-1, 3)[None, :], 0, n - 1)
    rows = np.repeat(np.arange(coords.size), 4)
    return sp.csr_matrix((w.ravel(), (rows, cols.ravel())), shape=(coords.size, n))


class Noise:
    """Lattice noise octaves fixed in map coordinates over a frame."""

    def __init__(self, rng: np.random.Generator, frame: tuple[float, float, float, float]) -> None:
        self.frame = frame
        x0, y0, x1, y1 = frame
        self.lattices = []
        for spacing in OCTAVES:
            nx = int(np.ceil((x1 - x0) / spacing)) + 4
            ny = int(np.ceil((y1 - y0) / spacing)) + 4
            self.lattices.append(rng.standard_normal((ny, nx)).astype(np.float32))

    def octave(self, k: int, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        """Octave ``k`` sampled on the grid ``ys`` x ``xs`` (float32, about unit variance)."""
        spacing = OCTAVES[k]
        lat = self.lattices[k]
        ox, oy = self.frame[0] - 2 * spacing, self.frame[1] - 2 * spacing
        wx = _interp_matrix(xs, ox, spacing, lat.shape[1]).astype(np.float32)
        wy = _interp_matrix(ys, oy, spacing, lat.shape[0]).astype(np.float32)
        rows = wy @ lat  # (len(ys), nx)
        return np.ascontiguousarray((wx @ rows.T).T)

    def fbm(
        self, specs: dict[str, tuple[range, float, bool]], xs: np.ndarray, ys: np.ndarray
    ) -> dict[str, np.ndarray]:
        """Fractal sums: name -> (octaves, roughness ``h``, ridged), each octave computed once.

        A ridged sum folds each octave into sharp crests before adding it.
        """
        totals = {name: np.zeros((ys.size, xs.size), dtype=np.float32) for name in specs}
        norms = dict.fromkeys(specs, 0.0)
        for k in range(len(OCTAVES)):
            users = [name for name, (octaves, _, _) in specs.items() if k in octaves]
            if not users:
                continue
            n = self.octave(k, xs, ys)
            ridge = None
            for name in users:
                _, h, ridged = specs[name]
                amp = (OCTAVES[k] / OCTAVES[0]) ** h
                src = n
                if ridged:
                    if ridge is None:
                        ridge = np.float32(1.0) - np.minimum(
                            np.abs(n), np.float32(1.5)
                        ) / np.float32(1.5)
                        ridge *= ridge
                    src = ridge
                totals[name] += src * np.float32(amp)
                norms[name] += amp
        for name in specs:
            totals[name] /= np.float32(norms[name])
        return totals


@dataclass
class Water:
    """Lakes (polygons) and canals (centre lines with a width) in the working CRS."""

    lakes: list[Polygon]
    lake_names: list[str]
    canals: list[LineString]
    canal_names: list[str]
    canal_kinds: list[str]
    canal_widths: list[float]

    def canal_polygons(self) -> list[Polygon]:
        return [
            c.buffer(w / 2, cap_style="flat")
            for c, w in zip(self.canals, self.canal_widths, strict=True)
        ]

    def polygons(self) -> list[shapely.Geometry]:
        return [*self.lakes, *self.canal_polygons()]


def mountain_weight(
    county: Polygon, xs: np.ndarray, ys: np.ndarray, front: np.ndarray
) -> np.ndarray:
    """1 in the western hills, 0 on the eastern plain; ``front`` wiggles the transition.

    ``front`` (float32, one value per pixel) is overwritten.
    """
    x0, _, x1, _ = county.bounds
    u = front
    u *= np.float32(0.07)
    u += ((xs - x0) / (x1 - x0)).astype(np.float32)[None, :]
    # 1 - smoothstep(0.16, 0.46, u), in place: this runs on every pixel.
    u -= np.float32(0.16)
    u /= np.float32(0.30)
    np.clip(u, 0.0, 1.0, out=u)
    return np.float32(1.0) - u * u * (np.float32(3.0) - np.float32(2.0) * u)


def make_water(rng: np.random.Generator, county: Polygon, seats: np.ndarray) -> Water:
    """Lakes and canals on the eastern plain, kept clear of the town centres."""
    x0, y0, x1, y1 = county.bounds
    plain = county.intersection(shapely.box(x0 + 0.58 * (x1 - x0), y0, x1, y1)).buffer(-800)
    seat_pts = shapely.points(seats)
    lakes: list[Polygon] = []
    # The big wetland lake sits beside the Xiazhuhu seat (index 3), as it does in Deqing.
    sx, sy = seats[3]
    big = blob(rng, sx + 2600, sy - 700, 1300, 900, 0.15)
    lakes.append(big)
    tries = 0
    while len(lakes) < len(LAKE_NAMES) and tries < 500:
        tries += 1
        px, py = rng.uniform([x0, y0], [x1, y1])
        if not plain.contains(shapely.Point(px, py)):
            continue
        r = rng.uniform(300, 750)
        lake = blob(rng, px, py, r * rng.uniform(0.8, 1.4), r * rng.uniform(0.6, 1.0), 0.18)
        if shapely.distance(seat_pts, lake).min() < 3000 or any(
            lake.distance(other) < 1500 for other in lakes
        ):
            continue
        lakes.append(lake)
    lakes = [shapely.set_precision(lake, 0.01) for lake in lakes]

    canals: list[LineString] = []
    names: list[str] = []
    kinds: list[str] = []
    widths: list[float] = []
    # The Grand Canal runs south to north past the Xinshi seat (index 6).
    gx = seats[6][0] + 900
    canals.append(_meander(rng, (gx - 1500, y0 - 2500), (gx + 800, y1 + 2500), 0.04))
    names.append("京杭大运河")
    kinds.append("canal")
    widths.append(60.0)
    # The East Tiaoxi river flows north along the foot of the hills, past Qianyuan (index 5).
    tx = seats[5][0] - 1200
    canals.append(_meander(rng, (tx - 2500, y0 - 2500), (tx + 1500, y1 + 2500), 0.05))
    names.append("东苕溪")
    kinds.append("river")
    widths.append(45.0)
    lake_union = shapely.union_all(lakes)
    for name in SMALL_CANAL_NAMES:
        for _ in range(50):
            ax, ay = rng.uniform([x0 + 0.55 * (x1 - x0), y0], [x1, y1])
            ang = rng.uniform(-0.6, 0.6) + (np.pi / 2 if rng.random() < 0.35 else 0.0)
            length = rng.uniform(5000, 12000)
            b = (ax + length * np.cos(ang), ay + length * np.sin(ang))
            line = _meander(rng, (ax, ay), b, 0.06)
            if not plain.buffer(600).contains(line) or line.distance(seat_pts).min() < 700:
                continue
            if lake_union.intersects(line) and rng.random() < 0.5:
                continue
            canals.append(line)
            names.append(name)
            kinds.append("canal")
            widths.append(float(rng.choice([15.0, 20.0, 25.0])))
            break
    return Water(lakes, list(LAKE_NAMES[: len(lakes)]), canals, names, kinds, widths)


def _meander(
    rng: np.random.Generator,
    a: tuple[float, float],
    b: tuple[float, float],
    amplitude: float,
    step: float = 150.0,
) -> LineString:
    """A gently meandering line from ``a`` to ``b`` (offsets vanish at both ends)."""
    return LineString(meander_coords(rng, np.asarray(a), np.asarray(b), amplitude, step))


def meander_coords(
    rng: np.random.Generator, a: np.ndarray, b: np.ndarray, amplitude: float, step: float = 150.0
) -> np.ndarray:
    """Vertices of a smooth wiggly path from ``a`` to ``b``; ``amplitude`` is relative to length."""
    d = b - a
    length = float(np.hypot(*d))
    n = max(2, int(np.ceil(length / step)) + 1)
    t = np.linspace(0.0, 1.0, n)
    ks = np.arange(1, 5)
    amp = rng.normal(0.0, 1.0, size=ks.size) / ks**1.5
    offset = (amp[:, None] * np.sin(np.pi * ks[:, None] * t[None, :])).sum(axis=0)
    offset *= amplitude * length / max(1.0, float(np.abs(amp).sum()))
    normal = np.array([-d[1], d[0]]) / max(length, 1e-9)
    return a[None, :] + t[:, None] * d[None, :] + offset[:, None] * normal[None, :]


def make_dem(rng: np.random.Generator, county: Polygon, grid: Grid, water: Water) -> np.ndarray:
    """Elevation in metres (float32): hills to :data:`PEAK_M` in the west, a 2-10 m plain east.

    The noise lattices are drawn from ``rng`` over the grid's frame before any
    pixel is computed, so the draws do not depend on the resolution.
    """
    noise = Noise(rng, grid.frame)
    peak_x, peak_y = uv_to_xy(county, 0.11, 0.66)
    xs, ys = grid.xs.astype(np.float64), grid.ys.astype(np.float64)
    f = noise.fbm(
        {
            "front": (range(0, 3), 0.85, False),
            "ridges": (range(1, 8), 0.9, True),
            "rolling": (range(1, 8), 1.0, False),
            "plain": (range(3, 7), 0.6, False),
        },
        xs,
        ys,
    )
    w = mountain_weight(county, xs, ys, f.pop("front"))
    # exp(-(dx² + dy²)) is separable: an outer product instead of a grid of exponentials.
    bump_x = np.exp(-(((xs - peak_x) / 2500.0) ** 2)).astype(np.float32)
    bump_y = np.exp(-(((ys - peak_y) / 2500.0) ** 2)).astype(np.float32)
    rolling = f.pop("rolling")
    rolling += np.float32(0.5)
    np.clip(rolling, 0.0, None, out=rolling)
    relief = f.pop("ridges")
    relief *= np.float32(0.7)
    relief += np.float32(0.3) * rolling
    del rolling
    relief *= w ** np.float32(1.4)
    relief += np.float32(0.4) * np.outer(bump_y, bump_x) * w
    del w
    relief -= relief.min()
    relief /= relief.max()
    elev = f.pop("plain")
    elev *= np.float32(3.0)
    elev += np.float32(6.0)
    np.clip(elev, 2.0, 10.0, out=elev)
    relief *= np.float32(PEAK_M - 8.0)
    elev += relief
    del relief
    wet = rasterio.features.rasterize(
        [(g, 1) for g in water.polygons()],
        out_shape=(grid.height, grid.width),
        transform=grid.transform,
        fill=0,
        dtype="uint8",
        all_touched=False,
    ).astype(bool)
    elev[wet] = np.minimum(elev[wet], WATER_LEVEL_M)
    return elev.astype(np.float32)
