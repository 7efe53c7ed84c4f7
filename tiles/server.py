"""Run the tile server under uvicorn.

:func:`serve` passes its arguments to the worker processes through ``TWIN_*``
environment variables and names :func:`app_from_env` as uvicorn's app factory,
so that ``workers > 1`` works (uvicorn imports the factory in each worker).
"""

from __future__ import annotations

import os
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from tiles.app import create_app
from tiles.errors import CatalogError
from tiles.raster import skip_vrt_driver
from tiles.settings import Settings

FACTORY = "tiles.server:app_from_env"


def app_from_env() -> FastAPI:
    """The app configured entirely by ``TWIN_*`` variables (``TWIN_CATALOG`` required)."""
    return create_app(settings=Settings())


def serve(
    catalog_path: Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    public_url: str | None = None,
) -> None:
    """Serve the catalog at ``catalog_path`` until interrupted.

    Parameters
    ----------
    catalog_path
        The workspace's ``build/catalog.json``.
    host, port
        Where to listen.
    workers
        Worker processes (each has its own tile cache).
    public_url
        The URL clients reach the server at (default ``http://{host}:{port}``);
        tile URLs in TileJSON, the style and the viewer are built from it.

    Raises
    ------
    CatalogError
        When ``catalog_path`` does not exist.
    """
    catalog_path = Path(catalog_path).resolve()
    if not catalog_path.is_file():
        raise CatalogError(f"{catalog_path}: no catalog (has the workspace been built?)")
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    os.environ["TWIN_CATALOG"] = str(catalog_path)
    os.environ["TWIN_PUBLIC_URL"] = public_url or f"http://{shown_host}:{port}"
    Settings()  # fail here, in one line, on a bad TWIN_* value rather than in every worker
    skip_vrt_driver()
    uvicorn.run(FACTORY, factory=True, host=host, port=port, workers=workers, log_level="info")
