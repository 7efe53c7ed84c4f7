"""Joining a county's village sources: boundaries, indicator tables, codes.

Problems are collected in a :class:`JoinReport` with the codes and areas
involved, never silently dropped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers.errors import ValidationError


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
