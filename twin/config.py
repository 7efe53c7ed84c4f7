"""``twin.toml``: the declarative description of a workspace.

A workspace names its region (name, working CRS, optional boundary source),
its sources (raw files under ``sources/``) and its layers (a builder kind, the
inputs it reads, parameters, and tile options). Everything is validated with
pydantic; unknown keys are errors, and every error names the key.

Input references in ``layers.<name>.inputs`` are either a source name
(``"osm"``) or another layer, written ``"layers.<name>"``.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic import ValidationError as PydanticValidationError
from pyproj import CRS
from pyproj.exceptions import CRSError

from layers.chinacrs import china_crs
from layers.encodings import check_encoding
from tiles.catalog import LAYER_NAME_PATTERN, is_layer_name
from twin._layout import CONFIG_NAME
from twin.errors import ConfigError

LAYER_REF_PREFIX = "layers."


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RegionConfig(_Model):
    """The region a workspace covers."""

    name: str = Field(min_length=1)
    crs: str = Field("EPSG:4549", description="working CRS: a projected CRS in metres")
    boundary: str | None = Field(None, description="a source name or a path to a polygon file")
    allow_outside_area: bool = Field(
        False, description="accept a working CRS whose area of use does not hold the region"
    )
    lang: Literal["zh", "en"] | None = Field(
        None,
        description="the language of the viewer (when the browser asks for none) and of "
        "'twin stats'; default English",
    )

    @field_validator("crs")
    @classmethod
    def _metric_crs(cls, value: str) -> str:
        try:
            crs = CRS.from_user_input(value)
        except CRSError:
            raise ValueError(f"{value!r} is not a CRS pyproj knows") from None
        if not crs.is_projected:
            raise ValueError(f"{value!r} is not a projected CRS; the working CRS must be metric")
        unit = crs.axis_info[0].unit_name if crs.axis_info else ""
        if unit not in ("metre", "meter"):
            raise ValueError(f"{value!r} has axis unit {unit!r}; the working CRS must be metric")
        return value


class SourceConfig(_Model):
    """A raw input file and how to read it."""

    path: str = Field(description="relative to the workspace, or absolute")
    layer: str | None = Field(None, description="layer name inside a multi-layer file (GPKG)")
    crs: str | None = Field(
        None,
        description="CRS to assume when the file has none (CSV); GCJ-02 or BD-09 for "
        "coordinates from Chinese web maps (moved to WGS84 when read)",
    )
    x: str | None = Field(None, description="CSV/Excel column holding longitude / x")
    y: str | None = Field(None, description="CSV/Excel column holding latitude / y")
    encoding: str | None = Field(
        None,
        description="text encoding of a shapefile's DBF, a CSV/TSV or a MapInfo file "
        "(e.g. GBK); default: the .cpg, else UTF-8, else GB18030 with a warning",
    )
    title: str | None = None
    description: str = ""
    attribution: str = ""
    synthetic: bool = Field(False, description="the data is synthetic (demo data)")

    @field_validator("crs")
    @classmethod
    def _known_crs(cls, value: str | None) -> str | None:
        if value is not None and china_crs(value) is None:
            try:
                CRS.from_user_input(value)
            except CRSError:
                raise ValueError(
                    f"{value!r} is not a CRS pyproj knows (nor GCJ-02 or BD-09)"
                ) from None
        return value

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                check_encoding(value)
            except LookupError as exc:
                raise ValueError(str(exc)) from None
        return value


class TileOptions(_Model):
    """How a layer is tiled and drawn."""

    minzoom: int | None = Field(None, ge=0, le=30)
    maxzoom: int | None = Field(None, ge=0, le=30)
    style: dict[str, Any] = Field(
        default_factory=dict,
        description="style hints: color, colormap, rescale, opacity, property to colour by",
    )
    pmtiles: bool = Field(
        False, description="also publish a PMTiles archive of the layer's minzoom..maxzoom"
    )
    max_features: int | None = Field(
        None, ge=1, description="archive tiles: most features per tile (drop the rest)"
    )
    max_tile_bytes: int | None = Field(
        None, ge=64, description="archive tiles: most bytes per uncompressed tile"
    )
    drop: Literal["smallest", "densest"] = Field(
        "smallest", description="which features go first when a tile is over a cap"
    )
    attributes_by_zoom: dict[int, list[str]] = Field(
        default_factory=dict,
        description="archive tiles: minimum zoom -> properties kept from that zoom on",
    )

    @model_validator(mode="after")
    def _zoom_order(self) -> TileOptions:
        if self.minzoom is not None and self.maxzoom is not None and self.minzoom > self.maxzoom:
            raise ValueError(f"minzoom {self.minzoom} is above maxzoom {self.maxzoom}")
        return self


class LayerConfig(_Model):
    """A layer: which builder makes it, from what, with which parameters."""

    builder: str
    title: str | None = None
    title_i18n: dict[Literal["zh", "en"], str] = Field(
        default_factory=dict, description="the title in each language: { zh = '道路' }"
    )
    description: str = ""
    inputs: dict[str, str] = Field(default_factory=dict)
    params: dict[str, Any] = Field(default_factory=dict)
    tiles: TileOptions = Field(default_factory=TileOptions)

    def upstream(self) -> dict[str, str]:
        """Input name -> upstream layer name, for inputs that are layers."""
        return {
            key: ref[len(LAYER_REF_PREFIX) :]
            for key, ref in self.inputs.items()
            if ref.startswith(LAYER_REF_PREFIX)
        }


class TwinConfig(_Model):
    """The whole of ``twin.toml``."""

    region: RegionConfig
    sources: dict[str, SourceConfig] = Field(default_factory=dict)
    layers: dict[str, LayerConfig] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _references(self) -> TwinConfig:
        for name in self.layers:
            if not is_layer_name(name):
                raise ValueError(
                    f"layers.{name}: a layer name must match {LAYER_NAME_PATTERN} "
                    "(lower case, digits, underscores)"
                )
        for name, layer in self.layers.items():
            for key, ref in layer.inputs.items():
                if ref.startswith(LAYER_REF_PREFIX):
                    target = ref[len(LAYER_REF_PREFIX) :]
                    if target not in self.layers:
                        raise ValueError(f"layers.{name}.inputs.{key}: no layer named {target!r}")
                elif ref not in self.sources:
                    raise ValueError(
                        f"layers.{name}.inputs.{key}: no source named {ref!r} "
                        f"(write 'layers.{ref}' to use a layer)"
                    )
        return self


def parse_config(text: str, origin: str = CONFIG_NAME) -> TwinConfig:
    """Parse and validate the text of a ``twin.toml``.

    Raises
    ------
    ConfigError
        With one line naming ``origin``, the key and what was expected.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{origin}: not valid TOML: {exc}") from None
    return validate_config(data, origin)


def validate_config(data: dict[str, Any], origin: str = CONFIG_NAME) -> TwinConfig:
    """Validate a config given as plain data; :class:`ConfigError` names the key."""
    try:
        return TwinConfig.model_validate(data)
    except PydanticValidationError as exc:
        raise ConfigError(f"{origin}: {_describe(exc)}") from None


def _describe(exc: PydanticValidationError) -> str:
    """One line for the most telling error of a pydantic validation failure.

    An unknown key comes first: a misspelt key also makes the intended one
    "missing", and the misspelling is what the user needs to see.
    """
    errors = exc.errors()
    err = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc = ".".join(str(p) for p in err["loc"])
    msg = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = "unknown key"
    elif err["type"] == "missing":
        msg = "required key is missing"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{loc}: {msg}{more}" if loc else f"{msg}{more}"


def load_config(path: Path) -> TwinConfig:
    """Read and validate ``twin.toml`` at ``path``."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file (run 'twin init' to create a workspace)") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return parse_config(text, origin=str(path))


def dump_config(config: TwinConfig) -> str:
    """Render a config back to TOML (used by ``twin init`` and ``twin demo``)."""
    lines: list[str] = ["[region]"]
    region = config.region.model_dump(exclude_none=True)
    if not region["allow_outside_area"]:
        del region["allow_outside_area"]  # only written when someone chose it
    lines += _toml_table(region)
    for name, source in config.sources.items():
        lines += ["", f"[sources.{name}]"]
        lines += _toml_table(source.model_dump(exclude_defaults=True))
    for name, layer in config.layers.items():
        lines += ["", f"[layers.{name}]"]
        data = layer.model_dump(exclude_defaults=True)
        tiles = data.pop("tiles", None)
        lines += _toml_table(data)
        if tiles:
            lines.append(f"tiles = {_toml_value(tiles)}")
    return "\n".join(lines) + "\n"


def _toml_table(data: dict[str, Any]) -> list[str]:
    return [f"{key} = {_toml_value(value)}" for key, value in data.items()]


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        items = ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items())
        return "{ " + items + " }" if items else "{}"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def _toml_key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() else _toml_value(key)
