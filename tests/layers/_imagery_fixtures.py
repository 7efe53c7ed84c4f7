"""Orthophoto sheets made in code: a test pattern sampled in two CRSs, with black collars.

The pattern is a function of the position in the working CRS (EPSG:4549), so
that any sheet, in any CRS, shows the same ground: a 10 cm checkerboard in
every band (the detail a 10 cm sheet keeps and an overview loses; in the
brightness, which JPEG keeps at full resolution) over smooth green and blue
ramps. Every value lies in 60..200: nothing in the image is near black or
white, so a collar pixel in a tile is a collar.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from pyproj import Transformer

WORKING = "EPSG:4549"
#: south-west corner of the delivery, EPSG:4549 (near Deqing, CM 120E)
X0, Y0 = 500_000.0, 3_375_000.0
SIZE = 256
RES = 0.1
#: sheet origins step by 20 m: 25.6 m sheets overlap their neighbours by 5.6 m
STEP = 20.0
COLLAR = 12  # px of black border on each side (wider on the left)
CHECK = 0.1  # m, the checkerboard's cell


def pattern(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """RGB (3, ...) uint8 at EPSG:4549 points ``x, y``."""
    check = (np.floor((x - X0) / CHECK) + np.floor((y - Y0) / CHECK)) % 2
    sign = np.where(check == 0, -1, 1)
    red = 130 + 60 * sign
    green = 100 + ((x - X0) % 40.0) / 40.0 * 60 + 40 * sign
    blue = 100 + ((y - Y0) % 40.0) / 40.0 * 60 + 40 * sign
    return np.stack([red, green, blue]).astype(np.uint8)


@dataclass
class Sheet:
    path: Path
    crs: str
    col: int
    row: int


def sheet_origin(col: int, row: int) -> tuple[float, float]:
    """Upper-left corner (EPSG:4549) of the sheet at ``col, row`` of the layout."""
    return X0 + col * STEP, Y0 + row * STEP + SIZE * RES


def _collar(rgb: np.ndarray) -> None:
    rgb[:, :COLLAR, :] = 0
    rgb[:, -COLLAR:, :] = 4
    rgb[:, :, : COLLAR + 6] = 2
    rgb[:, :, -COLLAR:] = 0
    # a clipped corner: a black triangle reaching in from the top-right
    rr, cc = np.mgrid[0:SIZE, 0:SIZE]
    rgb[:, (SIZE - cc) + rr < 60] = 0


def _profile(crs: str, transform: Affine, driver: str = "GTiff") -> dict[str, object]:
    return {
        "driver": driver,
        "width": SIZE,
        "height": SIZE,
        "count": 3,
        "dtype": "uint8",
        "crs": crs,
        "transform": transform,
    }


def make_sheet(folder: Path, col: int, row: int, crs: str, kind: str = "tif") -> Sheet:
    """One 256 x 256 sheet at ``col, row`` in ``crs`` (4549 or 4490), collared.

    ``kind`` ``"jpg"``: a JPEG with a world file (.jgw) and a .prj, no CRS inside.
    """
    left, top = sheet_origin(col, row)
    if crs == WORKING:
        transform = Affine(RES, 0, left, 0, -RES, top)
        cols, rows = np.meshgrid(np.arange(SIZE) + 0.5, np.arange(SIZE) + 0.5)
        x, y = left + cols * RES, top - rows * RES
    else:  # geographic: the same ground, sampled at about 10 cm in degrees
        to_geo = Transformer.from_crs(WORKING, crs, always_xy=True)
        lon0, lat1 = to_geo.transform(left, top)
        lon1, lat0 = to_geo.transform(left + SIZE * RES, top - SIZE * RES)
        dx, dy = (lon1 - lon0) / SIZE, (lat1 - lat0) / SIZE
        transform = Affine(dx, 0, lon0, 0, -dy, lat1)
        cols, rows = np.meshgrid(np.arange(SIZE) + 0.5, np.arange(SIZE) + 0.5)
        back = Transformer.from_crs(crs, WORKING, always_xy=True)
        x, y = back.transform(lon0 + cols * dx, lat1 - rows * dy)
    rgb = pattern(x, y)
    _collar(rgb)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"sheet_{col}_{row}"
    if kind == "jpg":
        path = folder / f"{name}.jpg"
        with rasterio.open(path, "w", **_profile(crs, transform, "JPEG"), quality=95) as dst:
            dst.write(rgb)
        for extra in path.parent.glob(f"{name}.jpg.aux.xml"):
            extra.unlink()  # the CRS must come from the .prj
        t = transform
        (folder / f"{name}.jgw").write_text(
            f"{t.a}\n{t.d}\n{t.b}\n{t.e}\n{t.c + t.a / 2}\n{t.f + t.e / 2}\n"
        )
        from pyproj import CRS

        (folder / f"{name}.prj").write_text(CRS.from_user_input(crs).to_wkt("WKT1_ESRI"))
    else:
        path = folder / f"{name}.tif"
        with rasterio.open(path, "w", **_profile(crs, transform), tiled=True) as dst:
            dst.write(rgb)
    return Sheet(path, crs, col, row)


def make_delivery(root: Path, jpeg: bool = True) -> list[Sheet]:
    """Eight sheets, 4 x 2, overlapping: column 3 in EPSG:4490 (its own folder), the sheet at
    (1, 0) a JPEG with a world file, the rest GeoTIFFs in EPSG:4549."""
    sheets = []
    for row in range(2):
        for col in range(4):
            if col == 3:
                sheets.append(make_sheet(root / "zone_4490", col, row, "EPSG:4490"))
            elif (col, row) == (1, 0) and jpeg:
                sheets.append(make_sheet(root / "zone_4549", col, row, WORKING, kind="jpg"))
            else:
                sheets.append(make_sheet(root / "zone_4549", col, row, WORKING))
    return sheets
