"""Step 1 of MVT encoding (see :mod:`tiles.mvt`): geometries into tiles' integer coordinates.

Affine to tile units, clip to the tile plus a buffer, simplify to the tile's
resolution, snap to the integer grid keeping the result valid, and orient
polygon rings as the spec requires, all with shapely 2's vectorised functions
over the geometries of one tile (:func:`to_tile_coords`) or of many tiles at
once (:func:`to_tiles_coords`, the same coordinates bit for bit).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import shapely


def to_tile_coords(
    geoms: np.ndarray,
    bounds: tuple[float, float, float, float],
    extent: int = 4096,
    buffer: int = 64,
    simplify: float = 1.0,
    before_snap: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
) -> np.ndarray:
    """Project, clip, simplify and quantise geometries into a tile's integer coordinates.

    Parameters
    ----------
    geoms
        Shapely geometries in the grid CRS (x = easting or longitude).
    bounds
        The tile's (xmin, ymin, xmax, ymax) in the same CRS.
    extent
        Tile units per side.
    buffer
        Tile units kept beyond each edge, so that lines and outlines join
        seamlessly across tiles.
    simplify
        Douglas-Peucker tolerance in tile units; 1 unit is the tile's resolution.
    before_snap
        Applied to the clipped geometries (float tile units) and the tiles' starts
        (here ``[0, len(geoms)]``, see :func:`to_tiles_coords`) before they are
        simplified and snapped, e.g. to handle polygons too small to survive snapping.

    Returns
    -------
    numpy.ndarray
        Geometries with integer coordinates, y pointing down; empty where a
        geometry falls outside the buffered tile or collapses when snapped.
    """
    geoms = np.asarray(geoms, dtype=object)
    starts = np.array([0, len(geoms)], dtype=np.int64)
    return to_tiles_coords(
        geoms, starts, np.array([bounds], dtype=float), extent, buffer, simplify, before_snap
    )


def to_tiles_coords(
    geoms: np.ndarray,
    starts: np.ndarray,
    bounds: np.ndarray,
    extent: int = 4096,
    buffer: int = 64,
    simplify: float = 1.0,
    before_snap: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
) -> np.ndarray:
    """:func:`to_tile_coords` of the geometries of several tiles at once.

    The geometries of tile ``t`` are ``geoms[starts[t]:starts[t + 1]]``, its
    bounds ``bounds[t]``; each comes out as :func:`to_tile_coords` of its tile
    alone makes it (the same coordinates, bit for bit), but GEOS is called once
    for all, not once per tile.
    """
    geoms = np.asarray(geoms, dtype=object)
    bounds = np.asarray(bounds, dtype=float).reshape(-1, 4)
    counts = np.diff(starts)
    xmin, ymin, xmax, ymax = bounds.T
    # per tile, as its own call computes them: the same floats
    sx = extent / (xmax - xmin)
    sy = extent / (ymax - ymin)
    tile_of = np.repeat(np.arange(len(counts)), counts)
    out = np.empty(len(geoms), dtype=object)
    type_ids = shapely.get_type_id(geoms)
    # tiles of points only: no clipping, simplifying or repairing, only rounding and a bounds test
    others = np.zeros(len(geoms) + 1, dtype=np.int64)
    np.cumsum(type_ids != 0, out=others[1:])
    pointy = (others[starts[1:]] == others[starts[:-1]]) & (counts > 0)
    points = pointy[tile_of]
    if points.any():
        coords, owner = shapely.get_coordinates(geoms[points], return_index=True)
        xy, inside = tile_points(coords, tile_of[points][owner], bounds, extent, buffer)
        part = np.full(int(points.sum()), shapely.Point(), dtype=object)
        part[owner[inside]] = shapely.points(xy[inside])
        out[points] = part
    rest = ~points
    if rest.any():
        out[rest] = _shapes_to_tiles(
            geoms[rest],
            tile_of[rest],
            (xmin, ymax, sx, sy),
            extent,
            buffer,
            simplify,
            before_snap,
        )
    return out


def tile_points(
    coords: np.ndarray, tile: np.ndarray, bounds: np.ndarray, extent: int, buffer: int
) -> tuple[np.ndarray, np.ndarray]:
    """Points ((n, 2) in the grid CRS) in the integer units of their tiles, and which are
    within the buffered tiles: what :func:`to_tiles_coords` makes of points, no GEOS.

    ``tile`` is each point's row in ``bounds`` ((tiles, 4)).
    """
    xmin, ymin, xmax, ymax = np.asarray(bounds, dtype=float).reshape(-1, 4).T
    # per tile, as to_tile_coords computes them: the same floats
    sx, sy = extent / (xmax - xmin), extent / (ymax - ymin)
    t = tile
    x = (coords[:, 0] - xmin[t]) * sx[t]
    y = (ymax[t] - coords[:, 1]) * sy[t]
    xy = np.rint(np.column_stack((x, y)))
    inside = np.all((xy >= -buffer) & (xy <= extent + buffer), axis=1)
    return xy, inside


def _shapes_to_tiles(
    geoms: np.ndarray,
    tile_of: np.ndarray,
    affine: tuple[np.ndarray, ...],
    extent: int,
    buffer: int,
    simplify: float,
    before_snap: Callable[[np.ndarray, np.ndarray], np.ndarray] | None,
) -> np.ndarray:
    """:func:`to_tiles_coords` of geometries not all points; ``tile_of`` non-decreasing."""
    xmin, ymax, sx, sy = affine
    t = np.repeat(tile_of, shapely.get_num_coordinates(geoms))

    def to_units(coords: np.ndarray) -> np.ndarray:
        return np.column_stack(((coords[:, 0] - xmin[t]) * sx[t], (ymax[t] - coords[:, 1]) * sy[t]))

    out = shapely.transform(geoms, to_units)
    box = (-buffer, -buffer, extent + buffer, extent + buffer)
    # GEOS returns a geometry strictly inside the box unchanged: clip only the others (one
    # on the edge may change: a zero-area polygon along it is dropped)
    lo = shapely.bounds(out)
    cross = ~((lo[:, :2] > box[0]).all(axis=1) & (lo[:, 2:] < box[2]).all(axis=1))
    if cross.any():
        try:
            out[cross] = shapely.clip_by_rect(out[cross], *box)
        except shapely.errors.GEOSException:
            # GEOS cannot clip some invalid (self-crossing) polygons: repair those of the
            # tiles that fail, and clip them again
            for tile in np.unique(tile_of[cross]):
                sel = np.flatnonzero(cross & (tile_of == tile))
                out[sel] = _clip_repairing(out[sel], box)
    if before_snap is not None:
        first = np.flatnonzero(np.r_[True, tile_of[1:] != tile_of[:-1]])
        out = before_snap(out, np.r_[first, len(out)])
    if simplify > 0:
        out = shapely.simplify(out, simplify, preserve_topology=True)
    # Snap to the integer grid. Plain rounding is cheap and right for almost every geometry;
    # polygons it breaks (self-touching rings, collapsed holes) are snapped again from the
    # unrounded geometry in GEOS's "valid_output" mode, which repairs instead of breaking.
    snapped = shapely.set_precision(out, 1.0, mode="pointwise")
    polygonal = shapely.get_dimensions(snapped) == 2
    broken = polygonal & ~shapely.is_valid(snapped)
    if broken.any():
        repaired = out[broken]
        # GEOS's snapping throws on polygons that were invalid before it (self-crossing input)
        invalid = ~shapely.is_valid(repaired)
        repaired[invalid] = shapely.make_valid(repaired[invalid])
        # Subnormal coordinates (1e-308) make GEOS divide by zero while snapping; the
        # result is still a valid geometry, so the floating-point flag is noise.
        with np.errstate(divide="ignore", invalid="ignore"):
            snapped[broken] = shapely.set_precision(repaired, 1.0)
    out = snapped
    # shapely's counter-clockwise is a positive shoelace area: the spec's exterior ring.
    return shapely.orient_polygons(out, exterior_cw=False)


def _clip_repairing(geoms: np.ndarray, box: tuple[float, ...]) -> np.ndarray:
    """``clip_by_rect``, the invalid geometries repaired first if GEOS cannot clip them."""
    try:
        return shapely.clip_by_rect(geoms, *box)
    except shapely.errors.GEOSException:
        bad = ~shapely.is_valid(geoms)
        geoms[bad] = shapely.make_valid(geoms[bad])
        return shapely.clip_by_rect(geoms, *box)
