"""Serve what a catalog describes: the catalog contract, tile encoding and the tile server.

Where things live:

- the contract: :mod:`~tiles.catalog` (:class:`Catalog`, :func:`read_catalog`,
  :func:`write_catalog`, :func:`atomic_write`) and :mod:`~tiles.errors`;
- encoding a tile: :mod:`~tiles.mvt` (Mapbox Vector Tiles), cut from GeoParquet by
  ``tiles.vector`` with :mod:`~tiles.generalize`; raster tiles in ``tiles.raster``,
  orthophoto mosaics' in :mod:`~tiles.mosaic`;
  tile grids in :mod:`~tiles.grids`, and transformers into them whose PROJ search
  starts ahead of need in :mod:`~tiles.proj`;
- the server: :func:`create_app` in :mod:`~tiles.app` (routes in ``tiles.routes`` and
  ``tiles.ogc``, from a request to a cached tile in ``tiles.service``), configured by
  :mod:`~tiles.settings`, its JSON answers typed in :mod:`~tiles.models`, run under
  uvicorn by :func:`serve` in :mod:`~tiles.server`;
- archives: :mod:`~tiles.export` writes a layer's tiles into PMTiles or MBTiles,
  :mod:`~tiles.pmtiles` reads PMTiles.

Logging goes to the ``tiles`` logger (a :class:`logging.NullHandler` only).
"""

import logging
from typing import TYPE_CHECKING, Any

from tiles.catalog import (
    Catalog,
    Figure,
    LayerEntry,
    Provenance,
    atomic_write,
    leftover_temp_files,
    read_catalog,
    resolve_artifact,
    write_catalog,
)
from tiles.errors import CatalogError, LayerNotFoundError, TilesError

if TYPE_CHECKING:
    from tiles.app import create_app
    from tiles.server import serve

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "Catalog",
    "CatalogError",
    "Figure",
    "LayerEntry",
    "LayerNotFoundError",
    "Provenance",
    "TilesError",
    "app",
    "assets",
    "atomic_write",
    "catalog",
    "create_app",
    "errors",
    "export",
    "generalize",
    "grids",
    "leftover_temp_files",
    "mbtiles",
    "models",
    "mosaic",
    "mvt",
    "pmtiles",
    "pmtiles_write",
    "proj",
    "read_catalog",
    "resolve_artifact",
    "serve",
    "server",
    "settings",
    "store",
    "style",
    "vector",
    "versions",
    "viewer",
    "write_catalog",
]


def __getattr__(name: str) -> Any:
    # The server stack (FastAPI, uvicorn, rio-tiler) loads only when asked for, so that
    # importing the catalog contract (as twin does on every command) stays cheap.
    if name == "create_app":
        from tiles.app import create_app

        return create_app
    if name == "serve":
        from tiles.server import serve

        return serve
    raise AttributeError(f"module 'tiles' has no attribute {name!r}")
