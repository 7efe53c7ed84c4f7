"""Indicators over time: the villages layer built from tables that hold several periods.

A county reports its village indicators monthly (or quarterly, yearly). With
a period kind declared, each indicator table carries a period column
(``period``, ``期间``, ``月份`` ...) whose values are periods of that kind, or
comes as one file per period named by it (``indicators_2026-10.csv``, see
:func:`stack_by_name`). Then:

- the layer holds the latest period's values, as a layer without periods
  holds its table's (a ``period`` column says which period that is);
- :func:`period_table` gives every period indicator of every village in every
  period, with the domain scores and lagging flags computed per period exactly
  as the layer's are (same weights, same normalisation, same threshold), the
  change since the previous period and the rank within the period.

Indicators from points, roads and coverage have no periods: in earlier
periods they are held at their current values, so a change of score comes
from the tables' indicators only. Nothing is filled in: a village with no row
in a period has no rows in that period, a change across a missing period is
empty, and :func:`period_gaps` reports both with counts.

Periods are written ``2026-10`` (month), ``2026Q3`` (quarter) and ``2026``
(year), which sort as text in time order.

Examples
--------
>>> parse_period("2026年3月", "month"), parse_period("2026-q3", "quarter")
('2026-03', '2026Q3')
>>> parse_period("2026-13", "month") is None
True
>>> next_period("2026-12", "month"), next_period("2026Q4", "quarter")
('2027-01', '2027Q1')
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from layers._villages_join import JoinReport, join_tables
from layers.errors import ValidationError
from layers.villages import (
    VillagesResult,
    build_villages,
    derived_indicators,
    display_names,
    domain_scores,
    lagging,
    table_indicators,
)

PeriodKind = Literal["month", "quarter", "year"]
PERIOD_KINDS: tuple[PeriodKind, ...] = ("month", "quarter", "year")
#: How each kind is written, for error messages.
EXAMPLES = {"month": "2026-10", "quarter": "2026Q3", "year": "2026"}
#: Column names taken as the period column when ``period_column`` is not given.
PERIOD_COLUMNS = (
    "period",
    "期间",
    "统计期",
    "报告期",
    "月份",
    "年月",
    "季度",
    "年度",
    "年份",
    "month",
    "quarter",
    "year",
)
#: The columns of :func:`period_table`, in order.
COLUMNS = ("code", "name", "period", "indicator", "value", "change", "rank", "lagging")

_MONTH = re.compile(r"(\d{4})\s*(?:[-/.]\s*(\d{1,2})|年\s*(\d{1,2})\s*月|(\d{2}))")
_QUARTER = re.compile(r"(\d{4})\s*(?:[-\s]?[Qq]\s*([1-4])|年\s*(?:第\s*)?([1-4一二三四])\s*季度?)")
_YEAR = re.compile(r"(\d{4})(?:\s*年度?)?")
_CN_DIGITS = {"一": "1", "二": "2", "三": "3", "四": "4"}


def parse_period(value: Any, kind: PeriodKind) -> str | None:
    """``value`` as a period of ``kind`` written the one way (``2026-03``), or None.

    Months: ``2026-03``, ``2026-3``, ``2026/03``, ``2026.03``, ``202603``,
    ``2026年3月``, or a date on the first of the month at midnight (Excel).
    Quarters: ``2026Q3``, ``2026-Q3``, ``2026 q3``, ``2026年第3季度``, ``2026年三季度``.
    Years: ``2026``, ``2026年``, ``2026年度``. Years 1900-2100 only.
    """
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, dt.datetime | dt.date | pd.Timestamp):
        if kind != "month" or value.day != 1:
            return None
        if isinstance(value, dt.datetime) and value.time() != dt.time(0):
            return None
        return _written(value.year, value.month, kind)
    if isinstance(value, bool | np.bool_):
        return None
    if isinstance(value, float | np.floating):
        if not float(value).is_integer():
            return None
        value = int(value)
    text = str(value).strip()
    pattern = {"month": _MONTH, "quarter": _QUARTER, "year": _YEAR}[kind]
    m = pattern.fullmatch(text)
    if m is None:
        return None
    year = int(m.group(1))
    sub = 0
    if kind != "year":
        part = next(g for g in m.groups()[1:] if g is not None)
        sub = int(_CN_DIGITS.get(part, part))
        if kind == "month" and not 1 <= sub <= 12:
            return None
    if not 1900 <= year <= 2100:
        return None
    return _written(year, sub, kind)


def _written(year: int, sub: int, kind: PeriodKind) -> str:
    if kind == "month":
        return f"{year:04d}-{sub:02d}"
    if kind == "quarter":
        return f"{year:04d}Q{sub}"
    return f"{year:04d}"


def ordinal(period: str, kind: PeriodKind) -> int:
    """The period's place in time: consecutive periods differ by one."""
    year = int(period[:4])
    if kind == "month":
        return year * 12 + int(period[5:7]) - 1
    if kind == "quarter":
        return year * 4 + int(period[5]) - 1
    return year


def from_ordinal(number: int, kind: PeriodKind) -> str:
    """The period at ``number`` (the inverse of :func:`ordinal`)."""
    if kind == "month":
        return _written(number // 12, number % 12 + 1, kind)
    if kind == "quarter":
        return _written(number // 4, number % 4 + 1, kind)
    return _written(number, 0, kind)


def next_period(period: str, kind: PeriodKind) -> str:
    """The period after ``period``."""
    return from_ordinal(ordinal(period, kind) + 1, kind)


def start_date(period: str, kind: PeriodKind) -> pd.Timestamp:
    """The first day of ``period`` (to plot periods on a time axis)."""
    n = ordinal(period, kind)
    if kind == "month":
        return pd.Timestamp(n // 12, n % 12 + 1, 1)
    if kind == "quarter":
        return pd.Timestamp(n // 4, 3 * (n % 4) + 1, 1)
    return pd.Timestamp(n, 1, 1)


def parse_periods(values: pd.Series, kind: PeriodKind, table: str, column: str) -> pd.Series:
    """Every value of a table's period column as a period, or a one-line error.

    Raises
    ------
    ValidationError
        Naming the table, the column, how many rows are not a period of
        ``kind`` and the first such value.
    """
    parsed = values.map(lambda v: parse_period(v, kind))
    bad = parsed.isna()
    if bad.any():
        example = values[bad].iloc[0]
        raise ValidationError(
            f"{table}: column {column!r}: {int(bad.sum())} of {len(values)} row(s) are not a "
            f"{kind} (written like {EXAMPLES[kind]}), e.g. {example!r}"
        )
    return parsed.astype(str)


def find_period_column(table: pd.DataFrame, name: str, given: str | None) -> str:
    """The period column of table ``name``: ``given``, else the one :data:`PERIOD_COLUMNS` names."""
    if given is not None:
        if given not in table.columns:
            raise ValidationError(f"{name}: no period column {given!r} (period_column)")
        return given
    wanted = {c.lower() for c in PERIOD_COLUMNS}
    found = [c for c in table.columns if str(c).strip().lower() in wanted]
    if len(found) == 1:
        return str(found[0])
    if not found:
        raise ValidationError(
            f"{name}: no period column (looked for {', '.join(PERIOD_COLUMNS)}); "
            "name it with period_column"
        )
    raise ValidationError(
        f"{name}: several period columns ({', '.join(map(str, found))}); "
        "name one with period_column"
    )


def period_in_name(file_name: str, kind: PeriodKind) -> str | None:
    """The one period of ``kind`` a file name holds (``indicators_2026-10.csv``), or None."""
    stem = file_name.rsplit(".", 1)[0] if "." in file_name else file_name
    tokens = [t for t in re.split(r"[_\s]+", stem) if t]
    found = {p for t in tokens if (p := parse_period(t, kind)) is not None}
    if not found and kind == "month":
        found = {
            p for m in re.finditer(r"\d{4}年\d{1,2}月", stem) if (p := parse_period(m[0], kind))
        }
    return found.pop() if len(found) == 1 else None


def stack_by_name(
    files: Mapping[str, pd.DataFrame], kind: PeriodKind, table: str, column: str = "period"
) -> pd.DataFrame:
    """One table with a ``column`` of periods from tables that are one file per period.

    ``files`` maps each file's name to its rows; each name holds its period
    (``indicators_2026-10.csv``, ``2026年10月.xlsx``).
    """
    frames: list[pd.DataFrame] = []
    seen: dict[str, str] = {}
    for file_name, frame in files.items():
        period = period_in_name(file_name, kind)
        if period is None:
            raise ValidationError(
                f"{table}: file {file_name!r}: its name holds no single {kind} "
                f"(name each file by its period, e.g. {table}_{EXAMPLES[kind]}.csv)"
            )
        if period in seen:
            raise ValidationError(
                f"{table}: files {seen[period]!r} and {file_name!r} are both {period}"
            )
        if column in frame.columns:
            raise ValidationError(f"{table}: file {file_name!r} has a {column!r} column already")
        seen[period] = file_name
        frames.append(frame.assign(**{column: period}))
    return pd.concat(frames, ignore_index=True)


# -- splitting and gaps ----------------------------------------------------------------------


@dataclass
class Periods:
    """Indicator tables split by period, and what is missing."""

    kind: PeriodKind
    #: the periods with rows, in time order
    periods: list[str]
    #: period -> table name -> that period's rows (every table in every period, maybe empty)
    tables: dict[str, dict[str, pd.DataFrame]]
    #: periods between the first and the last that no table has a row for
    missing: list[str] = field(default_factory=list)

    @property
    def latest(self) -> str:
        return self.periods[-1]

    def previous(self, period: str) -> str | None:
        """The period before ``period`` when it has rows (None: first, or a missing period)."""
        before = from_ordinal(ordinal(period, self.kind) - 1, self.kind)
        return before if before in self.tables else None


def split_periods(
    tables: Mapping[str, pd.DataFrame], kind: PeriodKind, column: str | None = None
) -> Periods:
    """Split each table's rows by its period column (see :func:`find_period_column`)."""
    if kind not in PERIOD_KINDS:
        raise ValidationError(f"period must be one of {', '.join(PERIOD_KINDS)}, got {kind!r}")
    if not tables:
        raise ValidationError("period is set but there is no indicator table (params.tables)")
    split: dict[str, dict[str, pd.DataFrame]] = {}
    empty: dict[str, pd.DataFrame] = {}
    for name, table in tables.items():
        col = find_period_column(table, name, column)
        if table.empty:
            raise ValidationError(f"{name}: no rows, so no period")
        periods = parse_periods(table[col], kind, name, col)
        rows = table.drop(columns=col)
        empty[name] = rows.iloc[:0]
        for period, part in rows.groupby(periods.to_numpy(), sort=False):
            split.setdefault(str(period), {})[name] = part
    order = sorted(split, key=lambda p: ordinal(p, kind))
    for period in order:
        for name in tables:
            split[period].setdefault(name, empty[name])
    first, last = ordinal(order[0], kind), ordinal(order[-1], kind)
    have = {ordinal(p, kind) for p in order}
    missing = [from_ordinal(n, kind) for n in range(first, last + 1) if n not in have]
    return Periods(kind, order, {p: {n: split[p][n] for n in tables} for p in order}, missing)


def period_gaps(periods: Periods, codes: Iterable[str], code: str) -> list[str]:
    """One warning line per gap: missing periods, villages missing in periods, duplicates."""
    kind, out = periods.kind, []
    span = f"{periods.periods[0]}..{periods.latest}"
    if periods.missing:
        out.append(
            f"periods: {len(periods.missing)} {kind}(s) of {span} with no rows: "
            f"{_sample(periods.missing)}; changes across them are left empty"
        )
    known = set(map(str, codes))
    for name in next(iter(periods.tables.values())):
        gaps: list[tuple[str, str]] = []
        unknown: set[str] = set()
        dups: list[tuple[str, str]] = []
        for period in periods.periods:
            rows = periods.tables[period][name]
            have = rows[code].astype(str) if code in rows.columns else pd.Series(dtype=str)
            gaps += [(c, period) for c in sorted(known - set(have))]
            unknown |= set(have) - known
            dups += [(c, period) for c in sorted(set(have[have.duplicated()]))]
        if gaps:
            villages = len({c for c, _ in gaps})
            hit = len({p for _, p in gaps})
            out.append(
                f"{name}: {villages} village(s) with no row in {hit} of {len(periods.periods)} "
                f"{kind}s ({len(gaps)} village-{kind}s, not filled in): "
                + _sample([f"{c} in {p}" for c, p in gaps])
            )
        if unknown:
            out.append(
                f"{name}: {len(unknown)} code(s) in some {kind} with no village boundary: "
                + _sample(sorted(unknown))
            )
        if dups:
            out.append(
                f"{name}: {len(dups)} duplicate village code(s) within a {kind} "
                "(the first row kept): " + _sample([f"{c} in {p}" for c, p in dups])
            )
    return out


def period_stats(table: pd.DataFrame, kind: PeriodKind, villages: int) -> dict[str, int | str]:
    """What :func:`period_table`'s ``table`` covers, for a catalog's statistics.

    ``period_kind``, ``periods`` (comma-separated), ``period_count``,
    ``period_missing`` (periods between the first and the last with no rows)
    and ``period_gaps`` (village-periods with no values, of ``villages``
    villages in each period there is).
    """
    periods = sorted(set(table["period"]), key=lambda p: ordinal(p, kind))
    span = ordinal(periods[-1], kind) - ordinal(periods[0], kind) + 1 if periods else 0
    present = len(table[["code", "period"]].drop_duplicates())
    return {
        "period_kind": kind,
        "periods": ",".join(periods),
        "period_count": len(periods),
        "period_missing": span - len(periods),
        "period_gaps": villages * len(periods) - present,
    }


def _sample(items: list[str], n: int = 5) -> str:
    head = ", ".join(items[:n])
    return head + (f" (+{len(items) - n} more)" if len(items) > n else "")


# -- the long table --------------------------------------------------------------------------


def period_table(
    result: VillagesResult,
    periods: Periods,
    code: str,
    name: str | None = "name",
    table_domains: Mapping[str, str] | None = None,
    score_method: Literal["minmax", "rank"] = "rank",
    lag_threshold: float = 40.0,
) -> pd.DataFrame:
    """Every period indicator and score of every village in every period, as a long table.

    Columns (:data:`COLUMNS`): ``code``, ``name`` (the village's, or its code),
    ``period``, ``indicator`` (a column of the layer: ``gov_population``,
    ``score_total`` ...), ``value``, ``change`` (since the previous period;
    empty in the first period, after a missing one, or when the village had
    no row then), ``rank`` (1 is the best in the period: the highest score,
    the highest value, or the lowest for indicators the scores weigh
    negatively) and ``lagging`` (the village's lagging domains that period).
    Only values that exist make rows: a village with no row in a period has
    none there, and an indicator without a value is left out.
    """
    layer = result.villages
    codes = layer[code].astype(str)
    spec = result.score_spec
    units: dict[str, str] = {}
    frames = {}
    # the indicators the scores read, at their current values (points, roads, coverage)
    scored_columns = {c for weights in spec.values() for c in weights if c in layer.columns}
    held = pd.DataFrame({c: layer[c].to_numpy() for c in sorted(scored_columns)}, index=codes)
    for period in periods.periods:
        tables = periods.tables[period]
        joined = join_tables(codes, tables, code, JoinReport())
        from_tables = table_indicators(joined, table_domains, units, [])
        from_tables.index = codes
        frame = pd.concat(
            [held.drop(columns=from_tables.columns, errors="ignore"), from_tables], axis=1
        )
        rates = derived_indicators(frame, units)
        frame = pd.concat([frame.drop(columns=rates.columns, errors="ignore"), rates], axis=1)
        varying = [c for c in [*from_tables.columns, *rates.columns] if c in layer.columns]
        scored = domain_scores(frame, spec, method=score_method) if spec else pd.DataFrame()
        frame = pd.concat([frame[varying].apply(pd.to_numeric, errors="coerce"), scored], axis=1)
        present = {str(c) for t in tables.values() if code in t for c in t[code].astype(str)}
        keep = frame.index.isin(present)
        frame = frame[keep]
        lag = lagging(scored[keep], lag_threshold) if len(scored.columns) else ""
        frames[period] = frame.assign(lagging=lag)
    indicators = [c for c in next(iter(frames.values())).columns if c != "lagging"]
    numeric = [c for c in indicators if c.startswith("score_") or _is_number(layer[c])]
    wide = pd.concat(frames, names=["period", "code"]).reset_index()
    long = wide.melt(
        id_vars=["period", "code", "lagging"],
        value_vars=numeric,
        var_name="indicator",
        value_name="value",
    ).dropna(subset=["value"])
    names = pd.Series(display_names(layer, code, name).to_numpy(), index=codes.to_numpy())
    long["name"] = long["code"].map(names)
    long["value"] = long["value"].astype("float64")
    after = {p: next_period(p, periods.kind) for p in periods.periods}
    before = long.assign(period=long["period"].map(after))
    before = before[["code", "period", "indicator", "value"]].rename(columns={"value": "prev"})
    long = long.merge(before, on=["code", "period", "indicator"], how="left")
    long["change"] = long["value"] - long["prev"]
    lower_better = {c for weights in spec.values() for c, w in weights.items() if w < 0}
    ascending = long["indicator"].isin(lower_better)
    key = long["value"].where(ascending, -long["value"])
    long["rank"] = key.groupby([long["period"], long["indicator"]]).rank(method="min")
    long["rank"] = long["rank"].astype("Int64")
    long["lagging"] = long["lagging"].fillna("").astype(str)
    order = {p: i for i, p in enumerate(periods.periods)}
    long = long.sort_values(
        ["indicator", "period", "code"], key=lambda s: s.map(order) if s.name == "period" else s
    )
    return long[list(COLUMNS)].reset_index(drop=True)


def _is_number(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def build_villages_periods(
    boundaries: Any,
    code: str,
    tables: Mapping[str, pd.DataFrame],
    period: PeriodKind,
    period_column: str | None = None,
    **kwargs: Any,
) -> VillagesResult:
    """:func:`layers.villages.build_villages` on the latest period, and every period's table.

    ``tables`` carry a period column (:func:`find_period_column`); the other
    arguments are :func:`~layers.villages.build_villages`'s. The result's
    :attr:`~layers.villages.VillagesResult.periods` is :func:`period_table`'s,
    its warnings include :func:`period_gaps`, and its layer a ``period`` column
    naming the latest period.
    """
    split = split_periods(tables, period, period_column)
    result = build_villages(boundaries, code, tables=split.tables[split.latest], **kwargs)
    name = kwargs.get("name", "name")
    result.warnings += period_gaps(split, result.villages[code], code)
    result.periods = period_table(
        result,
        split,
        code,
        name=name,
        table_domains=kwargs.get("table_domains"),
        score_method=kwargs.get("score_method", "rank"),
        lag_threshold=kwargs.get("lag_threshold", 40.0),
    )
    geometry = result.villages.geometry.name
    at = list(result.villages.columns).index(geometry)
    result.villages.insert(at, "period", split.latest)
    result.figures["period"] = split.latest
    return result


__all__ = [
    "COLUMNS",
    "EXAMPLES",
    "PERIOD_COLUMNS",
    "PERIOD_KINDS",
    "PeriodKind",
    "Periods",
    "build_villages_periods",
    "find_period_column",
    "from_ordinal",
    "next_period",
    "ordinal",
    "parse_period",
    "parse_periods",
    "period_gaps",
    "period_in_name",
    "period_stats",
    "period_table",
    "split_periods",
    "stack_by_name",
    "start_date",
]
