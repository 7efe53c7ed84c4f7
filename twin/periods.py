"""Indicators over time in a workspace: a layer's ``periods`` artifact, read back.

A villages layer built with ``period = "month"`` (or ``quarter``, ``year``)
publishes, beside its data, a long table of every period indicator and score
of every village in every period (:func:`layers.villages_periods.period_table`;
the catalog entry's ``artifacts["periods"]``). This module answers the
questions an analyst asks of it: a tidy history to plot (``Twin.history``),
the county's figures for one period, and what changed between two periods
(``twin stats --period P --compare Q``): the villages that fell behind (a
domain lagging now that did not lag then) or improved, and the largest drops
and gains of each score.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from layers.villages import DOMAINS
from layers.villages_labels import DOMAIN_LABELS
from layers.villages_periods import (
    EXAMPLES,
    PERIOD_KINDS,
    PeriodKind,
    from_ordinal,
    ordinal,
    parse_period,
    start_date,
)
from tiles.catalog import Catalog, Figure, LayerEntry
from twin.errors import WorkspaceError

#: The catalog artifact that holds a layer's periods.
ARTIFACT = "periods"


@dataclass
class PeriodTable:
    """A layer's periods: every period indicator of every village in every period."""

    layer: str
    kind: PeriodKind
    periods: list[str]
    table: pd.DataFrame
    entry: LayerEntry

    @property
    def latest(self) -> str:
        return self.periods[-1]

    def resolve(self, text: str | None, option: str = "--period") -> str:
        """The period ``text`` names: one of the layer's, ``latest`` or ``previous``."""
        if text is None or text == "latest":
            return self.latest
        if text == "previous":
            before = from_ordinal(ordinal(self.latest, self.kind) - 1, self.kind)
            if before not in self.periods:
                raise WorkspaceError(f"{option} previous: {self.layer} has no {before}")
            return before
        period = parse_period(text, self.kind)
        if period is None:
            raise WorkspaceError(
                f"{option} {text!r}: not a {self.kind} (written like {EXAMPLES[self.kind]})"
            )
        if period not in self.periods:
            raise WorkspaceError(
                f"{option} {period}: {self.layer} has no rows for it "
                f"({self.periods[0]}..{self.latest}, {len(self.periods)} {self.kind}s)"
            )
        return period

    def at(self, period: str) -> pd.DataFrame:
        """One period's rows, one per village (``code``): ``name``, ``lagging``, each indicator."""
        rows = self.table[self.table["period"] == period]
        wide = rows.pivot(index="code", columns="indicator", values="value")
        who = rows.drop_duplicates("code").set_index("code")[["name", "lagging"]]
        return who.join(wide)


def read_periods(catalog: Catalog, build_dir: Path, layer: str | None = None) -> PeriodTable:
    """The periods of ``layer`` (default: the one layer that has periods).

    Raises
    ------
    WorkspaceError
        When no layer (or not ``layer``) has periods, or several do and none is named.
    """
    having = sorted(n for n, e in catalog.layers.items() if ARTIFACT in e.artifacts)
    if layer is None:
        if not having:
            raise WorkspaceError(
                'no published layer has periods: set period = "month" in a villages '
                "layer's params (and a period column in its tables), then build"
            )
        if len(having) > 1:
            raise WorkspaceError(f"several layers have periods ({', '.join(having)}): name one")
        layer = having[0]
    entry = catalog.layers.get(layer)
    if entry is None:
        raise WorkspaceError(f"no published layer {layer!r}")
    if ARTIFACT not in entry.artifacts:
        have = f" (layers with periods: {', '.join(having)})" if having else ""
        raise WorkspaceError(f"layer {layer!r} has no periods{have}")
    kind = str(entry.stats.get("period_kind", ""))
    if kind not in PERIOD_KINDS:
        raise WorkspaceError(f"layer {layer!r}: stats.period_kind {kind!r} is not a period kind")
    table = pd.read_parquet(build_dir / entry.artifacts[ARTIFACT])
    periods = sorted(set(table["period"]), key=lambda p: ordinal(p, kind))
    if not periods:
        raise WorkspaceError(f"layer {layer!r}: its periods table is empty")
    return PeriodTable(layer, kind, periods, table, entry)


def history(periods: PeriodTable, indicator: str | None = None) -> pd.DataFrame:
    """A tidy table to plot: one row per village and period (and indicator).

    Columns ``code``, ``name``, ``period``, ``date`` (the period's first day),
    ``indicator`` (only when ``indicator`` is None: every indicator), ``value``,
    ``change`` (since the previous period), ``rank`` (1 is the best) and
    ``lagging`` (the village's lagging domains that period).
    """
    table = periods.table
    if indicator is not None:
        have = sorted(set(table["indicator"]))
        if indicator not in have:
            raise WorkspaceError(
                f"layer {periods.layer!r} has no period indicator {indicator!r} "
                f"(it has: {', '.join(have)})"
            )
        table = table[table["indicator"] == indicator].drop(columns="indicator")
    dates = {p: start_date(p, periods.kind) for p in periods.periods}
    out = table.assign(date=table["period"].map(dates))
    columns = ["code", "name", "period", "date"]
    columns += ["indicator"] if indicator is None else []
    columns += ["value", "change", "rank", "lagging"]
    return out[columns].reset_index(drop=True)


# -- one period's figures, and what changed -------------------------------------------------


def _domain(score: str) -> tuple[str, str]:
    """(zh, en) name of a score column's domain (``overall`` for ``score_total``)."""
    key = score.removeprefix("score_")
    return DOMAIN_LABELS.get("overall" if key == "total" else key, (key, key))


def period_figures(periods: PeriodTable, period: str) -> list[Figure]:
    """The county's figures from the villages in ``period``."""
    rows = periods.at(period)
    total = periods.entry.count or len(rows)
    figs = [
        Figure(
            name="villages",
            label="Villages reporting",
            value=len(rows),
            label_i18n={"zh": "有数据的村"},
            unit_i18n={"zh": "个"},
        )
    ]
    if len(rows) < total:
        figs.append(
            Figure(
                name="villages_missing",
                label="Villages with no data",
                value=total - len(rows),
                label_i18n={"zh": "无数据的村"},
                unit_i18n={"zh": "个"},
            )
        )
    if "gov_population" in rows:
        figs.append(
            Figure(
                name="population",
                label="Population",
                value=int(rows["gov_population"].sum()),
                unit="people",
                label_i18n={"zh": "户籍人口"},
                unit_i18n={"zh": "人"},
            )
        )
    if _scores(rows):
        flags = rows["lagging"].map(_flags)
        figs.append(
            Figure(
                name="lagging_villages",
                label="Villages lagging in some domain",
                value=int((flags.map(len) > 0).sum()),
                label_i18n={"zh": "有滞后领域的村"},
                unit_i18n={"zh": "个"},
            )
        )
        # scores rank villages against each other (a mean says nothing); who lags does
        for score in _scores(rows)[:-1] if "score_total" in rows else _scores(rows):
            domain = score.removeprefix("score_")
            zh, en = _domain(score)
            figs.append(
                Figure(
                    name=f"lagging_{domain}",
                    label=f"Villages lagging in {en.lower()}",
                    value=int(flags.map(lambda f, d=domain: d in f).sum()),
                    label_i18n={"zh": f"{zh}滞后的村"},
                    unit_i18n={"zh": "个"},
                )
            )
    if "score_total" in rows:
        figs.append(
            Figure(
                name="lowest_scoring",
                label="Lowest-scoring villages",
                value=", ".join(rows.nsmallest(3, "score_total")["name"]),
                label_i18n={"zh": "综合得分最低的村"},
            )
        )
    return [f.model_copy(update={"layer": periods.layer}) for f in figs]


def _scores(rows: pd.DataFrame) -> list[str]:
    """The score columns, domains first (in :data:`~layers.villages.DOMAINS` order), the
    composite last."""
    scores = [f"score_{d}" for d in DOMAINS if f"score_{d}" in rows]
    return scores + (["score_total"] if "score_total" in rows else [])


@dataclass
class Comparison:
    """What changed in the villages between two periods (``base`` before ``period``)."""

    period: str
    base: str
    #: villages lagging in a domain in ``period`` that did not lag in it in ``base``
    fell_behind: list[dict[str, Any]] = field(default_factory=list)
    #: villages no longer lagging in a domain that lagged in ``base``
    improved: list[dict[str, Any]] = field(default_factory=list)
    #: score -> the largest falls (most negative change first)
    drops: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: score -> the largest rises (most positive change first)
    gains: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: villages in one of the two periods only (not compared)
    unmatched: int = 0


def compare(periods: PeriodTable, period: str, base: str, top: int = 5) -> Comparison:
    """What changed from ``base`` to ``period``, for the villages with rows in both."""
    now, then = periods.at(period), periods.at(base)
    both = now.index.intersection(then.index)
    out = Comparison(period, base, unmatched=len(now.index.union(then.index)) - len(both))
    total = "score_total" if "score_total" in now else None
    for code in both:
        lag_now = _flags(now.at[code, "lagging"])
        lag_then = _flags(then.at[code, "lagging"])
        who: dict[str, Any] = {"code": str(code), "name": str(now.at[code, "name"])}
        if total:
            who |= {"from": _num(then.at[code, total]), "to": _num(now.at[code, total])}
        if lag_now - lag_then:
            out.fell_behind.append({**who, "domains": sorted(lag_now - lag_then)})
        if lag_then - lag_now:
            out.improved.append({**who, "domains": sorted(lag_then - lag_now)})
    key = (lambda v: (v.get("to", 0) - v.get("from", 0), v["code"])) if total else None
    out.fell_behind.sort(key=key or (lambda v: v["code"]))
    out.improved.sort(key=key or (lambda v: v["code"]), reverse=bool(total))
    ranks = periods.table[periods.table["period"].isin([period, base])]
    ranks = ranks.set_index(["period", "indicator", "code"])["rank"]
    for score in _scores(now):
        diff = (now.loc[both, score] - then.loc[both, score]).dropna()
        moved: list[dict[str, Any]] = [
            {
                "code": str(code),
                "name": str(now.at[code, "name"]),
                "from": _num(then.at[code, score]),
                "to": _num(now.at[code, score]),
                "change": round(float(change), 2),
                "rank_from": _rank(ranks, base, score, code),
                "rank_to": _rank(ranks, period, score, code),
            }
            for code, change in diff.items()
            if change != 0
        ]
        moved.sort(key=lambda m: (m["change"], m["code"]))
        out.drops[score] = [m for m in moved if m["change"] < 0][:top]
        out.gains[score] = [m for m in reversed(moved) if m["change"] > 0][:top]
    return out


def _flags(text: object) -> set[str]:
    return {d for d in str(text or "").split(",") if d}


def _num(value: object) -> float | None:
    return None if pd.isna(value) else round(float(value), 2)  # type: ignore[arg-type]


def _rank(ranks: pd.Series, period: str, score: str, code: object) -> int | None:
    value = ranks.get((period, score, code))
    return None if value is None or pd.isna(value) else int(value)


__all__ = [
    "ARTIFACT",
    "Comparison",
    "PeriodTable",
    "compare",
    "history",
    "period_figures",
    "read_periods",
]
