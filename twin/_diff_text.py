"""``twin diff``'s human output in the workspace's language (zh or en), as rich renderables."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
from rich.table import Table

from twin.diff import DiffResult

#: rows of a table shown before "... N more" (``--json`` has them all)
SHOWN = 15

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "head": "{title} ({layer}): {before} → {after}",
        "ids": "features matched by {id}; geometry compared within {tol:g} (CRS units)",
        "counts": "added {added:,} · removed {removed:,} · changed {changed:,} "
        "(geometry {geometry_changed:,}) · unchanged {unchanged:,}",
        "fields_added": "fields added: {names}",
        "fields_removed": "fields removed: {names}",
        "by_field": "changed fields: {items}",
        "features": "features that changed",
        "values": "changed values",
        "more": "... and {n:,} more (--json lists all)",
        "id": "id",
        "change": "change",
        "fields": "fields",
        "field": "field",
        "old": "old",
        "new": "new",
        "added": "added",
        "removed": "removed",
        "changed": "changed",
        "no_change": "no feature changed",
        "grid": "difference {after} − {before}{unit} on {pixels:,} pixels valid in both:",
        "grid_stats": "min {min} · max {max} · mean {mean} · std {std}",
        "grid_counts": "changed (|Δ| > {tol:g}) {changed:,} pixels ({changed_km2:,.2f} km²) · "
        "gained valid data {gained:,} · lost {lost:,}",
        "zones": "change per zone ({zones}), largest mean change first",
        "zone": "zone",
        "pixels": "pixels",
        "mean": "mean Δ",
        "min": "min Δ",
        "max": "max Δ",
        "changed_px": "changed px",
        "coverage": "5G coverage share per zone ({zones}), largest change first",
        "before_pct": "before %",
        "after_pct": "after %",
        "gained": "gained %",
        "lost": "lost %",
        "change_pp": "change (pp)",
        "region": "region: {before:.2f} % → {after:.2f} % covered "
        "(gained {gained:.2f} %, lost {lost:.2f} %, {change:+.2f} pp)",
        "zones_changed": "{up:,} zones gained coverage, {down:,} lost some, {same:,} unchanged",
        "warning": "note: {text}",
    },
    "zh": {
        "head": "{title}（{layer}）：{before} → {after}",
        "ids": "按 {id} 匹配要素；几何容差 {tol:g}（坐标单位）",
        "counts": "新增 {added:,} · 删除 {removed:,} · 变更 {changed:,}"
        "（几何 {geometry_changed:,}） · 未变 {unchanged:,}",
        "fields_added": "新增字段：{names}",
        "fields_removed": "删除字段：{names}",
        "by_field": "变更字段：{items}",
        "features": "有变化的要素",
        "values": "变化的值",
        "more": "…… 另有 {n:,} 条（--json 列出全部）",
        "id": "编号",
        "change": "变化",
        "fields": "字段",
        "field": "字段",
        "old": "原值",
        "new": "新值",
        "added": "新增",
        "removed": "删除",
        "changed": "变更",
        "no_change": "没有要素变化",
        "grid": "差值 {after} − {before}{unit}，两版均有数据的像元 {pixels:,} 个：",
        "grid_stats": "最小 {min} · 最大 {max} · 平均 {mean} · 标准差 {std}",
        "grid_counts": "变化像元（|Δ| > {tol:g}）{changed:,} 个（{changed_km2:,.2f} km²） · "
        "新增有效数据 {gained:,} · 失去 {lost:,}",
        "zones": "分区变化（{zones}），按平均变化排序",
        "zone": "分区",
        "pixels": "像元",
        "mean": "平均 Δ",
        "min": "最小 Δ",
        "max": "最大 Δ",
        "changed_px": "变化像元",
        "coverage": "分区 5G 覆盖率（{zones}），按变化排序",
        "before_pct": "之前 %",
        "after_pct": "之后 %",
        "gained": "新增覆盖 %",
        "lost": "失去覆盖 %",
        "change_pp": "变化（百分点）",
        "region": "全域：覆盖率 {before:.2f} % → {after:.2f} %"
        "（新增 {gained:.2f} %，失去 {lost:.2f} %，{change:+.2f} 个百分点）",
        "zones_changed": "{up:,} 个分区覆盖增加，{down:,} 个减少，{same:,} 个不变",
        "warning": "注意：{text}",
    },
}


def render(result: DiffResult, lang: str) -> list[Any]:
    """What ``twin diff`` prints: lines and tables in ``lang`` (``zh`` or ``en``)."""
    t = TEXT.get(lang, TEXT["en"])
    title = result.title_i18n.get(lang) or result.title or result.layer
    out: list[Any] = [
        t["head"].format(title=title, layer=result.layer, before=result.before, after=result.after)
    ]
    out += [t["warning"].format(text=w) for w in result.warnings]
    if result.vector is not None:
        out += _vector(result, t)
    if result.raster is not None:
        out += _raster(result, t)
    if result.coverage_region is not None:
        r = result.coverage_region.iloc[0]
        out.append(
            t["region"].format(
                before=100 * r["share_before"],
                after=100 * r["share_after"],
                gained=100 * r["gained"],
                lost=100 * r["lost"],
                change=100 * r["change"],
            )
        )
    if result.coverage is not None:
        out += _coverage(result, t)
    return out


def _more(t: dict[str, str], n: int) -> list[str]:
    return [t["more"].format(n=n - SHOWN)] if n > SHOWN else []


def _vector(result: DiffResult, t: dict[str, str]) -> list[Any]:
    v = result.vector
    assert v is not None
    out: list[Any] = [
        t["ids"].format(id=v.id_column, tol=v.tolerance),
        t["counts"].format(**v.counts()),
    ]
    if v.fields_added:
        out.append(t["fields_added"].format(names=", ".join(v.fields_added)))
    if v.fields_removed:
        out.append(t["fields_removed"].format(names=", ".join(v.fields_removed)))
    by_field = v.field_counts()
    if by_field:
        out.append(t["by_field"].format(items=", ".join(f"{k} {n:,}" for k, n in by_field.items())))
    moved = v.features[v.features["change"] != "unchanged"]
    if moved.empty:
        out.append(t["no_change"])
        return out
    table = Table(title=t["features"], title_justify="left")
    for col in ("id", "change", "fields"):
        table.add_column(t[col])
    for _, row in moved.head(SHOWN).iterrows():
        table.add_row(str(row[v.id_column]), t[row["change"]], str(row["fields"]))
    out += [table, *_more(t, len(moved))]
    if not v.changes.empty:
        values = Table(title=t["values"], title_justify="left")
        for col in ("id", "field", "old", "new"):
            values.add_column(t[col])
        for _, row in v.changes.head(SHOWN).iterrows():
            values.add_row(str(row["id"]), str(row["field"]), _cell(row["old"]), _cell(row["new"]))
        out += [values, *_more(t, len(v.changes))]
    return out


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, float):
        return f"{value:,.6g}"
    return str(value)


def _num(value: Any) -> str:
    return "—" if value is None or pd.isna(value) else f"{value:,.3g}"


def _zone_name(result: DiffResult, zone: Any) -> str:
    name = result.zone_names.get(str(zone))
    return f"{zone} {name}" if name else str(zone)


def _raster(result: DiffResult, t: dict[str, str]) -> list[Any]:
    r = result.raster
    assert r is not None
    s = r.stats
    unit = f" ({r.unit})" if r.unit else ""
    out: list[Any] = [
        t["grid"].format(after=result.after, before=result.before, unit=unit, pixels=s["pixels"]),
        t["grid_stats"].format(**{k: _num(s[k]) for k in ("min", "max", "mean", "std")}),
        t["grid_counts"].format(
            tol=s["tolerance"],
            changed=s["changed"],
            changed_km2=s["changed"] * s["pixel_km2"],
            gained=s["gained"],
            lost=s["lost"],
        ),
    ]
    zones = r.zones
    if zones is None or zones.empty or result.coverage is not None:
        return out  # a coverage layer's zones are shown by their shares
    moved = zones[(zones["changed"] > 0) | (zones["gained"] > 0) | (zones["lost"] > 0)]
    ranked = moved.assign(_key=moved["mean"].abs()).sort_values("_key", ascending=False)
    if ranked.empty:
        return out
    table = Table(title=t["zones"].format(zones=result.zone_layer), title_justify="left")
    for col in ("zone", "pixels", "mean", "min", "max", "changed_px"):
        table.add_column(t[col], justify="left" if col == "zone" else "right")
    for _, row in ranked.head(SHOWN).iterrows():
        table.add_row(
            _zone_name(result, row["zone"]),
            f"{row['pixels']:,}",
            _num(row["mean"]),
            _num(row["min"]),
            _num(row["max"]),
            f"{row['changed']:,}",
        )
    return [*out, table, *_more(t, len(ranked))]


def _coverage(result: DiffResult, t: dict[str, str]) -> list[Any]:
    c = result.coverage
    assert c is not None
    up = int((c["change"] > 0).sum())
    down = int((c["change"] < 0).sum())
    out: list[Any] = [t["zones_changed"].format(up=up, down=down, same=len(c) - up - down)]
    ranked = c.assign(_key=c["change"].abs()).sort_values("_key", ascending=False)
    ranked = ranked[ranked["gained"].fillna(0).gt(0) | ranked["lost"].fillna(0).gt(0)]
    if ranked.empty:
        return out
    table = Table(title=t["coverage"].format(zones=result.zone_layer), title_justify="left")
    for col in ("zone", "before_pct", "after_pct", "gained", "lost", "change_pp"):
        table.add_column(t[col], justify="left" if col == "zone" else "right")
    for _, row in ranked.head(SHOWN).iterrows():
        table.add_row(
            _zone_name(result, row["zone"]),
            f"{100 * row['share_before']:.1f}",
            f"{100 * row['share_after']:.1f}",
            f"{100 * row['gained']:.2f}",
            f"{100 * row['lost']:.2f}",
            f"{100 * row['change']:+.2f}",
        )
    return [*out, table, *_more(t, len(ranked))]


__all__ = ["render"]
