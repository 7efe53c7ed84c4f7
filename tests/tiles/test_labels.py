"""Label layers of the style: which field names a feature, from which zoom, in which order."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.tiles.test_metadata import VALIDATOR
from tiles.catalog import Catalog, LayerEntry, Provenance
from tiles.style import LABEL_FONT, build_style, label_fields, label_minzoom

URL = "http://maps.example.test"
# a county of about 0.58 x 0.26 degrees around Deqing
COUNTY = (119.76, 30.43, 120.34, 30.69)


def _entry(geometry: str, fields: dict[str, str], count: int, **style: object) -> LayerEntry:
    return LayerEntry(
        kind="vector",
        title="x",
        version="v1",
        artifacts={"data": "x/v1/data.parquet"},
        crs="EPSG:4549",
        bounds=COUNTY,
        minzoom=8,
        maxzoom=18,
        geometry_type=geometry,
        fields=fields,
        count=count,
        style=dict(style),
        provenance=Provenance(builder="x", builder_version="1", fingerprint="f", built_at="t"),
    )


def _catalog(**layers: LayerEntry) -> Catalog:
    return Catalog(workspace="Demo", updated="2026-11-28T05:00:00Z", layers=layers)


COUNTY_LAYERS = {
    "townships": _entry("Polygon", {"name": "string", "town_code": "string"}, 13),
    "villages": _entry(
        "Polygon",
        {"name": "string", "village_code": "string", "score_total": "float"},
        137,
        label="name",
        id="village_code",
    ),
    "roads": _entry("LineString", {"name": "string", "ref": "string", "lanes": "int"}, 5000),
    "enterprises": _entry("Point", {"name": "string", "industry": "string"}, 14000),
    "cell_sites": _entry("Point", {"cell_id": "int", "band": "string"}, 300),
    "sinr": _entry("Polygon", {"name": "string"}, 40, visible=False),
}


def _text(layer: dict) -> list:
    return layer["layout"]["text-field"]


def test_a_feature_is_named_by_label_then_name_then_ref_then_its_id() -> None:
    villages = COUNTY_LAYERS["villages"]
    assert label_fields(villages) == ["name", "village_code"]
    assert label_fields(COUNTY_LAYERS["roads"]) == ["name", "ref"]
    assert label_fields(COUNTY_LAYERS["cell_sites"]) == []  # nothing names a cell: no labels
    # a hint naming a field the layer does not have is ignored
    assert label_fields(_entry("Point", {"title": "string"}, 1, label="nom")) == []
    style = build_style(_catalog(**COUNTY_LAYERS), URL)
    layers = {layer["id"]: layer for layer in style["layers"]}
    assert "cell_sites-label" not in layers
    # an empty name (shapefiles hold "" for nothing) falls through to the code
    assert _text(layers["villages-label"]) == [
        "case",
        ["all", ["has", "name"], ["!=", ["to-string", ["get", "name"]], ""]],
        ["to-string", ["get", "name"]],
        ["all", ["has", "village_code"], ["!=", ["to-string", ["get", "village_code"]], ""]],
        ["to-string", ["get", "village_code"]],
        "",
    ]
    assert layers["roads-label"]["layout"]["symbol-placement"] == "line"
    assert layers["enterprises-label"]["filter"] == ["==", ["geometry-type"], "Point"]
    for layer in (layers["villages-label"], layers["roads-label"]):
        assert layer["layout"]["text-font"] == [LABEL_FONT]
        assert layer["paint"]["text-halo-width"] > 0
        assert layer["metadata"] == {"twin:layer": layer["source"]}  # the switcher toggles it


def test_names_show_from_the_zoom_where_they_fit_larger_areas_first() -> None:
    zooms = {n: label_minzoom(e, "polygon") for n, e in COUNTY_LAYERS.items() if n != "roads"}
    # 13 townships in the county: z10; 137 villages: z11 (about 48 px across each)
    assert zooms["townships"] == 10 and zooms["villages"] == 11
    assert label_minzoom(COUNTY_LAYERS["roads"], "line") == 13
    assert label_minzoom(COUNTY_LAYERS["enterprises"], "point") == 15
    # a hint decides when there is one; a layer never labels before its own minzoom
    assert label_minzoom(_entry("Polygon", {"name": "string"}, 9, label_minzoom=14), "") == 14
    assert label_minzoom(_entry("Polygon", {"name": "string"}, 1), "polygon") == 8
    style = build_style(_catalog(**COUNTY_LAYERS), URL)
    ids = [layer["id"] for layer in style["layers"]]
    labels = [i for i in ids if i.endswith("-label")]
    # labels above every other layer; the topmost is placed first, so townships win
    # collisions over villages, villages over roads and points
    assert ids[-len(labels) :] == labels
    order = [labels.index(f"{n}-label") for n in ("enterprises", "roads", "villages", "townships")]
    assert order == sorted(order)
    minzoom = {layer["id"]: layer.get("minzoom") for layer in style["layers"]}
    assert minzoom["townships-label"] == 10 and minzoom["roads-label"] == 13


def test_a_layer_hidden_at_first_has_its_labels_hidden_too() -> None:
    style = build_style(_catalog(**COUNTY_LAYERS), URL)
    layers = {layer["id"]: layer for layer in style["layers"]}
    assert layers["sinr-label"]["layout"]["visibility"] == "none"
    assert layers["sinr-fill"]["layout"]["visibility"] == "none"
    assert "visibility" not in layers["villages-label"]["layout"]
    assert style["glyphs"] == f"{URL}/fonts/{{fontstack}}/{{range}}.pbf"


def test_the_labelled_style_validates_with_maplibre(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None or not VALIDATOR.exists():
        pytest.fail("node and `npm install` are needed for MapLibre's style validator")
    mixed = _entry("Unknown", {"name": "string"}, 10)
    deep = _entry("Polygon", {"name": "string"}, 3, label_minzoom=22)
    style = build_style(_catalog(**COUNTY_LAYERS, mixed=mixed, deep=deep), URL)
    path = tmp_path / "style.json"
    path.write_text(json.dumps(style))
    out = subprocess.run([node, str(VALIDATOR), str(path)], capture_output=True, text=True)
    assert out.returncode == 0 and not out.stdout.strip(), out.stdout + out.stderr
