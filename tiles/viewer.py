"""The map viewer at ``/``: MapLibre GL JS with every layer, legends, popups and key figures.

The page is a static template (``tiles/static/viewer.html``); the only data it
carries is one JSON document in a ``<script type="application/json">`` element,
escaped so that no catalog string can close the element, and the page's
script writes catalog text with ``textContent`` only. ``/`` answers the OGC API
landing page instead when asked for JSON (``?f=json`` or ``Accept``).

The page speaks Chinese or English (:func:`negotiate_lang`): ``?lang=zh|en``,
else the browser's ``Accept-Language``, else the workspace's ``[region] lang``,
else English; layer titles, key figures, field labels and units come from the
catalog in that language (:func:`i18n_config`).
"""

from __future__ import annotations

import html
import json
import math
import re
from functools import cache, lru_cache
from importlib import resources
from typing import Annotated, Any, Literal

import geopandas as gpd
import pandas as pd
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field

from tiles.assets import maplibre_urls
from tiles.catalog import LANGS, Catalog, Lang, LayerEntry
from tiles.errors import ArtifactError, LayerNotFoundError
from tiles.models import LandingPage
from tiles.ogc import landing_page
from tiles.raster import RasterStyle, legend_colors
from tiles.routes import published_text, settings_of, snapshot
from tiles.settings import Settings
from tiles.store import Snapshot
from tiles.style import initially_visible, layer_color

router = APIRouter()
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
STATIC_DIR = resources.files("tiles") / "static"


@cache
def _template() -> str:
    return (STATIC_DIR / "viewer.html").read_text(encoding="utf-8")


def script_json(data: Any) -> str:
    """JSON safe inside a ``<script>`` element: no ``<``, ``>`` or ``&`` survive literally."""
    text = json.dumps(data, ensure_ascii=False)
    return (
        text.replace("&", "\\u0026")
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def _accepted(header: str) -> list[tuple[float, int, Lang]]:
    """``Accept-Language`` as (q, -position, tag) of our languages, best first."""
    found: list[tuple[float, int, Lang]] = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        # zh, zh-CN, zh-Hans, zh-TW ...: Chinese; en, en-GB ...: English; "*": anything
        primary = tag.strip().lower().split("-")[0]
        found += [(q, -position, lang) for lang in LANGS if lang == primary and q > 0]
    return sorted(found, reverse=True)


def negotiate_lang(
    asked: str | None, accept_language: str | None, default: Lang | None = None
) -> Lang:
    """The language of the page: ``?lang=``, else ``Accept-Language``, else ``default``, else en.

    Examples
    --------
    >>> negotiate_lang(None, "zh-CN,zh;q=0.9,en;q=0.8")
    'zh'
    >>> negotiate_lang(None, "fr-FR, en;q=0.5, zh-Hans;q=0.7")
    'zh'
    >>> negotiate_lang("en", "zh-CN"), negotiate_lang(None, "fr", "zh"), negotiate_lang(None, None)
    ('en', 'zh', 'en')
    """
    if asked in LANGS:
        return asked
    accepted = _accepted(accept_language or "")
    if accepted:
        return accepted[0][2]
    return default or "en"


def i18n_config(snap: Snapshot, lang: Lang) -> dict[str, Any]:
    """The viewer's texts in ``lang``: layer titles, figures, field labels, units and groups.

    Returns
    -------
    dict
        ``lang``; ``titles``: layer -> title; ``figureLabels``: figure name ->
        {label, unit}; ``labels``: layer -> field -> label; ``units``: layer -> field ->
        unit; ``scales``: layer -> field -> factor to show a value in its unit
        (only where not 1); ``groups``: layer -> field -> group (a village
        indicator's domain); ``groupLabels``: layer -> group -> label. Fields
        with no label in the catalog are absent: clients show the field's name.
    """
    catalog = snap.catalog
    out: dict[str, Any] = {
        "lang": lang,
        "titles": {name: e.text(lang) for name, e in catalog.layers.items()},
        "figureLabels": {
            f.name: {"label": f.text(lang), "unit": f.unit_text(lang)} for f in catalog.figures
        },
    }
    for key in ("labels", "units", "scales", "groups", "groupLabels"):
        out[key] = {}
    for name, entry in catalog.layers.items():
        info = entry.field_info
        out["labels"][name] = {f: i.text(lang, f) for f, i in info.items()}
        out["units"][name] = {f: u for f, i in info.items() if (u := i.unit_text(lang))}
        out["scales"][name] = {f: i.scale for f, i in info.items() if i.scale != 1}
        out["groups"][name] = {f: i.group for f, i in info.items() if i.group}
        out["groupLabels"][name] = {
            g: texts.get(lang) or texts.get("en", g) for g, texts in entry.groups.items()
        }
    return out


#: Column prefixes of the villages layer's indicators, one per domain (the villages builder's
#: convention, ``layers.villages.PREFIX``); ``score_<domain>`` columns score each domain.
DOMAIN_PREFIXES = {
    "business": "biz",
    "services": "svc",
    "supervision": "sup",
    "governance": "gov",
    "infrastructure": "inf",
}
#: The most villages ``/viewer/villages.json`` answers with (a county has a few hundred).
MAX_VILLAGES = 5000
_NUMERIC = ("int", "float")


def villages_layer(catalog: Catalog) -> str | None:
    """The layer the dashboard is about: the villages builder's (a by-product never is)."""
    for name, entry in catalog.layers.items():
        by_villages = entry.provenance.builder == "villages"
        if entry.kind == "vector" and entry.parent is None and by_villages:
            return name
    return None


def _same_extent(a: tuple[float, ...], b: tuple[float, ...], tol: float = 1e-3) -> bool:
    return all(abs(x - y) <= tol for x, y in zip(a, b, strict=True))


def _role(name: str, entry: LayerEntry, villages: str | None, catalog: Catalog) -> str:
    """What a layer is on the dashboard: ``villages``, ``boundary``, ``roads`` or ``other``.

    Boundaries are the polygon layers that cover the villages' extent in fewer
    pieces (the county, its townships): drawn as outlines over the villages.
    """
    if villages is None:
        return "other"
    if name == villages:
        return "villages"
    if entry.parent is not None or entry.kind != "vector":
        return "other"
    if entry.provenance.builder == "roads":
        return "roads"
    village = catalog.layers[villages]
    if (
        "polygon" in (entry.geometry_type or "").lower()
        and entry.count is not None
        and village.count is not None
        and entry.count < village.count
        and _same_extent(entry.bounds, village.bounds)
    ):
        return "boundary"
    return "other"


def _visible(entry: LayerEntry, role: str, dashboard: bool) -> bool:
    """Whether a layer is on when the page opens.

    The ``visible`` style hint decides; without one a dashboard opens on a few
    layers (county and township boundaries, villages, roads) so that the map
    reads at a glance, and a plain layer viewer on every main layer.
    """
    if not dashboard or entry.style.get("visible") is not None:
        return initially_visible(entry)
    return role in ("villages", "boundary", "roads")


def _villages_config(name: str, entry: LayerEntry, public_url: str) -> dict[str, Any]:
    """What the dashboard needs to know about the villages layer to fetch and show it."""
    fields = entry.fields
    style = entry.style
    domains_stat = entry.stats.get("domains")
    domains = (
        [d for d in str(domains_stat).split(",") if d in DOMAIN_PREFIXES]
        if domains_stat
        else [d for d in DOMAIN_PREFIXES if f"score_{d}" in fields]
    )
    key = style.get("id") if style.get("id") in fields else None
    label = style.get("label") if style.get("label") in fields else None
    if label is None and fields.get("name") == "string":
        label = "name"
    prop = style.get("property")
    lower = style.get("lower_better")
    # the score below which the build flagged a domain as lagging (its parameter)
    threshold = entry.provenance.params.get("lag_threshold")
    # with periods (a long table beside the layer): the period slider, trends and changes
    periods = str(entry.stats.get("periods") or "").split(",")
    periods = [p for p in periods if p] if "periods" in entry.artifacts else []
    return {
        "layer": name,
        "url": f"{public_url}/viewer/villages.json",
        "id": key,
        "name": label,
        "pinyin": "pinyin" if fields.get("pinyin") == "string" else None,
        "town": "town_name" if fields.get("town_name") == "string" else None,
        "lagging": "lagging" if fields.get("lagging") == "string" else None,
        "domains": domains,
        "prefixes": {d: DOMAIN_PREFIXES[d] for d in domains},
        "numeric": [f for f, t in fields.items() if t in _NUMERIC],
        # ranked lowest first (distances, issues per 1,000 people): the style hint
        "lowerBetter": [f for f in lower if fields.get(f) in _NUMERIC]
        if isinstance(lower, list)
        else [],
        "property": prop if isinstance(prop, str) and fields.get(prop) in _NUMERIC else None,
        "lagThreshold": threshold if isinstance(threshold, (int, float)) else None,
        "periods": periods,
        "periodKind": entry.stats.get("period_kind") if periods else None,
        "periodsUrl": f"{public_url}/viewer/periods.json" if periods else None,
    }


def viewer_config(snap: Snapshot, settings: Settings, lang: str | None = None) -> dict[str, Any]:
    """What the viewer script needs: style URL, bounds, layers with legends, key figures.

    With a villages layer in the catalog the page is the county dashboard:
    ``villages`` says where its attributes are and which fields it shows,
    ``labels`` (layer -> field -> {"zh", "en"}) and ``units`` (layer -> field
    -> unit) name the fields where the layers' style hints do, and ``lang`` the page's language
    when the server chose one (the page falls back to ``<html lang>``).
    """
    catalog = snap.catalog
    villages = villages_layer(catalog)
    dashboard = villages is not None
    layers = []
    for index, (name, entry) in enumerate(catalog.layers.items()):
        role = _role(name, entry, villages, catalog)
        item: dict[str, Any] = {
            "name": name,
            "title": entry.title,
            "kind": entry.kind,
            "visible": _visible(entry, role, dashboard),
            "role": role,
            "count": entry.count,
            # the versions that can be served, newest first: the version picker's
            "versions": [
                {"version": v.version, "published": published_text(v)}
                for v in snap.versions.servable(name)
            ],
        }
        if entry.is_mosaic:
            pass  # imagery: true colour, no legend
        elif entry.kind == "raster":
            band = entry.bands[0] if entry.bands else None
            style = RasterStyle.for_entry(
                entry.style, (band.min, band.max) if band else (None, None)
            )
            item["legend"] = {
                "colors": legend_colors(style.colormap),
                "min": style.rescale[0],
                "max": style.rescale[1],
                "unit": band.unit if band and band.unit else "",
            }
        else:
            item["color"] = layer_color(entry, index)
            item["geometry"] = (entry.geometry_type or "").lower()
            # the properties naming a feature in its popup: the label, else the id
            item["label"] = [
                p for p in (entry.style.get("label"), entry.style.get("id")) if isinstance(p, str)
            ]
        layers.append(item)
    # field names and units the layers' style hints give: layer -> field -> {zh, en} | unit
    labels: dict[str, dict[str, Any]] = {}
    units: dict[str, dict[str, str]] = {}
    for name, entry in catalog.layers.items():
        hint_labels = entry.style.get("labels")
        if isinstance(hint_labels, dict):
            labels[name] = {k: v for k, v in hint_labels.items() if isinstance(v, dict)}
        hint_units = entry.style.get("units")
        if isinstance(hint_units, dict):
            units[name] = {k: v for k, v in hint_units.items() if isinstance(v, str)}
    config: dict[str, Any] = {
        "title": settings.title or catalog.workspace,
        "styleUrl": f"{settings.public_url}/style.json",
        "tilesUrl": f"{settings.public_url}/tiles",
        "bounds": _initial_bounds(catalog, villages),
        "layers": layers,
        "figures": [f.model_dump(mode="json") for f in catalog.figures],
        "villages": (
            _villages_config(villages, catalog.layers[villages], settings.public_url)
            if villages
            else None
        ),
        "labels": labels,
        "units": units,
    }
    if lang:
        config["lang"] = lang
    return config


def _initial_bounds(catalog: Catalog, villages: str | None) -> list[list[float]] | None:
    """The view the page opens on: the region, else the villages, else every layer."""
    if catalog.region is not None and catalog.region.bounds is not None:
        w, s, e, n = catalog.region.bounds
    elif villages is not None:
        w, s, e, n = catalog.layers[villages].bounds
    elif catalog.layers:
        all_bounds = [e.bounds for e in catalog.layers.values()]
        w, s = min(b[0] for b in all_bounds), min(b[1] for b in all_bounds)
        e, n = max(b[2] for b in all_bounds), max(b[3] for b in all_bounds)
    else:
        return None
    return [[w, s], [e, n]]


def render_viewer(snap: Snapshot, settings: Settings, lang: Lang = "en") -> str:
    """The viewer page in ``lang``."""
    config = viewer_config(snap, settings, lang)
    i18n = i18n_config(snap, lang)
    # the texts the page shows now: layer titles and figures in the page's language
    for item in config["layers"]:
        item["title"] = i18n["titles"].get(item["name"], item["title"])
    for figure in config["figures"]:
        figure.update(i18n["figureLabels"].get(figure["name"], {}))
    # field texts: the catalog's (from the builders) over the layers' style hints
    for key in ("labels", "units"):
        hints, known = config.get(key, {}), i18n.pop(key)
        config[key] = {
            layer: {**hints.get(layer, {}), **known.get(layer, {})} for layer in {*hints, *known}
        }
    config.update(i18n)
    maplibre_js, maplibre_css = maplibre_urls(settings)
    values = {
        "lang": "zh-CN" if lang == "zh" else "en",
        "title": html.escape(config["title"]),
        "maplibre_js": html.escape(maplibre_js, quote=True),
        "maplibre_css": html.escape(maplibre_css, quote=True),
        "static_url": html.escape(f"{settings.public_url}/static", quote=True),
        "config": script_json(config),
    }
    # one pass, so that a value containing "{{...}}" is never substituted again
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], _template())


@router.get(
    "/",
    summary="Map viewer (HTML) or OGC API landing page (f=json)",
    tags=["viewer"],
    response_model=LandingPage,
    response_class=JSONResponse,  # json.dumps, as tiles.routes explains
    responses={200: {"content": {"text/html": {"schema": {"type": "string"}}}}},
)
def index(
    request: Request,
    snap: Annotated[Snapshot, Depends(snapshot)],
    settings: Annotated[Settings, Depends(settings_of)],
    f: Annotated[Literal["html", "json"] | None, Query(description="response format")] = None,
    lang: Annotated[
        str | None,
        Query(description="language of the page: zh or en (default: Accept-Language)"),
    ] = None,
) -> LandingPage | Response:
    accept = request.headers.get("accept", "")
    wants_json = f == "json" or (
        f is None and "application/json" in accept and "text/html" not in accept
    )
    if wants_json:
        return landing_page(snap, settings.public_url)
    region = snap.catalog.region
    chosen = negotiate_lang(
        lang, request.headers.get("accept-language"), region.lang if region else None
    )
    # caches must keep one page per language the browser may ask for
    return HTMLResponse(
        render_viewer(snap, settings, chosen), headers={"Vary": "Accept, Accept-Language"}
    )


def _json_value(value: Any) -> Any:
    """A cell as JSON: floats to 6 significant digits, NaN and NA as null."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    if isinstance(value, float):
        return float(f"{value:.6g}")
    if isinstance(value, (str, int, bool)):
        return value
    if pd.isna(value):
        return None
    if hasattr(value, "item"):  # numpy scalars
        return _json_value(value.item())
    return str(value)


@lru_cache(maxsize=4)
def village_records(path: str, version: str, fields: tuple[str, ...]) -> dict[str, Any]:
    """The villages' attributes, label points and WGS84 bounding boxes, row by row.

    Cached per artifact and version: a new catalog version is a new key.

    Raises
    ------
    ArtifactError
        When the GeoParquet cannot be read or has no CRS.
    """
    try:
        gdf = gpd.read_parquet(path, columns=[*fields, "geometry"])
    except Exception as exc:  # pyarrow/geopandas raise many kinds; all mean "unreadable"
        raise ArtifactError(f"{path}: cannot read the villages as GeoParquet: {exc}") from None
    if gdf.crs is None:
        raise ArtifactError(f"{path}: the villages layer has no CRS")
    truncated = len(gdf) > MAX_VILLAGES
    gdf = gdf.iloc[:MAX_VILLAGES].to_crs("EPSG:4326")
    geoms = gdf.geometry
    empty = (geoms.isna() | geoms.is_empty).to_numpy()
    points = geoms.representative_point()
    bounds = geoms.bounds.to_numpy()
    rows = [[_json_value(v) for v in row] for row in gdf[list(fields)].itertuples(index=False)]
    return {
        "version": version,
        "columns": list(fields),
        "rows": rows,
        # where a name or pin goes (inside the polygon), and what a fly-to frames
        "points": [
            None if e else [round(p.x, 6), round(p.y, 6)]
            for p, e in zip(points, empty, strict=True)
        ],
        "bboxes": [
            None if e else [round(float(v), 6) for v in b]
            for b, e in zip(bounds, empty, strict=True)
        ],
        "truncated": truncated,
    }


class VillagesTable(BaseModel):
    """The villages layer's attributes, one row per village, for the dashboard."""

    layer: str
    version: str
    columns: list[str] = Field(description="the layer's fields (no geometry)")
    rows: list[list[Any]] = Field(description="one list of values per village, in column order")
    # lists, not tuples: a tuple inside an optional item is a schema schemathesis rejects
    points: list[list[float] | None] = Field(
        description="a point inside each village (WGS84 lon, lat): where its name or pin goes"
    )
    bboxes: list[list[float] | None] = Field(
        description="each village's WGS84 bounding box (west, south, east, north)"
    )
    truncated: bool = Field(description=f"more than {MAX_VILLAGES} villages: the first only")


@router.get(
    "/viewer/villages.json",
    summary="The villages layer's attributes, label points and bounding boxes (the dashboard's)",
    tags=["viewer"],
    response_model=VillagesTable,
)
def villages_json(snap: Annotated[Snapshot, Depends(snapshot)]) -> Response:
    name = villages_layer(snap.catalog)
    if name is None:
        raise LayerNotFoundError("no villages layer in the catalog")
    entry = snap.entry(name)
    path = snap.artifact(entry)
    assert path is not None  # every entry has a data artifact (the catalog checks)
    # the cached table as it is: the model documents it, validating it per request adds nothing
    return JSONResponse(
        {"layer": name, **village_records(path, entry.version, tuple(entry.fields))}
    )
