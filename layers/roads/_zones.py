"""Road figures per zone (village, town) and 5G coverage along each edge."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from affine import Affine
from pyproj import CRS

from layers.crs import same_crs
from layers.errors import ParameterError
from layers.geodesy import geodesic_area, geodesic_length
from layers.types import RasterData


def zone_figures(
    edges: gpd.GeoDataFrame,
    zones: gpd.GeoDataFrame,
    zone_id: str | None = None,
    classes: list[str] | None = None,
) -> pd.DataFrame:
    """Road length by class and road density for each polygon zone.

    Each edge is cut by each zone it crosses, so an edge on a village border
    counts in both villages by the length inside each.

    Parameters
    ----------
    edges
        Road edges with ``road_class`` (and optionally ``covered_m`` from
        :func:`edge_coverage` and ``length_m``), in a metric CRS.
    zones
        Polygons; reprojected to the edges' CRS.
    zone_id
        A column identifying zones (default: the zones' index).
    classes
        Road classes to report as ``km_<class>`` columns (default: all present).

    Returns
    -------
    One row per zone (indexed by the zone id, every zone present, zeros where
    no road), lengths and areas measured on the ellipsoid: ``road_km``,
    ``km_<class>`` ..., ``area_km2``, ``density_km_per_km2``
    and, when the edges carry ``covered_m``, ``covered_km`` and ``covered_share``
    (each edge's covered share applied to its length inside the zone).
    """
    if edges.crs is None or zones.crs is None:
        raise ParameterError("zone_figures: edges and zones both need a CRS")
    if not edges.crs.is_projected:
        raise ParameterError("zone_figures: edges must be in a projected (metric) CRS")
    zones = zones.to_crs(edges.crs)
    ids = zones[zone_id].to_numpy() if zone_id else zones.index.to_numpy()
    if zone_id and zones[zone_id].duplicated().any():
        raise ParameterError(f"zone_figures: zone id column {zone_id!r} has duplicates")
    zgeom = zones.geometry.to_numpy()
    egeom = edges.geometry.to_numpy()
    tree = shapely.STRtree(egeom)
    zi, ei = tree.query(zgeom, predicate="intersects")
    # Lengths and areas on the ellipsoid: the figures must not depend on the working CRS.
    pieces = geodesic_length(shapely.intersection(egeom[ei], zgeom[zi]), edges.crs)
    name = zone_id or "zone"
    frame = pd.DataFrame(
        {name: ids[zi], "road_class": edges["road_class"].to_numpy()[ei], "m": pieces}
    )
    by_class = frame.pivot_table(
        index=name, columns="road_class", values="m", aggfunc="sum", fill_value=0.0
    )
    wanted = classes if classes is not None else list(by_class.columns)
    out = pd.DataFrame(index=pd.Index(ids, name=name))
    out["road_km"] = frame.groupby(name)["m"].sum().reindex(ids, fill_value=0.0) / 1000.0
    for c in wanted:
        col = by_class[c] if c in by_class.columns else pd.Series(dtype=float)
        out[f"km_{c}"] = col.reindex(ids, fill_value=0.0).to_numpy() / 1000.0
    out["area_km2"] = geodesic_area(zgeom, zones.crs) / 1e6
    with np.errstate(divide="ignore", invalid="ignore"):
        out["density_km_per_km2"] = np.where(
            out["area_km2"] > 0, out["road_km"] / out["area_km2"], 0.0
        )
    if "covered_m" in edges.columns:
        length = shapely.length(egeom)
        share = np.divide(
            edges["covered_m"].to_numpy(np.float64),
            length,
            out=np.zeros(len(length)),
            where=length > 0,
        )
        cov = pd.Series(pieces * share[ei]).groupby(ids[zi]).sum()
        out["covered_km"] = cov.reindex(ids, fill_value=0.0).to_numpy() / 1000.0
        out["covered_share"] = np.divide(
            out["covered_km"], out["road_km"], out=np.zeros(len(out)), where=out["road_km"] > 0
        )
    return out


def edge_coverage(
    edges: gpd.GeoDataFrame,
    values: np.ndarray | RasterData,
    transform: Affine | None = None,
    threshold: float | None = None,
    crs: CRS | str | None = None,
    nodata: float | None = None,
    step: float | None = None,
) -> pd.DataFrame:
    """How much of each edge runs through covered pixels (the smart-road hook).

    Each edge is cut into pieces no longer than half a pixel (or ``step``); a
    piece is covered when the pixel under its midpoint is. Pieces outside the
    raster or on nodata are not covered.

    Parameters
    ----------
    edges
        Road edges in a metric CRS.
    values
        A 2-D array (boolean mask, or values compared with ``threshold``), or a
        :class:`~layers.types.RasterData` (its first band; transform, CRS and
        nodata come with it).
    transform
        Pixel -> CRS affine transform of ``values`` (when an array).
    threshold
        Covered where ``value >= threshold`` (e.g. RSRP >= -105 dBm); ``None``
        means ``values`` is already a mask (non-zero = covered).
    crs
        The raster's CRS; must equal the edges' (a mismatch is an error).

    Returns
    -------
    Indexed like ``edges``: ``covered_m`` and ``covered_share`` (0..1).
    """
    if isinstance(values, RasterData):
        transform = values.transform
        crs = values.crs
        nodata = values.nodata if nodata is None else nodata
        array = values.data[0]
    else:
        array = np.asarray(values)
    if array.ndim != 2:
        raise ParameterError(f"edge_coverage: values must be 2-D, got shape {array.shape}")
    if transform is None:
        raise ParameterError("edge_coverage: transform is required with an array")
    if crs is not None and edges.crs is not None and not same_crs(crs, edges.crs):
        raise ParameterError(
            f"edge_coverage: raster CRS {CRS.from_user_input(crs).to_string()} differs from the "
            f"edges' CRS {edges.crs.to_string()}; reproject one of them"
        )
    covered = _covered_mask(array, threshold, nodata)
    res = min(abs(transform.a), abs(transform.e))
    step = step or res / 2.0
    geom = shapely.segmentize(edges.geometry.to_numpy(), step)
    coords, idx = shapely.get_coordinates(geom, return_index=True)
    same = idx[1:] == idx[:-1]
    a, b = coords[:-1][same], coords[1:][same]
    seg_edge = idx[1:][same]
    seg_len = np.hypot(*(b - a).T)
    mid = (a + b) / 2.0
    col, row = ~transform * (mid[:, 0], mid[:, 1])
    col = np.floor(col).astype(np.int64)
    row = np.floor(row).astype(np.int64)
    inside = (row >= 0) & (row < array.shape[0]) & (col >= 0) & (col < array.shape[1])
    hit = np.zeros(len(mid), dtype=bool)
    hit[inside] = covered[row[inside], col[inside]]
    covered_m = np.bincount(seg_edge, weights=seg_len * hit, minlength=len(edges))
    total = np.bincount(seg_edge, weights=seg_len, minlength=len(edges))
    share = np.divide(covered_m, total, out=np.zeros(len(edges)), where=total > 0)
    return pd.DataFrame({"covered_m": covered_m, "covered_share": share}, index=edges.index)


def _covered_mask(array: np.ndarray, threshold: float | None, nodata: float | None) -> np.ndarray:
    valid = np.ones(array.shape, dtype=bool)
    if nodata is not None:
        valid &= ~np.isnan(array) if np.isnan(nodata) else array != nodata
    if np.issubdtype(array.dtype, np.floating):
        valid &= np.isfinite(array)
    if threshold is None:
        return valid & (array != 0)
    return valid & (array >= threshold)
