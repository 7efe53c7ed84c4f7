"""Serve what a catalog describes: the catalog contract, tile encoding and the tile server."""

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

__all__ = [
    "Catalog",
    "CatalogError",
    "Figure",
    "LayerEntry",
    "LayerNotFoundError",
    "Provenance",
    "TilesError",
    "atomic_write",
    "create_app",
    "leftover_temp_files",
    "read_catalog",
    "resolve_artifact",
    "serve",
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
