"""Terrain-RGB: heights packed into the red, green and blue of a lossless image, for MapLibre.

A raster layer of heights in metres (a DEM) is served as ``raster-dem`` tiles
when a request asks for an ``encoding`` (``?encoding=terrarium`` or
``?encoding=mapbox``), the two packings MapLibre's ``raster-dem`` sources
decode:

- ``mapbox`` (Mapbox Terrain-RGB): ``height = -10000 + (R * 65536 + G * 256 + B) * 0.1``,
  heights from -10000 m to 1667721.5 m in steps of 0.1 m;
- ``terrarium`` (Mapzen Terrarium): ``height = (R * 256 + G + B / 256) - 32768``,
  heights from -32768 m to 32767.996 m in steps of 1/256 m.

Heights are rounded to the nearest step (so a decoded height is within half a
step of the DEM's) and clipped to the encoding's range. A pixel without a
height (nodata, or beyond the raster) is 0 m, opaque: MapLibre reads red,
green and blue only, so a transparent pixel would still decode to a height
(-10000 m for ``mapbox``), and a tile with no valid pixel is a flat 0 m tile
rather than an empty answer (MapLibre cannot make a DEM of an empty image).
Images are PNG, or WebP written lossless: a lossy codec would turn a shade of
blue into metres of error.

Examples
--------
>>> import numpy as np
>>> heights = np.ma.masked_invalid([[0.0, 123.46, -5.0, np.nan]])
>>> rgb = encode_heights(heights, "mapbox")
>>> decode_heights(rgb, "mapbox").round(2).tolist()
[[0.0, 123.5, -5.0, 0.0]]
>>> decode_heights(encode_heights(heights, "terrarium"), "terrarium").tolist()
[[0.0, 123.4609375, -5.0, 0.0]]
"""

from __future__ import annotations

import numpy as np
from rio_tiler.utils import render

from tiles.errors import InvalidParameterError
from tiles.grids import Grid
from tiles.raster import FORMATS, read_tile

#: the terrain-RGB encodings a raster layer is served in (MapLibre's names)
ENCODINGS = ("terrarium", "mapbox")
#: metres between two neighbouring encoded heights
PRECISION = {"mapbox": 0.1, "terrarium": 1 / 256}
#: the height written where the DEM has none
NODATA_HEIGHT = 0.0
_MAPBOX_BASE = -10000.0
_TERRARIUM_BASE = -32768.0
_TOP = 2**24 - 1  # the largest of the 24 bits R, G and B hold


def check_encoding(name: str) -> str:
    """``name`` if it is a terrain-RGB encoding; :class:`InvalidParameterError` otherwise."""
    if name not in ENCODINGS:
        raise InvalidParameterError(
            f"encoding {name!r} is not a terrain-RGB encoding: use terrarium or mapbox"
        )
    return name


def encode_heights(heights: np.ma.MaskedArray, encoding: str) -> np.ndarray:
    """Heights in metres (masked: no height) as a ``(3, rows, cols)`` uint8 red, green, blue."""
    h: np.ndarray = np.ma.filled(
        np.ma.masked_invalid(np.ma.asarray(heights, dtype="float64")), NODATA_HEIGHT
    )
    if encoding == "mapbox":
        steps = np.rint((h - _MAPBOX_BASE) / PRECISION["mapbox"])
    else:
        steps = np.rint((h - _TERRARIUM_BASE) * 256)  # R and G the metres, B the 1/256ths
    value = np.clip(steps, 0, _TOP).astype("uint32")
    return np.stack([(value >> 16) & 255, (value >> 8) & 255, value & 255]).astype("uint8")


def decode_heights(rgb: np.ndarray, encoding: str) -> np.ndarray:
    """The heights in metres that a ``(3, rows, cols)`` red, green, blue encodes."""
    r, g, b = (rgb[i].astype("float64") for i in range(3))
    if encoding == "mapbox":
        return _MAPBOX_BASE + (r * 65536 + g * 256 + b) * PRECISION["mapbox"]
    return r * 256 + g + b / 256 + _TERRARIUM_BASE


def render_terrain(
    path: str,
    grid: Grid,
    z: int,
    x: int,
    y: int,
    encoding: str,
    fmt: str = "png",
    tile_size: int = 256,
    version: str = "",
    webmercator: str | None = None,
) -> bytes:
    """Tile ``z/x/y`` of the heights at ``path`` as a terrain-RGB image (never empty).

    The pixels are those of :func:`tiles.raster.read_tile` (same arguments).

    Raises
    ------
    ArtifactError
        When the artifact cannot be read or is not a GeoTIFF.
    """
    img = read_tile(path, grid, z, x, y, tile_size, version, webmercator)
    if img is None:
        heights: np.ma.MaskedArray = np.ma.masked_all((tile_size, tile_size))
    else:
        heights = img.array[0]
    rgb = encode_heights(heights, encoding)
    if fmt == "webp":  # a lossy codec would turn shades of blue into metres
        return render(rgb, None, img_format="WEBP", LOSSLESS="TRUE")
    return render(rgb, None, img_format=FORMATS[fmt])
