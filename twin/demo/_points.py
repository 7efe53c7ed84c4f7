"""Points and tables of the demo county: 5G cells, enterprises, facilities, indicators.

Positions are drawn in the working CRS (metres) and kept inside the county
and off the lakes; the tables carry WGS84 lon/lat like real registers do.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import shapely
from shapely.geometry import Polygon

from twin.demo._names import HOMESTAY_WORDS, INDUSTRY_WORDS, TOWNSHIPS, syllable_names
from twin.demo._roads import Way
from twin.demo._shapes import TO_LONLAT, Boundaries

N_TOWN_SITES = 150
N_RURAL_SITES = 100
N_ENTERPRISES = 14_000
# (share, sampler) of enterprises; the shares add up to one.
ENTERPRISE_MIX = {"town": 0.55, "road": 0.25, "village": 0.14, "homestay": 0.06}
INDUSTRY_MIX = {
    "town": {
        "manufacturing": 0.30,
        "retail": 0.22,
        "services": 0.25,
        "tech": 0.08,
        "logistics": 0.07,
        "agriculture": 0.03,
        "tourism": 0.05,
    },
    "road": {
        "manufacturing": 0.45,
        "logistics": 0.20,
        "retail": 0.10,
        "services": 0.10,
        "agriculture": 0.10,
        "tech": 0.05,
    },
    "village": {
        "agriculture": 0.45,
        "manufacturing": 0.25,
        "retail": 0.15,
        "services": 0.10,
        "tourism": 0.05,
    },
}
# Median revenue (10k CNY) and employees by industry; both are log-normal.
REVENUE = {
    "manufacturing": 900.0,
    "agriculture": 120.0,
    "tourism": 150.0,
    "retail": 200.0,
    "services": 180.0,
    "logistics": 400.0,
    "tech": 600.0,
}
EMPLOYEES = {
    "manufacturing": 45.0,
    "agriculture": 8.0,
    "tourism": 6.0,
    "retail": 5.0,
    "services": 8.0,
    "logistics": 15.0,
    "tech": 20.0,
}


class Land:
    """Where points may go: inside the county, off the lakes."""

    def __init__(self, county: Polygon, lakes: shapely.Geometry | None) -> None:
        self.county = county
        self.lakes = lakes
        shapely.prepare(county)
        if lakes is not None:
            shapely.prepare(lakes)

    def ok(self, xy: np.ndarray) -> np.ndarray:
        inside = shapely.contains_xy(self.county, xy[:, 0], xy[:, 1])
        if self.lakes is not None:
            inside &= ~shapely.intersects_xy(self.lakes, xy[:, 0], xy[:, 1])
        return inside

    def hilly(self, xy: np.ndarray) -> np.ndarray:
        x0, _, x1, _ = self.county.bounds
        return (xy[:, 0] - x0) / (x1 - x0) < 0.35


def _lonlat(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lon, lat = TO_LONLAT.transform(xy[:, 0], xy[:, 1])
    return np.round(lon, 6), np.round(lat, 6)


def _draw(
    rng: np.random.Generator, land: Land, n: int, sampler: Callable[[int], np.ndarray]
) -> np.ndarray:
    """``n`` points from ``sampler`` that fall on land (rejection sampling)."""
    out: list[np.ndarray] = []
    have = 0
    for _ in range(100):
        xy = sampler(max(2 * (n - have), 16))
        xy = xy[land.ok(xy)]
        out.append(xy)
        have += len(xy)
        if have >= n:
            break
    return np.vstack(out)[:n]


def _spread(
    rng: np.random.Generator,
    land: Land,
    n: int,
    centre: np.ndarray,
    radius: float,
    spacing: float,
    accept: Callable[[np.ndarray], bool] | None = None,
) -> np.ndarray:
    """Up to ``n`` points within ``radius`` of ``centre`` at least ``spacing`` apart."""
    pts: list[np.ndarray] = []
    for _ in range(60):
        r = radius * np.sqrt(rng.random(400))
        a = rng.uniform(0, 2 * np.pi, 400)
        cand = centre + np.column_stack([r * np.cos(a), r * np.sin(a)])
        cand = cand[land.ok(cand)]
        for p in cand:
            if pts and np.min(np.hypot(*(np.array(pts) - p).T)) < spacing:
                continue
            if accept is not None and not accept(p):
                continue
            pts.append(p)
            if len(pts) == n:
                return np.array(pts)
        spacing *= 0.9
    return np.array(pts).reshape(-1, 2)


def cell_sites(rng: np.random.Generator, b: Boundaries, land: Land) -> pd.DataFrame:
    """3-sector macro sites: n78 (3.5 GHz, UMa) in towns, n28 (700 MHz, RMa) elsewhere."""
    area = np.array([t.radius_km**2 for t in TOWNSHIPS])
    alloc = np.maximum(3, np.round(N_TOWN_SITES * area / area.sum())).astype(int)
    alloc[0] += N_TOWN_SITES - alloc.sum()
    towns = []
    for t, town in enumerate(TOWNSHIPS):
        r = town.radius_km * 1000 * 1.1
        towns.append(
            _spread(
                rng, land, int(alloc[t]), b.seats[t], r, 0.8 * np.sqrt(np.pi * r * r / alloc[t])
            )
        )
    town_xy = np.vstack(towns)
    radii = np.array([t.radius_km * 1000 + 400 for t in TOWNSHIPS])

    def rural_ok(p: np.ndarray) -> bool:
        if np.any(np.hypot(*(b.seats - p).T) < radii):
            return False
        # Hills carry fewer sites (ridge-top ones), but some.
        return not land.hilly(p[None, :])[0] or rng.random() < 0.55

    cx, cy = np.asarray(b.county.centroid.coords[0])
    rural_xy = _spread(rng, land, N_RURAL_SITES, np.array([cx, cy]), 40_000, 2300, rural_ok)
    xy = np.vstack([town_xy, rural_xy])
    is_town = np.r_[np.ones(len(town_xy), bool), np.zeros(len(rural_xy), bool)]
    lon, lat = _lonlat(xy)
    rows = []
    for s in range(len(xy)):
        urban = bool(is_town[s])
        height = rng.uniform(25, 35) if urban else rng.uniform(30, 45)
        base = rng.uniform(0, 120)
        for k in range(3):
            rows.append(
                {
                    "site_id": f"DQ5G{s + 1:04d}",
                    "cell_id": f"DQ5G{s + 1:04d}-{k + 1}",
                    "lon": lon[s],
                    "lat": lat[s],
                    "height_m": round(height, 1),
                    "azimuth_deg": round(float((base + 120 * k + rng.uniform(-10, 10)) % 360), 1),
                    "downtilt_deg": round(rng.uniform(4, 10) if urban else rng.uniform(2, 6), 1),
                    "band": "n78" if urban else "n28",
                    "freq_mhz": 3500 if urban else 700,
                    "bandwidth_mhz": 100 if urban else 20,
                    "tx_power_dbm": 53.0 if urban else 49.0,
                    "scenario": "UMa" if urban else "RMa",
                }
            )
    return pd.DataFrame(rows)


def _pick(rng: np.random.Generator, mix: dict[str, float], n: int) -> np.ndarray:
    keys = list(mix)
    p = np.array([mix[k] for k in keys])
    return np.array(keys, dtype=object)[rng.choice(len(keys), size=n, p=p / p.sum())]


def enterprises(
    rng: np.random.Generator, b: Boundaries, land: Land, majors: list[Way]
) -> pd.DataFrame:
    """Enterprises clustered in towns and along main roads; homestays in the western hills."""
    counts = {k: round(v * N_ENTERPRISES) for k, v in ENTERPRISE_MIX.items()}
    counts["town"] += N_ENTERPRISES - sum(counts.values())
    tw = np.array([t.weight * t.radius_km for t in TOWNSHIPS])
    radius = np.array([t.radius_km * 1000 for t in TOWNSHIPS])

    def town_sampler(m: int) -> np.ndarray:
        t = rng.choice(len(TOWNSHIPS), size=m, p=tw / tw.sum())
        return b.seats[t] + rng.normal(0, 1, (m, 2)) * radius[t, None] * 0.5

    lines = [w.line for w in majors]
    lengths = np.array([ln.length for ln in lines])

    def road_sampler(m: int) -> np.ndarray:
        k = rng.choice(len(lines), size=m, p=lengths / lengths.sum())
        pts = shapely.line_interpolate_point(
            np.array(lines, dtype=object)[k], rng.random(m), normalized=True
        )
        return shapely.get_coordinates(pts) + rng.normal(0, 150, (m, 2))

    def village_sampler(m: int) -> np.ndarray:
        v = rng.integers(0, len(b.village_points), size=m)
        return b.village_points[v] + rng.normal(0, 400, (m, 2))

    hills = np.flatnonzero(land.hilly(b.village_points))

    def homestay_sampler(m: int) -> np.ndarray:
        v = rng.choice(hills, size=m)
        return b.village_points[v] + rng.normal(0, 700, (m, 2))

    samplers = {
        "town": town_sampler,
        "road": road_sampler,
        "village": village_sampler,
        "homestay": homestay_sampler,
    }
    xy_parts, industry, subtype = [], [], []
    for kind, n in counts.items():
        xy_parts.append(_draw(rng, land, n, samplers[kind]))
        if kind == "homestay":
            industry.append(np.full(n, "tourism", dtype=object))
            subtype.append(np.full(n, "homestay", dtype=object))
        else:
            industry.append(_pick(rng, INDUSTRY_MIX[kind], n))
            subtype.append(np.full(n, "", dtype=object))
    xy = np.vstack(xy_parts)
    ind = np.concatenate(industry)
    sub = np.concatenate(subtype)
    order = rng.permutation(len(xy))
    xy, ind, sub = xy[order], ind[order], sub[order]
    n = len(xy)
    brands = [h for h, _ in syllable_names(rng, 1200)]
    brand_idx = rng.integers(0, len(brands), size=n)
    word_idx = rng.integers(0, 64, size=n)
    names = []
    for i in range(n):
        brand = brands[brand_idx[i]]
        if sub[i] == "homestay":
            names.append(f"{brand}{HOMESTAY_WORDS[word_idx[i] % len(HOMESTAY_WORDS)]}")
        else:
            words = INDUSTRY_WORDS[ind[i]]
            names.append(f"德清{brand}{words[word_idx[i] % len(words)]}有限公司")
    rev_med = np.array([REVENUE[k] for k in ind])
    emp_med = np.array([EMPLOYEES[k] for k in ind])
    homestay = sub == "homestay"
    revenue = np.round(rev_med * rng.lognormal(0, 0.9, n) * np.where(homestay, 0.4, 1.0), 1)
    employees = np.maximum(
        1, np.round(emp_med * rng.lognormal(0, 0.8, n) * np.where(homestay, 0.6, 1.0))
    ).astype(int)
    lon, lat = _lonlat(xy)
    return pd.DataFrame(
        {
            "enterprise_id": [f"E{i + 1:06d}" for i in range(n)],
            "name": names,
            "industry": ind.astype(str),
            "subtype": sub.astype(str),
            "lon": lon,
            "lat": lat,
            "revenue_10k_cny": revenue,
            "employees": employees,
        }
    )


def facilities(
    rng: np.random.Generator, b: Boundaries, land: Land, village_names: list[str], majors: list[Way]
) -> pd.DataFrame:
    """Clinics, schools, elderly care and bus stops, named after their township or village."""
    rows: list[tuple[str, str, np.ndarray]] = []

    def near(p: np.ndarray, sd: float) -> np.ndarray:
        for _ in range(50):
            q = p + rng.normal(0, sd, 2)
            if land.ok(q[None, :])[0]:
                return q
        return p

    for t, town in enumerate(TOWNSHIPS):
        seat = b.seats[t]
        short = town.name.removesuffix("街道").removesuffix("镇")
        health = "社区卫生服务中心" if town.kind == "subdistrict" else "卫生院"
        rows.append(("clinic", f"{town.name}{health}", near(seat, 200)))
        rows.append(("elderly_care", f"{short}敬老院", near(seat, 600)))
        schools = ["中心幼儿园", "中心小学", "初级中学"] + (
            ["实验小学", "高级中学"] if t == 0 else []
        )
        for s in schools:
            rows.append(("school", f"{short}{s}", near(seat, 500)))
    for i, p in enumerate(b.village_points):
        name = village_names[i]
        if rng.random() < 0.6:
            rows.append(("clinic", f"{name}卫生室", near(p, 80)))
        if rng.random() < 0.7:
            rows.append(("elderly_care", f"{name}居家养老服务照料中心", near(p, 80)))
        if rng.random() < 0.08:
            rows.append(("school", f"{name}小学", near(p, 150)))
        rows.append(("bus_stop", f"{name}站", p + rng.normal(0, 8, 2)))
    # Stops every ~1.5 km along the main roads, named by number along the route.
    for way in majors:
        line = way.line
        label = way.tags.get("name", way.tags.get("ref", "公路"))
        for k, d in enumerate(np.arange(750.0, line.length, 1500.0)):
            q = np.asarray(line.interpolate(d + rng.uniform(-100, 100)).coords[0])
            rows.append(("bus_stop", f"{label}{k + 1}号站", q + rng.normal(0, 8, 2)))
    xy = np.array([r[2] for r in rows])
    keep = land.ok(xy)
    lon, lat = _lonlat(xy[keep])
    kept = [r for r, k in zip(rows, keep, strict=True) if k]
    return pd.DataFrame(
        {
            "facility_id": [f"F{i + 1:05d}" for i in range(len(kept))],
            "name": [r[1] for r in kept],
            "type": [r[0] for r in kept],
            "lon": lon,
            "lat": lat,
        }
    )


def village_indicators(
    rng: np.random.Generator, b: Boundaries, land: Land, codes: list[str], homestay_xy: np.ndarray
) -> pd.DataFrame:
    """One row per village; ``homestays`` counts the homestay enterprises inside it."""
    n = len(codes)
    hilly = land.hilly(b.village_points)
    pop = np.clip(np.where(hilly, 1500, 3000) * rng.lognormal(0, 0.35, n), 600, 9000).astype(int)
    households = np.round(pop / rng.uniform(2.6, 3.3, n)).astype(int)
    income = np.round(np.where(hilly, 180, 320) * rng.lognormal(0, 0.6, n), 1)
    tree = shapely.STRtree(shapely.points(homestay_xy))
    homestays = np.array([len(tree.query(v, predicate="contains")) for v in b.villages])
    reported = rng.poisson(pop / 100)
    resolved = rng.binomial(reported, rng.uniform(0.85, 0.99, n))
    inspections = rng.poisson(12 + pop / 400)
    sensors = rng.poisson(np.where(hilly, 6, 22))
    fibre = np.round(np.clip(0.97 - 0.1 * hilly + rng.normal(0, 0.02, n), 0.0, 1.0), 3)
    return pd.DataFrame(
        {
            "village_code": codes,
            "population": pop,
            "households": households,
            "collective_income_10k_cny": income,
            "homestays": homestays,
            "reported_issues": reported,
            "resolved_issues": resolved,
            "inspections": inspections,
            "sensors": sensors,
            "fibre_coverage": fibre,
        }
    )
