"""By-products of a build start hidden in the style and the viewer; hints override."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.tiles.conftest import make_client
from tiles.catalog import read_catalog, write_catalog


def _viewer_layers(html: str) -> dict[str, bool]:
    raw = re.search(r'<script id="twin-config" type="application/json">(.*?)</script>', html, re.S)
    assert raw is not None
    return {item["name"]: item["visible"] for item in json.loads(raw.group(1))["layers"]}


def test_extras_start_hidden_and_hints_decide(own_catalog: Path) -> None:
    catalog = read_catalog(own_catalog)
    layers = dict(catalog.layers)
    # roads becomes a by-product of villages' build; sites asks to be hidden; dem to be shown.
    layers["roads"] = layers["roads"].model_copy(update={"parent": "villages"})
    sites = layers["sites"]
    layers["sites"] = sites.model_copy(update={"style": {**sites.style, "visible": False}})
    dem = layers["dem"]
    layers["dem"] = dem.model_copy(
        update={"parent": "villages", "style": {**dem.style, "visible": True}}
    )
    write_catalog(catalog.model_copy(update={"layers": layers}), own_catalog)
    with make_client(own_catalog) as client:
        style = client.get("/style.json").json()
        hidden = {
            layer["metadata"]["twin:layer"]
            for layer in style["layers"]
            if layer.get("layout", {}).get("visibility") == "none"
        }
        assert hidden == {"roads", "sites"}
        # the line layer keeps its own layout properties next to the visibility
        roads = next(layer for layer in style["layers"] if layer["id"] == "roads-line")
        assert roads["layout"]["line-cap"] == "round"
        html = client.get("/").text
    assert _viewer_layers(html) == {"villages": True, "roads": False, "sites": False, "dem": True}
