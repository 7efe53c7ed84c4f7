"""Twelve monthly snapshots of the demo county's village indicators.

The last month is the indicator table as generated (so the villages layer
shows what it showed before the demo had a history); the earlier months are
made backwards from it. Most villages improve slowly (more income, homestays,
sensors and fibre; issues resolved a little better every month), a few stall
(the same figures give or take noise), a few fall back in the last months (a
drop in resolved issues, inspections and sensors working), and one village
has a data gap: no row in one month.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: The demo's months, oldest first: the latest is the generated table.
MONTHS = [f"{y}-{m:02d}" for y, m in [(2025, 12), *((2026, m) for m in range(1, 12))]]
#: Share of villages that stall, and that fall back in the last months.
STALL, FALL = 0.12, 0.08
#: The village (by row) and month with no row: the data gap a build reports.
GAP_ROW, GAP_MONTH = 17, "2026-06"


def monthly_history(rng: np.random.Generator, latest: pd.DataFrame) -> pd.DataFrame:
    """One row per village and month (``village_code``, ``period``, the indicators).

    ``latest`` is one row per village: the last month's figures.
    """
    n, months = len(latest), len(MONTHS)
    kind = rng.choice(3, size=n, p=[1 - STALL - FALL, STALL, FALL])  # 0 improve, 1 stall, 2 fall
    growth = rng.uniform(0.08, 0.2, n) * (kind == 0)  # yearly improvement of the improvers
    # fall-backs: the month their decline starts, and how deep it gets by the last month
    start = rng.integers(months - 4, months - 1, n)
    depth = rng.uniform(0.25, 0.45, n) * (kind == 2)
    frames = []
    for m, month in enumerate(MONTHS):
        back = (months - 1 - m) / (months - 1)  # 1 in the first month, 0 in the last
        trend = 1 - growth * back  # improvers were lower before
        # fall-backs were better before their decline: undo the part of it after month m
        done = np.clip((m - start) / np.maximum(months - 1 - start, 1), 0, 1)
        fallen = np.where(kind == 2, 1 / (1 - depth) * (1 - depth * done), 1.0)
        noise = 1 + rng.normal(0, 0.01, n) * (m < months - 1)
        frame = latest.copy()
        frame["population"] = np.round(latest["population"] * (1 - 0.002 * back)).astype(int)
        frame["households"] = np.minimum(
            np.round(latest["households"] * (1 - 0.002 * back)).astype(int),
            frame["population"] - 1,
        )
        frame["collective_income_10k_cny"] = np.round(
            latest["collective_income_10k_cny"] * trend * noise, 1
        )
        frame["homestays"] = np.round(latest["homestays"] * (1 - 0.5 * growth * back)).astype(int)
        frame["sensors"] = np.round(latest["sensors"] * trend * fallen).astype(int)
        frame["inspections"] = np.round(latest["inspections"] * noise * fallen).astype(int)
        reported = np.round(latest["reported_issues"] * (1 + 0.1 * growth * back)).astype(int)
        rate = latest["resolved_issues"] / latest["reported_issues"].where(
            latest["reported_issues"] > 0
        )
        rate = np.clip(
            rate.fillna(1.0) * (1 - 0.4 * growth * back) * np.minimum(fallen, 1.08), 0, 1
        )
        frame["reported_issues"] = reported
        frame["resolved_issues"] = np.minimum(np.round(reported * rate).astype(int), reported)
        frame["fibre_coverage"] = np.round(
            np.clip(latest["fibre_coverage"] * (1 - 0.3 * growth * back), 0, 1), 3
        )
        if m == months - 1:
            frame = latest.copy()  # the latest month is the table as generated
        frame.insert(1, "period", month)
        if month == GAP_MONTH:
            frame = frame.drop(index=frame.index[GAP_ROW])
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)
