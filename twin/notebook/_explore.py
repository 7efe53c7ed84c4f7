"""Interactive maps of a workspace with folium (behind ``Twin.explore``).

Why folium: it is what ``GeoDataFrame.explore()`` uses, it is maintained
alongside the Leaflet ecosystem, and its output is one self-contained HTML
document: the map renders in a notebook, in a saved ``.html`` file and on
GitHub's or nbviewer's notebook view without a live kernel or a widget
extension (ipyleaflet and lonboard need a running kernel and a front-end
extension; lonboard also needs WebGL). Leaflet's ``TileLayer`` draws the tile
server's PNG tiles and folium's ``VectorGridProtobuf`` plugin its MVT tiles.

Two sources for the same map:

- from the data: vector layers as GeoJSON (simplified in the working CRS and
  capped to a number of features per layer, since the whole document lives in
  the notebook), raster layers as one PNG image overlay reprojected to Web
  Mercator and coloured with the layer's ``colormap``/``rescale`` style hints;
- from a running tile server: its TileJSON documents give the tile URLs.
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import shapely

from tiles.catalog import LayerEntry
from twin.errors import TwinError
from twin.handles import cmap_name

if TYPE_CHECKING:
    from twin.workspace import Twin

DEFAULT_BASEMAP = "OpenStreetMap"
_OTHER = "#999999"  # categories beyond the palette
_LINE_OPACITY = 0.9
#: Default caps on the features of one layer written into a map from the data.
MAX_POINTS = 1000
MAX_SHAPES = 5000
#: Most vertices of one layer; above it the simplification tolerance is raised.
MAX_VERTICES = 50_000


def _folium() -> Any:
    try:
        import folium
    except ImportError:  # pragma: no cover - depends on the environment
        raise TwinError("explore() needs folium: pip install 'onemap-twin[notebook]'") from None
    return folium


def _base_map(
    bounds: tuple[float, float, float, float] | None, basemap: str | None, height: int
) -> Any:
    folium = _folium()
    m = folium.Map(tiles=basemap, control_scale=True, height=height, prefer_canvas=True)
    if bounds is not None:
        w, s, e, n = bounds
        m.fit_bounds([[s, w], [n, e]])
    return m


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
) -> Any:
    """An interactive folium map of ``layers`` (default: every published layer).

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
        Passed to :func:`map_from_data` (``max_features``,
        ``tolerance``, ``raster_size``, ``basemap``, ``height``) or
        :func:`map_from_server` (``timeout``, ``basemap``, ``height``).

    Returns
    -------
    folium.Map
        Renders in the notebook as self-contained HTML; ``.save("map.html")`` keeps it.
    """
    names = [layers] if isinstance(layers, str) else layers
    if server is not None:
        return map_from_server(server, names, **kwargs)
    return map_from_data(twin, names, **kwargs)


# -- from the data ------------------------------------------------------------------------------


def map_from_data(
    twin: Twin,
    names: list[str] | None = None,
    max_features: int | None = None,
    tolerance: float = 10.0,
    raster_size: int = 1024,
    basemap: str | None = DEFAULT_BASEMAP,
    height: int = 600,
) -> Any:
    """A folium map of the workspace's layers read from their artifacts.

    Parameters
    ----------
    twin
        The workspace.
    names
        Layers to draw (default: every published layer, in catalog order).
    max_features
        Most features drawn per vector layer (default: 1,000 points, 5,000
        lines or polygons, since every feature is written into the page);
        larger layers are sampled reproducibly and the layer control says so.
    tolerance
        Simplification tolerance in metres of the working CRS (0: none); raised
        for a layer (and said so in its name) until it has at most
        :data:`MAX_VERTICES` vertices.
    raster_size
        Longest side, in pixels, of each raster's image overlay.
    basemap
        A folium/xyzservices tile provider name, or ``None`` for no base map.
    height
        Height of the map in pixels.
    """
    folium = _folium()
    entries = dict(twin.catalog.layers)
    chosen = _select(entries, names)
    m = _base_map(_union([entries[n].bounds for n in chosen]) if chosen else None, basemap, height)
    legends: list[str] = []
    for i, name in enumerate(chosen):
        entry = entries[name]
        path = twin.build_dir / entry.artifacts["data"]
        if entry.kind == "raster":
            _raster_overlay(path, entry, raster_size).add_to(m)
            legend = _raster_legend(entry)
            if legend is not None:
                legend.add_to(m)
        else:
            gdf = gpd.read_parquet(path)
            layer, legend_html = _vector_layer(entry, gdf, max_features, tolerance, i)
            layer.add_to(m)
            if legend_html:
                legends.append(legend_html)
    if legends:
        m.get_root().html.add_child(folium.Element(_legend_box(legends)))
    folium.LayerControl(collapsed=True).add_to(m)
    return m


def _palette() -> list[str]:
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    return [to_hex(c) for c in colormaps["tab10"].colors]  # type: ignore[attr-defined]


def _colours(entry: LayerEntry, gdf: gpd.GeoDataFrame, index: int) -> tuple[Any, str]:
    """Per-feature colours and an HTML legend fragment (empty when one colour says it all)."""
    import html

    from matplotlib import colormaps
    from matplotlib.colors import Normalize, to_hex

    style = entry.style
    prop = style.get("property") or style.get("color_by")
    if not prop or prop not in gdf.columns:
        colour = style.get("color") or _palette()[index % 10]
        return np.full(len(gdf), colour, dtype=object), ""
    values = gdf[prop]
    title = html.escape(f"{entry.title}: {prop}")
    if entry.fields.get(prop) in ("int", "float") and values.nunique() > 10:
        lo, hi = style.get("range") or (float(values.min()), float(values.max()))
        cmap = colormaps[cmap_name(style.get("colormap", "viridis"))]
        norm = Normalize(vmin=lo, vmax=hi)
        hexes = [to_hex(c) for c in cmap(norm(values.to_numpy(dtype=float)))]
        ramp = ", ".join(to_hex(cmap(x)) for x in np.linspace(0, 1, 6))
        legend = (
            f"<div><b>{title}</b><div style='height:10px;width:150px;"
            f"background:linear-gradient(to right, {ramp})'></div>"
            f"<small>{lo:g} … {hi:g}</small></div>"
        )
        return np.array(hexes, dtype=object), legend
    palette = _palette()
    counts = values.astype(str).value_counts()
    cats = list(counts.index[: len(palette)])
    lookup = {c: palette[i] for i, c in enumerate(sorted(cats))}
    colours = values.astype(str).map(lambda v: lookup.get(v, _OTHER)).to_numpy(dtype=object)
    items = "".join(
        f"<div><span style='display:inline-block;width:10px;height:10px;"
        f"background:{c}'></span> {html.escape(k)}</div>"
        for k, c in lookup.items()
    )
    if len(counts) > len(cats):
        items += (
            f"<div><span style='display:inline-block;width:10px;height:10px;"
            f"background:{_OTHER}'></span> other</div>"
        )
    return colours, f"<div><b>{title}</b>{items}</div>"


def _vector_layer(
    entry: LayerEntry,
    gdf: gpd.GeoDataFrame,
    max_features: int | None,
    tolerance: float,
    index: int,
) -> tuple[Any, str]:
    folium = _folium()
    point = entry.geometry_type in ("Point", "MultiPoint")
    if max_features is None:
        max_features = MAX_POINTS if point else MAX_SHAPES
    total = len(gdf)
    if total > max_features:
        # A reproducible sample shows the pattern; the layer control says it is a sample.
        gdf = gdf.sample(n=max_features, random_state=0).sort_index()
    note = ""
    if tolerance > 0 and not point:
        simple, used = _simplify(gdf.geometry.to_numpy(), tolerance)
        gdf = gdf.set_geometry(simple)
        gdf = gdf[~gdf.geometry.is_empty]
        note = f", simplified to {used:g} m" if used > tolerance else ""
    colours, legend = _colours(entry, gdf, index)
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
    polygon = entry.geometry_type in ("Polygon", "MultiPolygon")

    def style(feature: dict[str, Any]) -> dict[str, Any]:
        colour = feature["properties"]["_colour"]
        return {
            "color": colour,
            "weight": 1.5 if polygon else 2,
            "opacity": _LINE_OPACITY,
            "fillColor": colour,
            "fillOpacity": 0.15 if polygon else 0.8,
        }

    tooltip = folium.GeoJsonTooltip(fields=fields) if fields else None
    marker = folium.CircleMarker(radius=3) if point else None
    layer = folium.GeoJson(
        json.loads(out.to_json(drop_id=True)),
        name=f"{entry.title}{shown}",
        style_function=style,
        tooltip=tooltip,
        marker=marker,
    )
    return layer, legend


def _simplify(geoms: np.ndarray, tolerance: float) -> tuple[np.ndarray, float]:
    """Simplify with ``tolerance``, doubled until the layer fits :data:`MAX_VERTICES`.

    Polygons traced from a raster (coverage areas) keep every pixel's staircase
    and thousands of one-pixel rings: hundreds of thousands of vertices that no
    screen shows. Without topology preservation rings smaller than the
    tolerance vanish, which is what a preview wants; Leaflet draws the odd
    self-touching ring that this may leave without complaint.
    """
    out = shapely.simplify(geoms, tolerance, preserve_topology=False)
    for _ in range(6):
        if int(shapely.get_num_coordinates(out).sum()) <= MAX_VERTICES:
            break
        tolerance *= 2
        out = shapely.simplify(geoms, tolerance, preserve_topology=False)
    return out, tolerance


def _legend_box(fragments: list[str]) -> str:
    body = "".join(fragments)
    return (
        "<div style='position:absolute;bottom:30px;right:10px;z-index:9999;background:white;"
        "padding:6px 8px;font:11px sans-serif;max-height:45%;overflow:auto;"
        f"border:1px solid #999;border-radius:4px'>{body}</div>"
    )


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


def _raster_overlay(path: Any, entry: LayerEntry, size: int) -> Any:
    folium = _folium()
    rgba, bounds = render_raster(path, entry, size)
    return folium.raster_layers.ImageOverlay(
        image=rgba,
        bounds=bounds,
        name=entry.title,
        opacity=0.7,
        mercator_project=False,
    )


def _raster_legend(entry: LayerEntry) -> Any:
    if not entry.bands:
        return None
    import branca.colormap as bcm
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
    colours = [to_hex(cmap(x)) for x in np.linspace(0, 1, 9)]
    unit = f" ({band.unit})" if band.unit else ""
    return bcm.LinearColormap(colours, vmin=lo, vmax=hi, caption=f"{entry.title}{unit}")


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
    basemap: str | None = DEFAULT_BASEMAP,
    height: int = 600,
) -> Any:
    """A folium map of the layers a running tile server serves, drawn from its tiles.

    Raster layers are Leaflet tile layers of ``/tiles/{layer}/{z}/{x}/{y}.png``,
    vector layers VectorGrid layers of ``.mvt`` tiles, with URLs read from each
    layer's TileJSON. The map only shows tiles while the server runs.
    """
    folium = _folium()
    from folium.plugins import VectorGridProtobuf

    if not server.startswith(("http://", "https://")):
        raise TwinError(f"explore: server {server!r} must be an http:// or https:// URL")
    base = server.rstrip("/")
    items = {item["name"]: item for item in _get_json(f"{base}/catalog", timeout)}
    chosen = _select(items, names)
    docs = {n: _get_json(f"{base}/tiles/{n}/tilejson.json", timeout) for n in chosen}
    bounds = [tuple(d["bounds"]) for d in docs.values() if d.get("bounds")]
    m = _base_map(_union(bounds) if bounds else None, basemap, height)
    palette = _palette()
    for i, name in enumerate(chosen):
        item, doc = items[name], docs[name]
        url = doc["tiles"][0]
        title = item.get("title") or name
        attribution = doc.get("attribution") or "OneMap Twin"
        if item["kind"] == "raster":
            folium.TileLayer(
                tiles=url,
                attr=attribution,
                name=title,
                overlay=True,
                opacity=0.7,
                min_zoom=0,
                max_zoom=22,
                max_native_zoom=doc.get("maxzoom", 18),
            ).add_to(m)
            continue
        style = item.get("style") or {}
        colour = style.get("color") or palette[i % len(palette)]
        polygon = item.get("geometry_type") in ("Polygon", "MultiPolygon")
        layer_style = {
            "color": colour,
            "weight": 1.5,
            "opacity": _LINE_OPACITY,
            "fill": polygon or item.get("geometry_type") in ("Point", "MultiPoint"),
            "fillColor": colour,
            "fillOpacity": 0.15 if polygon else 0.8,
            "radius": 3,
        }
        options = {
            "vectorTileLayerStyles": {name: layer_style},
            "maxNativeZoom": doc.get("maxzoom", 18),
            "maxZoom": 22,
            "attribution": attribution,
        }
        VectorGridProtobuf(url, title, options).add_to(m)
    folium.LayerControl(collapsed=True).add_to(m)
    return m
