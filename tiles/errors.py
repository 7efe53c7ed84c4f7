"""Errors of the tile server and the catalog contract.

Domain code raises these; :data:`STATUS_CODES` maps them to HTTP status codes
in one place (the app installs one handler per class).
"""

from __future__ import annotations


class TilesError(Exception):
    """Base class of every error raised by :mod:`tiles`."""


class CatalogError(TilesError):
    """The catalog file is missing, unreadable or does not follow the contract."""


class LayerNotFoundError(TilesError):
    """The requested layer is not in the catalog."""


class TileOutsideError(TilesError):
    """The tile lies outside the grid, the layer's bounds or its zoom range."""


class InvalidParameterError(TilesError):
    """A request parameter is malformed or out of range."""


class ArtifactError(TilesError):
    """A published artifact cannot be read."""


class AssetNotFoundError(TilesError):
    """The requested file (script, stylesheet, font) does not ship with the server."""


STATUS_CODES: dict[type[Exception], int] = {
    CatalogError: 503,
    LayerNotFoundError: 404,
    TileOutsideError: 404,
    InvalidParameterError: 400,
    ArtifactError: 503,
    AssetNotFoundError: 404,
}
