"""Serve what a catalog describes: the catalog contract, tile encoding and the tile server."""

from tiles.catalog import (
    Catalog,
    Figure,
    LayerEntry,
    Provenance,
    read_catalog,
    resolve_artifact,
    write_catalog,
)
from tiles.errors import CatalogError, LayerNotFoundError, TilesError

__all__ = [
    "Catalog",
    "CatalogError",
    "Figure",
    "LayerEntry",
    "LayerNotFoundError",
    "Provenance",
    "TilesError",
    "read_catalog",
    "resolve_artifact",
    "write_catalog",
]
