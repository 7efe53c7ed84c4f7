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
from affine import Affine
from numpy.typing import NDArray

from layers.blocks import BLOCK_PX, Window, windows
from layers.coverage.model import CoverageModel, CoverageResult
from layers.coverage.params import RSRP_BANDS_DBM
from layers.errors import ParameterError
from layers.types import RasterData


def meets_thresholds(
    r: NDArray[np.floating],
    rsrp_threshold: float | None,
    s: NDArray[np.floating] | None,
    sinr_threshold: float | None,
) -> NDArray[np.bool_]:
    """Pixels meeting the RSRP threshold and/or the SINR threshold (None: not asked)."""
    with np.errstate(invalid="ignore"):
        mask = np.ones(r.shape, dtype=bool)
        if rsrp_threshold is not None:
            mask &= np.isfinite(r) & (r >= rsrp_threshold)
        if sinr_threshold is not None and s is not None:
            mask &= np.isfinite(s) & (s >= sinr_threshold)
    return mask


def _check_grids(rsrp: RasterData, sinr: RasterData | None) -> None:
    if sinr is not None and sinr.data.shape != rsrp.data.shape:
        raise ParameterError("sinr: raster grid differs from the RSRP raster's")


def covered_mask(
    rsrp: RasterData,
    threshold_dbm: float = -105.0,
    sinr: RasterData | None = None,
    sinr_threshold_db: float = -3.0,
) -> NDArray[np.bool_]:
    """Pixels where RSRP ≥ threshold (and SINR ≥ its threshold when ``sinr`` is given)."""
    _check_grids(rsrp, sinr)
    return meets_thresholds(
        rsrp.data[0], threshold_dbm, None if sinr is None else sinr.data[0], sinr_threshold_db
    )


def coverage_share(
    rsrp: RasterData,
    zones: gpd.GeoDataFrame | None = None,
    threshold_dbm: float = -105.0,
    sinr: RasterData | None = None,
    sinr_threshold_db: float = -3.0,
    id_column: str | None = None,
    region: NDArray[np.bool_] | None = None,
    block_px: int = BLOCK_PX,
) -> pd.DataFrame:
    """Share of area covered, per zone or for the whole region.

    The grids are read block by block (:mod:`layers.blocks`), so they may be
    larger than memory.

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
    region
        Pixels of the region, for the ``zones=None`` row (default: all).
    block_px
        Edge of the blocks read at once, pixels.

    Returns
    -------
    pandas.DataFrame
        One row per zone: ``zone``, ``area_km2``, ``covered_km2``, ``share``
        (0-1, NaN for a zone with no pixel on the grid).
    """
    _check_grids(rsrp, sinr)
    if id_column is not None and zones is not None and id_column not in zones.columns:
        raise ParameterError(f"zones: no column {id_column!r}")
    px_km2 = rsrp.resolution[0] * rsrp.resolution[1] / 1e6
    labeller = None if zones is None else ZoneLabeller(zones, rsrp)
    n_zones = 1 if zones is None else len(zones)
    total = np.zeros(n_zones + 1, dtype=np.int64)
    hit = np.zeros(n_zones + 1, dtype=np.int64)
    for b in windows((rsrp.height, rsrp.width), block_px):
        rows, cols = b.slices
        covered = meets_thresholds(
            rsrp.data[0, rows, cols],
            threshold_dbm,
            None if sinr is None else sinr.data[0, rows, cols],
            sinr_threshold_db,
        )
        if labeller is not None:
            labels = labeller.labels(b)
        elif region is not None:
            labels = region[rows, cols].astype(np.int32)
        else:
            labels = np.ones(b.shape, dtype=np.int32)
        total += np.bincount(labels.ravel(), minlength=n_zones + 1)
        hit += np.bincount(labels[covered], minlength=n_zones + 1)
    total, hit = total[1:], hit[1:]
    if zones is None:
        ids = np.asarray(["region"], dtype=object)
    else:
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


class ZoneLabeller:
    """Zone numbers (1-based, 0 outside every zone) of any block of a raster's grid."""

    def __init__(self, zones: gpd.GeoDataFrame, raster: RasterData) -> None:
        if zones.crs is None:
            raise ParameterError("zones: declare a CRS")
        self.geoms = np.asarray(zones.geometry.to_crs(raster.crs).values, dtype=object)
        ok = ~(shapely.is_missing(self.geoms) | shapely.is_empty(self.geoms))
        self.tree = shapely.STRtree([g if k else None for g, k in zip(self.geoms, ok, strict=True)])
        self.transform = raster.transform

    def labels(self, b: Window) -> NDArray[np.int32]:
        t = self.transform * Affine.translation(b.col0, b.row0)
        x0, y0 = t * (0, 0)
        x1, y1 = t * (b.shape[1], b.shape[0])
        hits = np.sort(self.tree.query(shapely.box(x0, y0, x1, y1)))
        if not hits.size:
            return np.zeros(b.shape, dtype=np.int32)
        # burnt in zone order: later zones win overlaps
        return rasterio.features.rasterize(
            [(self.geoms[i], int(i) + 1) for i in hits],
            out_shape=b.shape,
            transform=t,
            fill=0,
            dtype="int32",
        )


def zone_labels(zones: gpd.GeoDataFrame, raster: RasterData) -> NDArray[np.int32]:
    """Raster of 1-based zone numbers (0 outside every zone); later zones win overlaps."""
    labeller = ZoneLabeller(zones, raster)
    out = np.zeros((raster.height, raster.width), dtype=np.int32)
    for b in windows(out.shape):
        out[b.slices] = labeller.labels(b)
    return out


def coverage_polygons(
    rsrp: RasterData,
    sinr: RasterData | None = None,
    rsrp_thresholds_dbm: Sequence[float] = RSRP_BANDS_DBM,
    sinr_threshold_db: float = -3.0,
    threshold_dbm: float = -105.0,
    simplify: bool = True,
    sieve_pixels: int = 4,
    block_px: int = BLOCK_PX,
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

    The grids are polygonised in blocks of ``block_px`` (:mod:`layers.blocks`), each block
    sieved with a margin of its neighbours' pixels, and the blocks' outlines
    are merged in pixel coordinates, where shared edges match exactly.
    """
    _check_grids(rsrp, sinr)
    # metric, threshold, unit, and the RSRP and SINR thresholds a pixel must meet
    rows: list[tuple[str, float, str, float | None, float | None]] = [
        ("rsrp", float(t), "dBm", float(t), None) for t in sorted(rsrp_thresholds_dbm, reverse=True)
    ]
    if sinr is not None:
        sinr_t = float(sinr_threshold_db)
        rows.append(("sinr", sinr_t, "dB", None, sinr_t))
        rows.append(("covered", float(threshold_dbm), "dBm", float(threshold_dbm), sinr_t))
    shape = (rsrp.height, rsrp.width)
    # A speck's fate depends on pixels within a few speck-widths of it.
    margin = 2 * sieve_pixels if sieve_pixels > 1 else 0
    # per row: pieces inside their block, and pieces on a block edge (to be merged)
    inside: list[list[shapely.Polygon]] = [[] for _ in rows]
    edge: list[list[shapely.Polygon]] = [[] for _ in rows]
    counts = [0] * len(rows)
    for b in windows(shape, block_px):
        outer = b.grow(margin, shape)
        orows, ocols = outer.slices
        r = rsrp.data[0, orows, ocols]
        s = None if sinr is None else sinr.data[0, orows, ocols]
        inner = b.within(outer)
        for i, (_, _, _, rt, st) in enumerate(rows):
            mask = meets_thresholds(r, rt, s, st)
            counts[i] += int(np.count_nonzero(mask[inner]))
            parts = _pixel_polygons(mask, inner, b, sieve_pixels)
            if parts.size:
                x0, y0, x1, y1 = shapely.bounds(parts).T
                on_edge = (x0 == b.col0) | (x1 == b.col1) | (y0 == b.row0) | (y1 == b.row1)
                inside[i].extend(parts[~on_edge])
                edge[i].extend(parts[on_edge])
    px_km2 = rsrp.resolution[0] * rsrp.resolution[1] / 1e6
    records = []
    for i, (metric, threshold, unit, _, _) in enumerate(rows):
        records.append(
            {
                "metric": metric,
                "threshold": threshold,
                "unit": unit,
                "area_km2": float(counts[i] * px_km2),
                "geometry": _merge(inside[i], edge[i], rsrp.transform, 0.5 if simplify else 0.0),
            }
        )
    return gpd.GeoDataFrame(records, geometry="geometry", crs=rsrp.crs)


def _pixel_polygons(
    mask: NDArray[np.bool_], inner: tuple[slice, slice], b: Window, sieve: int
) -> NDArray[np.object_]:
    """The block's outlines in whole-grid pixel coordinates (integers: exact)."""
    values = mask.astype(np.uint8)
    if sieve > 1:
        values = rasterio.features.sieve(values, sieve, connectivity=4)
    values = np.ascontiguousarray(values[inner])
    if not values.any():
        return np.empty(0, dtype=object)
    return np.asarray(
        [
            shapely.Polygon(geom["coordinates"][0], geom["coordinates"][1:])
            for geom, _ in rasterio.features.shapes(
                values,
                mask=values.astype(bool),
                transform=Affine.translation(b.col0, b.row0),
                connectivity=4,
            )
        ],
        dtype=object,
    )


def _merge(
    inside: list[shapely.Polygon], edge: list[shapely.Polygon], transform: Affine, tol_px: float
) -> shapely.MultiPolygon:
    """Pixel-space pieces -> one valid MultiPolygon in the raster's CRS.

    A block's own pieces are disjoint already: only those on a block edge may
    continue in the next block and need the (costly) union.
    """
    if not inside and not edge:
        return shapely.MultiPolygon()
    joined = shapely.get_parts(shapely.union_all(np.asarray(edge, dtype=object))) if edge else []
    merged = shapely.MultiPolygon([*inside, *joined])
    if tol_px > 0:
        merged = shapely.simplify(merged, tol_px, preserve_topology=True)
    a, b_, c, d, e, f = transform.a, transform.b, transform.c, transform.d, transform.e, transform.f

    def to_crs(xy: NDArray[np.float64]) -> NDArray[np.float64]:
        x, y = xy[:, 0], xy[:, 1]
        return np.column_stack([a * x + b_ * y + c, d * x + e * y + f])

    merged = shapely.make_valid(shapely.transform(merged, to_crs))
    keep = [
        p for p in shapely.get_parts(merged) if p.geom_type == "Polygon" and not p.is_empty
    ]  # make_valid may add slivers of lower dimension; keep the areal parts
    return shapely.MultiPolygon(keep)


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
    (:func:`layers.coverage.cells.prepare_cells`); ``remove`` cell ids.

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
    "ZoneLabeller",
    "coverage_polygons",
    "coverage_share",
    "covered_mask",
    "meets_thresholds",
    "what_if",
    "zone_labels",
]
