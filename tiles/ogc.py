"""OGC API - Tiles: core, tileset, tilesets-list and tilematrixset conformance classes.

Every catalog layer is a collection; each has one tileset per grid
(WebMercatorQuad, WorldCRS84Quad, CGCS2000Quad). Tiles are addressed
``/collections/{layer}/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}``
with ``f=mvt|png|webp|jpg`` (default: mvt for vector layers, png for rasters, webp for
imagery; jpg for imagery only).
``datetime`` (an ISO 8601 instant, as OGC API Common has it) picks the version
of a layer in force then, on every collection route; ``{layer}@{version}`` in the
path works too (:mod:`tiles.versions`). The links of a versioned document
name the version, so a client following them stays on it.
The landing page is ``/`` with ``f=json`` (or ``Accept: application/json``);
without it ``/`` is the HTML viewer.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from morecantile import TileMatrixSet

from tiles.catalog import LayerEntry
from tiles.errors import InvalidParameterError
from tiles.grids import GRID_IDS, get_grid, grid_bounds
from tiles.models import (
    Collection,
    Collections,
    Conformance,
    LandingPage,
    Link,
    TileMatrixLimits,
    TileMatrixSetRef,
    TileMatrixSets,
    TileSet,
    TileSetLayer,
    TileSets,
    TileSetSummary,
)
from tiles.routes import (
    TILE_RESPONSES,
    DatetimeParam,
    Raster,
    serve_tile,
    settings_of,
    snapshot,
)
from tiles.settings import Settings
from tiles.store import Snapshot
from tiles.tilejson import tile_formats
from tiles.versions import VERSION_SEP, datetime_param, split_layer

# JSONResponse renders with json.dumps as before the routes had response models (FastAPI's
# default path would render through pydantic's own JSON writer, which writes some floats
# differently, e.g. 1e-5 for 1e-05).
router = APIRouter(tags=["OGC API - Tiles"], default_response_class=JSONResponse)

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/json",
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/landing-page",
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-common-2/1.0/conf/collections",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tileset",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tilesets-list",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/geodata-tilesets",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/png",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/jpeg",
    "http://www.opengis.net/spec/tms/2.0/conf/tilematrixset",
    "http://www.opengis.net/spec/tms/2.0/conf/json-tilematrixset",
]
REL_TILESETS = {
    "vector": "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector",
    "raster": "http://www.opengis.net/def/rel/ogc/1.0/tilesets-map",
}
DATA_TYPES = {"vector": "vector", "raster": "map"}
TILE_TYPES = {
    "mvt": "application/vnd.mapbox-vector-tile",
    "png": "image/png",
    "webp": "image/webp",
    "jpg": "image/jpeg",
}
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"


def _link(href: str, rel: str, type_: str = "application/json", **extra: Any) -> Link:
    return Link(href=href, rel=rel, type=type_, **extra)


def landing_page(snap: Snapshot, public: str) -> LandingPage:
    """The OGC API landing page."""
    return LandingPage(
        title=snap.catalog.workspace,
        description=f"Tiles of {snap.catalog.workspace}: {len(snap.catalog.layers)} layers",
        links=[
            _link(f"{public}/?f=json", "self"),
            _link(f"{public}/", "alternate", "text/html", title="map viewer"),
            _link(
                f"{public}/openapi.json",
                "service-desc",
                "application/vnd.oai.openapi+json;version=3.0",
            ),
            _link(f"{public}/docs", "service-doc", "text/html"),
            _link(f"{public}/conformance", "conformance"),
            _link(f"{public}/collections", "data"),
            _link(
                f"{public}/tileMatrixSets", "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes"
            ),
        ],
    )


def _collection(name: str, entry: LayerEntry, public: str, ref: str | None = None) -> Collection:
    ref = ref or name
    return Collection(
        id=name,
        title=entry.title,
        description=entry.description,
        itemType="feature" if entry.kind == "vector" else "coverage",
        dataType=DATA_TYPES[entry.kind],
        extent={"spatial": {"bbox": [entry.bounds], "crs": CRS84}},
        storageCrs=entry.crs,
        links=[
            _link(f"{public}/collections/{ref}", "self"),
            _link(f"{public}/collections/{ref}/tiles", REL_TILESETS[entry.kind], title="tilesets"),
        ],
    )


def _tileset_summary(
    name: str, entry: LayerEntry, grid_id: str, public: str, ref: str | None = None
) -> TileSetSummary:
    ref = ref or name
    grid = get_grid(grid_id)
    return TileSetSummary(
        title=f"{entry.title} ({grid_id})",
        dataType=DATA_TYPES[entry.kind],
        crs=grid.tms.crs.srs,
        tileMatrixSetURI=grid.tms.uri or f"{public}/tileMatrixSets/{grid_id}",
        links=[
            _link(f"{public}/collections/{ref}/tiles/{grid_id}", "self"),
            _link(
                f"{public}/tileMatrixSets/{grid_id}",
                "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme",
            ),
        ],
    )


def tileset(
    name: str, entry: LayerEntry, grid_id: str, public: str, ref: str | None = None
) -> TileSet:
    """Tileset metadata: limits per zoom of the tiles that hold the layer, and a URL template.

    ``ref`` is the layer as the links name it (``name@version`` for a version).
    """
    ref = ref or name
    grid = get_grid(grid_id)
    summary = _tileset_summary(name, entry, grid_id, public, ref)
    bounds = grid_bounds(grid_id, entry.bounds)
    limits = []
    for z in range(entry.minzoom, entry.maxzoom + 1):
        col0, row0, col1, row1 = grid.tile_range(bounds, z)
        limits.append(
            TileMatrixLimits(
                tileMatrix=str(z),
                minTileRow=row0,
                maxTileRow=row1,
                minTileCol=col0,
                maxTileCol=col1,
            )
        )
    for fmt in tile_formats(entry):
        summary.links.append(
            _link(
                f"{public}/collections/{ref}/tiles/{grid_id}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}?f={fmt}",
                "item",
                TILE_TYPES[fmt],
                templated=True,
            )
        )
    layers = None
    if entry.kind == "vector":
        layers = [
            TileSetLayer(
                id=name,
                dataType="vector",
                geometryDimension=_dimension(entry.geometry_type),
                minTileMatrix=str(entry.minzoom),
                maxTileMatrix=str(entry.maxzoom),
                propertiesSchema={
                    "type": "object",
                    "properties": {f: {"type": _json_type(t)} for f, t in entry.fields.items()},
                },
            )
        ]
    return TileSet(**dict(summary), tileMatrixSetLimits=limits, layers=layers)


def _dimension(geometry_type: str | None) -> int | None:
    gt = (geometry_type or "").lower()
    return 2 if "polygon" in gt else 1 if "line" in gt else 0 if "point" in gt else None


def _json_type(field_type: str) -> str:
    return {"int": "integer", "float": "number", "bool": "boolean"}.get(field_type, "string")


Snap = Annotated[Snapshot, Depends(snapshot)]
Conf = Annotated[Settings, Depends(settings_of)]
Layer = Annotated[
    str,
    Path(
        max_length=160,
        description="a layer name; may name a version or an ISO 8601 date after '@'",
    ),
]


def _version(snap: Snapshot, layer: str, when: str | None) -> tuple[str, LayerEntry, str]:
    """``(name, entry, ref)`` of a collection at ``when``: ``ref`` is how links name it,
    ``name@version`` when a version or instant was asked for."""
    name, at = split_layer(layer)
    if when is None:
        entry = snap.entry(layer)
    elif at is not None:
        raise InvalidParameterError(
            f"{layer[:64]}: give a version in the path or datetime, not both"
        )
    else:
        entry = snap.versions.at(name, datetime_param(when), when)
    if at is None and when is None:
        return name, entry, name
    return name, entry, f"{name}{VERSION_SEP}{entry.version}"


@router.get("/conformance", summary="Conformance classes", response_model=Conformance)
def conformance() -> Conformance:
    return Conformance(conformsTo=CONFORMANCE)


@router.get("/collections", summary="Every layer as a collection", response_model=Collections)
def collections(snap: Snap, settings: Conf, datetime: DatetimeParam = None) -> Collections:
    public = settings.public_url
    if datetime is None:
        return Collections(
            links=[_link(f"{public}/collections", "self")],
            collections=[_collection(n, e, public) for n, e in snap.catalog.layers.items()],
        )
    # the layers as they were then: those without a version at that instant are left out
    then = snap.versions.catalog_at(datetime_param(datetime), datetime)
    return Collections(
        links=[_link(f"{public}/collections?{urlencode({'datetime': datetime})}", "self")],
        collections=[
            _collection(n, e, public, f"{n}{VERSION_SEP}{e.version}")
            for n, e in then.layers.items()
        ],
    )


@router.get("/collections/{layer}", summary="One collection", response_model=Collection)
def collection(
    layer: Layer, snap: Snap, settings: Conf, datetime: DatetimeParam = None
) -> Collection:
    name, entry, ref = _version(snap, layer, datetime)
    return _collection(name, entry, settings.public_url, ref)


@router.get(
    "/collections/{layer}/tiles", summary="The tilesets of a collection", response_model=TileSets
)
def tilesets(layer: Layer, snap: Snap, settings: Conf, datetime: DatetimeParam = None) -> TileSets:
    name, entry, ref = _version(snap, layer, datetime)
    public = settings.public_url
    return TileSets(
        links=[_link(f"{public}/collections/{ref}/tiles", "self")],
        tilesets=[_tileset_summary(name, entry, g, public, ref) for g in GRID_IDS],
    )


@router.get(
    "/collections/{layer}/tiles/{tileMatrixSetId}",
    summary="Tileset metadata",
    response_model=TileSet,
)
def tileset_route(
    layer: Layer,
    tileMatrixSetId: Annotated[str, Path(max_length=64)],
    snap: Snap,
    settings: Conf,
    datetime: DatetimeParam = None,
) -> TileSet:
    name, entry, ref = _version(snap, layer, datetime)
    get_grid(tileMatrixSetId)
    return tileset(name, entry, tileMatrixSetId, settings.public_url, ref)


@router.get(
    "/collections/{layer}/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}",
    summary="A tile of a collection in any grid",
    response_class=Response,
    responses=TILE_RESPONSES,
)
async def ogc_tile(
    request: Request,
    layer: Layer,
    tileMatrixSetId: Annotated[str, Path(max_length=64)],
    tileMatrix: Annotated[int, Path(ge=0)],
    tileRow: Annotated[int, Path(ge=0)],
    tileCol: Annotated[int, Path(ge=0)],
    snap: Snap,
    raster: Raster,
    f: Annotated[
        Literal["mvt", "png", "webp", "jpg"] | None, Query(description="tile format")
    ] = None,
    datetime: DatetimeParam = None,
) -> Response:
    _, entry, ref = _version(snap, layer, datetime)
    fmt = f or tile_formats(entry)[0]
    return await serve_tile(
        request, snap, ref, tileMatrix, tileCol, tileRow, fmt, 1, tileMatrixSetId, raster
    )


@router.get("/tileMatrixSets", summary="The tile grids", response_model=TileMatrixSets)
def tile_matrix_sets(settings: Conf) -> TileMatrixSets:
    public = settings.public_url
    return TileMatrixSets(
        tileMatrixSets=[
            TileMatrixSetRef(
                id=g,
                title=get_grid(g).title,
                uri=get_grid(g).tms.uri,
                crs=get_grid(g).tms.crs.srs,
                links=[_link(f"{public}/tileMatrixSets/{g}", "self")],
            )
            for g in GRID_IDS
        ]
    )


@router.get(
    "/tileMatrixSets/{tileMatrixSetId}",
    summary="A tile grid definition (OGC TMS 2.0)",
    response_model=TileMatrixSet,
    response_model_exclude_none=True,
)
def tile_matrix_set(
    tileMatrixSetId: Annotated[str, Path(max_length=64)],
) -> TileMatrixSet:
    return get_grid(tileMatrixSetId).tms
