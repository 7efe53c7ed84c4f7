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
import re
from functools import cache
from importlib import resources
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from tiles.catalog import LANGS, Lang
from tiles.models import LandingPage
from tiles.ogc import landing_page
from tiles.raster import RasterStyle, legend_colors
from tiles.routes import settings_of, snapshot
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


def viewer_config(snap: Snapshot, settings: Settings) -> dict[str, Any]:
    """What the viewer script needs: style URL, bounds, layers with legends, key figures."""
    catalog = snap.catalog
    layers = []
    for index, (name, entry) in enumerate(catalog.layers.items()):
        item: dict[str, Any] = {
            "name": name,
            "title": entry.title,
            "kind": entry.kind,
            "visible": initially_visible(entry),
        }
        if entry.kind == "raster":
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
            # the properties naming a feature in its popup: the label, else the id
            item["label"] = [
                p for p in (entry.style.get("label"), entry.style.get("id")) if isinstance(p, str)
            ]
        layers.append(item)
    bounds = None
    if catalog.layers:
        all_bounds = [e.bounds for e in catalog.layers.values()]
        bounds = [
            [min(b[0] for b in all_bounds), min(b[1] for b in all_bounds)],
            [max(b[2] for b in all_bounds), max(b[3] for b in all_bounds)],
        ]
    return {
        "title": settings.title or catalog.workspace,
        "styleUrl": f"{settings.public_url}/style.json",
        "bounds": bounds,
        "layers": layers,
        "figures": [f.model_dump(mode="json") for f in catalog.figures],
    }


def render_viewer(snap: Snapshot, settings: Settings, lang: Lang = "en") -> str:
    """The viewer page in ``lang``."""
    config = viewer_config(snap, settings)
    i18n = i18n_config(snap, lang)
    # until the page script reads "titles" and "figureLabels" itself: the texts it shows now
    for item in config["layers"]:
        item["title"] = i18n["titles"].get(item["name"], item["title"])
    for figure in config["figures"]:
        figure.update(i18n["figureLabels"].get(figure["name"], {}))
    config.update(i18n)
    values = {
        "lang": "zh-CN" if lang == "zh" else "en",
        "title": html.escape(config["title"]),
        "maplibre_js": html.escape(settings.maplibre_js, quote=True),
        "maplibre_css": html.escape(settings.maplibre_css, quote=True),
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
