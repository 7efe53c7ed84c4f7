"""Tile grids (OGC TileMatrixSets): Web Mercator, CRS84 and a CGCS2000 geographic quad.

The grids are morecantile's ``TileMatrixSet`` documents, extended to
:data:`MAX_ZOOM` so that a layer may allow zooms beyond the usual 24. The tile
maths the server runs per request (tile bounds, tile ranges) is done here from
the matrix definitions, in the grid CRS with x = easting/longitude first
whatever the CRS's axis order; tests check it against morecantile. The two
standard grids' matrices are read from morecantile's JSON documents as they
are: morecantile itself (pydantic models, some 0.04 s to import) loads when a
grid's :attr:`Grid.tms` is asked for (the OGC routes), not for tile maths.

Examples
--------
>>> grid = get_grid("WebMercatorQuad")
>>> [round(v, 3) for v in grid.tile_bounds(1, 0, 0)]
[-20037508.343, 0.0, 0.0, 20037508.343]
"""

from __future__ import annotations

import importlib.util
import json
import os
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyproj import CRS, Transformer

from tiles.errors import InvalidParameterError, TileOutsideError

if TYPE_CHECKING:
    from morecantile import TileMatrixSet

#: Highest zoom of every grid (the catalog allows maxzoom up to 30).
MAX_ZOOM = 30
DEFAULT_GRID = "WebMercatorQuad"
CGCS2000_QUAD = "CGCS2000Quad"
GRID_IDS = ("WebMercatorQuad", "WorldCRS84Quad", CGCS2000_QUAD)


@dataclass(frozen=True)
class Grid:
    """One tile grid and the per-zoom numbers tile maths needs."""

    id: str
    crs: CRS
    #: per zoom: (origin x, origin y, tile span x, tile span y, matrix width, matrix height)
    levels: tuple[tuple[float, float, float, float, int, int], ...]
    #: the grid's TileMatrixSet document (JSON), as :attr:`tms` is made from
    document: dict[str, Any]

    @cached_property
    def tms(self) -> TileMatrixSet:
        """The grid as a morecantile ``TileMatrixSet`` (loaded when first asked for)."""
        from morecantile import TileMatrixSet

        return TileMatrixSet.model_validate(self.document)

    @property
    def title(self) -> str:
        return str(self.document.get("title") or self.id)

    def _level(self, z: int) -> tuple[float, float, float, float, int, int]:
        if not 0 <= z < len(self.levels):
            raise TileOutsideError(
                f"zoom {z} is outside grid {self.id} (0..{len(self.levels) - 1})"
            )
        return self.levels[z]

    def check_tile(self, z: int, x: int, y: int) -> None:
        """Raise :class:`TileOutsideError` unless tile ``z/x/y`` exists in the grid."""
        _, _, _, _, width, height = self._level(z)
        if not (0 <= x < width and 0 <= y < height):
            raise TileOutsideError(
                f"tile {z}/{x}/{y} is outside grid {self.id} (x < {width}, y < {height})"
            )

    def tile_bounds(self, z: int, x: int, y: int) -> tuple[float, float, float, float]:
        """Bounds (xmin, ymin, xmax, ymax) of a tile in the grid CRS, x = easting/longitude."""
        ox, oy, sx, sy, _, _ = self._level(z)
        xmin = ox + x * sx
        ymax = oy - y * sy
        return (xmin, ymax - sy, xmin + sx, ymax)

    def tile_range(
        self, bounds: tuple[float, float, float, float], z: int
    ) -> tuple[int, int, int, int]:
        """Tiles (min x, min y, max x, max y; inclusive) at ``z`` covering grid-CRS ``bounds``."""
        ox, oy, sx, sy, width, height = self._level(z)
        xmin, ymin, xmax, ymax = bounds
        # A tiny inset so that a bound on a tile edge does not pull in the neighbour.
        eps_x, eps_y = sx * 1e-9, sy * 1e-9
        col0 = int((xmin - ox + eps_x) // sx)
        col1 = int((xmax - ox - eps_x) // sx)
        row0 = int((oy - ymax + eps_y) // sy)
        row1 = int((oy - ymin - eps_y) // sy)
        return (
            max(col0, 0),
            max(row0, 0),
            min(max(col1, col0), width - 1),
            min(max(row1, row0), height - 1),
        )

    def lonlat_to_grid(
        self, bounds: tuple[float, float, float, float]
    ) -> tuple[float, float, float, float]:
        """WGS84 (west, south, east, north) to grid-CRS bounds, clamped to the grid."""
        transformer = _transformer("EPSG:4326", self.crs.to_string())
        west, south, east, north = bounds
        xmin, ymin, xmax, ymax = transformer.transform_bounds(
            west, south, east, north, densify_pts=21
        )
        gx0, gy0, gx1, gy1 = self.extent
        return (max(xmin, gx0), max(ymin, gy0), min(xmax, gx1), min(ymax, gy1))

    @property
    def extent(self) -> tuple[float, float, float, float]:
        ox, oy, sx, sy, width, height = self.levels[0]
        return (ox, oy - sy * height, ox + sx * width, oy)


def _xy_first(crs: CRS) -> bool:
    """Whether the CRS's first axis is easting/longitude (False for EPSG:4490, lat first)."""
    return crs.axis_info[0].direction.lower() not in ("north", "south")


def _extend(data: dict[str, Any], maxzoom: int) -> dict[str, Any]:
    """TMS document ``data`` with matrices added up to ``maxzoom``, each with zoom 0's cell
    size / 2**z.

    Derived from zoom 0 rather than by halving the last listed matrix: the TMS
    documents round deep levels' cell sizes, and the rounding would compound.
    """
    data = {**data, "tileMatrices": list(data["tileMatrices"])}
    matrices = data["tileMatrices"]
    first = matrices[0]
    while len(matrices) <= maxzoom:
        z = len(matrices)
        level = dict(matrices[-1])
        level["id"] = str(z)
        level["scaleDenominator"] = first["scaleDenominator"] / 2**z
        level["cellSize"] = first["cellSize"] / 2**z
        level["matrixWidth"] = first["matrixWidth"] * 2**z
        level["matrixHeight"] = first["matrixHeight"] * 2**z
        matrices.append(level)
    return data


def _standard_document(grid_id: str) -> dict[str, Any]:
    """Morecantile's TMS document ``grid_id``, as ``morecantile.tms.get`` reads it."""
    if os.environ.get("TILEMATRIXSET_DIRECTORY"):  # the user's TMS documents may replace ours
        import morecantile

        return morecantile.tms.get(grid_id).model_dump(exclude_none=True, mode="json")
    spec = importlib.util.find_spec("morecantile")  # where it is, without importing it
    assert spec is not None and spec.submodule_search_locations
    path = Path(spec.submodule_search_locations[0]) / "data" / f"{grid_id}.json"
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _cgcs2000_quad() -> TileMatrixSet:
    from morecantile import TileMatrixSet

    return TileMatrixSet.custom(
        [-180.0, -90.0, 180.0, 90.0],
        CRS.from_epsg(4490),
        matrix_scale=[2, 1],
        minzoom=0,
        maxzoom=MAX_ZOOM,
        id=CGCS2000_QUAD,
        title="CGCS2000 geographic quad (EPSG:4490), two tiles at zoom 0",
    )


def _levels(
    data: dict[str, Any], crs: CRS
) -> tuple[tuple[float, float, float, float, int, int], ...]:
    """The per-zoom numbers of a TMS document (its values as morecantile's model types them)."""
    xy = _xy_first(crs)
    out = []
    for m in data["tileMatrices"]:
        if m.get("cornerOfOrigin", "topLeft") != "topLeft" or m.get("variableMatrixWidths"):
            raise InvalidParameterError(
                f"grid {data.get('id')}: only top-left, regular matrices are supported"
            )
        p0, p1 = m["pointOfOrigin"]
        ox, oy = (p0, p1) if xy else (p1, p0)
        cell = float(m["cellSize"])
        out.append(
            (
                float(ox),
                float(oy),
                cell * int(m["tileWidth"]),
                cell * int(m["tileHeight"]),
                int(m["matrixWidth"]),
                int(m["matrixHeight"]),
            )
        )
    return tuple(out)


@cache
def get_grid(grid_id: str) -> Grid:
    """The grid called ``grid_id``; :class:`InvalidParameterError` for an unknown id."""
    if grid_id == CGCS2000_QUAD:
        data = _cgcs2000_quad().model_dump(exclude_none=True, mode="json")
    elif grid_id in GRID_IDS:
        data = _extend(_standard_document(grid_id), MAX_ZOOM)
    else:
        raise InvalidParameterError(
            f"tileMatrixSetId {grid_id!r} is not one of {', '.join(GRID_IDS)}"
        )
    crs = CRS.from_user_input(data["crs"])
    return Grid(id=grid_id, crs=crs, levels=_levels(data, crs), document=data)


@cache
def grid_bounds(
    grid_id: str, bounds: tuple[float, float, float, float]
) -> tuple[float, float, float, float]:
    """WGS84 ``bounds`` in grid ``grid_id``'s CRS (cached: layer bounds repeat per request)."""
    return get_grid(grid_id).lonlat_to_grid(bounds)


@cache
def _transformer(src: str, dst: str) -> Transformer:
    return Transformer.from_crs(src, dst, always_xy=True)


def transformer(src: str, dst: str) -> Transformer:
    """A cached x/y-ordered transformer between two CRS (any pyproj user input)."""
    return _transformer(src, dst)
