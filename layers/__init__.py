"""Pure builders of the one map's layers, and readers for GIS sources.

GeoDataFrames and arrays in, GeoDataFrames and arrays out; nothing here knows
about workspaces or HTTP. Where things live:

- reading sources: :mod:`~layers.vector` (anything OGR reads, CSV of points) and
  :mod:`~layers.raster` (anything GDAL reads, tiled DEMs), with :mod:`~layers.sources`
  (which files a source is), :mod:`~layers.encodings` (the GBK/UTF-8 guess) and
  :mod:`~layers.tables` (CSV/Excel with Chinese headers); the generic layers'
  parameters in :mod:`~layers.vector_params` and :mod:`~layers.raster_params`;
- building layers: :mod:`layers.roads` (a routable network), :mod:`layers.coverage`
  (5G coverage rasters), :mod:`~layers.villages` (every village's figures) and
  :mod:`layers.imagery` (orthophoto sheets into a mosaic), :mod:`~layers.buildings`
  (footprints' heights, from a height or floors column);
  :mod:`layers.diff` compares two versions of a layer;
- coordinates: :mod:`~layers.crs`, :mod:`~layers.chinacrs` (GCJ-02, BD-09),
  :mod:`~layers.geodesy` (areas and lengths on the ellipsoid), :mod:`~layers.region`;
- :mod:`~layers.blocks` walks a raster block by block; :mod:`~layers.errors` holds
  :class:`LayerError` and the :class:`SourceWarning` family a caller may filter.

Logging goes to the ``layers`` logger (a :class:`logging.NullHandler` only: whoever
runs the builders decides what is shown).
"""

import importlib
import logging
from typing import TYPE_CHECKING, Any

from layers.errors import (
    LayerError,
    ParameterError,
    SourceEncodingWarning,
    SourceError,
    SourceWarning,
    ValidationError,
)

if TYPE_CHECKING:
    from layers.raster import read_raster, reproject_raster
    from layers.types import RasterData
    from layers.vector import clean_vector, read_vector

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "LayerError",
    "ParameterError",
    "RasterData",
    "SourceEncodingWarning",
    "SourceError",
    "SourceWarning",
    "ValidationError",
    "blocks",
    "buildings",
    "chinacrs",
    "clean_vector",
    "coverage",
    "crs",
    "diff",
    "encodings",
    "errors",
    "geodesy",
    "imagery",
    "labels",
    "raster",
    "raster_params",
    "read_raster",
    "read_vector",
    "region",
    "reproject_raster",
    "roads",
    "sources",
    "tables",
    "types",
    "vector",
    "vector_params",
    "villages",
    "villages_labels",
    "villages_params",
    "villages_periods",
]

#: names imported on first use: the readers bring in rasterio and geopandas, which a
#: module of this package needing neither (``layers.chinacrs``) should not pay for
_LAZY = {
    "RasterData": "layers.types",
    "clean_vector": "layers.vector",
    "read_raster": "layers.raster",
    "read_vector": "layers.vector",
    "reproject_raster": "layers.raster",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'layers' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
