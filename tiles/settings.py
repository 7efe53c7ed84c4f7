"""Settings of the tile server, read from ``TWIN_*`` environment variables.

Examples
--------
>>> Settings(public_url="https://maps.example.org/").public_url
'https://maps.example.org'
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from pydantic_settings import SettingsError as _SourceError

from tiles.errors import TilesError

ENV_PREFIX = "TWIN_"


class SettingsError(TilesError):
    """A ``TWIN_*`` variable holds a value the server cannot use."""


class Settings(BaseSettings):
    """Everything the server can be configured with (env prefix ``TWIN_``)."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    catalog: Path | None = Field(None, description="catalog.json to serve (the factory reads it)")
    public_url: str = Field(
        "http://127.0.0.1:8000",
        description="base URL clients reach the server at; tile URLs are built from it, "
        "never from the request's Host header",
    )
    title: str | None = Field(None, description="viewer title (default: the workspace name)")
    extent: int = Field(4096, ge=256, le=65536, description="MVT extent (tile units per side)")
    buffer: int = Field(64, ge=0, le=4096, description="MVT clip buffer in tile units")
    simplify: float = Field(
        1.0, ge=0, le=64, description="simplification tolerance in tile units (0: none)"
    )
    empty_tile_status: Literal[200, 204] = Field(
        204, description="status of a tile with no data: 204, or 200 with an empty body/image"
    )
    cache_mb: float = Field(64.0, ge=0, description="size bound of the encoded tile cache")
    cache_max_age: int = Field(60, ge=0, description="Cache-Control max-age of tiles, seconds")
    cors_origins: list[str] = Field(default_factory=lambda: ["*"])
    raster_tile_size: int = Field(256, description="raster tile size in pixels at @1x")
    max_composite: int = Field(16, ge=1, le=64, description="most layers in one composite tile")
    mosaic_max_sheets: int = Field(
        8,
        ge=1,
        le=64,
        description="most imagery sheets read for one tile (newest, finest first); pixels "
        "still empty past them come from the layer's overview",
    )
    encode_threads: int = Field(
        2,
        ge=1,
        le=64,
        description="threads per worker process that encode uncached tiles (cached tiles and "
        "304s are answered without one)",
    )
    reload_interval: float = Field(
        0.0, ge=0, description="seconds between checks of catalog.json for a new version"
    )
    # Unset: the copy that ships with the server (/assets/...), so an intranet needs no CDN.
    maplibre_js: str | None = Field(
        None, description="MapLibre GL JS script URL (default: the server's own copy)"
    )
    maplibre_css: str | None = Field(
        None, description="MapLibre GL stylesheet URL (default: the server's own copy)"
    )

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        """The settings the ``TWIN_*`` variables give, or one line naming the bad one.

        Raises
        ------
        SettingsError
            Naming the variable, its value and what is expected.
        """
        try:
            return cls(**overrides)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = str(first["loc"][0]) if first["loc"] else "?"
            expected = str(first["msg"]).removeprefix("Value error, ")
            expected = expected[:1].lower() + expected[1:]
            raise SettingsError(f"{_variable(field)}: {expected}") from None
        except _SourceError as exc:  # a list or dict variable that is not JSON
            field = str(exc).split('"')[1] if '"' in str(exc) else "?"
            raise SettingsError(f'{_variable(field)}: expected a JSON list such as ["*"]') from None

    @field_validator("empty_tile_status", mode="before")
    @classmethod
    def _status_from_text(cls, value: Any) -> Any:
        # An environment variable is text; a Literal of ints accepts no "204" by itself.
        if isinstance(value, str) and value.strip().isdigit():
            return int(value)
        return value

    @field_validator("public_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"public_url {value!r} must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("raster_tile_size")
    @classmethod
    def _tile_size(cls, value: int) -> int:
        if value not in (256, 512):
            raise ValueError(f"raster_tile_size {value} must be 256 or 512")
        return value


def _variable(field: str) -> str:
    """The variable a field is read from, with the value it holds when it is set."""
    name = f"{ENV_PREFIX}{field.upper()}"
    value = os.environ.get(name)
    return f"{name}={value!r}" if value is not None else name
