"""``/docs``: every JSON route documents a named response model, and the JSON matches it."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from morecantile import TileMatrixSet
from pydantic import BaseModel, TypeAdapter

from tiles.models import (
    CatalogLayer,
    Collection,
    Collections,
    Conformance,
    Health,
    LandingPage,
    MapLibreStyle,
    TileJSON,
    TileMatrixSets,
    TileSet,
    TileSets,
)
from tiles.viewer import VillagesTable

# path template -> the component its 200 JSON response refers to
EXPECTED = {
    "/": "LandingPage",
    "/tiles/{layers}/tilejson.json": "TileJSON",
    "/style.json": "MapLibreStyle",
    "/catalog": "CatalogLayer",
    "/healthz": "Health",
    "/conformance": "Conformance",
    "/collections": "Collections",
    "/collections/{layer}": "Collection",
    "/collections/{layer}/tiles": "TileSets",
    "/collections/{layer}/tiles/{tileMatrixSetId}": "TileSet",
    "/tileMatrixSets": "TileMatrixSets",
    "/tileMatrixSets/{tileMatrixSetId}": "TileMatrixSet",
    "/viewer/villages.json": "VillagesTable",
}


def _refs(schema: Any) -> set[str]:
    """Every ``$ref`` inside a schema."""
    if isinstance(schema, dict):
        found = {schema["$ref"]} if "$ref" in schema else set()
        return found.union(*(_refs(v) for v in schema.values()))
    if isinstance(schema, list):
        return set().union(*(_refs(v) for v in schema))
    return set()


def test_every_json_route_documents_a_named_response_model(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    components = spec["components"]["schemas"]
    documented = {}
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            content = op["responses"]["200"].get("content", {})
            json_types = [t for t in content if t == "application/json" or t.endswith("+json")]
            others = set(content) - set(json_types)
            # tiles, metrics, the viewer page and its assets are not JSON: no empty JSON
            # schema for them
            assert others <= {
                "application/vnd.mapbox-vector-tile",
                "application/x-protobuf",
                "text/css",
                "text/javascript",
                "image/png",
                "image/webp",
                "image/jpeg",
                "text/plain",
                "text/html",
            }, (path, others)
            for media_type in json_types:
                refs = _refs(content[media_type].get("schema", {}))
                assert refs, f"{method.upper()} {path}: {media_type} has no named schema"
                (ref,) = refs
                name = ref.rsplit("/", 1)[1]
                assert name in components, ref
                documented[path] = name
    assert documented == EXPECTED
    for name in EXPECTED.values():  # each component describes fields, not just "object"
        assert components[name].get("properties"), name


def _round_trip(model: Any, doc: Any, exclude_none: bool = False) -> Any:
    """Validate ``doc`` against ``model`` and serialise it back as the server would."""
    adapter = TypeAdapter(model)
    value = adapter.validate_python(doc)
    return adapter.dump_python(value, mode="json", by_alias=True, exclude_none=exclude_none)


@pytest.mark.parametrize(
    "url",
    [
        "/tiles/roads/tilejson.json",
        "/tiles/villages,sites/tilejson.json",
        "/tiles/dem/tilejson.json?colormap_name=magma",
        "/tiles/sites/tilejson.json?tms=CGCS2000Quad",
    ],
)
def test_tilejson_validates_against_the_model(client: TestClient, url: str) -> None:
    r = client.get(url)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    doc = r.json()
    tj = TileJSON.model_validate(doc)
    assert tj.tilejson == "3.0.0" and tj.tiles == doc["tiles"]
    assert tj.versions == doc["twin:versions"]
    assert (tj.vector_layers is None) == ("dem" in url)
    # nothing is lost or added: the model serialises to exactly the served document
    assert tj.model_dump(mode="json", by_alias=True) == doc
    assert list(tj.model_dump(by_alias=True)) == list(doc)  # keys in the served order


@pytest.mark.parametrize(
    ("url", "model"),
    [
        ("/?f=json", LandingPage),
        ("/style.json", MapLibreStyle),
        ("/catalog", list[CatalogLayer]),
        ("/healthz", Health),
        ("/conformance", Conformance),
        ("/collections", Collections),
        ("/collections/roads", Collection),
        ("/collections/dem/tiles", TileSets),
        ("/collections/villages/tiles/WebMercatorQuad", TileSet),
        ("/collections/dem/tiles/CGCS2000Quad", TileSet),
        ("/tileMatrixSets", TileMatrixSets),
        ("/viewer/villages.json", VillagesTable),
    ],
)
def test_documents_match_their_models(client: TestClient, url: str, model: Any) -> None:
    doc = client.get(url).json()
    assert _round_trip(model, doc) == doc


def test_tile_matrix_set_is_morecantiles_model(client: TestClient) -> None:
    doc = client.get("/tileMatrixSets/CGCS2000Quad").json()
    tms = TileMatrixSet.model_validate(doc)
    assert tms.id == "CGCS2000Quad" and "uri" not in doc  # None is left out, as before
    assert _round_trip(TileMatrixSet, doc, exclude_none=True) == doc


def test_catalog_layer_follows_the_catalog_entry() -> None:
    from tiles.catalog import LayerEntry

    fields: dict[str, Any] = CatalogLayer.model_fields
    hidden = {"artifacts", "provenance", "history"}
    assert list(fields) == [f for f in LayerEntry.model_fields if f not in hidden] + [
        "name",
        "tilejson",
        "versions",
    ]
    assert issubclass(CatalogLayer, BaseModel)
