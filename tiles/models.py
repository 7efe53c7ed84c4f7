"""Response models of the server's JSON routes, so that ``/docs`` documents every one.

TileJSON 3.0.0, the ``/catalog`` listing, ``/healthz`` and the OGC API - Tiles
documents (landing page, conformance, collections, tilesets, tile matrix sets;
the tile matrix set itself is morecantile's ``TileMatrixSet``). Field order is
the order of the keys on the wire. Optional keys that a document leaves out
rather than sending as ``null`` (a link's ``title``, TileJSON's
``vector_layers`` of a raster) are declared with ``exclude_if``, so a model
serialises to exactly the served JSON whatever the route's flags.

Examples
--------
>>> Link(href="http://x/collections", rel="self").model_dump()
{'href': 'http://x/collections', 'rel': 'self', 'type': 'application/json'}
"""

from __future__ import annotations

import copy
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from tiles.catalog import LayerEntry

__all__ = [
    "CatalogLayer",
    "Collection",
    "Collections",
    "Conformance",
    "Health",
    "LandingPage",
    "LayerVersion",
    "Link",
    "MapLibreStyle",
    "TileJSON",
    "TileMatrixLimits",
    "TileMatrixSetRef",
    "TileMatrixSets",
    "TileSet",
    "TileSetLayer",
    "TileSetSummary",
    "TileSets",
    "VectorLayer",
]


def _omit_none(value: object) -> bool:
    return value is None


def _optional(description: str) -> Any:
    """An optional key that is left out of the document, not sent as null, when unset."""
    return Field(None, description=description, exclude_if=_omit_none)


FieldValueType = Literal["String", "Number", "Boolean"]


class VectorLayer(BaseModel):
    """One source layer inside vector tiles (TileJSON ``vector_layers``)."""

    id: str
    description: str
    minzoom: int
    maxzoom: int
    fields: dict[str, FieldValueType] = Field(description="attribute -> value type")


class TileJSON(BaseModel):
    """A TileJSON 3.0.0 document of one layer or a composite of vector layers."""

    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True)

    tilejson: Literal["3.0.0"] = "3.0.0"
    name: str
    description: str
    version: str = "1.0.0"
    attribution: str
    scheme: Literal["xyz"] = "xyz"
    tiles: list[str] = Field(description="tile URL templates")
    minzoom: int = Field(ge=0, le=30)
    maxzoom: int = Field(ge=0, le=30)
    bounds: tuple[float, float, float, float] = Field(description="WGS84 west, south, east, north")
    center: tuple[float, float, int] = Field(description="longitude, latitude, zoom")
    versions: dict[str, str] = Field(
        alias="twin:versions", description="layer -> the catalog version the tiles show"
    )
    tile_matrix_set: str = Field(alias="twin:tileMatrixSet", description="the tile grid")
    vector_layers: list[VectorLayer] | None = _optional("the source layers (vector tiles only)")
    resolution_cm: float | None = Field(
        None,
        alias="twin:resolution_cm",
        description="raster layers: the native pixel size, cm per pixel (imagery: the finest "
        "sheets')",
        exclude_if=_omit_none,
    )
    encoding: Literal["terrarium", "mapbox"] | None = _optional(
        "how the tiles pack heights into colours (terrain-RGB tiles only)"
    )


class Health(BaseModel):
    """Liveness and the catalog being served."""

    status: Literal["ok"]
    workspace: str
    updated: str = Field(description="when the catalog was last published")
    layers: int = Field(description="how many layers the catalog lists")


class LayerVersion(BaseModel):
    """A version of a layer that the server can serve (``/tiles/{layer}@{version}/...``)."""

    version: str
    published: str | None = Field(
        description="when it was published (UTC, ISO 8601); the version in force from then "
        "until the next one (``/tiles/{layer}@{date}/...``); null if unknown"
    )


# The catalog listing shows what a client needs of each entry: everything but where the
# artifacts are stored, how they were built and older versions. Built from LayerEntry's
# fields so that a field added to the catalog appears here (and in /docs) by itself.
CATALOG_HIDDEN = frozenset({"artifacts", "provenance", "history"})
CatalogLayer: type[BaseModel] = create_model(
    "CatalogLayer",
    __doc__="One published layer in the ``/catalog`` listing.",
    **{  # type: ignore[call-overload]
        name: (info.annotation, copy.copy(info))
        for name, info in LayerEntry.model_fields.items()
        if name not in CATALOG_HIDDEN
    },
    name=(str, Field(description="the layer name, as in tile URLs")),
    tilejson=(str, Field(description="URL of the layer's TileJSON")),
    versions=(
        list[LayerVersion],
        Field(description="the versions that can be served, newest (the current one) first"),
    ),
)


class MapLibreStyle(BaseModel):
    """A MapLibre GL style (spec version 8); sources and layers as the style spec has them."""

    version: Literal[8]
    name: str
    metadata: dict[str, Any]
    glyphs: str | None = _optional("URL template of the label glyphs ({fontstack}, {range})")
    sources: dict[str, dict[str, Any]]
    layers: list[dict[str, Any]]
    center: list[float] | None = _optional("longitude, latitude")
    zoom: int | float | None = _optional("initial zoom")


# -- OGC API - Tiles ---------------------------------------------------------------------------


class Link(BaseModel):
    """A link of an OGC API document."""

    href: str
    rel: str
    type: str = "application/json"
    title: str | None = _optional("what the link leads to")
    templated: bool | None = _optional("whether href is a URI template")


class LandingPage(BaseModel):
    """The OGC API landing page."""

    title: str
    description: str
    links: list[Link]


class Conformance(BaseModel):
    """The conformance classes the server implements."""

    conformsTo: list[str]


class SpatialExtent(BaseModel):
    bbox: list[tuple[float, float, float, float]]
    crs: str


class Extent(BaseModel):
    spatial: SpatialExtent


class Collection(BaseModel):
    """One catalog layer as an OGC API collection."""

    id: str
    title: str
    description: str
    itemType: Literal["feature", "coverage"]
    dataType: Literal["vector", "map"]
    extent: Extent
    storageCrs: str
    links: list[Link]


class Collections(BaseModel):
    """Every catalog layer as a collection."""

    links: list[Link]
    collections: list[Collection]


class TileMatrixLimits(BaseModel):
    """The tiles of one zoom that hold the layer."""

    tileMatrix: str
    minTileRow: int
    maxTileRow: int
    minTileCol: int
    maxTileCol: int


class TileSetLayer(BaseModel):
    """The source layer inside a vector tileset."""

    id: str
    dataType: Literal["vector"]
    geometryDimension: int | None = Field(description="0 points, 1 lines, 2 polygons")
    minTileMatrix: str
    maxTileMatrix: str
    propertiesSchema: dict[str, Any] = Field(description="JSON Schema of the attributes")


class TileSetSummary(BaseModel):
    """A tileset in a collection's list of tilesets."""

    title: str
    dataType: Literal["vector", "map"]
    crs: str
    tileMatrixSetURI: str
    links: list[Link]


class TileSet(TileSetSummary):
    """Tileset metadata: the tiles that hold the layer per zoom, and tile URL templates."""

    tileMatrixSetLimits: list[TileMatrixLimits]
    layers: list[TileSetLayer] | None = _optional("the source layers (vector tilesets only)")


class TileSets(BaseModel):
    """The tilesets of a collection, one per tile grid."""

    links: list[Link]
    tilesets: list[TileSetSummary]


class TileMatrixSetRef(BaseModel):
    """A tile grid in the list of tile matrix sets."""

    id: str
    title: str
    uri: str | None
    crs: str
    links: list[Link]


class TileMatrixSets(BaseModel):
    """The tile grids the server offers."""

    tileMatrixSets: list[TileMatrixSetRef]
