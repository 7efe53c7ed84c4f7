"""The FastAPI application factory.

Nothing is built at import time: :func:`create_app` makes the app, and its
lifespan loads the catalog onto ``app.state`` (the :class:`CatalogStore`, the
:class:`TileService` with its caches, the metrics). The app is a FastAPI app
(routers can be added to it) that answers tile requests before FastAPI routes
them (:mod:`tiles._asgi`).

Examples
--------
>>> from pathlib import Path
>>> app = create_app(Path("build/catalog.json"))
>>> app.title
'OneMap Twin tiles'
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles

from tiles import _viewer_periods, assets, ogc, routes, viewer
from tiles._asgi import Envelope, TileApp
from tiles._http import ErrorResponse
from tiles.errors import STATUS_CODES, CatalogError, TilesError
from tiles.metrics import Metrics
from tiles.mvt import warm_up
from tiles.raster import skip_vrt_driver
from tiles.service import TileService
from tiles.settings import Settings
from tiles.store import CatalogStore

log = logging.getLogger(__name__)


def _error_handler(status: int):
    async def handle(request: Request, exc: Exception) -> Response:
        return ErrorResponse({"detail": str(exc)}, status_code=status)

    return handle


async def _validation_error(request: Request, exc: Exception) -> Response:
    """FastAPI's 422, with the echoed input escaped (it may hold the request's markup)."""
    assert isinstance(exc, RequestValidationError)
    return ErrorResponse({"detail": jsonable_encoder(exc.errors())}, status_code=422)


def create_app(catalog_path: Path | str | None = None, settings: Settings | None = None) -> TileApp:
    """The tile server for the catalog at ``catalog_path``.

    Parameters
    ----------
    catalog_path
        The workspace's ``build/catalog.json`` (default: ``settings.catalog``,
        i.e. ``TWIN_CATALOG``).
    settings
        Server settings (default: read from ``TWIN_*`` environment variables).

    Raises
    ------
    CatalogError
        When no catalog path is given at all.
    """
    settings = settings or Settings()
    path = Path(catalog_path) if catalog_path is not None else settings.catalog
    if path is None:
        raise CatalogError("no catalog given: pass catalog_path or set TWIN_CATALOG")
    # Must precede GDAL's first use in this process to have any effect (see tiles.raster).
    if "GDAL_SKIP" not in os.environ:
        skip_vrt_driver()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = CatalogStore(path, settings.reload_interval)
        try:
            store.load()
        except CatalogError as exc:
            # Keep serving: requests answer 503 until a build publishes the catalog.
            log.warning("%s", exc)
        app.state.settings = settings
        app.state.store = store
        app.state.metrics = metrics
        app.state.service = service = TileService(settings, metrics)
        warm_up()  # the MVT kernels load (or compile) now, not on the first tile request
        try:
            yield
        finally:
            service.close()

    app = TileApp(
        title="OneMap Twin tiles",
        description="Vector and raster tiles, TileJSON, a MapLibre style and OGC API - Tiles.",
        lifespan=lifespan,
    )
    for exc_class, status in STATUS_CODES.items():
        app.add_exception_handler(exc_class, _error_handler(status))
    app.add_exception_handler(TilesError, _error_handler(500))
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.include_router(viewer.router)
    app.include_router(_viewer_periods.router)
    app.include_router(routes.router)
    app.include_router(ogc.router)
    app.include_router(assets.router)
    app.mount("/static", StaticFiles(directory=str(viewer.STATIC_DIR)), name="static")
    cors: dict[str, Any] = {
        "allow_origins": settings.cors_origins,
        "allow_methods": ["GET", "HEAD", "OPTIONS"],
        "allow_headers": ["*"],
        "expose_headers": ["ETag", "Content-Encoding", "Cache-Control"],
    }
    app.add_middleware(CORSMiddleware, **cors)
    app.add_middleware(Envelope, metrics=metrics)
    app.cors = CORSMiddleware(app.router, **cors)  # the same CORS on the tile fast path
    return app
