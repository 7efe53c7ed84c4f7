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

from layers._villages_join import JoinReport, check_boundaries, join_tables
from layers._villages_reach import service_distances
from layers.errors import ParameterError, ValidationError
from layers.geodesy import geodesic_area
from layers.labels import has_chinese, pinyin

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
    A village missing an indicator is scored on the others of its domain. A
    domain with no indicator holding a value gets no column, and with no
    domain to score there is no ``score_total`` either: absent, not NaN.
    """
    if method not in ("minmax", "rank"):
        raise ParameterError(f"score method must be 'minmax' or 'rank', got {method!r}")
    out = pd.DataFrame(index=table.index)
    for domain, weights in spec.items():
        missing = [c for c in weights if c not in table.columns]
        if missing:
            raise ParameterError(f"scores.{domain}: no indicator column {missing[0]!r}")
        values = {c: pd.to_numeric(table[c], errors="coerce").astype(float) for c in weights}
        values = {c: x for c, x in values.items() if x.notna().any()}
        if not values:
            continue
        total = np.zeros(len(table))
        wsum = np.zeros(len(table))
        for col, x in values.items():
            weight = weights[col]
            norm = _normalise(x, method)
            if weight < 0:
                norm = 1.0 - norm
            ok = norm.notna().to_numpy()
            total[ok] += abs(weight) * norm.to_numpy()[ok]
            wsum[ok] += abs(weight)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[f"score_{domain}"] = np.round(100 * total / wsum, 2)
    domains = list(out.columns)
    if domains:
        out["score_total"] = out[domains].mean(axis=1).round(2)
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
    below = scores[cols].lt(threshold).to_numpy()
    names = [c.removeprefix("score_") for c in cols]
    return pd.Series(
        [",".join(n for n, low in zip(names, row, strict=True) if low) for row in below],
        index=scores.index,
        dtype=object,
    )


# -- the whole layer -------------------------------------------------------------------------

#: Road classes that count towards smart-road km (roads a connected vehicle drives on).
SMART_ROAD_CLASSES = ("motorway", "trunk", "primary", "secondary", "tertiary")


@dataclass
class PointLayer:
    """A point layer to aggregate per village.

    Parameters
    ----------
    name
        Column stem: counts land in ``<domain prefix>_<name>``.
    points
        The points (any CRS).
    domain
        Which domain the counts belong to (business, services ...).
    category
        Count per value of this column too (industry, facility type).
    sums
        Numeric columns summed per village (revenue, employees).
    reach
        Category values to measure the distance to, from each village centre
        (``svc_<value>_dist_m``): clinic, school, elderly_care, bus_stop.
    """

    name: str
    points: gpd.GeoDataFrame
    domain: str = "business"
    category: str | None = None
    sums: Sequence[str] = ()
    reach: Sequence[str] = ()


@dataclass
class VillagesResult:
    """The villages layer, its join report and the county's figures from it."""

    villages: gpd.GeoDataFrame
    report: JoinReport
    figures: dict[str, float | int | str]
    units: dict[str, str]
    warnings: list[str] = field(default_factory=list)
    #: the domains some indicator of which holds a value, in :data:`DOMAINS` order
    domains: list[str] = field(default_factory=list)
    #: the scores computed: domain -> {column: weight} (the defaults, less what is missing)
    score_spec: dict[str, Mapping[str, float]] = field(default_factory=dict)
    #: with periods: every indicator per village per period (:mod:`layers.villages_periods`)
    periods: pd.DataFrame | None = None


def build_villages(
    boundaries: gpd.GeoDataFrame,
    code: str,
    tables: Mapping[str, pd.DataFrame] | None = None,
    points: Sequence[PointLayer] = (),
    edges: gpd.GeoDataFrame | None = None,
    coverage: Any = None,
    threshold_dbm: float = -105.0,
    sinr: Any = None,
    sinr_threshold_db: float = -3.0,
    region: shapely.Geometry | None = None,
    table_domains: Mapping[str, str] | None = None,
    scores: Mapping[str, Mapping[str, float]] | None = None,
    score_method: Literal["minmax", "rank"] = "rank",
    lag_threshold: float = 40.0,
    name: str | None = "name",
) -> VillagesResult:
    """Every village's indicators in the domains its inputs cover, scores and lagging flags.

    Boundaries alone make a layer (codes, names, areas). Each input adds the
    indicators it can: a domain no input covers is absent, never a column of
    NaN, and scores cover the domains and indicators present
    (:attr:`VillagesResult.domains` lists them).

    Parameters
    ----------
    boundaries
        Village polygons in a metric CRS with a ``code`` column.
    tables
        Indicator tables keyed by ``code``: name -> DataFrame.
    points
        Point layers to count, sum and measure the reach of.
    edges
        A roads layer (``u``, ``v``, ``length_m``, ``road_class``) for road
        figures and network distances.
    coverage
        A best-server RSRP raster (:class:`~layers.types.RasterData`, dBm).
    threshold_dbm
        RSRP at or above which a pixel or a road is covered.
    sinr, sinr_threshold_db
        A SINR raster on the coverage grid (dB) and the SINR a covered pixel
        also needs, so that village shares use the coverage layer's definition.
    region
        The county polygon, to find gaps between villages.
    table_domains
        Table column -> domain, for columns :data:`TABLE_COLUMNS` does not know.
    scores
        Domain -> {column: weight} (default :data:`DEFAULT_SCORES`, with the
        indicators that could not be computed left out).
    score_method, lag_threshold
        How indicators are normalised, and the score below which a domain lags.
    name
        The village name column of ``boundaries``; where a name is missing the
        figures show the village's code.
    """
    from layers.coverage.zones import coverage_share
    from layers.roads import edge_coverage, zone_figures

    if boundaries.crs is None or not boundaries.crs.is_projected:
        raise ValidationError("village boundaries: need a projected (metric) CRS")
    report = JoinReport()
    warnings: list[str] = []
    units: dict[str, str] = {"area_km2": "km²"}
    villages = check_boundaries(boundaries, code, report, region=region)
    out = villages.copy()
    out["area_km2"] = geodesic_area(out.geometry.values, out.crs) / 1e6  # on the ellipsoid
    if name is not None and name in out.columns:
        _add_pinyin(out, name)

    joined = join_tables(out[code], tables or {}, code, report)
    from_tables = table_indicators(joined, table_domains, units, warnings)
    for col in from_tables.columns:
        out[col] = from_tables[col].to_numpy()

    centres = out.geometry.representative_point()
    for layer in points:
        prefix = PREFIX[_domain(layer.domain)]
        agg = aggregate_points(
            villages, layer.points, layer.name, layer.category, layer.sums, report
        )
        for col in agg.columns:
            out[f"{prefix}_{col}"] = agg[col].to_numpy()
        if layer.reach:
            if layer.category is None:
                raise ParameterError(f"{layer.name}: 'reach' needs a 'category' column")
            dist = service_distances(centres, layer.points, layer.category, layer.reach, edges)
            for kind in layer.reach:
                col = f"svc_{_slug(kind)}_dist_m"
                out[col] = dist[f"{kind}_dist_m"].to_numpy()
                units[col] = "m"
                straight = int((dist[f"{kind}_method"] == "straight").sum())
                if edges is not None and straight:
                    warnings.append(f"{kind}: {straight} village(s) measured in a straight line")

    rates = derived_indicators(out, units)
    for col in rates.columns:
        out[col] = rates[col].to_numpy()

    if coverage is not None:
        share = coverage_share(
            coverage,
            out[[code, "geometry"]],
            threshold_dbm,
            sinr=sinr,
            sinr_threshold_db=sinr_threshold_db,
            id_column=code,
        )
        out["inf_5g_share"] = share["share"].to_numpy()
        units["inf_5g_share"] = "share 0-1"
    if edges is not None and len(edges):
        roads = zone_figures(edges, out[[code, "geometry"]], zone_id=code)
        out["inf_road_km"] = roads["road_km"].to_numpy()
        for col in (c for c in roads.columns if c.startswith("km_")):
            out[f"inf_road_{col}"] = roads[col].to_numpy()
        out["inf_road_density_km_per_km2"] = roads["density_km_per_km2"].to_numpy()
        units.update(inf_road_km="km", inf_road_density_km_per_km2="km/km²")
        if coverage is not None:
            major = edges[edges["road_class"].isin(SMART_ROAD_CLASSES)]
            if len(major):
                cov = edge_coverage(major, coverage, threshold=threshold_dbm)
                smart = zone_figures(
                    major.assign(covered_m=cov["covered_m"].to_numpy()),
                    out[[code, "geometry"]],
                    zone_id=code,
                )
                out["inf_smart_road_km"] = smart["covered_km"].to_numpy()
            else:
                out["inf_smart_road_km"] = 0.0
            units["inf_smart_road_km"] = "km"

    for col in [c for c in out.columns if _is_indicator(c) and out[c].isna().all()]:
        warnings.append(f"{col}: no village has a value; left out")
        out = out.drop(columns=col)
        units.pop(col, None)

    spec = scores
    if spec is None:
        spec = {
            d: {c: w for c, w in cols.items() if c in out.columns}
            for d, cols in DEFAULT_SCORES.items()
        }
        unscored = [d for d, cols in spec.items() if not cols]
        if unscored:
            warnings.append(f"no indicator to score domain(s) {', '.join(unscored)}")
        skipped = [
            c for d, cols in DEFAULT_SCORES.items() if spec[d] for c in cols if c not in out.columns
        ]
        if skipped:
            warnings.append(f"scores leave out indicators not available: {', '.join(skipped)}")
    scored = domain_scores(out, spec, method=score_method)
    for col in scored.columns:
        out[col] = scored[col].to_numpy()
    if len(scored.columns):
        out["lagging"] = lagging(scored, lag_threshold).to_numpy()
    _check_output(out, code)
    present = [d for d in DOMAINS if any(c.startswith(PREFIX[d] + "_") for c in out.columns)]
    figures = _figures(out, code, name)
    return VillagesResult(out, report, figures, units, warnings, present, dict(spec))


def table_indicators(
    joined: pd.DataFrame,
    table_domains: Mapping[str, str] | None,
    units: dict[str, str],
    warnings: list[str],
) -> pd.DataFrame:
    """The joined table columns as indicators: prefixed by their domain (``gov_population``).

    A column with no known domain keeps its name (and a warning says so);
    ``units`` gets the units of the columns :data:`TABLE_COLUMNS` knows.
    """
    domains = {**{k: d for k, (d, _) in TABLE_COLUMNS.items()}, **(table_domains or {})}
    names = {}
    for col in joined.columns:
        domain = domains.get(col)
        if domain is None:
            message = f"indicator {col!r} has no domain; kept as it is"
            if message not in warnings:
                warnings.append(message)
            names[col] = col
            continue
        names[col] = f"{PREFIX[_domain(domain)]}_{col}"
        if col in TABLE_COLUMNS:
            units[names[col]] = TABLE_COLUMNS[col][1]
    out = joined.rename(columns=names)
    return out.loc[:, ~out.columns.duplicated(keep="last")]  # as if assigned in turn


def derived_indicators(table: pd.DataFrame, units: dict[str, str]) -> pd.DataFrame:
    """Rates made from other indicators: issue resolution rate, issues per 1000 people."""
    out = pd.DataFrame(index=table.index)
    if "gov_reported_issues" in table and "gov_resolved_issues" in table:
        reported = pd.to_numeric(table["gov_reported_issues"], errors="coerce").astype(float)
        resolved = pd.to_numeric(table["gov_resolved_issues"], errors="coerce").astype(float)
        out["gov_resolution_rate"] = np.where(
            reported > 0, resolved / reported.where(reported > 0), np.nan
        )
        units["gov_resolution_rate"] = "share 0-1"
        if "gov_population" in table:
            pop = pd.to_numeric(table["gov_population"], errors="coerce").astype(float)
            out["gov_issues_per_1000"] = np.where(
                pop > 0, 1000 * reported / pop.where(pop > 0), np.nan
            )
            units["gov_issues_per_1000"] = "per 1000 people"
    return out


def _add_pinyin(out: gpd.GeoDataFrame, name: str) -> None:
    """``pinyin`` and ``pinyin_initials`` of Chinese village names, to search by.

    A ``pinyin`` column the boundaries bring (a romanised name) is theirs and kept.
    """
    names = out[name]
    chinese = names.map(has_chinese)
    if not chinese.any():
        return
    pairs = [pinyin(n) if c else ("", "") for n, c in zip(names, chinese, strict=True)]
    if "pinyin" not in out.columns:
        out["pinyin"] = [p for p, _ in pairs]
    out["pinyin_initials"] = [i for _, i in pairs]


def _is_indicator(column: str) -> bool:
    """Whether ``column`` is one of the domains' indicators (``biz_`` ... ``inf_``)."""
    return any(column.startswith(p + "_") for p in PREFIX.values())


def display_names(villages: pd.DataFrame, code: str, name: str | None = "name") -> pd.Series:
    """Each village's name, or its code where the name is missing or blank."""
    codes = villages[code].astype(str)
    if name is None or name not in villages.columns:
        return codes
    names = villages[name]
    blank = names.isna() | names.astype(str).str.strip().eq("")
    return names.astype(object).where(~blank, codes).astype(str)


def _domain(name: str) -> str:
    if name not in PREFIX:
        raise ParameterError(f"unknown domain {name!r}; expected one of {', '.join(DOMAINS)}")
    return name


def _check_output(out: gpd.GeoDataFrame, code: str) -> None:
    if out[code].duplicated().any():
        raise ValidationError("villages: duplicate codes in the output")
    for col in ("inf_5g_share", "gov_resolution_rate", "inf_fibre_coverage"):
        if col in out:
            values = out[col].dropna()
            if ((values < 0) | (values > 1)).any():
                bad = out.loc[values.index[(values < 0) | (values > 1)][0], code]
                raise ValidationError(f"villages: {col} outside 0-1 for village {bad}")


def _figures(out: gpd.GeoDataFrame, code: str, name: str | None) -> dict[str, float | int | str]:
    """The county's key figures that come from the villages."""
    fig: dict[str, float | int | str] = {"villages": len(out)}
    area = out["area_km2"]
    if "gov_population" in out:
        fig["population"] = int(out["gov_population"].fillna(0).sum())
    if "biz_enterprises" in out:
        fig["enterprises"] = int(out["biz_enterprises"].sum())
    if "inf_5g_share" in out:
        ok = out["inf_5g_share"].notna()
        fig["coverage_share_pct"] = round(
            100 * float((out.loc[ok, "inf_5g_share"] * area[ok]).sum() / area[ok].sum()), 2
        )
    if "inf_smart_road_km" in out:
        fig["smart_road_km"] = round(float(out["inf_smart_road_km"].sum()), 2)
    if "svc_clinic_dist_m" in out:
        fig["clinic_within_3km_pct"] = round(
            100 * float((out["svc_clinic_dist_m"] <= 3000).mean()), 1
        )
    if "score_total" in out:
        lowest = out.nsmallest(3, "score_total")
        fig["lowest_scoring"] = ", ".join(display_names(lowest, code, name))
    return fig


__all__ = [
    "DEFAULT_SCORES",
    "DOMAINS",
    "PREFIX",
    "JoinReport",
    "PointLayer",
    "VillagesResult",
    "aggregate_points",
    "assign_points",
    "build_villages",
    "check_boundaries",
    "derived_indicators",
    "display_names",
    "domain_scores",
    "join_tables",
    "lagging",
    "service_distances",
    "table_indicators",
]
