"""Coverage as areas: polygons at thresholds, the share of each zone covered, what-ifs.

These work on the published rasters (RSRP and optionally SINR as
:class:`~layers.types.RasterData`), so other layers (villages, roads) can call
:func:`coverage_share` on the coverage layer without rerunning the model.

A pixel is *covered* when its RSRP is at least ``threshold_dbm`` and, when a
SINR raster is given, its SINR is at least ``sinr_threshold_db``. A zone's
share is covered pixels over the zone's pixels (pixel centres inside the
zone); pixels where no cell reaches, or outside the raster, count as not
covered.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio.features
import shapely
from numpy.typing import NDArray

from layers.coverage import CoverageModel, CoverageResult
from layers.errors import ParameterError
from layers.types import RasterData

#: The usual RSRP bands of a coverage map, dBm.
RSRP_BANDS_DBM = (-80.0, -90.0, -100.0, -105.0, -110.0)


def covered_mask(
    rsrp: RasterData,
    threshold_dbm: float = -105.0,
    sinr: RasterData | None = None,
    sinr_threshold_db: float = -3.0,
) -> NDArray[np.bool_]:
    """Pixels where RSRP ≥ threshold (and SINR ≥ its threshold when ``sinr`` is given)."""
    r = rsrp.data[0]
    with np.errstate(invalid="ignore"):
        mask = np.isfinite(r) & (r >= threshold_dbm)
        if sinr is not None:
            if sinr.data.shape != rsrp.data.shape:
                raise ParameterError("sinr: raster grid differs from the RSRP raster's")
            s = sinr.data[0]
            mask &= np.isfinite(s) & (s >= sinr_threshold_db)
    return mask


def coverage_share(
    rsrp: RasterData,
    zones: gpd.GeoDataFrame | None = None,
    threshold_dbm: float = -105.0,
    sinr: RasterData | None = None,
    sinr_threshold_db: float = -3.0,
    id_column: str | None = None,
    region: NDArray[np.bool_] | None = None,
) -> pd.DataFrame:
    """Share of area covered, per zone or for the whole region.

    Parameters
    ----------
    rsrp, sinr
        Best-server RSRP (dBm) and optionally SINR (dB) rasters on one grid.
    zones
        Polygons (any CRS; reprojected to the raster's). ``None``: one row for
        the region, i.e. ``region`` or else every pixel of the raster.
    threshold_dbm, sinr_threshold_db
        What counts as covered.
    id_column
        Column naming each zone (default: the zones' index).

    Returns
    -------
    pandas.DataFrame
        One row per zone: ``zone``, ``area_km2``, ``covered_km2``, ``share``
        (0-1, NaN for a zone with no pixel on the grid).
    """
    covered = covered_mask(rsrp, threshold_dbm, sinr, sinr_threshold_db)
    px_km2 = rsrp.resolution[0] * rsrp.resolution[1] / 1e6
    if zones is None:
        inside = np.ones(covered.shape, bool) if region is None else region
        n = int(np.count_nonzero(inside))
        c = int(np.count_nonzero(covered & inside))
        return pd.DataFrame(
            {
                "zone": ["region"],
                "area_km2": [n * px_km2],
                "covered_km2": [c * px_km2],
                "share": [c / n if n else np.nan],
            }
        )
    labels = zone_labels(zones, rsrp)
    n_zones = len(zones)
    total = np.bincount(labels.ravel(), minlength=n_zones + 1)[1:]
    hit = np.bincount(labels[covered], minlength=n_zones + 1)[1:]
    if id_column is not None and id_column not in zones.columns:
        raise ParameterError(f"zones: no column {id_column!r}")
    ids = zones[id_column].to_numpy() if id_column else zones.index.to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(total > 0, hit / np.maximum(total, 1), np.nan)
    return pd.DataFrame(
        {
            "zone": ids,
            "area_km2": total * px_km2,
            "covered_km2": hit * px_km2,
            "share": share,
        }
    )


def zone_labels(zones: gpd.GeoDataFrame, raster: RasterData) -> NDArray[np.int32]:
    """Raster of 1-based zone numbers (0 outside every zone); later zones win overlaps."""
    if zones.crs is None:
        raise ParameterError("zones: declare a CRS")
    geoms = zones.geometry.to_crs(raster.crs)
    shapes = [(g, i + 1) for i, g in enumerate(geoms) if g is not None and not g.is_empty]
    if not shapes:
        return np.zeros((raster.height, raster.width), dtype=np.int32)
    return rasterio.features.rasterize(
        shapes,
        out_shape=(raster.height, raster.width),
        transform=raster.transform,
        fill=0,
        dtype="int32",
    )


def coverage_polygons(
    rsrp: RasterData,
    sinr: RasterData | None = None,
    rsrp_thresholds_dbm: Sequence[float] = RSRP_BANDS_DBM,
    sinr_threshold_db: float = -3.0,
    threshold_dbm: float = -105.0,
    simplify: bool = True,
    sieve_pixels: int = 4,
) -> gpd.GeoDataFrame:
    """Polygons of the area at or above each threshold (nested, one row each).

    Rows: ``metric="rsrp"`` for each RSRP threshold, ``metric="sinr"`` for the
    SINR threshold (when ``sinr`` is given) and ``metric="covered"`` for RSRP ≥
    ``threshold_dbm`` and SINR ≥ ``sinr_threshold_db``. Columns: ``metric``,
    ``threshold``, ``unit``, ``area_km2`` (pixel count × pixel area, exact for
    the raster), ``geometry`` (a valid MultiPolygon in the raster's CRS).

    For drawing, specks and pin-holes smaller than ``sieve_pixels`` are merged
    into their surroundings first (``rasterio.features.sieve``) and outlines are
    simplified by half a pixel so stair steps do not dominate the vertices;
    ``sieve_pixels=0, simplify=False`` gives the exact pixel outlines.
    """
    rows: list[tuple[str, float, str, NDArray[np.bool_]]] = []
    for t in sorted(rsrp_thresholds_dbm, reverse=True):
        rows.append(("rsrp", float(t), "dBm", covered_mask(rsrp, t)))
    if sinr is not None:
        with np.errstate(invalid="ignore"):
            s = sinr.data[0]
            rows.append(
                ("sinr", float(sinr_threshold_db), "dB", np.isfinite(s) & (s >= sinr_threshold_db))
            )
        rows.append(
            (
                "covered",
                float(threshold_dbm),
                "dBm",
                covered_mask(rsrp, threshold_dbm, sinr, sinr_threshold_db),
            )
        )
    px_km2 = rsrp.resolution[0] * rsrp.resolution[1] / 1e6
    tol = rsrp.resolution[0] / 2 if simplify else 0.0
    records = []
    for metric, threshold, unit, mask in rows:
        records.append(
            {
                "metric": metric,
                "threshold": threshold,
                "unit": unit,
                "area_km2": float(np.count_nonzero(mask) * px_km2),
                "geometry": _polygonize(mask, rsrp, tol, sieve_pixels),
            }
        )
    return gpd.GeoDataFrame(records, geometry="geometry", crs=rsrp.crs)


def _polygonize(mask: NDArray[np.bool_], raster: RasterData, tol: float, sieve: int):
    values = mask.astype(np.uint8)
    if sieve > 1:
        values = rasterio.features.sieve(values, sieve, connectivity=4)
    if not values.any():
        return shapely.MultiPolygon()
    parts = [
        shapely.Polygon(geom["coordinates"][0], geom["coordinates"][1:])
        for geom, _ in rasterio.features.shapes(
            values, mask=values.astype(bool), transform=raster.transform, connectivity=4
        )
    ]
    polys = np.asarray(parts, dtype=object)
    if tol > 0:
        polys = shapely.simplify(polys, tol, preserve_topology=True)
    merged = shapely.make_valid(
        shapely.MultiPolygon(
            [
                p
                for g in polys
                for p in shapely.get_parts(g)
                if p.geom_type == "Polygon" and not p.is_empty
            ]
        )
    )
    if merged.geom_type == "Polygon":
        return shapely.MultiPolygon([merged])
    if merged.geom_type != "MultiPolygon":
        # make_valid may return a collection with slivers; keep the areal parts.
        keep = [p for p in shapely.get_parts(merged) if p.geom_type == "Polygon"]
        return shapely.MultiPolygon(keep)
    return merged


def what_if(
    model: CoverageModel,
    zones: gpd.GeoDataFrame | None = None,
    add: pd.DataFrame | None = None,
    remove: Iterable[str] = (),
    threshold_dbm: float = -105.0,
    sinr_threshold_db: float = -3.0,
    id_column: str | None = None,
    before: CoverageResult | None = None,
) -> pd.DataFrame:
    """Change in coverage share per zone when cells are added and/or removed.

    Only the added cells are computed; every other cell's field comes from the
    model's cache (the first call fills it). ``add`` holds prepared rows
    (:func:`layers.cells.prepare_cells`); ``remove`` cell ids.

    Returns
    -------
    pandas.DataFrame
        ``zone``, ``area_km2``, ``share_before``, ``share_after``, ``change``
        (after − before, in share points 0-1).
    """
    if not model.keep:
        raise ParameterError("what_if needs a CoverageModel built with keep=True")
    before = before or model.run()
    after = model.with_changes(add=add, remove=remove).run()
    region = None if zones is not None else model.region
    b, a = (
        coverage_share(
            r.rsrp, zones, threshold_dbm, r.sinr, sinr_threshold_db, id_column, region=region
        )
        for r in (before, after)
    )
    return pd.DataFrame(
        {
            "zone": b["zone"],
            "area_km2": b["area_km2"],
            "share_before": b["share"],
            "share_after": a["share"],
            "change": a["share"] - b["share"],
        }
    )


__all__ = [
    "RSRP_BANDS_DBM",
    "coverage_polygons",
    "coverage_share",
    "covered_mask",
    "what_if",
    "zone_labels",
]
