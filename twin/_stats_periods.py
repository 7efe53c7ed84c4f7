"""``twin stats --period P --compare Q``: the villages in a period and what changed, in zh or en."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from layers.villages_labels import DOMAIN_LABELS
from tiles.catalog import Figure
from twin.errors import WorkspaceError
from twin.periods import Comparison, compare, period_figures, read_periods

if TYPE_CHECKING:
    from twin.workspace import Twin

#: What the tables say, in each language ({period}, {base} are filled in).
TEXT: dict[str, dict[str, Any]] = {
    "en": {
        "title": "villages in {period}",
        "figure": ("figure", "value", "unit"),
        "versus": ("figure", "{period}", "{base}", "change", "unit"),
        "fell_behind": "Fell behind since {base}: a domain lagging now that did not then",
        "improved": "Improved since {base}: a domain no longer lagging",
        "village": ("village", "code", "domains", "composite {base}", "composite {period}"),
        "drops": "Largest drops since {base}",
        "gains": "Largest gains since {base}",
        "moved": ("score", "village", "code", "{base}", "{period}", "change", "rank"),
        "score": "{domain} score",
        "none": "none",
        "unmatched": "{n} village(s) with data in only one of {base} and {period}: not compared",
    },
    "zh": {
        "title": "{period} 行政村指标",
        "figure": ("指标", "数值", "单位"),
        "versus": ("指标", "{period}", "{base}", "变化", "单位"),
        "fell_behind": "较 {base} 退步的村：新出现滞后领域",
        "improved": "较 {base} 进步的村：不再滞后的领域",
        "village": ("村", "代码", "领域", "{base} 综合得分", "{period} 综合得分"),
        "drops": "较 {base} 降幅最大",
        "gains": "较 {base} 升幅最大",
        "moved": ("得分", "村", "代码", "{base}", "{period}", "变化", "排名"),
        "score": "{domain}得分",
        "none": "无",
        "unmatched": "{n} 个村仅在 {base} 或 {period} 之一有数据，未比较",
    },
}


def show_periods(
    twin: Twin,
    period: str | None,
    base: str | None,
    layer: str | None,
    top: int,
    as_json: bool,
    out: Console,
) -> None:
    """Print a period's figures and, with ``base``, what changed since it."""
    table = read_periods(twin.catalog, twin.build_dir, layer)
    at = table.resolve(period, "--period")
    since = table.resolve(base, "--compare") if base is not None else None
    if since == at:
        raise WorkspaceError(f"--compare {since} is the period shown: compare another")
    figures = period_figures(table, at)
    before = period_figures(table, since) if since else []
    change = compare(table, at, since, top) if since else None
    if as_json:
        doc: dict[str, Any] = {
            "region": twin.catalog.region.model_dump() if twin.catalog.region else None,
            "layer": table.layer,
            "period_kind": table.kind,
            "periods": table.periods,
            "period": at,
            "figures": [f.model_dump() for f in figures],
        }
        if change is not None:
            doc["compare"] = {**asdict(change), "figures": [f.model_dump() for f in before]}
        out.print_json(json.dumps(doc, ensure_ascii=False))
        return
    lang = twin.config.region.lang or "en"
    text = TEXT[lang]
    names = {"period": at, "base": since or ""}
    out.print(_figures(figures, before, text, names, lang, f"{twin.name} — "))
    if change is not None:
        _changes(change, text, names, lang, out)


def _figures(
    figures: list[Figure],
    before: list[Figure],
    text: dict[str, Any],
    names: dict[str, str],
    lang: str,
    prefix: str,
) -> Table:
    then = {f.name: f.value for f in before}
    columns = text["versus"] if before else text["figure"]
    table = Table(title=prefix + text["title"].format(**names), title_justify="left")
    for i, col in enumerate(columns):
        table.add_column(
            col.format(**names), justify="left" if i in (0, len(columns) - 1) else "right"
        )
    for f in figures:
        row = [f.text(lang), _shown(f.value)]
        if before:
            old = then.get(f.name)
            row.append("" if old is None else _shown(old))
            numeric = isinstance(f.value, int | float) and isinstance(old, int | float)
            row.append(_signed(f.value - old) if numeric else "")  # type: ignore[operator]
        table.add_row(*row, f.unit_text(lang))
    return table


def _changes(
    change: Comparison, text: dict[str, Any], names: dict[str, str], lang: str, out: Console
) -> None:
    for key in ("fell_behind", "improved"):
        villages = getattr(change, key)
        table = Table(title=text[key].format(**names), title_justify="left")
        for col in text["village"]:
            table.add_column(col.format(**names))
        for v in villages:
            table.add_row(
                v["name"],
                v["code"],
                "、".join(_domain(d, lang) for d in v["domains"])
                if lang == "zh"
                else ", ".join(_domain(d, lang) for d in v["domains"]),
                _shown(v.get("from")),
                _shown(v.get("to")),
            )
        out.print(table if villages else f"{text[key].format(**names)}: {text['none']}")
    for key in ("drops", "gains"):
        table = Table(title=text[key].format(**names), title_justify="left")
        for i, col in enumerate(text["moved"]):
            table.add_column(col.format(**names), justify="right" if i >= 3 else "left")
        for score, moved in getattr(change, key).items():
            label = text["score"].format(domain=_domain(score.removeprefix("score_"), lang))
            for m in moved:
                rank = f"{_shown(m['rank_from'])} → {_shown(m['rank_to'])}"
                table.add_row(
                    label,
                    m["name"],
                    m["code"],
                    _shown(m["from"]),
                    _shown(m["to"]),
                    _signed(m["change"]),
                    rank,
                )
                label = ""
        out.print(table)
    if change.unmatched:
        out.print(text["unmatched"].format(n=change.unmatched, **names))


def _domain(key: str, lang: str) -> str:
    zh, en = DOMAIN_LABELS.get("overall" if key == "total" else key, (key, key))
    return zh if lang == "zh" else en.lower()


def _shown(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _signed(value: float) -> str:
    return f"{value:+,.2f}" if isinstance(value, float) else f"{value:+,}"
