"""The map viewer at ``/``: MapLibre GL JS with every layer, legends, popups and key figures.

The page is a static template (``tiles/static/viewer.html``); the only data it
carries is one JSON document in a ``<script type="application/json">`` element,
escaped so that no catalog string can close the element, and the page's
script writes catalog text with ``textContent`` only. ``/`` answers the OGC API
landing page instead when asked for JSON (``?f=json`` or ``Accept``).
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

from tiles.assets import maplibre_urls
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


def render_viewer(snap: Snapshot, settings: Settings) -> str:
    """The viewer page."""
    config = viewer_config(snap, settings)
    maplibre_js, maplibre_css = maplibre_urls(settings)
    values = {
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
) -> LandingPage | Response:
    accept = request.headers.get("accept", "")
    wants_json = f == "json" or (
        f is None and "application/json" in accept and "text/html" not in accept
    )
    if wants_json:
        return landing_page(snap, settings.public_url)
    return HTMLResponse(render_viewer(snap, settings))
