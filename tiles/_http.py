"""HTTP details of responses: ETags per encoding and 304, Cache-Control, gzip, error bodies.

Both ways a tile is answered use these: the framework-free tile routes
(:mod:`tiles._asgi`) and the FastAPI routes (the OGC tile route), so the two
cannot disagree on a header.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from functools import cache
from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse

from tiles.cache import EncodedTile
from tiles.raster import empty_image
from tiles.settings import Settings

_EXT = {"image/png": "png", "image/webp": "webp", "image/jpeg": "jpg"}
#: sent with every response: a browser must not guess a tile or an error is HTML
NOSNIFF = ("X-Content-Type-Options", "nosniff")
# Errors quote the offending parameter; a 60 KB parameter must not come back whole.
MAX_DETAIL = 300


def etag_matches(header: str | None, etag: str) -> bool:
    """Whether an ``If-None-Match`` header matches ``etag`` (weak comparison, as RFC 9110 asks)."""
    if not header:
        return False
    if header.strip() == "*":
        return True
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return etag.removeprefix("W/") in tags


def accepts_gzip(header: str | None) -> bool:
    """Whether an ``Accept-Encoding`` header allows gzip (with a non-zero quality)."""
    for item in (header or "").split(","):
        name, _, params = item.strip().partition(";")
        if name.strip().lower() in ("gzip", "*"):
            q = params.strip()
            if q.startswith("q="):
                try:
                    return float(q[2:]) > 0
                except ValueError:
                    return False
            return True
    return False


def variant_etag(etag: str, gzipped: bool) -> str:
    """The ETag of one content encoding of a tile (RFC 9110 8.8.3: one tag per representation).

    The gzip body and the identity body of a tile are different bytes, so a
    cache holding one must never be told by a 304 that it holds the other.
    """
    return etag[:-1] + '-gzip"' if gzipped else etag


@cache
def _empty_image(media_type: str, size: int) -> bytes:
    return empty_image(_EXT[media_type], size)


def tile_headers(etag: str, settings: Settings) -> dict[str, str]:
    """The headers of every tile answer, 304 included."""
    return {
        "ETag": etag,
        "Cache-Control": f"public, max-age={settings.cache_max_age}",
        "Vary": "Accept-Encoding",
    }


@dataclass(frozen=True)
class TileAnswer:
    """What to send for a tile: status, body, and headers (content type among them)."""

    status: int
    body: bytes
    headers: dict[str, str]


def answer_tile(
    tile: EncodedTile, etag: str, gzip_ok: bool, settings: Settings, tile_size: int = 256
) -> TileAnswer:
    """The answer for an encoded tile to a client that does (not) accept gzip.

    ``etag`` is the request's identity ETag; the answer carries the ETag of
    the encoding it sends (:func:`variant_etag`).
    """
    body = tile.body
    gzipped = body is not None and tile.encoding == "gzip" and gzip_ok
    headers = tile_headers(variant_etag(etag, gzipped), settings)
    if body is None:
        if settings.empty_tile_status == 204:
            return TileAnswer(204, b"", headers)
        body = _empty_image(tile.media_type, tile_size) if tile.media_type in _EXT else b""
    elif tile.encoding == "gzip":
        if gzipped:
            headers["Content-Encoding"] = "gzip"
        else:
            body = gzip.decompress(body)
    headers["Content-Type"] = tile.media_type
    return TileAnswer(200, body, headers)


def not_modified(request: Request, etag: str, settings: Settings) -> Response | None:
    """A 304 when the client already holds ``etag``, else None.

    ETags derive from the layer versions and the request, not the bytes, so this
    check runs before any tile is read or encoded.
    """
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=tile_headers(etag, settings))
    return None


def tile_response(answer: TileAnswer) -> Response:
    """A Starlette response of a :class:`TileAnswer`."""
    headers = dict(answer.headers)
    media_type = headers.pop("Content-Type", None)
    if answer.status == 204:
        return Response(status_code=204, headers=headers)
    return Response(answer.body, answer.status, headers, media_type)


def escape_json(raw: bytes) -> bytes:
    """JSON text with ``<``, ``>`` and ``&`` as ``\\u`` escapes: the same JSON value, no markup.

    These three never occur outside JSON strings, and inside one the escape
    decodes to the same character, so a client reads the same detail while a
    browser that sniffs the body as HTML finds no tag in it.
    """
    return raw.replace(b"<", b"\\u003c").replace(b">", b"\\u003e").replace(b"&", b"\\u0026")


def error_body(detail: Any) -> bytes:
    """The JSON body ``{"detail": ...}`` of an error: long text cut, markup escaped."""
    if isinstance(detail, str) and len(detail) > MAX_DETAIL:
        detail = detail[:MAX_DETAIL] + "… (truncated)"
    text = json.dumps({"detail": detail}, ensure_ascii=False, separators=(",", ":"))
    return escape_json(text.encode())


class ErrorResponse(JSONResponse):
    """An error answer rendered by :func:`error_body`."""

    def render(self, content: Any) -> bytes:
        detail = content.get("detail") if isinstance(content, dict) else content
        return error_body(detail)
