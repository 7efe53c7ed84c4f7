"""HTTP details of tile responses: ETag and 304, Cache-Control, gzip negotiation, empty tiles."""

from __future__ import annotations

import gzip
from functools import cache

from fastapi import Request, Response

from tiles.cache import EncodedTile
from tiles.raster import empty_image
from tiles.settings import Settings

_EXT = {"image/png": "png", "image/webp": "webp"}


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


@cache
def _empty_image(media_type: str, size: int) -> bytes:
    return empty_image(_EXT[media_type], size)


def _headers(etag: str, settings: Settings) -> dict[str, str]:
    return {
        "ETag": etag,
        "Cache-Control": f"public, max-age={settings.cache_max_age}",
        "Vary": "Accept-Encoding",
    }


def not_modified(request: Request, etag: str, settings: Settings) -> Response | None:
    """A 304 when the client already holds ``etag``, else None.

    ETags derive from the layer versions and the request, not the bytes, so this
    check runs before any tile is read or encoded.
    """
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=_headers(etag, settings))
    return None


def tile_response(
    request: Request, tile: EncodedTile, etag: str, settings: Settings, tile_size: int = 256
) -> Response:
    """The response for an encoded tile, honouring ``Accept-Encoding``."""
    headers = _headers(etag, settings)
    body = tile.body
    if body is None:
        if settings.empty_tile_status == 204:
            return Response(status_code=204, headers=headers)
        body = _empty_image(tile.media_type, tile_size) if tile.media_type in _EXT else b""
        return Response(body, media_type=tile.media_type, headers=headers)
    if tile.encoding == "gzip":
        if accepts_gzip(request.headers.get("accept-encoding")):
            headers["Content-Encoding"] = "gzip"
        else:
            body = gzip.decompress(body)
    return Response(body, media_type=tile.media_type, headers=headers)
