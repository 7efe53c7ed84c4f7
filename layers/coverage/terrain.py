"""Terrain between a site and every pixel around it: line of sight and knife-edge diffraction.

One radial sweep per site decides, for every pixel within a radius, whether
the straight path from the antenna to a receiver ``rx_height`` above the
ground is blocked by the DEM, and what knife-edge diffraction loss the
blocking terrain adds.

The algorithm (cost about linear in the pixels around the site)
-----------------------------------------------------------------
1. Cast ``n = ceil(2 π R / step)`` rays from the site so the outer ring is
   sampled about once per pixel, and read the DEM pixel under every ``step``
   metres along each ray: ``n × R / step`` samples, about twice the pixels of
   the disc.
2. Earth curvature: heights become ``z - d² / (2 k a)`` (``k = 4/3``,
   ``a = 6371 km``), after which straight lines in the (distance, height)
   plane are radio rays over a flat earth (the parabolic approximation of
   ITU-R P.452/P.526), for the whole path and for every sub-path.
3. A running maximum of the elevation slope ``(z_i - z_tx) / d_i`` along each
   ray (``numpy.maximum.accumulate``) is the horizon seen from the antenna;
   a receiver is blocked when its own slope is below the horizon in front of
   it. The sample that holds the horizon is the main edge.
4. Diffraction (ITU-R P.526-15 §4.1 ``J(ν)`` and the Deygout construction of
   §4.5.1, simplified): the main edge is the transmitter's horizon edge
   (every other sample before it lies under the antenna-edge line, so the
   transmitter-side sub-path is clear); the secondary edge is the horizon
   seen from the main edge towards the receiver, found with a *segmented*
   running maximum (the horizon edge index only grows along a ray, so one
   accumulate with a per-segment offset restarts it at every new edge). The
   loss is ``J(ν_main) + T · J(ν_secondary)`` with P.526's taper
   ``T = 1 - exp(-J(ν_main) / 6)``; loss is added only where the terrain
   blocks the direct path (``ν_main > 0``), so clear paths keep the free-of-
   obstacles value exactly.
5. Every pixel takes the sample of its nearest ray and distance.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import map_coordinates

EARTH_RADIUS_M = 6_371_000.0
K_FACTOR = 4.0 / 3.0
_SEGMENT_OFFSET = 8.0  # > the span of arctan values (π) plus the "no edge" sentinel


def knife_edge_loss(nu: NDArray[np.float64] | float) -> NDArray[np.float64]:
    """Knife-edge loss of ITU-R P.526 eq. 31, dB.

    ``J(ν) = 6.9 + 20 log10(sqrt((ν - 0.1)² + 1) + ν - 0.1)`` for ν > -0.78, else 0.
    """
    v = np.asarray(nu, dtype=np.float64)
    vv = np.maximum(v, -0.78) - 0.1
    j = 6.9 + 20 * np.log10(np.sqrt(vv * vv + 1) + vv)
    return np.where(v > -0.78, j, 0.0)


def fresnel_nu(
    h: NDArray[np.float64], d1: NDArray[np.float64], d2: NDArray[np.float64], wavelength: float
) -> NDArray[np.float64]:
    """Fresnel-Kirchhoff parameter ``ν = h sqrt(2 (d1 + d2) / (λ d1 d2))`` (P.526 eq. 26)."""
    return h * np.sqrt(2 * (d1 + d2) / (wavelength * d1 * d2))


@dataclass
class TerrainView:
    """Terrain seen from one site, on a window of the DEM grid.

    Attributes
    ----------
    rows, cols
        The window: ``dem[rows, cols]``.
    d2d
        Horizontal distance from the site to each pixel centre, m (float32).
    inside
        Pixels within the radius.
    blocked
        Pixels whose direct path the terrain blocks.
    diffraction_db
        Knife-edge diffraction loss, dB (0 where not blocked), float32.
    z_site
        Ground elevation at the site, m.
    origin
        The site's fractional pixel position and the pixel size, m: ``(row, col, resolution)``.
    """

    rows: slice
    cols: slice
    d2d: NDArray[np.float32]
    inside: NDArray[np.bool_]
    blocked: NDArray[np.bool_]
    diffraction_db: NDArray[np.float32]
    z_site: float
    origin: tuple[float, float, float]

    @property
    def bearing(self) -> NDArray[np.float32]:
        """Compass bearing from the site to each pixel centre, degrees (float32).

        Worked out on demand: the coverage model takes directions from pixel offsets.
        """
        dy, dx = _offsets(self.rows, self.cols, *self.origin)
        return np.degrees(np.arctan2(dx, dy)) % np.float32(360.0)


def _offsets(
    rows: slice, cols: slice, row: float, col: float, step: float
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """North (column vector) and east (row vector) offsets of pixel centres from (row, col), m."""
    dy = ((np.arange(rows.start, rows.stop) + 0.5 - row) * -step).astype(np.float32)[:, None]
    dx = ((np.arange(cols.start, cols.stop) + 0.5 - col) * step).astype(np.float32)[None, :]
    return dy, dx


def site_window(
    shape: tuple[int, int], row: float, col: float, radius_px: float
) -> tuple[slice, slice]:
    """The window of a ``shape`` grid within ``radius_px`` pixels of (row, col)."""
    r0 = max(int(np.floor(row - radius_px)) - 1, 0)
    r1 = min(int(np.ceil(row + radius_px)) + 1, shape[0])
    c0 = max(int(np.floor(col - radius_px)) - 1, 0)
    c1 = min(int(np.ceil(col + radius_px)) + 1, shape[1])
    return slice(r0, r1), slice(c0, c1)


def ground_elevation(dem: NDArray[np.floating], row: float, col: float) -> float:
    """Bilinear DEM height at fractional pixel position (row, col); pixel (0, 0) spans [0, 1)."""
    z = map_coordinates(dem, [[row - 0.5], [col - 0.5]], order=1, mode="nearest")
    return float(z[0])


def sweep(
    dem: NDArray[np.floating],
    resolution: float,
    row: float,
    col: float,
    tx_height: float,
    rx_height: float,
    radius: float,
    wavelength: float,
    k_factor: float = K_FACTOR,
    wanted: NDArray[np.bool_] | None = None,
    clutter_m: NDArray[np.floating] | None = None,
) -> TerrainView:
    """Line of sight and diffraction loss from one antenna to every pixel within ``radius``.

    Parameters
    ----------
    dem
        Ground heights (2-D, metres, no NaN), square pixels of ``resolution`` metres, north up.
    row, col
        The site's fractional pixel position (pixel (0, 0) spans [0, 1) × [0, 1)).
    tx_height, rx_height
        Antenna and receiver heights above the ground, m.
    radius
        Sweep radius, m.
    wavelength
        Carrier wavelength, m.
    k_factor
        Effective earth radius factor (``inf`` for a flat earth).
    wanted
        Optional mask over the site's window (:func:`site_window`): the pixels whose
        values are needed. The view then covers only their bounding box, and only
        the rays reaching them are traced (a coverage window holds a small part of
        a cell's reach); the wanted pixels' values do not change.
    clutter_m
        Optional clutter height above the ground per pixel (``dem``'s shape), m: it
        raises the obstacle surface the rays graze, while the antenna and the
        receiver keep their heights above the ground (a receiver in a forest stands
        under the trees; the trees in front of it block its path).
    """
    step = float(resolution)
    radius_px = radius / step
    # The rays read the terrain of the whole reach; the view may be a part of it.
    reach_rows, reach_cols = site_window(dem.shape, row, col, radius_px)
    rows, cols = reach_rows, reach_cols
    if wanted is not None:
        rows, cols, wanted = _crop(wanted, reach_rows, reach_cols)
    z_site = ground_elevation(dem, row, col)
    z_tx = z_site + tx_height

    n_steps = max(int(np.ceil(radius / step)), 1)
    n_rays = max(int(np.ceil(2 * np.pi * radius / step)), 8)
    dist = np.arange(1, n_steps + 1, dtype=np.float64) * step
    # Which ray sample each pixel of the window reads (nearest ray, nearest step).
    dy, dx = _offsets(rows, cols, row, col, step)
    d2d = np.hypot(dx, dy)
    bearing_rad = np.arctan2(dx, dy)
    k = np.rint(bearing_rad * np.float32(n_rays / (2 * np.pi))).astype(np.int32)
    k[k < 0] += n_rays
    k[k >= n_rays] -= n_rays
    j = np.rint(d2d * np.float32(1 / step)).astype(np.int32) - 1
    inside = d2d <= radius
    valid = inside & (j >= 0)
    if wanted is not None:
        valid &= wanted
    # Trace only the rays some pixel reads; ``slot`` is a ray's row among them.
    traced = np.zeros(n_rays, dtype=bool)
    traced[k[valid]] = True
    ray_ids = np.flatnonzero(traced)
    slot = np.cumsum(traced, dtype=np.int32) - 1
    # Samples are stored step-major, (n_steps, rays): a running maximum along the
    # rays is then one vectorised maximum per step (see _cummax).
    n_traced = len(ray_ids)
    flat = np.minimum(j, n_steps - 1) * n_traced + slot[k]
    flat_valid = flat[valid]
    used = np.zeros(n_steps * n_traced, dtype=bool)
    used[flat_valid] = True

    # Sample a contiguous copy of the reach: the rays fan out in every direction and
    # gathers from a small array stay in cache.
    north, east = _ray_offsets(n_rays, n_steps)
    if n_traced < n_rays:
        north, east = north[:, ray_ids], east[:, ray_ids]
    z = _nearest(
        np.ascontiguousarray(dem[reach_rows, reach_cols], dtype=np.float32),
        (row - 0.5 - reach_rows.start) - north,
        (col - 0.5 - reach_cols.start) + east,
    ).reshape(n_steps, n_traced)
    rx: float | NDArray[np.float32] = rx_height
    if clutter_m is not None:
        hc = _nearest(
            np.ascontiguousarray(clutter_m[reach_rows, reach_cols], dtype=np.float32),
            (row - 0.5 - reach_rows.start) - north,
            (col - 0.5 - reach_cols.start) + east,
        ).reshape(n_steps, n_traced)
        # The surface carries the clutter; the receiver stands rx_height above the ground.
        z = z + hc
        rx = np.float32(rx_height) - hc
    ae = k_factor * EARTH_RADIUS_M
    if np.isfinite(ae):
        z = z - ((dist * dist) / (2 * ae)).astype(np.float32)[:, None]

    blocked_s, loss_s = _ray_losses(z, dist, z_tx, rx, wavelength, used.reshape(n_steps, n_traced))
    blocked = np.zeros(valid.shape, dtype=bool)
    blocked[valid] = blocked_s.ravel()[flat_valid]
    loss = np.zeros(valid.shape, dtype=np.float32)
    loss[blocked] = loss_s.ravel()[flat[blocked]]
    return TerrainView(rows, cols, d2d, inside, blocked, loss, z_site, (row, col, step))


@lru_cache(maxsize=2)
def _ray_offsets(n_rays: int, n_steps: int) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """North and east offsets, in pixels, of every ray's samples (step-major, read-only).

    They depend on the radius alone, and a band's cells mostly share one: sites
    reuse them instead of recomputing two products of ``n_steps × n_rays``.
    """
    ang = 2 * np.pi * np.arange(n_rays) / n_rays
    steps = np.arange(1, n_steps + 1)
    north = np.outer(steps, np.cos(ang)).astype(np.float32)
    east = np.outer(steps, np.sin(ang)).astype(np.float32)
    north.flags.writeable = east.flags.writeable = False
    return north, east


def _crop(
    wanted: NDArray[np.bool_], rows: slice, cols: slice
) -> tuple[slice, slice, NDArray[np.bool_]]:
    """The bounding box of ``wanted`` (a mask over ``dem[rows, cols]``) and its part of it."""
    any_r, any_c = np.flatnonzero(wanted.any(axis=1)), np.flatnonzero(wanted.any(axis=0))
    if not any_r.size:
        return slice(rows.start, rows.start), slice(cols.start, cols.start), wanted[:0, :0]
    r0, r1, c0, c1 = int(any_r[0]), int(any_r[-1]) + 1, int(any_c[0]), int(any_c[-1]) + 1
    return (
        slice(rows.start + r0, rows.start + r1),
        slice(cols.start + c0, cols.start + c1),
        wanted[r0:r1, c0:c1],
    )


def _nearest(
    dem: NDArray[np.floating], r: NDArray[np.float32], c: NDArray[np.float32]
) -> NDArray[np.float32]:
    """Heights of the pixels holding index coordinates (r, c), edges extended.

    Rays advance one pixel per sample, so each sample reads the pixel it
    falls in (as raster viewsheds do); a bilinear read costs four gathers
    for a smoothing the DEM's own resolution does not support.
    """
    h, w = dem.shape
    ri = np.clip(np.rint(r), 0, h - 1).astype(np.int32)
    ci = np.clip(np.rint(c), 0, w - 1).astype(np.int32)
    return dem.ravel()[ri * w + ci]


def _cummax(a: NDArray, out: NDArray | None = None) -> NDArray:
    """Running maximum down axis 0 (``numpy.maximum.accumulate(a, axis=0)``).

    numpy accumulates along an axis one element at a time (about 10 ns each);
    one vectorised ``maximum`` per step runs over all the rays at once, ten
    times faster. ``out`` may be ``a`` itself.
    """
    out = np.empty_like(a) if out is None else out
    if len(a):
        out[0] = a[0]
    for i in range(1, len(a)):
        np.maximum(out[i - 1], a[i], out=out[i])
    return out


def _ray_losses(
    ze: NDArray[np.float32],
    dist: NDArray[np.float64],
    z_tx: float,
    rx_height: float | NDArray[np.float32],
    wavelength: float,
    used: NDArray[np.bool_],
) -> tuple[NDArray[np.bool_], NDArray[np.float32]]:
    """Blocked flags at every sample, diffraction loss at the ``used`` ones (see the module doc).

    ``ze`` is the obstacle surface; ``rx_height`` the receiver's height above it (a
    step-major array where clutter raises the surface above the ground).

    Arrays are step-major: ``ze[i, r]`` is the height ``dist[i]`` along ray ``r``.
    The horizon scan runs in float32 (slopes to 1e-7); edges and ν in float64.
    """
    d32 = dist.astype(np.float32)[:, None]
    slope = (ze - np.float32(z_tx)) / d32
    horizon = _cummax(slope)
    # A sample is blocked when it lies under the horizon *in front of* it (the
    # first sample has nothing in front of it).
    blocked = np.zeros(ze.shape, dtype=bool)
    rx = rx_height[1:] if isinstance(rx_height, np.ndarray) else np.float32(rx_height)
    blocked[1:] = slope[1:] + rx / d32[1:] < horizon[:-1]
    loss = np.zeros(ze.shape, dtype=np.float32)
    # Only rays with a blocked sample need edges: on open ground that is few of them.
    wanted = blocked & used
    rays = np.flatnonzero(wanted.any(axis=0))
    if not len(rays):
        return blocked, loss
    if len(rays) == ze.shape[1]:  # hilly ground: every ray (no copies)
        loss[:] = _diffraction(ze, slope, horizon, wanted, dist, rx_height, wavelength)
    else:
        loss[:, rays] = _diffraction(
            ze[:, rays],
            slope[:, rays],
            horizon[:, rays],
            wanted[:, rays],
            dist,
            rx_height[:, rays] if isinstance(rx_height, np.ndarray) else rx_height,
            wavelength,
        )
    return blocked, loss


def _diffraction(
    ze: NDArray[np.float32],
    slope: NDArray[np.float32],
    horizon: NDArray[np.float32],
    blocked: NDArray[np.bool_],
    dist: NDArray[np.float64],
    rx_height: float | NDArray[np.float32],
    wavelength: float,
) -> NDArray[np.float32]:
    """Deygout loss (main edge + receiver-side secondary edge) at the ``blocked`` samples.

    Step-major arrays like :func:`_ray_losses`. Heights and slopes come in
    float32 and every value derived from them is float64: a float32 -> float64
    cast is exact and monotonic, so edges found in float32 are those a float64
    scan finds, at half the memory traffic.
    """
    idx = np.arange(ze.shape[0], dtype=np.int32)[:, None]
    # The sample holding the horizon up to each sample (inclusive).
    edge_incl = _cummax(np.where(slope >= horizon, idx, 0))

    # Main edge, evaluated on blocked samples only (never a ray's first sample):
    # the edge in front of sample i is edge_incl[i - 1].
    cb, rb = np.nonzero(blocked)
    d = dist[cb]
    e = edge_incl[cb - 1, rb]
    d_e = dist[e]
    rx = rx_height[cb, rb].astype(np.float64) if isinstance(rx_height, np.ndarray) else rx_height
    rx_slope = slope[cb, rb].astype(np.float64) + rx / d
    h1 = d_e * (slope[e, rb].astype(np.float64) - rx_slope)  # edge height above the direct path
    j1 = knife_edge_loss(fresnel_nu(h1, d_e, d - d_e, wavelength))

    # Secondary edge: the horizon seen from the main edge's top, restarted at each
    # new main edge by a per-segment offset (segments only grow along a ray). At
    # an edge itself (0 / 0 = NaN) the slope becomes -bound, below every real one.
    with np.errstate(divide="ignore", invalid="ignore"):
        s2 = np.subtract(ze, np.take_along_axis(ze, edge_incl, axis=0), dtype=np.float64)
        s2 /= dist[:, None] - dist[edge_incl]
    top = np.nan_to_num(np.fmax.reduce(s2, axis=None))
    bottom = np.nan_to_num(np.fmin.reduce(s2, axis=None))
    bound = float(max(top, -bottom, 0.0)) + 1.0
    np.fmax(s2, -bound, out=s2)
    s2 += edge_incl * (2 * bound + 2)
    sec_incl = _cummax(np.where(s2 >= _cummax(s2), idx, 0))
    s = sec_incl[cb - 1, rb]
    has = s > e
    s = np.where(has, s, e)
    d_s = dist[s]
    ze_s = ze[s, rb].astype(np.float64)
    ze_e = ze[e, rb].astype(np.float64)
    z_rx = ze[cb, rb].astype(np.float64) + rx
    with np.errstate(divide="ignore", invalid="ignore"):
        line = ze_e + (z_rx - ze_e) * (d_s - d_e) / (d - d_e)
        nu2 = fresnel_nu(ze_s - line, d_s - d_e, d - d_s, wavelength)
    j2 = np.where(has, knife_edge_loss(np.where(has, nu2, -1.0)), 0.0)
    out = np.zeros(ze.shape, dtype=np.float32)
    out[cb, rb] = j1 + (1.0 - np.exp(-j1 / 6.0)) * j2
    return out


__all__ = [
    "EARTH_RADIUS_M",
    "K_FACTOR",
    "TerrainView",
    "fresnel_nu",
    "ground_elevation",
    "knife_edge_loss",
    "site_window",
    "sweep",
]
