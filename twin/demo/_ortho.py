"""A synthetic 10 cm orthophoto of 武康街道's centre, drawn from the demo's own layers.

The photograph is what a delivery looks like: :data:`GRID` x :data:`GRID`
overlapping sheets (each :data:`CELL_M` m of ground plus :data:`OVERLAP_M` m
shared with its neighbours), GeoTIFFs with JPEG inside in EPSG:4549, except one
sheet in EPSG:4490 (a JPEG with a world file and a ``.prj``, as older
deliveries come), every sheet with a black collar of its own and one with a
clipped corner. Each sheet is drawn in its own CRS and pixel grid with
:func:`rasterio.features.rasterize`, one sheet in memory at a time, from the
same geometry the demo's vector sources hold, so the vectors line up with it:

- the land cover (:mod:`twin.demo._landcover`): farmland as fields of green and
  brown with crop rows, forest dark green, built-up ground beige, water blue;
- the lakes and canals again, over everything but the roads (bridges);
- every road as an asphalt strip of its width (lanes x 3.5 m, or its class's);
- every building's shadow (its footprint swept away from the sun by its
  height; a shadow darkens what it falls on) and then its roof, coloured
  ``ROOFS[n % len(ROOFS)]`` for building ``Bn``;
- noise (fine grain and a blotchy brightness), never near black: the only
  near-black pixels of a sheet are its collar.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
import shapely
from affine import Affine
from pyproj import CRS, Transformer
from rasterio.errors import NotGeoreferencedWarning
from rasterio.features import rasterize
from scipy import ndimage

from twin.demo._roads import Way
from twin.demo._shapes import WORK_CRS

#: index in TOWNSHIPS of the town photographed (武康街道, whose centre stands tallest)
TOWN = 0
RES = 0.1
#: sheets along each side, and the ground each one is cut for, m: 600 m x 600 m in all (the
#: demo's time budget: 46 megapixels drawn and converted add ~11 s to ``twin demo``, 42 -> 53 s)
GRID, CELL_M = 4, 150.0
#: ground a sheet shares with each neighbour, m (half of it beyond its cell on every side)
OVERLAP_M = 20.0
#: the widest collar on a side, px (narrower than half the overlap: no gap between sheets)
COLLAR_PX = 80
#: the sheet (column, row from the north-west) delivered in EPSG:4490, as a JPEG + world file
GEO_SHEET, GEO_CRS = (1, 2), "EPSG:4490"
#: the date in the GeoTIFF sheets' headers (the JPEG sheet has none: it is drawn last)
SHEET_DATE = "2026:05:12 10:30:00"

#: ground colours by land-cover class (farmland gets fields of FIELDS instead)
GROUND = {
    "water": (62, 98, 128),
    "dense_urban": (178, 166, 142),
    "urban": (172, 164, 134),
    "village": (150, 146, 108),
    "forest": (58, 88, 50),
    "farmland": (112, 138, 70),
}
FIELDS = ((104, 142, 66), (128, 150, 78), (150, 128, 88), (92, 124, 60))
WATER = GROUND["water"]
ASPHALT = (116, 117, 119)
#: roof colours: building ``Bn`` has ``ROOFS[n % len(ROOFS)]``
ROOFS = ((182, 86, 64), (132, 146, 166), (204, 200, 190), (124, 72, 62))
#: a shadow keeps this share of the light
SHADOW = 0.55
#: a building's shadow is its footprint moved by its height times this (x, y): north-west
SUN = (-0.35, 0.55)
FLOOR_M = 3.0
#: road widths by class where a way has no lanes tag, m
ROAD_WIDTH_M = {"residential": 6.0, "unclassified": 5.0, "motorway_link": 5.0}
LANE_M = 3.5
#: pixel values stay inside this range: nothing drawn is near a black (or white) collar
FLOOR_VALUE, CEILING_VALUE = 30, 245
#: what a pixel is painted with (index into _PALETTE): land cover, asphalt, then the roofs
_PALETTE = ((0, 0, 0), *GROUND.values(), ASPHALT, *ROOFS)
_LABEL = {name: i + 1 for i, name in enumerate(GROUND)} | {
    "asphalt": len(GROUND) + 1,
    "roof": len(GROUND) + 2,
}


@dataclass(frozen=True)
class Scene:
    """What the photograph shows, in the working CRS."""

    landcover: gpd.GeoDataFrame
    water: list[shapely.Geometry]
    roads: list[shapely.Geometry]  # asphalt polygons
    buildings: gpd.GeoDataFrame  # building_id, floors, geometry
    shadows: np.ndarray  # one polygon per building


def photo_area(seat: np.ndarray) -> tuple[float, float, float, float]:
    """The ground photographed around a town seat: GRID x CELL_M metres, on whole metres."""
    half = GRID * CELL_M / 2
    x0, y0 = math.floor(seat[0] - half), math.floor(seat[1] - half)
    return x0, y0, x0 + 2 * half, y0 + 2 * half


def make_scene(
    area: tuple[float, float, float, float],
    landcover: gpd.GeoDataFrame,
    water: list[shapely.Geometry],
    ways: list[Way],
    buildings: gpd.GeoDataFrame,
) -> Scene:
    """The parts of the demo's layers within ``area`` (plus a margin for the overlap)."""
    box = shapely.box(*area).buffer(OVERLAP_M + 50, join_style="mitre")
    lc = landcover[landcover.intersects(box)]
    wet = [g for g in water if g.intersects(box)]
    strips = [
        shapely.buffer(w.line, _road_width(w) / 2, cap_style="flat")
        for w in ways
        if w.line.intersects(box)
    ]
    houses = buildings[buildings.intersects(box)][["building_id", "floors", "geometry"]]
    shadows = _shadows(houses.geometry.to_numpy(), houses["floors"].to_numpy() * FLOOR_M)
    return Scene(lc, wet, strips, houses, shadows)


def _road_width(way: Way) -> float:
    lanes = way.tags.get("lanes")
    if lanes and lanes.isdigit():
        return max(int(lanes), 1) * LANE_M + (1.0 if int(lanes) > 2 else 0.0)
    return ROAD_WIDTH_M.get(way.highway, 6.0)


def roof_colour(building_id: str) -> tuple[int, int, int]:
    """The roof colour of building ``Bn``."""
    return ROOFS[int(building_id.lstrip("B")) % len(ROOFS)]


def write_ortho(
    folder: Path, rng: np.random.Generator, area: tuple[float, float, float, float], scene: Scene
) -> list[Path]:
    """Draw and write every sheet of ``area`` into ``folder``; the sheets' paths."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():  # a regenerated delivery replaces the last one whole
        if old.is_file():
            old.unlink()
    x0, y0, _, y1 = area
    grain = rng.integers(-9, 10, size=(3, 521, 523), dtype=np.int16)
    paths = []
    for row in range(GRID):
        for col in range(GRID):
            left = x0 + col * CELL_M - OVERLAP_M / 2
            top = y1 - row * CELL_M + OVERLAP_M / 2
            box = (left, top - CELL_M - OVERLAP_M, left + CELL_M + OVERLAP_M, top)
            crs = GEO_CRS if (col, row) == GEO_SHEET else WORK_CRS
            transform, width, height = _grid(box, crs)
            rgb = _draw(scene, crs, transform, width, height, (x0, y0), rng, grain)
            _collar(rgb, rng, clipped=(col, row) == (GRID - 1, 0))
            name = f"DOM_WK_{row + 1}{col + 1}"
            if crs == WORK_CRS:
                paths.append(_write_geotiff(folder / f"{name}.tif", rgb, transform))
            else:
                paths.append(_write_jpeg(folder / f"{name}.jpg", rgb, transform, crs))
    return paths


def _grid(box: tuple[float, float, float, float], crs: str) -> tuple[Affine, int, int]:
    """The sheet's pixel grid in ``crs``: RES metres (or their angle) over ``box`` (EPSG:4549)."""
    left, bottom, right, top = box
    if crs == WORK_CRS:
        width, height = round((right - left) / RES), round((top - bottom) / RES)
        return Affine(RES, 0, left, 0, -RES, top), width, height
    to_geo = Transformer.from_crs(WORK_CRS, crs, always_xy=True)
    xs, ys = to_geo.transform([left, right, right, left], [bottom, bottom, top, top])
    lon0, lon1, lat0, lat1 = min(xs), max(xs), min(ys), max(ys)
    lat = math.radians((lat0 + lat1) / 2)
    dy = RES / 110_574.0
    dx = RES / (111_320.0 * math.cos(lat))
    width, height = math.ceil((lon1 - lon0) / dx), math.ceil((lat1 - lat0) / dy)
    return Affine(dx, 0, lon0, 0, -dy, lat1), width, height


def _draw(
    scene: Scene,
    crs: str,
    transform: Affine,
    width: int,
    height: int,
    origin: tuple[float, float],
    rng: np.random.Generator,
    grain: np.ndarray,
) -> np.ndarray:
    """One sheet's pixels (3, height, width) uint8.

    Everything is painted as labels into one array (later shapes over earlier ones), then
    coloured through the palette, band by band.
    """
    shape = (height, width)
    move = _mover(crs)
    label = rasterize(
        zip(
            move(scene.landcover.geometry.to_numpy()),
            [_LABEL[c] for c in scene.landcover["class"]],
            strict=True,
        ),
        out_shape=shape,
        transform=transform,
        fill=_LABEL["farmland"],
        dtype="uint8",
    )
    for geoms, value in ((scene.water, _LABEL["water"]), (scene.roads, _LABEL["asphalt"])):
        if geoms:
            rasterize(
                move(np.asarray(geoms, dtype=object)),
                out=label,
                transform=transform,
                default_value=value,
            )
    houses = scene.buildings
    dark = np.zeros(shape, dtype=bool)
    if len(houses):
        rasterize(move(scene.shadows), out=dark.view(np.uint8), transform=transform)
        roofs = [_LABEL["roof"] + int(b.lstrip("B")) % len(ROOFS) for b in houses["building_id"]]
        rasterize(
            zip(move(houses.geometry.to_numpy()), roofs, strict=True),
            out=label,
            transform=transform,
        )
        dark &= label < _LABEL["roof"]  # roofs stand above the shadows
    palette = np.array(_PALETTE, dtype=np.int16)
    rgb = np.empty((3, *shape), dtype=np.int16)
    for b in range(3):
        np.take(palette[:, b], label, out=rgb[b])
    _fields(rgb, label == _LABEL["farmland"], transform, crs, origin)
    for plane in rgb:
        plane[dark] = (plane[dark] * int(SHADOW * 256)) >> 8
    _noise(rgb, rng, grain)
    return np.clip(rgb, FLOOR_VALUE, CEILING_VALUE).astype(np.uint8)


def _shadows(feet: np.ndarray, heights: np.ndarray) -> np.ndarray:
    """Each footprint swept away from the sun by its height: the hull of it and its shadow."""
    coords, idx = shapely.get_coordinates(feet, return_index=True)
    cast = coords + heights[idx, None] * np.array(SUN)
    at = np.concatenate([idx, idx])
    order = np.argsort(at, kind="stable")
    both = shapely.multipoints(np.vstack([coords, cast])[order], indices=at[order])
    return shapely.convex_hull(both)


def _mover(crs: str) -> Callable[[np.ndarray], np.ndarray]:
    """Geometries from the working CRS into the sheet's ``crs``."""
    if crs == WORK_CRS:
        return lambda geoms: geoms
    to = Transformer.from_crs(WORK_CRS, crs, always_xy=True)

    def move(geoms: np.ndarray) -> np.ndarray:
        return shapely.transform(geoms, lambda c: np.column_stack(to.transform(c[:, 0], c[:, 1])))

    return move


def _fields(
    rgb: np.ndarray,
    farmland: np.ndarray,
    transform: Affine,
    crs: str,
    origin: tuple[float, float],
) -> None:
    """Fields of FIELDS colours (40 x 90 m) with crop rows 1.6 m apart, where ``farmland``."""
    rows, cols = np.nonzero(farmland)
    if not len(rows):
        return
    x, y = _local_xy(transform, crs, origin, rows, cols)
    field = (
        np.floor(x / 40.0).astype(np.int64) * 7919 + np.floor(y / 90.0).astype(np.int64) * 104729
    )
    tone = np.array(FIELDS, dtype=np.int16)[(field * 2654435761 >> 7) % len(FIELDS)]
    stripe = (10 * np.sin(x * (2 * math.pi / 1.6))).astype(np.int16)
    rgb[:, rows, cols] = (tone + stripe[:, None]).T


def _local_xy(
    transform: Affine,
    crs: str,
    origin: tuple[float, float],
    rows: np.ndarray,
    cols: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Working-CRS coordinates (from ``origin``, float32) of pixel centres: in a geographic
    sheet through the affine map that matches the projection at three corners (to a mm)."""
    c = cols.astype(np.float64) + 0.5
    r = rows.astype(np.float64) + 0.5
    if crs == WORK_CRS:
        return (
            (transform.c - origin[0] + c * transform.a).astype(np.float32),
            (transform.f - origin[1] + r * transform.e).astype(np.float32),
        )
    back = Transformer.from_crs(crs, WORK_CRS, always_xy=True)
    # three pixel corners 1,000 px apart: the origin, along a row, down a column
    corners = [transform * (0.0, 0.0), transform * (1000.0, 0.0), transform * (0.0, 1000.0)]
    wx, wy = back.transform([p[0] for p in corners], [p[1] for p in corners])
    ax, ay = (wx[1] - wx[0]) / 1000, (wy[1] - wy[0]) / 1000
    bx, by = (wx[2] - wx[0]) / 1000, (wy[2] - wy[0]) / 1000
    x = (wx[0] - origin[0] + ax * c + bx * r).astype(np.float32)
    y = (wy[0] - origin[1] + ay * c + by * r).astype(np.float32)
    return x, y


def _noise(rgb: np.ndarray, rng: np.random.Generator, grain: np.ndarray) -> None:
    """Fine grain (a tile of ``grain`` from a random offset) and a blotchy brightness."""
    _, h, w = rgb.shape
    gh, gw = grain.shape[1:]
    oy, ox = rng.integers(0, gh), rng.integers(0, gw)
    reps = (1, math.ceil((h + oy) / gh), math.ceil((w + ox) / gw))
    rgb += np.tile(grain, reps)[:, oy : oy + h, ox : ox + w]
    # smooth at 0.8 m, in 8 x 8 blocks of one value (a step of a grey level or two)
    coarse = rng.normal(0, 6, size=(h // 200 + 2, w // 200 + 2))
    small = ndimage.zoom(coarse, 25, order=1)[: -(-h // 8), : -(-w // 8)].astype(np.int16)
    rgb += np.repeat(np.repeat(small, 8, axis=0), 8, axis=1)[None, :h, :w]


def _collar(rgb: np.ndarray, rng: np.random.Generator, clipped: bool) -> None:
    """A black border (0-3) of 0-8 m on each side; a clipped corner on one sheet."""
    _, h, w = rgb.shape
    top, bottom, left, right = rng.integers(0, COLLAR_PX, size=4)
    rgb[:, :top, :] = 0
    rgb[:, h - bottom :, :] = 3
    rgb[:, :, :left] = 2
    rgb[:, :, w - right :] = 0
    if clipped:  # the north-east corner, 18 m along each edge: only the overlap is lost
        rr, cc = np.ogrid[0:h, 0:w]
        rgb[:, (w - cc) + rr < 180] = 0


def _write_geotiff(path: Path, rgb: np.ndarray, transform: Affine) -> Path:
    profile = {
        "driver": "GTiff",
        "width": rgb.shape[2],
        "height": rgb.shape[1],
        "count": 3,
        "dtype": "uint8",
        "crs": WORK_CRS,
        "transform": transform,
        "tiled": True,
        "blockxsize": 512,
        "blockysize": 512,
        "compress": "jpeg",
        "photometric": "ycbcr",
        "jpeg_quality": 90,
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(rgb)
        dst.update_tags(TIFFTAG_DATETIME=SHEET_DATE, SYNTHETIC="yes")
    return path


def _write_jpeg(path: Path, rgb: np.ndarray, transform: Affine, crs: str) -> Path:
    """A JPEG with a world file (.jgw, pixel centres) and a .prj; no CRS inside."""
    profile = {
        "driver": "JPEG",
        "width": rgb.shape[2],
        "height": rgb.shape[1],
        "count": 3,
        "dtype": "uint8",
        "quality": 90,
    }
    with rasterio.Env(GDAL_PAM_ENABLED=False), warnings.catch_warnings():
        # the JPEG is georeferenced by its world file, written below
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(rgb)
    t = transform
    path.with_suffix(".jgw").write_text(
        f"{t.a!r}\n{t.d!r}\n{t.b!r}\n{t.e!r}\n{t.c + t.a / 2!r}\n{t.f + t.e / 2!r}\n"
    )
    path.with_suffix(".prj").write_text(CRS.from_user_input(crs).to_wkt("WKT1_ESRI"))
    return path


__all__ = ["ROOFS", "make_scene", "photo_area", "roof_colour", "write_ortho"]
