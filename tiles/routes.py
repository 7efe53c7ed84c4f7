"""Tile, TileJSON, style, catalog, health and metrics routes."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel

from tiles._asgi import SCALED_TILE_PATH, TILE_PATH
from tiles._http import accepts_gzip, answer_tile, not_modified, tile_response, variant_etag
from tiles.catalog import LayerEntry
from tiles.errors import InvalidParameterError
from tiles.grids import DEFAULT_GRID, get_grid
from tiles.models import (
    CATALOG_HIDDEN,
    CatalogLayer,
    Health,
    LayerVersion,
    MapLibreStyle,
    TileJSON,
)
from tiles.raster import check_colormap, parse_rescale
from tiles.service import MEDIA_TYPES, TileService
from tiles.settings import Settings
from tiles.store import Snapshot
from tiles.style import build_style
from tiles.terrain import check_encoding
from tiles.tilejson import tilejson
from tiles.versions import Version, datetime_param, split_layer

# JSONResponse renders with json.dumps as before the routes had response models (FastAPI's
# default path would render through pydantic's own JSON writer, which writes some floats
# differently, e.g. 1e-5 for 1e-05).
router = APIRouter(default_response_class=JSONResponse)

TileFormat = Literal["mvt", "pbf", "png", "webp", "jpg", "jpeg"]
LayersParam = Annotated[
    str,
    Path(
        description="a layer name, or several vector layers joined by commas (a composite); "
        "each may name a version or an ISO 8601 date after '@' (roads@2026-09-30)",
        max_length=1100,
    ),
]
#: OGC API's ``datetime``: the layers as they were at that instant
DatetimeParam = Annotated[
    str | None,
    Query(
        description="ISO 8601 date or datetime with Z or an offset: the version in force "
        "at that instant (a date alone: the end of that day, UTC)",
        max_length=64,
    ),
]
#: what /docs shows a tile route answers: a tile in one of these media types (or 204 empty)
TILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The tile",
        "content": {
            t: {"schema": {"type": "string", "format": "binary"}} for t in MEDIA_TYPES.values()
        },
    }
}
Z = Annotated[int, Path(ge=0, description="zoom level (tile matrix)")]
X = Annotated[int, Path(ge=0, description="column")]
Y = Annotated[int, Path(ge=0, description="row, counted from the top")]


# The dependencies are coroutines: a plain function would cost a thread-pool hop each.
async def snapshot(request: Request) -> Snapshot:
    """The catalog version this request uses from start to end."""
    return request.app.state.store.current()


async def settings_of(request: Request) -> Settings:
    return request.app.state.settings


async def service_of(request: Request) -> TileService:
    return request.app.state.service


ENCODING_DESCRIPTION = (
    "terrarium or mapbox: the heights as terrain-RGB (a MapLibre raster-dem source) "
    "instead of colours"
)


@dataclass
class RasterQuery:
    """Rendering overrides of raster tiles (validated; unknown values are a 400)."""

    colormap_name: Annotated[
        str | None,
        Query(description="a rio-tiler colormap name (default: the layer's style hint)"),
    ] = None
    rescale: Annotated[
        str | None,
        Query(description="'min,max' mapped onto the colormap (default: the layer's hint)"),
    ] = None
    encoding: Annotated[
        str | None,
        Query(description=ENCODING_DESCRIPTION),
    ] = None

    def parsed(self) -> tuple[str | None, tuple[float, float] | None]:
        name = check_colormap(self.colormap_name) if self.colormap_name is not None else None
        rescale = parse_rescale(self.rescale) if self.rescale is not None else None
        return name, rescale


async def raster_query(
    colormap_name: Annotated[
        str | None,
        Query(description="a rio-tiler colormap name (default: the layer's style hint)"),
    ] = None,
    rescale: Annotated[
        str | None,
        Query(description="'min,max' mapped onto the colormap (default: the layer's hint)"),
    ] = None,
    encoding: Annotated[str | None, Query(description=ENCODING_DESCRIPTION)] = None,
) -> RasterQuery:
    """The :class:`RasterQuery` of a request (a coroutine: no thread-pool hop)."""
    return RasterQuery(colormap_name, rescale, encoding)


Raster = Annotated[RasterQuery, Depends(raster_query)]


async def serve_tile(
    request: Request,
    snap: Snapshot,
    layers: str,
    z: int,
    x: int,
    y: int,
    fmt: str,
    scale: int,
    grid_id: str,
    raster: RasterQuery,
) -> Response:
    """Validate, fetch or encode, and answer one tile request."""
    service: TileService = request.app.state.service
    settings: Settings = request.app.state.settings
    start = time.perf_counter()
    colormap_name, rescale = raster.parsed()
    req = service.request(
        snap, layers, z, x, y, fmt, scale, grid_id, colormap_name, rescale, raster.encoding
    )
    gzip_ok = accepts_gzip(request.headers.get("accept-encoding"))
    cached_by_client = not_modified(
        request, variant_etag(req.etag, gzip_ok and req.kind == "vector"), settings
    )
    if cached_by_client is not None:
        return cached_by_client
    tile, _ = await service.tile(req)
    size = settings.raster_tile_size * req.scale
    response = tile_response(answer_tile(tile, req.etag, gzip_ok, settings, size))
    service.metrics.tile_latency(req.kind, time.perf_counter() - start)
    return response


# These two are answered by tiles._asgi.TileApp before FastAPI routes a request; FastAPI
# still documents them and answers the requests the fast path leaves (422s).
@router.get(
    SCALED_TILE_PATH,
    summary="A high-resolution raster tile (@2x ... @4x)",
    tags=["tiles"],
    response_class=Response,
    responses=TILE_RESPONSES,
)
async def tile_scaled(
    request: Request,
    layers: LayersParam,
    z: Z,
    x: X,
    y: Y,
    scale: Annotated[int, Path(ge=1, le=4)],
    fmt: TileFormat,
    raster: Raster,
    snap: Annotated[Snapshot, Depends(snapshot)],
) -> Response:
    return await serve_tile(request, snap, layers, z, x, y, fmt, scale, DEFAULT_GRID, raster)


@router.get(
    TILE_PATH,
    summary="A Web Mercator tile: MVT (.mvt/.pbf) for vector layers, PNG/WebP for rasters "
    "(and JPEG for imagery)",
    tags=["tiles"],
    response_class=Response,
    responses=TILE_RESPONSES,
)
async def tile(
    request: Request,
    layers: LayersParam,
    z: Z,
    x: X,
    y: Y,
    fmt: TileFormat,
    raster: Raster,
    snap: Annotated[Snapshot, Depends(snapshot)],
) -> Response:
    return await serve_tile(request, snap, layers, z, x, y, fmt, 1, DEFAULT_GRID, raster)


@router.get(
    "/tiles/{layers}/tilejson.json",
    summary="TileJSON 3.0.0",
    tags=["metadata"],
    response_model=TileJSON,
)
def tilejson_route(
    layers: LayersParam,
    snap: Annotated[Snapshot, Depends(snapshot)],
    settings: Annotated[Settings, Depends(settings_of)],
    tms: Annotated[str, Query(description="tile grid of the tile URLs")] = DEFAULT_GRID,
    raster: Raster = RasterQuery(),
) -> TileJSON:
    entries = snap.entries(layers, settings.max_composite)
    get_grid(tms)  # unknown grid -> 400
    colormap_name, rescale = raster.parsed()
    query = {}
    if colormap_name:
        query["colormap_name"] = colormap_name
    if rescale:
        query["rescale"] = f"{rescale[0]:g},{rescale[1]:g}"
    if len(entries) > 1 and any(e.kind != "vector" for _, e in entries):
        raise InvalidParameterError(f"layers {layers!r}: only vector layers can be combined")
    encoding = raster.encoding
    if encoding is not None:
        check_encoding(encoding)
        if entries[0][1].kind != "raster" or query:
            raise InvalidParameterError(
                "encoding applies to raster layers, without colormap_name or rescale"
            )
    pinned = {name for name, at in map(split_layer, layers.split(",")) if at is not None}
    return tilejson(
        entries,
        settings.public_url,
        tms,
        query=query or None,
        pinned=pinned,
        encoding=encoding,
    )


@router.get(
    "/style.json",
    summary="A MapLibre style with every layer",
    tags=["metadata"],
    response_model=MapLibreStyle,
)
def style_route(
    snap: Annotated[Snapshot, Depends(snapshot)],
    settings: Annotated[Settings, Depends(settings_of)],
    datetime: DatetimeParam = None,
) -> MapLibreStyle:
    if datetime is None:
        style = build_style(snap.catalog, settings.public_url, settings.raster_tile_size)
        return MapLibreStyle.model_validate(style)
    catalog = snap.versions.catalog_at(datetime_param(datetime), datetime)
    style = build_style(catalog, settings.public_url, settings.raster_tile_size, pinned=True)
    style["metadata"]["twin:datetime"] = datetime
    return MapLibreStyle.model_validate(style)


def _published(version: Version) -> str | None:
    when = version.published
    return None if when is None else when.strftime("%Y-%m-%dT%H:%M:%SZ")


def catalog_layer(
    name: str, entry: LayerEntry, public_url: str, versions: list[Version] | None = None
) -> BaseModel:
    """The ``/catalog`` item of one layer (a :data:`~tiles.models.CatalogLayer`)."""
    return CatalogLayer.model_validate(
        {
            **entry.model_dump(exclude=set(CATALOG_HIDDEN)),
            "name": name,
            "tilejson": f"{public_url}/tiles/{name}/tilejson.json",
            "versions": [
                LayerVersion(version=v.version, published=_published(v))
                for v in versions or [Version(entry.version, entry)]
            ],
        }
    )


@router.get(
    "/catalog",
    summary="Every published layer",
    tags=["metadata"],
    response_model=list[CatalogLayer],
)
def catalog_route(
    snap: Annotated[Snapshot, Depends(snapshot)],
    settings: Annotated[Settings, Depends(settings_of)],
) -> list[BaseModel]:
    public = settings.public_url
    return [
        catalog_layer(name, entry, public, snap.versions.servable(name))
        for name, entry in snap.catalog.layers.items()
    ]


@router.get(
    "/healthz",
    summary="Liveness and the catalog served",
    tags=["service"],
    response_model=Health,
)
async def healthz(snap: Annotated[Snapshot, Depends(snapshot)]) -> Health:
    return Health(
        status="ok",
        workspace=snap.catalog.workspace,
        updated=snap.catalog.updated,
        layers=len(snap.catalog.layers),
    )


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    tags=["service"],
    response_class=PlainTextResponse,
)
async def metrics(request: Request) -> PlainTextResponse:
    service: TileService = request.app.state.service
    cache = service.cache
    service.metrics.reloads = request.app.state.store.reloads
    text = service.metrics.render(cache.hits, cache.misses, cache.nbytes, len(cache))
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4")
