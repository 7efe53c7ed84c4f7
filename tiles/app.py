"""The FastAPI application factory.

Nothing is built at import time: :func:`create_app` makes the app, and its
lifespan loads the catalog onto ``app.state`` (the :class:`CatalogStore`, the
:class:`TileService` with its caches, the metrics).

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

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tiles import ogc, routes, viewer
from tiles.errors import STATUS_CODES, CatalogError, TilesError
from tiles.metrics import Metrics
from tiles.mvt import warm_up
from tiles.raster import skip_vrt_driver
from tiles.service import TileService
from tiles.settings import Settings
from tiles.store import CatalogStore

log = logging.getLogger(__name__)


class _RequestMetrics:
    """Counts every response by method, route template and status."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            route = scope.get("route")
            # the route template, not the path: one series per route, not per tile
            name = getattr(route, "path", None) or "unmatched"
            self.metrics.request(scope["method"], name, status)


# Errors quote the offending parameter; a 60 KB parameter must not come back whole.
MAX_DETAIL = 300


def _error_handler(status: int):
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        detail = str(exc)
        if len(detail) > MAX_DETAIL:
            detail = detail[:MAX_DETAIL] + "… (truncated)"
        return JSONResponse({"detail": detail}, status_code=status)

    return handle


def create_app(catalog_path: Path | str | None = None, settings: Settings | None = None) -> FastAPI:
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
        app.state.service = TileService(settings, metrics)
        warm_up()  # the MVT kernels load (or compile) now, not on the first tile request
        yield

    app = FastAPI(
        title="OneMap Twin tiles",
        description="Vector and raster tiles, TileJSON, a MapLibre style and OGC API - Tiles.",
        lifespan=lifespan,
    )
    for exc_class, status in STATUS_CODES.items():
        app.add_exception_handler(exc_class, _error_handler(status))
    app.add_exception_handler(TilesError, _error_handler(500))
    app.include_router(viewer.router)
    app.include_router(routes.router)
    app.include_router(ogc.router)
    app.mount("/static", StaticFiles(directory=str(viewer.STATIC_DIR)), name="static")
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["GET", "HEAD", "OPTIONS"],
        allow_headers=["*"],
        expose_headers=["ETag", "Content-Encoding", "Cache-Control"],
    )
    app.add_middleware(_RequestMetrics, metrics=metrics)
    return app
