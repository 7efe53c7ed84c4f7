"""The digital-village one map: every village's figures in five domains.

Deqing's "digital village one map" pools its departments' data into five
domains; this module computes them per village from boundaries, indicator
tables, point layers (enterprises, service facilities), the road network and
the 5G coverage raster, scores each domain, and reports every join problem
instead of hiding it.

Output columns are prefixed by domain (see :data:`PREFIX`):

========================  ====================================================
``biz_`` business (经营)     enterprises by industry, revenue, homestays, income
``svc_`` services (服务)     facilities by type, distance to the nearest of each
``sup_`` supervision (监管)  inspections, sensors
``gov_`` governance (治理)   population, households, issues, resolution rate
``inf_`` infrastructure      5G share, road km and density, smart-road km, fibre
``score_`` scores            0-100 per domain and overall; ``lagging`` flags
========================  ====================================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from layers.errors import ParameterError, ValidationError

DOMAINS = ("business", "services", "supervision", "governance", "infrastructure")
PREFIX = {
    "business": "biz",
    "services": "svc",
    "supervision": "sup",
    "governance": "gov",
    "infrastructure": "inf",
}

#: Where the usual indicator-table columns belong, and their units.
TABLE_COLUMNS: dict[str, tuple[str, str]] = {
    "collective_income_10k_cny": ("business", "10k CNY"),
    "homestays": ("business", "count"),
    "inspections": ("supervision", "count"),
    "sensors": ("supervision", "count"),
    "population": ("governance", "people"),
    "households": ("governance", "households"),
    "reported_issues": ("governance", "count"),
    "resolved_issues": ("governance", "count"),
    "fibre_coverage": ("infrastructure", "share 0-1"),
}

#: Default domain scores: column -> weight; a negative weight means lower is better.
DEFAULT_SCORES: dict[str, dict[str, float]] = {
    "business": {
        "biz_enterprises": 1,
        "biz_revenue_10k_cny": 1,
        "biz_collective_income_10k_cny": 1,
    },
    "services": {
        "svc_clinic_dist_m": -1,
        "svc_school_dist_m": -1,
        "svc_elderly_care_dist_m": -1,
        "svc_bus_stop_dist_m": -1,
    },
    "supervision": {"sup_inspections": 1, "sup_sensors": 1},
    "governance": {"gov_resolution_rate": 2, "gov_issues_per_1000": -1},
    "infrastructure": {
        "inf_5g_share": 2,
        "inf_road_density_km_per_km2": 1,
        "inf_fibre_coverage": 1,
    },
}


@dataclass
class JoinReport:
    """Every problem found while joining the sources to the village boundaries.

    Codes are listed in full; :meth:`as_stats` gives counts and a short sample.
    """

    duplicate_codes: dict[str, list[str]] = field(default_factory=dict)
    unknown_codes: dict[str, list[str]] = field(default_factory=dict)
    missing_rows: dict[str, list[str]] = field(default_factory=dict)
    overlaps: list[tuple[str, str, float]] = field(default_factory=list)
    gaps: list[float] = field(default_factory=list)
    points_outside: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.messages()

    def messages(self) -> list[str]:
        """One line per problem kind and source."""
        out = []
        for src, codes in self.duplicate_codes.items():
            out.append(f"{src}: {len(codes)} duplicate village code(s): {_sample(codes)}")
        for src, codes in self.unknown_codes.items():
            out.append(f"{src}: {len(codes)} code(s) with no village boundary: {_sample(codes)}")
        for src, codes in self.missing_rows.items():
            out.append(f"{src}: {len(codes)} village(s) with no row: {_sample(codes)}")
        if self.overlaps:
            area = sum(a for _, _, a in self.overlaps)
            pairs = ", ".join(f"{a}/{b} ({m:.0f} m²)" for a, b, m in self.overlaps[:5])
            out.append(
                f"boundaries: {len(self.overlaps)} overlapping pair(s), {area:.0f} m²: {pairs}"
            )
        if self.gaps:
            out.append(f"boundaries: {len(self.gaps)} gap(s) totalling {sum(self.gaps):.0f} m²")
        for src, n in self.points_outside.items():
            out.append(f"{src}: {n} point(s) outside every village")
        return out

    def as_stats(self) -> dict[str, int | float | str]:
        """Counts for the catalog's statistics (``join_*`` keys)."""
        stats: dict[str, int | float | str] = {
            "join_duplicate_codes": sum(len(v) for v in self.duplicate_codes.values()),
            "join_unknown_codes": sum(len(v) for v in self.unknown_codes.values()),
            "join_missing_rows": sum(len(v) for v in self.missing_rows.values()),
            "join_overlaps": len(self.overlaps),
            "join_overlap_m2": round(sum(a for _, _, a in self.overlaps), 1),
            "join_gaps": len(self.gaps),
            "join_gap_m2": round(sum(self.gaps), 1),
            "join_points_outside": sum(self.points_outside.values()),
        }
        problems = self.messages()
        if problems:
            stats["join_problems"] = " | ".join(problems)
        return stats


def _sample(codes: Sequence[str], n: int = 5) -> str:
    head = ", ".join(map(str, codes[:n]))
    return head + (f" (+{len(codes) - n} more)" if len(codes) > n else "")


# -- boundaries and tables -------------------------------------------------------------------


def check_boundaries(
    villages: gpd.GeoDataFrame,
    code: str,
    report: JoinReport,
    region: shapely.Geometry | None = None,
    tolerance_m2: float = 1.0,
) -> gpd.GeoDataFrame:
    """Record duplicate codes, overlaps and gaps; return the villages with unique codes.

    Gaps are the parts of ``region`` no village covers (or, without a region,
    the holes inside the villages' union). Overlaps and gaps smaller than
    ``tolerance_m2`` are rounding, not problems.
    """
    if code not in villages.columns:
        raise ValidationError(f"village boundaries: no code column {code!r}")
    codes = villages[code].astype(str)
    dup = codes[codes.duplicated()].unique().tolist()
    if dup:
        report.duplicate_codes["boundaries"] = dup
    villages = villages.assign(**{code: codes})[~codes.duplicated()].reset_index(drop=True)
    geoms = villages.geometry.to_numpy()
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    keep = left < right
    if keep.any():
        areas = shapely.area(shapely.intersection(geoms[left[keep]], geoms[right[keep]]))
        ids = villages[code].to_numpy()
        for i, j, a in zip(left[keep], right[keep], areas, strict=True):
            if a > tolerance_m2:
                report.overlaps.append((str(ids[i]), str(ids[j]), float(a)))
    union = shapely.union_all(geoms)
    if region is not None:
        missing = shapely.difference(region, union)
        parts = shapely.get_parts(missing)
    else:
        rings = [shapely.Polygon(r) for poly in shapely.get_parts(union) for r in poly.interiors]
        parts = np.array(rings, dtype=object)
    report.gaps = [float(a) for a in shapely.area(parts) if a > tolerance_m2] if len(parts) else []
    return villages


def join_tables(
    codes: pd.Series,
    tables: Mapping[str, pd.DataFrame],
    code: str,
    report: JoinReport,
) -> pd.DataFrame:
    """Join indicator tables to the village codes; one row per village, in ``codes`` order.

    Table rows whose code has no village, villages with no row, and duplicate
    codes (the first row is kept) are recorded in ``report``. A column that
    two tables share keeps the first table's values.
    """
    out = pd.DataFrame(index=pd.Index(codes.astype(str), name=code))
    for name, table in tables.items():
        if code not in table.columns:
            raise ValidationError(f"{name}: no village code column {code!r}")
        table = table.assign(**{code: table[code].astype(str)})
        dup = table[code][table[code].duplicated()].unique().tolist()
        if dup:
            report.duplicate_codes[name] = dup
        table = table.drop_duplicates(code).set_index(code)
        unknown = sorted(set(table.index) - set(out.index))
        if unknown:
            report.unknown_codes[name] = unknown
        missing = [c for c in out.index if c not in table.index]
        if missing:
            report.missing_rows[name] = missing
        new = [c for c in table.columns if c not in out.columns and c != "geometry"]
        out = out.join(table[new], how="left")
    return out


# -- points ---------------------------------------------------------------------------------


def assign_points(villages: gpd.GeoDataFrame, points: gpd.GeoDataFrame) -> np.ndarray:
    """For each point, the row of the village holding it, or -1.

    A point on a boundary shared by two villages is counted once, in the
    first of them (in row order), so totals add up to the county's.
    """
    points = points.to_crs(villages.crs)
    tree = shapely.STRtree(villages.geometry.to_numpy())
    pi, vi = tree.query(points.geometry.to_numpy(), predicate="intersects")
    order = np.lexsort((vi, pi))
    pi, vi = pi[order], vi[order]
    first = np.r_[True, pi[1:] != pi[:-1]] if len(pi) else np.zeros(0, bool)
    out = np.full(len(points), -1, dtype=np.int64)
    out[pi[first]] = vi[first]
    return out


def aggregate_points(
    villages: gpd.GeoDataFrame,
    points: gpd.GeoDataFrame,
    name: str,
    category: str | None = None,
    sums: Sequence[str] = (),
    report: JoinReport | None = None,
) -> pd.DataFrame:
    """Count points per village (in total and per ``category``) and sum columns.

    Columns: ``<name>``, ``<name>_<category value>`` ..., ``<sum column>`` ...;
    one row per village in ``villages`` order, zeros where no point falls.
    """
    for col in [*([category] if category else []), *sums]:
        if col not in points.columns:
            raise ValidationError(f"{name}: no column {col!r}")
    where = assign_points(villages, points)
    inside = where >= 0
    if report is not None and (~inside).any():
        report.points_outside[name] = int((~inside).sum())
    n = len(villages)
    out = pd.DataFrame(index=villages.index)
    out[name] = np.bincount(where[inside], minlength=n)
    if category:
        cats = points[category].astype(str).to_numpy()[inside]
        for value in sorted(set(cats)):
            sel = cats == value
            out[f"{name}_{_slug(value)}"] = np.bincount(where[inside][sel], minlength=n)
    for col in sums:
        values = pd.to_numeric(points[col], errors="coerce").fillna(0).to_numpy()[inside]
        out[col] = np.bincount(where[inside], weights=values, minlength=n)
    return out


def _slug(value: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in value.strip().lower()) or "unknown"


# -- service reach ---------------------------------------------------------------------------


def service_distances(
    centres: gpd.GeoSeries,
    facilities: gpd.GeoDataFrame,
    kind_column: str,
    kinds: Sequence[str],
    edges: gpd.GeoDataFrame | None = None,
) -> pd.DataFrame:
    """Distance in metres from each centre to the nearest facility of each kind.

    Along the road network when ``edges`` (with ``u``, ``v``, ``length_m``) are
    given: each centre and facility walks straight to its nearest network
    node, then follows the roads (undirected). Where the network does not
    connect them, or without a network, the straight-line distance is used;
    ``<kind>_method`` says which.
    """
    if kind_column not in facilities.columns:
        raise ValidationError(f"facilities: no column {kind_column!r}")
    facilities = facilities.to_crs(centres.crs)
    cxy = shapely.get_coordinates(centres.to_numpy())
    graph = _graph(edges.to_crs(centres.crs)) if edges is not None and len(edges) else None
    out = pd.DataFrame(index=centres.index)
    kinds_of = facilities[kind_column].astype(str).to_numpy()
    for kind in kinds:
        sel = kinds_of == kind
        fxy = shapely.get_coordinates(facilities.geometry.to_numpy()[sel])
        dist = np.full(len(cxy), np.nan)
        method = np.full(len(cxy), "none", dtype=object)
        if len(fxy):
            straight, _ = cKDTree(fxy).query(cxy)
            dist, method = straight, np.full(len(cxy), "straight", dtype=object)
            if graph is not None:
                along = graph.distance(fxy, cxy)
                ok = np.isfinite(along)
                dist = np.where(ok, along, straight)
                method[ok] = "network"
        out[f"{kind}_dist_m"] = dist
        out[f"{kind}_method"] = method
    return out


@dataclass
class _Graph:
    matrix: Any
    xy: np.ndarray
    tree: cKDTree

    def distance(self, sources: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """Shortest distance from the nearest of ``sources`` to each target (inf: no path)."""
        n = self.xy.shape[0]
        s_snap, s_node = self.tree.query(sources)
        t_snap, t_node = self.tree.query(targets)
        # One extra node joined to every source's node by its walk-in distance:
        # a single Dijkstra run from it gives the distance to the nearest source.
        rows = np.r_[self.matrix.row, np.full(len(s_node), n)]
        cols = np.r_[self.matrix.col, s_node]
        data = np.r_[self.matrix.data, s_snap + 1e-9]
        augmented = coo_matrix((data, (rows, cols)), shape=(n + 1, n + 1)).tocsr()
        from_source = dijkstra(augmented, directed=False, indices=n)
        return from_source[t_node] + t_snap


def _graph(edges: gpd.GeoDataFrame) -> _Graph:
    for col in ("u", "v", "length_m"):
        if col not in edges.columns:
            raise ValidationError(f"roads: no column {col!r} (is it a roads layer?)")
    ids, inverse = np.unique(
        np.r_[edges["u"].to_numpy(), edges["v"].to_numpy()], return_inverse=True
    )
    m = len(edges)
    u, v = inverse[:m], inverse[m:]
    geoms = edges.geometry.to_numpy()
    start = shapely.get_coordinates(shapely.get_point(geoms, 0))
    end = shapely.get_coordinates(shapely.get_point(geoms, -1))
    xy = np.zeros((len(ids), 2))
    xy[u], xy[v] = start, end
    length = np.maximum(edges["length_m"].to_numpy(np.float64), 1e-9)
    matrix = coo_matrix((length, (u, v)), shape=(len(ids), len(ids)))
    return _Graph(matrix, xy, cKDTree(xy))


# -- scores ----------------------------------------------------------------------------------


def domain_scores(
    table: pd.DataFrame,
    spec: Mapping[str, Mapping[str, float]],
    method: Literal["minmax", "rank"] = "minmax",
) -> pd.DataFrame:
    """A 0-100 score per domain: the weighted mean of normalised indicators.

    Parameters
    ----------
    table
        One row per village.
    spec
        Domain -> {column: weight}; a negative weight means lower is better.
        Columns missing from ``table`` are an error.
    method
        ``"minmax"`` scales each indicator to 0-1 between its min and max (a
        constant indicator scores 0.5); ``"rank"`` uses the percentile rank.

    Returns
    -------
    ``score_<domain>`` columns and ``score_total`` (the mean of the domains).
    A village missing an indicator is scored on the others of its domain.
    """
    if method not in ("minmax", "rank"):
        raise ParameterError(f"score method must be 'minmax' or 'rank', got {method!r}")
    out = pd.DataFrame(index=table.index)
    for domain, weights in spec.items():
        missing = [c for c in weights if c not in table.columns]
        if missing:
            raise ParameterError(f"scores.{domain}: no indicator column {missing[0]!r}")
        if not weights:
            continue
        total = np.zeros(len(table))
        wsum = np.zeros(len(table))
        for col, weight in weights.items():
            x = pd.to_numeric(table[col], errors="coerce").astype(float)
            norm = _normalise(x, method)
            if weight < 0:
                norm = 1.0 - norm
            ok = norm.notna().to_numpy()
            total[ok] += abs(weight) * norm.to_numpy()[ok]
            wsum[ok] += abs(weight)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[f"score_{domain}"] = np.round(100 * total / wsum, 2)
    domains = list(out.columns)
    out["score_total"] = out[domains].mean(axis=1).round(2) if domains else np.nan
    return out


def _normalise(x: pd.Series, method: str) -> pd.Series:
    if method == "rank":
        n = x.notna().sum()
        if n <= 1:
            return x.where(x.isna(), 0.5)
        return (x.rank(method="average") - 1) / (n - 1)
    lo, hi = x.min(), x.max()
    if not np.isfinite(lo) or hi == lo:
        return x.where(x.isna(), 0.5)
    return (x - lo) / (hi - lo)


def lagging(scores: pd.DataFrame, threshold: float) -> pd.Series:
    """For each village, the domains scoring below ``threshold``, comma-separated."""
    cols = [c for c in scores.columns if c.startswith("score_") and c != "score_total"]
    below = scores[cols].lt(threshold)
    names = np.array([c.removeprefix("score_") for c in cols])
    return below.apply(lambda row: ",".join(names[row.to_numpy()]), axis=1)
