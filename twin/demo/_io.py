"""Deterministic writers: the same data gives byte-identical files.

GeoPackage stamps a modification time into ``gpkg_contents``; GDAL takes it
from the ``OGR_CURRENT_DATE`` config option when set, which is how the demo's
files hash the same from one run to the next.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import rasterio

from twin.demo._terrain import NODATA, Grid

#: The fixed date written into every GeoPackage (the data has no real date).
FIXED_DATE = "2026-01-01T00:00:00.000Z"


@contextmanager
def _fixed_ogr_date() -> Iterator[None]:
    previous = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": FIXED_DATE})
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": previous})


def write_gpkg(
    gdf: gpd.GeoDataFrame,
    path: Path,
    layer: str,
    description: str,
    metadata: dict[str, str],
    add: bool = False,
) -> None:
    """Write one layer of a GeoPackage; ``add`` adds it to an existing file.

    Without ``add`` an existing file is removed first: rewriting a layer in
    place leaves SQLite pages that differ from a fresh file's.
    """
    if not add:
        path.unlink(missing_ok=True)
    with _fixed_ogr_date():
        pyogrio.write_dataframe(
            gdf,
            path,
            layer=layer,
            driver="GPKG",
            layer_options={"DESCRIPTION": description, "IDENTIFIER": layer},
            layer_metadata=metadata,
        )


def write_dem(dem: np.ndarray, grid: Grid, crs: str, path: Path, tags: dict[str, str]) -> None:
    """A tiled, compressed float32 GeoTIFF with nodata and the given tags."""
    profile = {
        "driver": "GTiff",
        "width": grid.width,
        "height": grid.height,
        "count": 1,
        "dtype": "float32",
        "crs": crs,
        "transform": grid.transform,
        "nodata": NODATA,
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
        "compress": "deflate",
        "predictor": 3,
        "zlevel": 6,
    }
    path.unlink(missing_ok=True)
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(dem, 1)
        dst.update_tags(**tags)
        dst.update_tags(1, UNITS="metre")
        dst.set_band_description(1, "elevation")
        dst.set_band_unit(1, "m")


def write_csv(df: pd.DataFrame, path: Path) -> None:
    """UTF-8 CSV with Unix line ends and no index."""
    df.to_csv(path, index=False, encoding="utf-8", lineterminator="\n")
