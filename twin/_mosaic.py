"""Write and check the artifacts of a mosaic layer (an :class:`layers.imagery.Mosaic`).

A mosaic is published as its overview COG (the ``data`` artifact, what every
raster tool reads), the index of its sheets (``index``: GeoParquet of the
sheets' footprints, their files relative to it) and the sheet COGs in
``sheets/`` beside them. The builder leaves the files in its scratch
directory; they are moved (renamed, on the same file system) into the
version's temporary directory, so that publishing the layer stays one rename.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import rasterio
from pyproj import CRS
from rasterio._err import CPLE_BaseError
from rasterio.enums import MaskFlags
from rasterio.errors import RasterioError

from layers.crs import same_crs
from layers.imagery.mosaic import SHEETS_DIR
from layers.types import Mosaic
from tiles.catalog import Band
from twin import artifacts
from twin.artifacts import ArtifactCheckError

INDEX_FILE = "index.parquet"
BANDS = ("red", "green", "blue")
#: zooms a mosaic is served beyond the first as fine as its sheets (10 cm: 21, so 22)
OVERZOOM = 1


def write_mosaic(mosaic: Mosaic, tmp: Path, metadata: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """Move ``mosaic``'s files into ``tmp``, write its index; the data file and the extra files."""
    (tmp / SHEETS_DIR).mkdir(exist_ok=True)
    for rel in [mosaic.overview, *mosaic.index["file"]]:
        os.replace(mosaic.directory / rel, tmp / rel)
    meta = {
        **metadata,
        "mosaic": {
            "resolution": mosaic.resolution,
            "overview": mosaic.overview,
            "overview_resolution": mosaic.overview_resolution,
        },
    }
    artifacts.write_vector(mosaic.index, tmp / INDEX_FILE, meta)
    artifacts.verify_vector(tmp / INDEX_FILE, mosaic.index)
    return mosaic.overview, {"index": INDEX_FILE}


def verify_mosaic(tmp: Path, mosaic: Mosaic) -> None:
    """Open the overview and every sheet: RGB in the working CRS with a mask."""
    crs = mosaic.index.crs
    for rel in [mosaic.overview, *mosaic.index["file"]]:
        path = tmp / rel
        try:
            with rasterio.open(path) as src:
                ok = (
                    src.count == 3
                    and set(src.dtypes) == {"uint8"}
                    and src.crs is not None
                    and same_crs(src.crs, crs)
                    and all(MaskFlags.per_dataset in f for f in src.mask_flag_enums)
                )
                if max(src.width, src.height) > 1024 and not src.overviews(1):
                    raise ArtifactCheckError(f"{rel}: has no overviews")
                src.checksum(1, window=((0, min(src.height, 512)), (0, min(src.width, 512))))
        except (RasterioError, CPLE_BaseError) as exc:
            raise ArtifactCheckError(f"{rel}: cannot be read back: {exc}") from None
        if not ok:
            raise ArtifactCheckError(f"{rel}: not 8-bit RGB with a mask in the working CRS")


def describe_mosaic(mosaic: Mosaic) -> dict[str, Any]:
    """The catalog fields of a mosaic layer: bounds, bands, native resolution, zooms."""
    index = mosaic.index
    crs = CRS.from_user_input(index.crs)
    x0, y0, x1, y1 = (float(v) for v in index.total_bounds)
    bounds = artifacts.wgs84_bounds((x0, y0, x1, y1), crs)
    lat = (bounds[1] + bounds[3]) / 2
    res, ov = mosaic.resolution, mosaic.overview_resolution
    width, height = math.ceil((x1 - x0) / res), math.ceil((y1 - y0) / res)
    minzoom, _ = artifacts.raster_zooms(
        ov, math.ceil((x1 - x0) / ov), math.ceil((y1 - y0) / ov), lat
    )
    _, native = artifacts.raster_zooms(res, width, height, lat)
    return {
        "crs": crs.to_string(),
        "bounds": bounds,
        "bands": [Band(name=b, dtype="uint8") for b in BANDS],
        "count": int(index["valid_pixels"].sum()),
        "resolution": res,
        "width": width,
        "height": height,
        "zooms": (minzoom, min(24, native + OVERZOOM)),
    }
