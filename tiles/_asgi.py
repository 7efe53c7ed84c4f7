"""The tile routes without the framework, and what every response carries.

A tile is the request a map sends hundreds of per minute, and a cached one
costs microseconds to look up; through FastAPI it cost a route search, a
dependency graph, two thread-pool hops and six middlewares (82 % of a cached
tile's time). :class:`TileApp` answers the well-formed tile requests itself,
in plain ASGI, with the same validation (:meth:`tiles.service.TileService.request`),
the same headers (:mod:`tiles._http`), CORS, metrics and error bodies, and
hands everything else to FastAPI, which keeps the JSON routes, ``/docs`` and
the 422s of malformed tile paths.

:class:`Envelope` wraps the FastAPI side: ``HEAD`` on every ``GET`` route,
``X-Content-Type-Options: nosniff``, and the request metrics.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tiles._http import (
    NOSNIFF,
    TileAnswer,
    accepts_gzip,
    answer_tile,
    error_body,
    etag_matches,
    tile_headers,
    variant_etag,
)
from tiles.errors import STATUS_CODES, TilesError
from tiles.grids import DEFAULT_GRID
from tiles.metrics import Metrics
from tiles.raster import check_colormap, parse_rescale

log = logging.getLogger(__name__)

#: the route templates, as FastAPI declares them (and as the metrics name them)
TILE_PATH = "/tiles/{layers}/{z}/{x}/{y}.{fmt}"
SCALED_TILE_PATH = "/tiles/{layers}/{z}/{x}/{y}@{scale}x.{fmt}"
#: the requests answered here; anything else (a number FastAPI would refuse with a 422, a
#: layer list over its 1100 characters, an unknown format) goes through FastAPI unchanged
_TILE_RE = re.compile(
    r"/tiles/([^/]{1,1100})/([0-9]{1,10})/([0-9]{1,10})/([0-9]{1,10})"
    r"(?:@([1-4])x)?\.(mvt|pbf|png|webp|jpg|jpeg)"
)
_NOSNIFF = (NOSNIFF[0].lower().encode(), NOSNIFF[1].encode())


def _status_of(exc: TilesError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS_CODES:
            return STATUS_CODES[cls]
    return 500


class TileApp(FastAPI):
    """FastAPI with the tile routes answered before the framework sees them.

    Everything FastAPI offers (``include_router``, ``state``, ``/docs``)
    works as usual; the fast path needs the lifespan to have run (it loads
    ``state.store`` and ``state.service``).
    """

    cors: CORSMiddleware | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] in ("GET", "HEAD")
            and not scope.get("root_path")
            and hasattr(self.state, "service")
        ):
            match = _TILE_RE.fullmatch(scope["path"])
            if match is not None:
                await self._tile(scope, send, match)
                return
        await super().__call__(scope, receive, send)

    async def _tile(self, scope: Scope, send: Send, match: re.Match[str]) -> None:
        state = self.state
        service = state.service
        settings = state.settings
        metrics: Metrics = state.metrics
        start = time.perf_counter()
        layers, z, x, y, scale, fmt = match.groups()
        route = SCALED_TILE_PATH if scale else TILE_PATH
        request_headers = dict(scope["headers"])
        status = 500
        try:
            snapshot = state.store.current()
            colormap_name, rescale, encoding = _raster_query(scope["query_string"])
            req = service.request(
                snapshot,
                layers,
                int(z),
                int(x),
                int(y),
                fmt,
                int(scale or 1),
                DEFAULT_GRID,
                colormap_name,
                rescale,
                encoding,
            )
            gzip_ok = accepts_gzip(request_headers.get(b"accept-encoding", b"").decode("latin-1"))
            etag = variant_etag(req.etag, gzip_ok and req.kind == "vector")
            if etag_matches(request_headers.get(b"if-none-match", b"").decode("latin-1"), etag):
                answer = TileAnswer(304, b"", tile_headers(etag, settings))
            else:
                tile, _ = await service.tile(req)
                size = settings.raster_tile_size * req.scale
                answer = answer_tile(tile, req.etag, gzip_ok, settings, size)
                metrics.tile_latency(req.kind, time.perf_counter() - start)
        except TilesError as exc:
            answer = TileAnswer(
                _status_of(exc), error_body(str(exc)), {"Content-Type": "application/json"}
            )
        except Exception:
            # As the framework would: a plain 500, and the exception on to the server's log.
            await self._send(scope, send, request_headers, _INTERNAL_ERROR)
            metrics.request(scope["method"], route, 500)
            raise
        try:
            status = answer.status
            await self._send(scope, send, request_headers, answer)
        finally:
            metrics.request(scope["method"], route, status)

    async def _send(
        self, scope: Scope, send: Send, request_headers: dict[bytes, bytes], answer: TileAnswer
    ) -> None:
        headers = [(k.lower().encode(), v.encode("latin-1")) for k, v in answer.headers.items()]
        if answer.status not in (204, 304):
            headers.append((b"content-length", str(len(answer.body)).encode()))
        headers.append(_NOSNIFF)
        start: Message = {"type": "http.response.start", "status": answer.status}
        start["headers"] = headers
        body = b"" if scope["method"] == "HEAD" else answer.body
        if self.cors is not None and b"origin" in request_headers:
            await self.cors.send(start, send, Headers(scope=scope))  # CORS as on every route
        else:
            if self.cors is not None:  # what CORSMiddleware adds to a request without Origin
                _add_vary(headers, b"Origin")
            await send(start)
        await send({"type": "http.response.body", "body": body})


_INTERNAL_ERROR = TileAnswer(
    500, b"Internal Server Error", {"Content-Type": "text/plain; charset=utf-8"}
)


def _add_vary(headers: list[tuple[bytes, bytes]], value: bytes) -> None:
    for i, (name, old) in enumerate(headers):
        if name == b"vary":
            headers[i] = (name, old + b", " + value)
            return
    headers.append((b"vary", value))


def _raster_query(
    query_string: bytes,
) -> tuple[str | None, tuple[float, float] | None, str | None]:
    """``colormap_name``, ``rescale`` and ``encoding`` as the FastAPI routes read them
    (the last one wins; the service checks the encoding)."""
    if not query_string:
        return None, None, None
    params = dict(parse_qsl(query_string.decode("latin-1"), keep_blank_values=True))
    name = params.get("colormap_name")
    text = params.get("rescale")
    return (
        check_colormap(name) if name is not None else None,
        parse_rescale(text) if text is not None else None,
        params.get("encoding"),
    )


class Envelope:
    """What every FastAPI response carries: ``HEAD``, ``nosniff`` and the request count.

    ``HEAD`` is answered as the ``GET`` of the same URL without its body (RFC
    9110 9.3.2), so every ``GET`` route has it without declaring it twice in
    the OpenAPI document.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        head = method == "HEAD"
        if head:
            scope = {**scope, "method": "GET"}
        status = 500

        async def wrapped(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = message.setdefault("headers", [])
                if not any(k.lower() == _NOSNIFF[0] for k, _ in headers):
                    message["headers"] = [*headers, _NOSNIFF]
            elif head and message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        try:
            await self.app(scope, receive, wrapped)
        finally:
            route: Any = scope.get("route")
            # the route template, not the path: one series per route, not per tile
            self.metrics.request(method, getattr(route, "path", None) or "unmatched", status)
