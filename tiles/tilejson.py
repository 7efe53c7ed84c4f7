"""TileJSON 3.0.0 documents for single and composite layers.

Tile URLs are built from the configured public URL, never from the request.

Examples
--------
>>> FIELD_TYPES["int"], FIELD_TYPES["string"], FIELD_TYPES["bool"]
('Number', 'String', 'Boolean')
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from tiles.catalog import LayerEntry
from tiles.grids import DEFAULT_GRID
from tiles.versions import VERSION_SEP

if TYPE_CHECKING:  # the API's models load with the server, not with a tile export
    from tiles.models import TileJSON

#: catalog field types -> the value types TileJSON's vector_layers describe
FIELD_TYPES = {
    "string": "String",
    "int": "Number",
    "float": "Number",
    "bool": "Boolean",
    "datetime": "String",
    "date": "String",
    "json": "String",
}


#: the formats of raster tiles; imagery (an orthophoto mosaic) also as JPEG
RASTER_FORMATS = ("png", "webp")
MOSAIC_FORMATS = ("webp", "png", "jpg")


def tile_formats(entry: LayerEntry) -> tuple[str, ...]:
    """The formats a layer's tiles are served in, its default first.

    Imagery defaults to WebP: small, with the transparency JPEG lacks (a JPEG
    tile's empty pixels are white, or the style's ``background``).

    Examples
    --------
    >>> from tiles.catalog import Provenance
    >>> p = Provenance(builder="imagery", builder_version="1", fingerprint="", built_at="")
    >>> e = LayerEntry(kind="raster", title="Ortho", version="1", crs="EPSG:4549",
    ...     bounds=(120, 30, 121, 31), provenance=p,
    ...     artifacts={"data": "o/1/overview.tif", "index": "o/1/index.parquet"})
    >>> tile_formats(e)
    ('webp', 'png', 'jpg')
    """
    if entry.kind == "vector":
        return ("mvt",)
    return MOSAIC_FORMATS if entry.is_mosaic else RASTER_FORMATS


def tile_url(
    public_url: str,
    names: str,
    kind: str,
    grid_id: str = DEFAULT_GRID,
    fmt: str | None = None,
    query: dict[str, str] | None = None,
) -> str:
    """The templated tile URL of ``names`` (one layer or a comma-separated composite)."""
    fmt = fmt or ("mvt" if kind == "vector" else "png")
    qs = f"?{urlencode(query)}" if query else ""
    if grid_id == DEFAULT_GRID:
        return f"{public_url}/tiles/{names}/{{z}}/{{x}}/{{y}}.{fmt}{qs}"
    params = {"f": fmt, **(query or {})}
    return f"{public_url}/collections/{names}/tiles/{grid_id}/{{z}}/{{y}}/{{x}}?{urlencode(params)}"


def _union(entries: list[LayerEntry]) -> tuple[float, float, float, float]:
    return (
        min(e.bounds[0] for e in entries),
        min(e.bounds[1] for e in entries),
        max(e.bounds[2] for e in entries),
        max(e.bounds[3] for e in entries),
    )


def tilejson(
    layers: list[tuple[str, LayerEntry]],
    public_url: str,
    grid_id: str = DEFAULT_GRID,
    fmt: str | None = None,
    query: dict[str, str] | None = None,
    pinned: Collection[str] = (),
    encoding: str | None = None,
) -> TileJSON:
    """The TileJSON 3.0.0 document of one layer or a composite of vector layers.

    The tile URLs of the layers in ``pinned`` name their version (``roads@<version>``),
    so they keep showing it after a rebuild; the others follow the current version.
    With ``encoding`` (terrarium, mapbox) the tiles are a raster layer's heights
    as terrain-RGB (:mod:`tiles.terrain`), for a MapLibre ``raster-dem`` source.
    """
    from tiles.models import TileJSON, VectorLayer

    if encoding is not None:
        query = {**(query or {}), "encoding": encoding}
    names = ",".join(
        f"{name}{VERSION_SEP}{e.version}" if name in pinned else name for name, e in layers
    )
    entries = [entry for _, entry in layers]
    kind = entries[0].kind
    minzoom = min(e.minzoom for e in entries)
    maxzoom = max(e.maxzoom for e in entries)
    west, south, east, north = _union(entries)
    if fmt is None and len(entries) == 1:
        fmt = tile_formats(entries[0])[0]
    vector_layers = None
    if kind == "vector":
        vector_layers = [
            VectorLayer(
                id=name,
                description=e.description or e.title,
                minzoom=e.minzoom,
                maxzoom=e.maxzoom,
                fields={f: FIELD_TYPES.get(t, "String") for f, t in e.fields.items()},
            )
            for name, e in layers
        ]
    return TileJSON(
        name=" + ".join(e.title for e in entries),
        description=" ".join(e.description for e in entries if e.description),
        attribution="; ".join(sorted({e.attribution for e in entries if e.attribution})),
        tiles=[tile_url(public_url, names, kind, grid_id, fmt, query)],
        minzoom=minzoom,
        maxzoom=maxzoom,
        bounds=(west, south, east, north),
        center=((west + east) / 2, (south + north) / 2, min(maxzoom, minzoom + 2)),
        versions={name: e.version for name, e in layers},
        tile_matrix_set=grid_id,
        vector_layers=vector_layers,
        resolution_cm=(
            round(entries[0].resolution * 100, 3)
            if kind == "raster" and entries[0].resolution
            else None
        ),
        encoding=encoding,
    )
