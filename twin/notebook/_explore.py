"""Interactive maps of a workspace that work offline (behind ``Twin.explore``).

The map is one self-contained HTML document: MapLibre GL JS and its CSS (the
copy the tile server ships, ``tiles/static/vendor/maplibre-gl``) are inlined
together with the layers, so it renders in a notebook, in a saved ``.html``
file and on a machine with no internet. There is no basemap from the
internet: the layers lie on a plain background, or on a tile URL the caller
gives (``basemap=``, e.g. the county's own intranet tiles).

Two sources for the same map:

- from the data: vector layers as GeoJSON (simplified in the working CRS and
  capped to a number of features per layer, since the whole document lives in
  the notebook), raster layers as one PNG image reprojected to Web Mercator
  and coloured with the layer's ``colormap``/``rescale`` style hints;
- from a running tile server: its TileJSON documents give the tile URLs.

Titles and field labels are in the workspace's language (``[region] lang``).
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import os
import re
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import shapely

from tiles.catalog import LayerEntry
from twin.errors import TwinError
from twin.handles import cmap_name

if TYPE_CHECKING:
    from twin.workspace import Twin

_OTHER = "#999999"  # categories beyond the palette
#: Default caps on the features of one layer written into a map from the data.
MAX_POINTS = 1000
MAX_SHAPES = 5000
#: Most vertices of one layer; above it the simplification tolerance is raised.
MAX_VERTICES = 50_000
#: Where MapLibre GL JS is read from: a directory holding ``maplibre-gl.js`` and
#: ``maplibre-gl.css``; the environment variable overrides the copy ``tiles`` ships.
MAPLIBRE_ENV = "TWIN_MAPLIBRE_DIST"
_STATIC = resources.files("twin.notebook") / "static"
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


def _maplibre_dir() -> Traversable:
    override = os.environ.get(MAPLIBRE_ENV)
    where: Traversable = (
        Path(override)
        if override
        else resources.files("tiles") / "static" / "vendor" / "maplibre-gl"
    )
    if not (where / "maplibre-gl.js").is_file() or not (where / "maplibre-gl.css").is_file():
        raise TwinError(
            f"explore: no maplibre-gl.js and maplibre-gl.css in {where} "
            f"(the copy tiles ships; or set {MAPLIBRE_ENV} to a MapLibre GL JS dist directory)"
        )
    return where


def _inline(text: str, tag: str) -> str:
    """``text`` safe inside a ``<script>``/``<style>`` element: it cannot close it."""
    return text.replace(f"</{tag}", f"<\\/{tag}")


@dataclass
class ExploreMap:
    """An interactive map: one HTML document with everything it needs inside.

    Displays itself in Jupyter; :meth:`save` writes it to a file that opens in
    any browser without a network.

    Attributes
    ----------
    layers
        What is drawn, in order: each with ``id``, ``title``, ``kind``
        (``geojson`` with ``data``; ``image`` with a PNG data ``url`` and its
        ``coordinates``; ``vector`` or ``raster`` with tile URLs ``tiles``).
    bounds
        ``[[west, south], [east, north]]`` the map opens on, or None.
    legends
        Per layer: ``title`` and a ``ramp`` of colours with ``min``/``max``, or ``swatches``.
    """

    layers: list[dict[str, Any]] = field(default_factory=list)
    bounds: list[list[float]] | None = None
    legends: list[dict[str, Any]] = field(default_factory=list)
    title: str = "OneMap Twin"
    lang: str = "en"
    basemap: str | None = None
    height: int = 600

    def to_html(self) -> str:
        """The whole document."""
        from tiles.viewer import script_json  # the server's escaping, loaded when needed

        where = _maplibre_dir()
        spec = {
            "layers": self.layers,
            "bounds": self.bounds,
            "legends": self.legends,
            "basemap": self.basemap,
        }
        values = {
            "lang": "zh-CN" if self.lang == "zh" else "en",
            "title": html.escape(self.title),
            "maplibre_css": _inline((where / "maplibre-gl.css").read_text("utf-8"), "style"),
            "maplibre_js": _inline((where / "maplibre-gl.js").read_text("utf-8"), "script"),
            "explore_js": _inline((_STATIC / "explore.js").read_text("utf-8"), "script"),
            "spec": script_json(spec),
        }
        page = (_STATIC / "explore.html").read_text("utf-8")
        # one pass, so that no inlined text is ever substituted into
        return _PLACEHOLDER.sub(lambda m: values[m.group(1)], page)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the map to ``path`` (an ``.html`` file); returns the path."""
        out = Path(path)
        out.write_text(self.to_html(), encoding="utf-8")
        return out

    def _repr_html_(self) -> str:
        # An iframe keeps the map's script and styles apart from the notebook's.
        doc = html.escape(self.to_html(), quote=True)
        return (
            f'<iframe srcdoc="{doc}" style="width:100%;height:{self.height}px;border:none">'
            "</iframe>"
        )


def _lang(twin: Twin) -> str:
    return twin.config.region.lang or "en"


def _bounds(bounds: tuple[float, float, float, float] | None) -> list[list[float]] | None:
    if bounds is None:
        return None
    w, s, e, n = bounds
    return [[w, s], [e, n]]


def _union(bounds: list[tuple[float, float, float, float]]) -> tuple[float, float, float, float]:
    return (
        min(b[0] for b in bounds),
        min(b[1] for b in bounds),
        max(b[2] for b in bounds),
        max(b[3] for b in bounds),
    )


def _select(available: dict[str, Any], names: list[str] | None) -> list[str]:
    if names is None:
        return list(available)
    unknown = [n for n in names if n not in available]
    if unknown:
        known = ", ".join(sorted(available)) or "none"
        raise TwinError(f"explore: no published layer {unknown[0]!r} (published: {known})")
    return list(names)


# -- the entry point ----------------------------------------------------------------------------


def explore(
    twin: Twin,
    layers: str | list[str] | None = None,
    server: str | None = None,
    **kwargs: Any,
) -> ExploreMap:
    """An interactive map of ``layers`` (default: every published layer) that works offline.

    Parameters
    ----------
    twin
        The workspace.
    layers
        A layer name or names; default every layer.
    server
        A running tile server's URL (``http://127.0.0.1:8000``): draw its PNG
        and MVT tiles instead of reading the data.
    **kwargs
        Passed to :func:`map_from_data` (``max_features``, ``tolerance``,
        ``raster_size``, ``basemap``, ``height``) or :func:`map_from_server`
        (``timeout``, ``basemap``, ``height``).

    Returns
    -------
    ExploreMap
        Renders in the notebook; ``.save("map.html")`` keeps it as one file
        that opens with the network off.
    """
    names = [layers] if isinstance(layers, str) else layers
    if server is not None:
        return map_from_server(server, names, lang=_lang(twin), **kwargs)
    return map_from_data(twin, names, **kwargs)


# -- from the data ------------------------------------------------------------------------------


def map_from_data(
    twin: Twin,
    names: list[str] | None = None,
    max_features: int | None = None,
    tolerance: float = 10.0,
    raster_size: int = 1024,
    basemap: str | None = None,
    height: int = 600,
) -> ExploreMap:
    """A map of the workspace's layers read from their artifacts.

    Parameters
    ----------
    twin
        The workspace.
    names
        Layers to draw (default: every published layer, in catalog order).
    max_features
        Most features drawn per vector layer (default: 1,000 points, 5,000
        lines or polygons, since every feature is written into the page);
        larger layers are sampled reproducibly and the layer's title says so.
    tolerance
        Simplification tolerance in metres of the working CRS (0: none); raised
        for a layer (and said so in its title) until it has at most
        :data:`MAX_VERTICES` vertices.
    raster_size
        Longest side, in pixels, of each raster's image.
    basemap
        A tile URL template (``http://intranet/tiles/{z}/{x}/{y}.png``) to draw
        beneath the layers; default none (a plain background, nothing fetched).
    height
        Height of the map in pixels in a notebook.
    """
    entries = dict(twin.catalog.layers)
    chosen = _select(entries, names)
    lang = _lang(twin)
    m = ExploreMap(
        bounds=_bounds(_union([entries[n].bounds for n in chosen]) if chosen else None),
        title=twin.name,
        lang=lang,
        basemap=basemap,
        height=height,
    )
    for i, name in enumerate(chosen):
        entry = entries[name]
        path = twin.build_dir / entry.artifacts["data"]
        if entry.kind == "raster":
            m.layers.append(_raster_image(name, path, entry, raster_size, lang))
            legend = _raster_legend(entry, lang)
        else:
            gdf = gpd.read_parquet(path)
            layer, legend = _vector_layer(name, entry, gdf, max_features, tolerance, i, lang)
            m.layers.append(layer)
        if legend is not None:
            m.legends.append(legend)
    return m


def _palette() -> list[str]:
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    return [to_hex(c) for c in colormaps["tab10"].colors]  # type: ignore[attr-defined]


def _colours(
    entry: LayerEntry, gdf: gpd.GeoDataFrame, index: int, lang: str
) -> tuple[Any, dict[str, Any] | None]:
    """Per-feature colours and a legend (None when one colour says it all)."""
    from matplotlib import colormaps
    from matplotlib.colors import Normalize, to_hex

    style = entry.style
    prop = style.get("property") or style.get("color_by")
    if not prop or prop not in gdf.columns:
        colour = style.get("color") or _palette()[index % 10]
        return np.full(len(gdf), colour, dtype=object), None
    values = gdf[prop]
    info = entry.field_info.get(prop)
    title = f"{entry.text(lang)}: {info.text(lang, prop) if info else prop}"
    if entry.fields.get(prop) in ("int", "float") and values.nunique() > 10:
        lo, hi = style.get("range") or (float(values.min()), float(values.max()))
        cmap = colormaps[cmap_name(style.get("colormap", "viridis"))]
        norm = Normalize(vmin=lo, vmax=hi)
        hexes = [to_hex(c) for c in cmap(norm(values.to_numpy(dtype=float)))]
        ramp = [to_hex(cmap(x)) for x in np.linspace(0, 1, 6)]
        legend = {"title": title, "ramp": ramp, "min": f"{lo:g}", "max": f"{hi:g}"}
        legend["unit"] = info.unit_text(lang) if info and info.scale == 1 else ""
        return np.array(hexes, dtype=object), legend
    palette = _palette()
    counts = values.astype(str).value_counts()
    cats = list(counts.index[: len(palette)])
    lookup = {c: palette[i] for i, c in enumerate(sorted(cats))}
    colours = values.astype(str).map(lambda v: lookup.get(v, _OTHER)).to_numpy(dtype=object)
    swatches = [[k, c] for k, c in lookup.items()]
    if len(counts) > len(cats):
        swatches.append(["其他" if lang == "zh" else "other", _OTHER])
    return colours, {"title": title, "swatches": swatches}


def _vector_layer(
    name: str,
    entry: LayerEntry,
    gdf: gpd.GeoDataFrame,
    max_features: int | None,
    tolerance: float,
    index: int,
    lang: str,
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    point = entry.geometry_type in ("Point", "MultiPoint")
    if max_features is None:
        max_features = MAX_POINTS if point else MAX_SHAPES
    total = len(gdf)
    if total > max_features:
        # A reproducible sample shows the pattern; the layer's title says it is a sample.
        gdf = gdf.sample(n=max_features, random_state=0).sort_index()
    note = ""
    if tolerance > 0 and not point:
        simple, used = _simplify(gdf.geometry.to_numpy(), tolerance)
        gdf = gdf.set_geometry(simple)
        gdf = gdf[~gdf.geometry.is_empty]
        note = f", simplified to {used:g} m" if used > tolerance else ""
    colours, legend = _colours(entry, gdf, index, lang)
    label = entry.style.get("label")
    prop = entry.style.get("property") or entry.style.get("color_by")
    fields = [f for f in dict.fromkeys([label, prop, *entry.fields]) if f and f in gdf.columns]
    fields = fields[:6]
    out = gdf[fields].copy()
    ident = entry.style.get("id")
    if label in out and ident in gdf and label != ident:
        # a feature without a label is named by its id (a village without a name: its code)
        names = out[label]
        blank = names.isna() | names.astype(str).str.strip().eq("")
        out[label] = names.where(~blank, gdf[ident])
    for col in fields:
        if out[col].dtype.kind in "Mm" or out[col].dtype == object:
            out[col] = out[col].astype(str).where(out[col].notna(), "")
    out["_colour"] = colours
    # 1e-6 degree (~0.1 m) is finer than any screen shows and halves the document's size.
    lonlat = shapely.set_precision(gdf.geometry.to_crs(4326).to_numpy(), 1e-6, mode="pointwise")
    out = gpd.GeoDataFrame(out, geometry=lonlat, crs=4326)
    shown = f" ({len(out):,} of {total:,})" if total > len(out) else ""
    if note:
        shown = f"{shown[:-1]}{note})" if shown else f" ({note[2:]})"
    layer = {
        "id": name,
        "title": f"{entry.text(lang)}{shown}",
        "kind": "geojson",
        "geometry": _geometry(entry.geometry_type),
        "data": json.loads(out.to_json(drop_id=True)),
        "fields": fields,
        "labels": {f: i.text(lang, f) for f, i in entry.field_info.items() if f in fields},
    }
    return layer, legend


def _geometry(geometry_type: str | None) -> str:
    """How a layer is drawn: ``polygon`` (fill and outline), ``line`` or ``point``."""
    if geometry_type in ("Polygon", "MultiPolygon"):
        return "polygon"
    if geometry_type in ("LineString", "MultiLineString"):
        return "line"
    return "point"


def _simplify(geoms: np.ndarray, tolerance: float) -> tuple[np.ndarray, float]:
    """Simplify with ``tolerance``, doubled until the layer fits :data:`MAX_VERTICES`.

    Polygons traced from a raster (coverage areas) keep every pixel's staircase
    and thousands of one-pixel rings: hundreds of thousands of vertices that no
    screen shows. Without topology preservation rings smaller than the
    tolerance vanish, which is what a preview wants; MapLibre draws the odd
    self-touching ring that this may leave without complaint.
    """
    out = shapely.simplify(geoms, tolerance, preserve_topology=False)
    for _ in range(6):
        if int(shapely.get_num_coordinates(out).sum()) <= MAX_VERTICES:
            break
        tolerance *= 2
        out = shapely.simplify(geoms, tolerance, preserve_topology=False)
    return out, tolerance


def _value_range(entry: LayerEntry, values: np.ndarray) -> tuple[float, float]:
    hint = entry.style.get("rescale")
    if hint and len(hint) == 2:
        return float(hint[0]), float(hint[1])
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 0.0, 1.0
    lo, hi = np.percentile(finite, [2, 98])
    return float(lo), float(hi if hi > lo else lo + 1)


def render_raster(path: Any, entry: LayerEntry, size: int) -> tuple[np.ndarray, list[list[float]]]:
    """The first band as an RGBA image in Web Mercator and its ``[[south, west], [north, east]]``.

    Nodata pixels are transparent; values are coloured with the layer's
    ``colormap`` hint between its ``rescale`` hint (else the 2nd-98th percentile).
    """
    import rasterio
    from matplotlib import colormaps
    from pyproj import Transformer
    from rasterio.warp import Resampling, calculate_default_transform, reproject

    with rasterio.open(path) as src:
        _, width, height = calculate_default_transform(
            src.crs, "EPSG:3857", src.width, src.height, *src.bounds
        )
        scale = max(width, height) / size
        if scale > 1:
            width, height = max(1, math.ceil(width / scale)), max(1, math.ceil(height / scale))
        transform, width, height = calculate_default_transform(
            src.crs,
            "EPSG:3857",
            src.width,
            src.height,
            *src.bounds,
            dst_width=width,
            dst_height=height,
        )
        values = np.full((height, width), np.nan, dtype="float32")
        categorical = np.issubdtype(np.dtype(src.dtypes[0]), np.integer)
        reproject(
            source=rasterio.band(src, 1),
            destination=values,
            dst_transform=transform,
            dst_crs="EPSG:3857",
            src_nodata=src.nodata,
            dst_nodata=np.nan,
            resampling=Resampling.nearest if categorical else Resampling.bilinear,
        )
    lo, hi = _value_range(entry, values)
    cmap = colormaps[cmap_name(entry.style.get("colormap", "viridis"))]
    with np.errstate(invalid="ignore"):
        scaled = np.clip((values - lo) / (hi - lo), 0, 1)
    rgba = (cmap(np.nan_to_num(scaled)) * 255).round().astype("uint8")
    rgba[~np.isfinite(values)] = 0
    west, north = transform * (0, 0)
    east, south = transform * (width, height)
    to_wgs84 = Transformer.from_crs("EPSG:3857", "EPSG:4326", always_xy=True)
    (w, e), (s, n) = to_wgs84.transform([west, east], [south, north])
    return rgba, [[s, w], [n, e]]


def _raster_image(name: str, path: Any, entry: LayerEntry, size: int, lang: str) -> dict[str, Any]:
    """The raster as a PNG data URL on its four corners (MapLibre's image source)."""
    import PIL.Image

    rgba, ((s, w), (n, e)) = render_raster(path, entry, size)
    buf = io.BytesIO()
    PIL.Image.fromarray(rgba, "RGBA").save(buf, format="PNG", optimize=True)
    url = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
    return {
        "id": name,
        "title": entry.text(lang),
        "kind": "image",
        "url": url,
        "coordinates": [[w, n], [e, n], [e, s], [w, s]],
    }


def _raster_legend(entry: LayerEntry, lang: str) -> dict[str, Any] | None:
    if not entry.bands:
        return None
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    band = entry.bands[0]
    hint = entry.style.get("rescale")
    if hint and len(hint) == 2:
        lo, hi = float(hint[0]), float(hint[1])
    elif band.min is not None and band.max is not None and band.max > band.min:
        lo, hi = band.min, band.max
    else:
        return None
    cmap = colormaps[cmap_name(entry.style.get("colormap", "viridis"))]
    ramp = [to_hex(cmap(x)) for x in np.linspace(0, 1, 9)]
    return {
        "title": entry.text(lang),
        "ramp": ramp,
        "min": f"{lo:g}",
        "max": f"{hi:g}",
        "unit": band.unit or "",
    }


# -- from a tile server -------------------------------------------------------------------------


def _get_json(url: str, timeout: float) -> Any:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise TwinError(f"{url}: the tile server answered {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TwinError(f"{url}: cannot reach the tile server ({reason})") from None
    except json.JSONDecodeError:
        raise TwinError(f"{url}: the tile server did not answer JSON") from None


def map_from_server(
    server: str,
    names: list[str] | None = None,
    timeout: float = 10.0,
    basemap: str | None = None,
    height: int = 600,
    lang: str = "en",
) -> ExploreMap:
    """A map of the layers a running tile server serves, drawn from its tiles.

    Raster layers draw ``/tiles/{layer}/{z}/{x}/{y}.png``, vector layers the
    ``.mvt`` tiles, with URLs read from each layer's TileJSON. The map only
    shows tiles while the server runs; the page itself needs no other network.
    """
    if not server.startswith(("http://", "https://")):
        raise TwinError(f"explore: server {server!r} must be an http:// or https:// URL")
    base = server.rstrip("/")
    items = {item["name"]: item for item in _get_json(f"{base}/catalog", timeout)}
    chosen = _select(items, names)
    docs = {n: _get_json(f"{base}/tiles/{n}/tilejson.json", timeout) for n in chosen}
    bounds = [tuple(d["bounds"]) for d in docs.values() if d.get("bounds")]
    m = ExploreMap(
        bounds=_bounds(_union(bounds) if bounds else None),
        title=base,
        lang=lang,
        basemap=basemap,
        height=height,
    )
    palette = _palette()
    for i, name in enumerate(chosen):
        item, doc = items[name], docs[name]
        layer: dict[str, Any] = {
            "id": name,
            "title": item.get("title") or name,
            "kind": item["kind"],
            "tiles": doc["tiles"],
            "minzoom": doc.get("minzoom", 0),
            "maxzoom": doc.get("maxzoom", 18),
        }
        if item["kind"] == "vector":
            style = item.get("style") or {}
            layer["sourceLayer"] = name
            layer["colour"] = style.get("color") or palette[i % len(palette)]
            layer["geometry"] = _geometry(item.get("geometry_type"))
        m.layers.append(layer)
    return m
