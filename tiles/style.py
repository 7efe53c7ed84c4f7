"""A MapLibre style (spec v8) with every catalog layer, coloured by layer kind, and labels.

Each style layer carries ``metadata["twin:layer"]`` naming its catalog layer,
which the viewer's layer switcher uses. Colours come from the entry's style
hints (``color``, ``opacity``, ``colormap``/``rescale`` for rasters; for vector
layers ``property`` with ``range`` and ``ramp``, or with ``categories``) when they
are valid, else from a fixed palette, so the style always validates.

Raster layers with the ``terrain`` hint (``style = { terrain = true }``: a DEM in
metres) also get a ``raster-dem`` source, ``{layer}-terrain``, of their
heights as Terrarium tiles (:mod:`tiles.terrain`) and a ``hillshade`` layer
drawn from it; the style's ``metadata["twin:terrain"]`` names that source and
the ``exaggeration`` hint, for a client's 3D view (``map.setTerrain``). The
style opens flat: no ``terrain`` key.

Polygon layers with the ``extrude`` hint naming a numeric field (a building's
height in metres) also get a ``fill-extrusion`` layer, ``{layer}-extrusion``,
above every other layer but the labels. It starts hidden and carries
``metadata["twin:view"] = "3d"``, the flat fill ``"2d"``: a client showing the
map in 3D swaps them (the viewer's 2D/3D button does).

Vector layers with a name get a label layer (``{layer}-label``) above every
other layer: the ``label`` hint, else ``name``, else ``ref``, else the ``id``
hint (a village without a name shows its code). Glyphs come from the server
(``/fonts/...``, :mod:`tiles.assets`); Chinese is drawn by the browser through
MapLibre's ``localIdeographFontFamily``.
"""

from __future__ import annotations

import math
import re
from typing import Any

from tiles.catalog import Catalog, LayerEntry

_HEX = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
PALETTE = ("#3388ff", "#e4572e", "#17a398", "#f3a712", "#7d5ba6", "#29335c", "#a8c686", "#db2b39")
BACKGROUND = "#f4f2ee"


def layer_color(entry: LayerEntry, index: int) -> str:
    """The entry's ``color`` hint if it is a valid hex colour, else a palette colour."""
    hint = entry.style.get("color")
    if isinstance(hint, str) and _HEX.match(hint):
        return hint
    return PALETTE[index % len(PALETTE)]


#: a sequential ramp (viridis stops) for numeric properties
RAMP = ("#440154", "#3b528b", "#21918c", "#5ec962", "#fde725")
#: a diverging ramp (ColorBrewer RdBu stops: losses red, no change white, gains blue),
#: for a ``range`` centred at 0; chosen by the ``ramp = "diverging"`` hint
DIVERGING = ("#b2182b", "#ef8a62", "#f7f7f7", "#67a9cf", "#2166ac")
RAMPS = {"sequential": RAMP, "diverging": DIVERGING}


def categorical(entry: LayerEntry) -> list[Any] | None:
    """A colour per value of the ``property`` hint, from the ``categories`` hint.

    ``categories`` maps a value (as text) to a hex colour; other values take the
    layer's colour. None without a valid hint.

    Examples
    --------
    >>> e = LayerEntry.model_validate({"kind": "vector", "title": "c", "version": "v",
    ...     "artifacts": {"data": "c.parquet"}, "crs": "EPSG:4549", "bounds": [119, 30, 120, 31],
    ...     "fields": {"change": "string"}, "style": {"property": "change",
    ...     "categories": {"added": "#1a9641", "removed": "#d7191c", "bad": "red"}},
    ...     "provenance": {"builder": "diff", "builder_version": "1", "fingerprint": "f",
    ...     "built_at": "t"}})
    >>> categorical(e)
    ['match', ['to-string', ['get', 'change']], 'added', '#1a9641', 'removed', '#d7191c', '#3388ff']
    """
    prop = entry.style.get("property")
    cats = entry.style.get("categories")
    if not isinstance(prop, str) or prop not in entry.fields or not isinstance(cats, dict):
        return None
    pairs: list[Any] = []
    for value, color in cats.items():
        if isinstance(color, str) and _HEX.match(color):
            pairs += [str(value), color]
    if not pairs:
        return None
    return ["match", ["to-string", ["get", prop]], *pairs, layer_color(entry, 0)]


def numeric_ramp(entry: LayerEntry) -> list[Any] | None:
    """A colour expression over the ``property`` hint when it names a numeric field.

    The ``range`` hint ([low, high]) spans the ramp; without a valid one the
    layer keeps its single colour. The ``ramp`` hint picks the colours
    (:data:`RAMPS`: ``sequential``, the default, or ``diverging``).
    """
    prop = entry.style.get("property")
    span = entry.style.get("range")
    if not isinstance(prop, str) or entry.fields.get(prop) not in ("int", "float"):
        return None
    if not (isinstance(span, (list, tuple)) and len(span) == 2):
        return None
    try:
        lo, hi = float(span[0]), float(span[1])
    except (TypeError, ValueError):
        return None
    if not lo < hi:
        return None
    colors = RAMPS.get(str(entry.style.get("ramp", "sequential")), RAMP)
    stops: list[Any] = []
    for i, color in enumerate(colors):
        stops += [lo + (hi - lo) * i / (len(colors) - 1), color]
    return ["interpolate", ["linear"], ["to-number", ["get", prop], lo], *stops]


#: how the style's raster-dem sources pack heights (the finer of the two: 1/256 m)
TERRAIN_ENCODING = "terrarium"
#: how much a 3D view stretches heights when the ``exaggeration`` hint does not say
DEFAULT_EXAGGERATION = 1.5


def is_terrain(entry: LayerEntry) -> bool:
    """Whether a layer is heights for a 3D view: a raster with the ``terrain`` hint."""
    return entry.kind == "raster" and entry.style.get("terrain") is True


def terrain_source(name: str) -> str:
    """The id of the ``raster-dem`` source of terrain layer ``name``."""
    return f"{name}-terrain"


def exaggeration(entry: LayerEntry) -> float:
    """The ``exaggeration`` hint when it is a number in (0, 10], else the default."""
    hint = entry.style.get("exaggeration")
    if isinstance(hint, (int, float)) and not isinstance(hint, bool) and 0 < hint <= 10:
        return float(hint)
    return DEFAULT_EXAGGERATION


def extrude_field(entry: LayerEntry) -> str | None:
    """The numeric field a polygon layer's ``extrude`` hint names (heights in metres), or None."""
    hint = entry.style.get("extrude")
    if entry.kind != "vector" or _geometry_kinds(entry) != ["polygon"]:
        return None
    if isinstance(hint, str) and entry.fields.get(hint) in ("int", "float"):
        return hint
    return None


def _opacity(entry: LayerEntry, default: float) -> float:
    hint = entry.style.get("opacity")
    if isinstance(hint, (int, float)) and not isinstance(hint, bool) and 0 <= hint <= 1:
        return float(hint)
    return default


def _geometry_kinds(entry: LayerEntry) -> list[str]:
    gt = (entry.geometry_type or "").lower()
    if "polygon" in gt:
        return ["polygon"]
    if "line" in gt:
        return ["line"]
    if "point" in gt:
        return ["point"]
    return ["polygon", "line", "point"]  # unknown or mixed: draw every kind, filtered


_FILTERS = {
    "polygon": ["==", ["geometry-type"], "Polygon"],
    "line": ["==", ["geometry-type"], "LineString"],
    "point": ["==", ["geometry-type"], "Point"],
}


#: the fontstack the server's glyphs are made from (tiles/fonts)
LABEL_FONT = "DejaVu Sans Book"
#: the fields that name a feature, in order of preference, after the ``label`` hint
NAME_FIELDS = ("name", "ref")
#: a polygon layer is labelled from the zoom at which an average feature spans this many px
LABEL_MIN_PX = 48
#: lines are labelled from here (a road name needs a long straight run), points later still
LINE_LABEL_MINZOOM = 13
POINT_LABEL_MINZOOM = 15


def label_fields(entry: LayerEntry) -> list[str]:
    """The properties a feature's label is taken from, first non-empty one wins."""
    hints = [entry.style.get("label"), *NAME_FIELDS, entry.style.get("id")]
    out: list[str] = []
    for name in hints:
        if isinstance(name, str) and name in entry.fields and name not in out:
            out.append(name)
    return out


def _label_text(fields: list[str]) -> list[Any]:
    # a missing property or an empty string (shapefiles hold "" for nothing) falls through
    branches: list[Any] = []
    for name in fields:
        text = ["to-string", ["get", name]]
        branches += [["all", ["has", name], ["!=", text, ""]], text]
    return ["case", *branches, ""]


def _mercator_y(lat: float) -> float:
    lat = max(min(lat, 85.05), -85.05)
    return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))


def label_minzoom(entry: LayerEntry, kind: str) -> int:
    """The zoom from which a layer's labels show: the ``label_minzoom`` hint, else by size.

    Polygons: the zoom at which the average feature (the layer's bounds shared
    by its features) spans :data:`LABEL_MIN_PX` pixels, so that townships are
    named before villages. Lines and points from fixed zooms.
    """
    hint = entry.style.get("label_minzoom")
    if isinstance(hint, int) and not isinstance(hint, bool) and 0 <= hint <= 24:
        return hint
    if kind == "line":
        return max(LINE_LABEL_MINZOOM, min(entry.minzoom, 24))
    if kind == "point" or not entry.count:
        return max(POINT_LABEL_MINZOOM, min(entry.minzoom, 24))
    w, s, e, n = entry.bounds
    # pixels at zoom 0 (a 256 px world)
    width = (e - w) / 360 * 256
    height = (_mercator_y(n) - _mercator_y(s)) / (2 * math.pi) * 256
    side = math.sqrt(max(width * height, 1e-18) / entry.count)
    zoom = math.ceil(math.log2(LABEL_MIN_PX / side))
    return max(min(entry.minzoom, 24), min(zoom, 16))


def label_layer(name: str, entry: LayerEntry) -> dict[str, Any] | None:
    """The symbol layer naming the features of catalog layer ``name``, or None (no name field)."""
    fields = label_fields(entry)
    if entry.kind != "vector" or not fields:
        return None
    kind = _geometry_kinds(entry)[0] if len(_geometry_kinds(entry)) == 1 else "point"
    minzoom = label_minzoom(entry, kind)
    layout: dict[str, Any] = {
        "text-field": _label_text(fields),
        "text-font": [LABEL_FONT],
        "text-max-width": 8,
        "text-padding": 4,
    }
    if kind == "line":
        layout |= {
            "symbol-placement": "line",
            "text-size": ["interpolate", ["linear"], ["zoom"], 13, 11, 18, 14],
        }
    elif kind == "point":
        layout |= {"text-size": 11, "text-anchor": "top", "text-offset": [0, 0.6]}
    else:
        # larger areas (townships) in larger type than the smaller ones (villages) they contain
        layout["text-size"] = ["interpolate", ["linear"], ["zoom"], minzoom, 12, minzoom + 4, 16]
    return {
        "id": f"{name}-label",
        "type": "symbol",
        "source": name,
        "source-layer": name,
        "minzoom": minzoom,
        "metadata": {"twin:layer": name},
        **({} if kind == "polygon" else {"filter": _FILTERS[kind]}),
        "layout": layout,
        "paint": {
            "text-color": "#1f1f1f" if kind == "polygon" else "#3a3a3a",
            "text-halo-color": "#ffffff",
            "text-halo-width": 1.5,
            "text-halo-blur": 0.5,
        },
    }


def initially_visible(entry: LayerEntry) -> bool:
    """Whether a layer is drawn when the map opens.

    The ``visible`` style hint decides; without one, a layer shows unless it
    was made as a by-product of another layer's build (``parent`` set: a
    coverage build's SINR raster, a road network's nodes), which starts
    hidden in the layer switcher so that opening the map fetches the main
    layers' tiles only.
    """
    hint = entry.style.get("visible")
    return bool(hint) if hint is not None else entry.parent is None


def style_layers(name: str, entry: LayerEntry, index: int) -> list[dict[str, Any]]:
    """The MapLibre layers that draw catalog layer ``name``."""
    return _hidden_unless_visible(entry, _style_layers(name, entry, index))


def _hidden_unless_visible(entry: LayerEntry, layers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not initially_visible(entry):
        for layer in layers:
            layer["layout"] = {**layer.get("layout", {}), "visibility": "none"}
    return layers


def _style_layers(name: str, entry: LayerEntry, index: int) -> list[dict[str, Any]]:
    meta = {"twin:layer": name}
    # the style spec caps zoom levels at 24; a deeper layer simply starts at 24
    common = {"source": name, "minzoom": min(entry.minzoom, 24), "metadata": meta}
    if entry.kind == "raster":
        drawn: list[dict[str, Any]] = [
            {
                "id": name,
                "type": "raster",
                **common,
                "paint": {"raster-opacity": _opacity(entry, 0.8)},
            }
        ]
        if is_terrain(entry):
            drawn.append(
                {
                    "id": f"{name}-hillshade",
                    "type": "hillshade",
                    **common,
                    "source": terrain_source(name),
                    "paint": {"hillshade-exaggeration": 0.5, "hillshade-shadow-color": "#473b24"},
                }
            )
        return drawn
    color = layer_color(entry, index)
    ramp = categorical(entry) or numeric_ramp(entry)
    kinds = _geometry_kinds(entry)
    mixed = len(kinds) > 1
    out: list[dict[str, Any]] = []
    for kind in kinds:
        base = {**common, "source-layer": name}
        if mixed:
            base["filter"] = _FILTERS[kind]
        if kind == "polygon":
            out.append(
                {
                    "id": f"{name}-fill",
                    "type": "fill",
                    **base,
                    **({"metadata": {**meta, "twin:view": "2d"}} if extrude_field(entry) else {}),
                    "paint": {
                        "fill-color": ramp or color,
                        "fill-opacity": _opacity(entry, 0.6 if ramp else 0.2),
                    },
                }
            )
            out.append(
                {
                    "id": f"{name}-outline",
                    "type": "line",
                    **base,
                    "paint": {"line-color": color, "line-width": 1.2},
                }
            )
        elif kind == "line":
            out.append(
                {
                    "id": f"{name}-line",
                    "type": "line",
                    **base,
                    "layout": {"line-cap": "round", "line-join": "round"},
                    "paint": {
                        "line-color": ramp or color,
                        "line-opacity": _opacity(entry, 0.9),
                        "line-width": ["interpolate", ["linear"], ["zoom"], 8, 1, 16, 4],
                    },
                }
            )
        else:
            out.append(
                {
                    "id": f"{name}-circle",
                    "type": "circle",
                    **base,
                    "paint": {
                        "circle-color": ramp or color,
                        "circle-opacity": _opacity(entry, 0.9),
                        "circle-radius": [
                            "interpolate",
                            ["linear"],
                            ["zoom"],
                            8,
                            1.5,
                            12,
                            3,
                            16,
                            6,
                        ],
                        "circle-stroke-color": "#ffffff",
                        "circle-stroke-width": ["interpolate", ["linear"], ["zoom"], 8, 0, 12, 1],
                    },
                }
            )
    return out


def extrusion_layer(name: str, entry: LayerEntry, index: int) -> dict[str, Any] | None:
    """The ``fill-extrusion`` layer of a layer with the ``extrude`` hint (hidden: 3D only)."""
    field = extrude_field(entry)
    if field is None:
        return None
    return {
        "id": f"{name}-extrusion",
        "type": "fill-extrusion",
        "source": name,
        "source-layer": name,
        "minzoom": min(entry.minzoom, 24),
        "metadata": {"twin:layer": name, "twin:view": "3d"},
        "layout": {"visibility": "none"},
        "paint": {
            "fill-extrusion-color": numeric_ramp(entry) or layer_color(entry, index),
            "fill-extrusion-height": ["max", ["to-number", ["get", field], 0], 0],
            "fill-extrusion-base": 0,
            "fill-extrusion-opacity": _opacity(entry, 0.85),
        },
    }


def _order(item: tuple[str, LayerEntry]) -> tuple[int, str]:
    """Rasters at the bottom (imagery over data rasters, which would veil it), then
    polygons, lines and points on top."""
    entry = item[1]
    if entry.kind == "raster":
        return (1 if entry.is_mosaic else 0, item[0])
    kinds = _geometry_kinds(entry)
    rank = {"polygon": 2, "line": 3, "point": 4}
    return (rank[kinds[0]] if len(kinds) == 1 else 3, item[0])


def build_style(
    catalog: Catalog, public_url: str, raster_tile_size: int = 256, pinned: bool = False
) -> dict[str, Any]:
    """The MapLibre style of every layer in ``catalog``, tiles served from ``public_url``.

    With ``pinned``, each source names its layer's version (``roads@<version>``), so
    the style keeps showing these versions after a rebuild.
    """
    sources: dict[str, Any] = {}
    layers: list[dict[str, Any]] = [
        {"id": "background", "type": "background", "paint": {"background-color": BACKGROUND}}
    ]
    names = list(catalog.layers)
    labels: list[dict[str, Any]] = []
    extrusions: list[dict[str, Any]] = []
    terrain: dict[str, Any] | None = None
    for name, entry in sorted(catalog.layers.items(), key=_order):
        index = names.index(name)
        ref = f"{name}@{entry.version}" if pinned else name
        source: dict[str, Any] = {
            "type": entry.kind,
            "url": f"{public_url}/tiles/{ref}/tilejson.json",
        }
        if entry.kind == "raster":
            source["tileSize"] = raster_tile_size
        if entry.attribution:
            source["attribution"] = entry.attribution
        sources[name] = source
        if is_terrain(entry):
            sources[terrain_source(name)] = {
                **source,
                "type": "raster-dem",
                "url": f"{source['url']}?encoding={TERRAIN_ENCODING}",
                "encoding": TERRAIN_ENCODING,
            }
            if terrain is None:  # the first by name is the ground of a 3D view
                terrain = {"source": terrain_source(name), "exaggeration": exaggeration(entry)}
        layers.extend(style_layers(name, entry, index))
        extrusion = extrusion_layer(name, entry, index)
        if extrusion is not None:
            extrusions.append(extrusion)
        label = label_layer(name, entry)
        if label is not None:
            labels.extend(_hidden_unless_visible(entry, [label]))
    # buildings stand above the ground's layers
    layers.extend(extrusions)
    # labels above everything; MapLibre places the topmost first, so the names that
    # show earliest (townships, then villages) win collisions over roads and points
    layers.extend(sorted(labels, key=lambda label: -label["minzoom"]))
    bounds = [entry.bounds for entry in catalog.layers.values()]
    style: dict[str, Any] = {
        "version": 8,
        "name": catalog.workspace,
        "metadata": {
            "twin:updated": catalog.updated,
            **({"twin:terrain": terrain} if terrain else {}),
        },
        "glyphs": f"{public_url}/fonts/{{fontstack}}/{{range}}.pbf",
        "sources": sources,
        "layers": layers,
    }
    if bounds:
        west = min(b[0] for b in bounds)
        south = min(b[1] for b in bounds)
        east = max(b[2] for b in bounds)
        north = max(b[3] for b in bounds)
        style["center"] = [(west + east) / 2, (south + north) / 2]
        style["zoom"] = 10
    return style
