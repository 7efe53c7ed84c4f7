"""Pure builders of the one map's layers, and readers for GIS sources.

GeoDataFrames and arrays in, GeoDataFrames and arrays out; nothing here knows
about workspaces or HTTP.
"""

from layers.errors import (
    LayerError,
    ParameterError,
    SourceEncodingWarning,
    SourceError,
    SourceWarning,
    ValidationError,
)
from layers.raster import read_raster, reproject_raster
from layers.types import BBox, RasterData
from layers.vector import clean_vector, read_vector

__all__ = [
    "BBox",
    "LayerError",
    "ParameterError",
    "RasterData",
    "SourceEncodingWarning",
    "SourceError",
    "SourceWarning",
    "ValidationError",
    "clean_vector",
    "read_raster",
    "read_vector",
    "reproject_raster",
]
