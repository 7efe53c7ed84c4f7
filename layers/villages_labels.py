"""Labels and units of every column :func:`layers.villages.build_villages` makes.

The columns of a villages layer depend on its inputs (``biz_<points>_<category
value>``, ``svc_<kind>_dist_m``, ``inf_road_km_<class>``), so the labels are
made from the column names: known stems and category values are translated,
the rest keep their name. Every indicator carries its domain as its group
(:data:`DOMAIN_LABELS`); the composite score and the lagging flags are in the
``overall`` group.

Examples
--------
>>> labels = village_labels(["village_code", "biz_enterprises_tourism", "score_total"])
>>> labels["biz_enterprises_tourism"].zh, labels["biz_enterprises_tourism"].group
('企业数：旅游', 'business')
>>> labels["score_total"].en
'Composite score'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from layers.labels import COMMON_FIELDS, Label
from layers.roads.labels import ROAD_CLASS_LABELS
from layers.villages import DOMAINS, PREFIX

#: The five domains of the digital-village one map, and the overall score.
DOMAIN_LABELS: dict[str, tuple[str, str]] = {
    "business": ("经营", "Business"),
    "services": ("服务", "Services"),
    "supervision": ("监管", "Supervision"),
    "governance": ("治理", "Governance"),
    "infrastructure": ("基础设施", "Infrastructure"),
    "overall": ("综合", "Overall"),
}

#: Indicator stems (the column without its domain prefix).
STEMS: dict[str, Label] = {
    "collective_income_10k_cny": Label("村集体经济收入", "Collective income", "10k CNY", "万元"),
    "homestays": Label("民宿数", "Homestays", "", "家"),
    "inspections": Label("执法检查次数", "Inspections", "", "次"),
    "sensors": Label("物联感知设备数", "IoT sensors", "", "个"),
    "population": Label("户籍人口", "Population", "people", "人"),
    "households": Label("户数", "Households", "households", "户"),
    "reported_issues": Label("上报事件数", "Reported issues", "", "件"),
    "resolved_issues": Label("办结事件数", "Resolved issues", "", "件"),
    "resolution_rate": Label("事件办结率", "Issue resolution rate", "%", scale=100),
    "issues_per_1000": Label("千人事件数", "Issues per 1,000 people", "per 1000 people", "件/千人"),
    "fibre_coverage": Label("光纤覆盖率", "Fibre coverage", "%", scale=100),
    "enterprises": Label("企业数", "Enterprises", "", "家"),
    "revenue_10k_cny": Label("企业营业收入", "Enterprise revenue", "10k CNY", "万元"),
    "employees": Label("从业人员", "Employees", "people", "人"),
    "facilities": Label("服务设施数", "Service facilities", "", "个"),
    "5g_share": Label("5G 覆盖率", "5G coverage", "%", scale=100),
    "road_km": Label("道路里程", "Road length", "km"),
    "road_density_km_per_km2": Label("路网密度", "Road density", "km/km²"),
    "smart_road_km": Label("智慧道路里程", "Smart-road length (5G-covered main roads)", "km"),
}

#: Category values of the usual point layers (enterprise industries, facility types).
CATEGORIES: dict[str, tuple[str, str]] = {
    "agriculture": ("农业", "agriculture"),
    "logistics": ("物流", "logistics"),
    "manufacturing": ("制造业", "manufacturing"),
    "retail": ("零售", "retail"),
    "services": ("服务业", "services"),
    "tech": ("科技", "tech"),
    "tourism": ("旅游", "tourism"),
    "clinic": ("卫生室", "clinic"),
    "school": ("学校", "school"),
    "elderly_care": ("养老服务", "elderly care"),
    "bus_stop": ("公交站", "bus stop"),
}

#: Columns of the boundaries the usual sources carry.
BOUNDARY_FIELDS: dict[str, Label] = {
    **COMMON_FIELDS,
    "village_code": Label("村代码", "Village code"),
    "town_code": Label("乡镇代码", "Township code"),
    "town_name": Label("乡镇（街道）", "Township"),
    "name": Label("村名", "Village"),
}

#: The ``period`` column of a layer built from tables with periods: the period it shows.
PERIOD = Label("统计期", "Period", group="overall")


def village_labels(
    columns: Iterable[str],
    code: str = "village_code",
    name: str | None = "name",
    units: Mapping[str, str] | None = None,
) -> dict[str, Label]:
    """A label for every column of a villages layer but its geometry.

    Parameters
    ----------
    columns
        The layer's columns.
    code, name
        The village code and name columns (labelled as such whatever they are called).
    units
        Units of columns no table here knows (:attr:`layers.villages.VillagesResult.units`).
    """
    out: dict[str, Label] = {}
    for col in columns:
        if col == "geometry":
            continue
        if col == code:
            out[col] = BOUNDARY_FIELDS["village_code"]
        elif col == name:
            out[col] = BOUNDARY_FIELDS["name"]
        elif col in BOUNDARY_FIELDS:
            out[col] = BOUNDARY_FIELDS[col]
        elif col == "period":
            out[col] = PERIOD
        else:
            out[col] = _indicator(col, (units or {}).get(col, ""))
    return out


def _indicator(col: str, unit: str) -> Label:
    if col == "score_total":
        return Label("综合得分", "Composite score", group="overall")
    if col == "lagging":
        return Label("滞后领域", "Lagging domains", group="overall")
    if col.startswith("score_") and col.removeprefix("score_") in DOMAINS:
        scored = col.removeprefix("score_")
        zh, en = DOMAIN_LABELS[scored]
        return Label(f"{zh}得分", f"{en} score", group=scored)
    domain = next((d for d in DOMAINS if col.startswith(PREFIX[d] + "_")), None)
    if domain is None:
        return Label(col, col, unit)
    stem = col.removeprefix(PREFIX[domain] + "_")
    if stem in STEMS:
        return _in(STEMS[stem], domain)
    if stem.endswith("_dist_m"):
        zh, en = _category(stem.removesuffix("_dist_m"))
        return Label(f"到最近{zh}距离", f"Distance to the nearest {en}", "m", group=domain)
    if stem.startswith("road_km_"):
        zh, en = ROAD_CLASS_LABELS.get(stem.removeprefix("road_km_"), (stem, stem))
        return Label(f"{zh}里程", f"{en} length", "km", group=domain)
    # <points>_<category value>: a count per category of a point layer
    for base in sorted((s for s in STEMS if stem.startswith(s + "_")), key=len, reverse=True):
        zh, en = _category(stem.removeprefix(base + "_"))
        known = STEMS[base]
        return _in(Label(f"{known.zh}：{zh}", f"{known.en}: {en}", unit_zh=known.unit_zh), domain)
    return Label(stem, stem.replace("_", " "), unit, group=domain)


def _in(label: Label, domain: str) -> Label:
    return Label(label.zh, label.en, label.unit, label.unit_zh, label.scale, domain)


def _category(value: str) -> tuple[str, str]:
    return CATEGORIES.get(value, (value, value.replace("_", " ")))


__all__ = ["BOUNDARY_FIELDS", "CATEGORIES", "DOMAIN_LABELS", "PERIOD", "STEMS", "village_labels"]
