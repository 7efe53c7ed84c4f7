"""The ``villages`` builder: the digital-village one map across five domains.

::

    [layers.villages]
    builder = "villages"
    inputs = { boundaries = "villages_src", indicators = "indicators",
               enterprises = "enterprises", facilities = "facilities",
               roads = "layers.roads", coverage = "layers.coverage" }

    [layers.villages.params]
    code = "village_code"
    tables = ["indicators"]
    points.enterprises = { domain = "business", category = "industry",
                           sum = ["revenue_10k_cny", "employees"] }
    points.facilities = { domain = "services", category = "type",
                          reach = ["clinic", "school", "elderly_care", "bus_stop"] }

Inputs other than ``boundaries``, ``roads`` and ``coverage`` are named by the
parameters: each is either an indicator table (``tables``) or a point layer
(``points``), so any number of each can be joined. Only ``boundaries`` is
required: the layer holds the domains its inputs cover, and the catalog's
``stats.domains`` lists them.

With ``period = "month"`` (or ``quarter``, ``year``) the tables hold several
periods (:mod:`layers.villages_periods`): a period column, or one file per
period when a table's source is a glob (``sources/indicators/*.csv``, each file
named by its period). The layer shows the latest period; the ``periods``
artifact beside it holds every period, and ``stats.periods`` lists them.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import shapely

from layers.errors import LayerError
from layers.villages import PointLayer, build_villages
from layers.villages_labels import DOMAIN_LABELS, village_labels
from layers.villages_params import VillagesParams
from layers.villages_periods import build_villages_periods, period_stats, stack_by_name
from tiles.catalog import Figure
from twin.builders import Builder, Output, register
from twin.builders.context import BuildContext
from twin.errors import BuildError

#: The county's figures from the villages: (label, unit) in English, then in Chinese.
LABELS = {
    "villages": ("Villages", "", "行政村", "个"),
    "population": ("Population", "people", "户籍人口", "人"),
    "enterprises": ("Enterprises", "", "企业", "家"),
    "coverage_share_pct": ("5G coverage, area-weighted over villages", "%", "村域 5G 覆盖率", ""),
    "smart_road_km": ("Smart-road km (5G-covered main roads)", "km", "智慧道路里程", ""),
    "clinic_within_3km_pct": ("Villages with a clinic within 3 km", "%", "3公里内有卫生室的村", ""),
    "lowest_scoring": ("Lowest-scoring villages", "", "综合得分最低的村", ""),
    "period": ("Village indicators as of", "", "村级指标统计期", ""),
}


def build(ctx: BuildContext) -> Output:
    params = ctx.params
    assert isinstance(params, VillagesParams)
    roles = {"boundaries", "roads", "coverage", *params.tables, *params.points}
    unused = sorted(set(ctx.inputs) - roles)
    if unused:
        raise BuildError(
            ctx.layer, f"input {unused[0]!r} is neither in params.tables nor in params.points"
        )
    missing = sorted((set(params.tables) | set(params.points)) - set(ctx.inputs))
    if missing:
        raise BuildError(ctx.layer, f"params name input {missing[0]!r}, which is not configured")
    try:
        boundaries = ctx.read_vector("boundaries")
        tables = {key: _table(ctx, key, params) for key in params.tables}
        points = [
            PointLayer(
                name=key,
                points=ctx.read_vector(key),
                domain=spec.domain,
                category=spec.category,
                sums=spec.sum,
                reach=spec.reach,
            )
            for key, spec in params.points.items()
        ]
        edges = ctx.read_vector("roads") if "roads" in ctx.inputs else None
        coverage = sinr = None
        threshold, sinr_threshold = params.threshold_dbm, params.sinr_threshold_db
        if "coverage" in ctx.inputs:
            coverage = ctx.read_raster("coverage")
            # Use the coverage layer's own definition of "covered" unless told otherwise,
            # so village shares add up to the county share it reports.
            made = ctx.input("coverage").entry
            made_stats = made.stats if made else {}
            if threshold is None:
                threshold = float(made_stats.get("threshold_dbm", -105.0))
            if sinr_threshold is None and "sinr_threshold_db" in made_stats:
                sinr_threshold = float(made_stats["sinr_threshold_db"])
            if sinr_threshold is not None and "sinr" in ctx.input("coverage").extras:
                sinr = ctx.read_raster("coverage", extra="sinr")
        region = None
        if ctx.boundary is not None:
            region = shapely.union_all(ctx.boundary.geometry.to_numpy())
        options: dict[str, Any] = {
            "points": points,
            "edges": edges,
            "coverage": coverage,
            "threshold_dbm": -105.0 if threshold is None else threshold,
            "sinr": sinr,
            "sinr_threshold_db": -3.0 if sinr_threshold is None else sinr_threshold,
            "region": region,
            "table_domains": params.domains,
            "scores": params.scores,
            "score_method": params.score_method,
            "lag_threshold": params.lag_threshold,
            "name": params.name,
        }
        if params.period is None:
            result = build_villages(boundaries, params.code, tables=tables, **options)
        else:
            result = build_villages_periods(
                boundaries, params.code, tables, params.period, params.period_column, **options
            )
    except LayerError as exc:
        raise BuildError(ctx.layer, str(exc)) from None
    for message in result.report.messages() + result.warnings:
        ctx.warn(message)
    gdf = result.villages
    style_by = params.style_by or ("score_total" if "score_total" in gdf else "area_km2")
    if style_by not in gdf.columns:
        raise BuildError(ctx.layer, f"params.style_by: no indicator {style_by!r}")
    # The county's coverage share is the coverage layer's figure; the villages' own
    # (area-weighted, equal to it) stays in the statistics only.
    figures = [
        Figure(
            name=key,
            label=en,
            value=value,
            unit=unit,
            label_i18n={"zh": zh},
            unit_i18n={"zh": unit_zh} if unit_zh else {},
        )
        for key, value in result.figures.items()
        for en, unit, zh, unit_zh in [LABELS.get(key, ("", "", "", ""))]
        if key in LABELS and key != "coverage_share_pct"
    ]
    values = gdf[style_by].astype(float)
    style = {
        "property": style_by,
        "range": [float(values.min()), float(values.max())],
        # clients name a feature by "label", or by "id" where it has none (a village
        # without a name shows its code)
        "label": params.name if params.name in gdf.columns else params.code,
        "id": params.code,
        "units": result.units,
        # indicators scored with a negative weight: a county rank puts the lowest first
        "lower_better": sorted(
            {c for weights in result.score_spec.values() for c, w in weights.items() if w < 0}
        ),
    }
    stats: dict[str, float | int | str] = {
        **result.figures,
        "domains": ",".join(result.domains),
        **result.report.as_stats(),
    }
    tables = {}
    if result.periods is not None and params.period is not None:
        stats.update(period_stats(result.periods, params.period, len(gdf)))
        tables["periods"] = result.periods
    return Output(
        data=gdf,
        stats=stats,
        figures=figures,
        style=style,
        title="Villages",
        title_i18n={"zh": "行政村（五大领域）"},
        labels=village_labels(gdf.columns, params.code, params.name, result.units),
        groups=DOMAIN_LABELS,
        tables=tables,
    )


def _table(ctx: BuildContext, key: str, params: VillagesParams) -> pd.DataFrame:
    """Table input ``key``; one source file per period stacked with its period from the name."""
    files = ctx.read_table_files(key)
    if files is None:
        return ctx.read_table(key)
    if params.period is None:
        raise BuildError(
            ctx.layer, f"input {key!r} is several files: one per period needs params.period"
        )
    return stack_by_name(files, params.period, key, params.period_column or "period")


register(
    Builder(
        name="villages",
        # 2: domains without inputs are absent, scores cover the domains present
        # 3: pinyin and pinyin_initials of Chinese names, field labels in the catalog
        # 4: periods (params.period): the latest period in the layer, every one beside it
        version="4",
        run=build,
        params=VillagesParams,
        inputs=("boundaries",),
        optional_inputs=("roads", "coverage"),
        open_inputs=True,
        doc="Village boundaries + tables + points + roads + coverage -> five-domain indicators.",
    )
)
