"""The demo county's history: a 5G coverage version before three new sites, and one after.

``twin demo`` first builds the coverage layer (and the cell sites layer) from the
sites table without :data:`NEW_SITES` sites, then restores the whole table and
builds everything: ``coverage`` then has two versions, and ``twin diff coverage``
(and the ``coverage_change`` layer) show which villages the new sites cover.

The new sites are picked from the sites table alone, deterministically: the
sites no drive-test point names (the drive test was measured after they went on
air, along roads they do not serve), most isolated first (the farthest from
their nearest neighbour, where a site adds most), each at least
:data:`MIN_APART_M` from the ones picked before.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from tiles import atomic_write
from twin.demo._shapes import TO_WORK

if TYPE_CHECKING:
    from twin.build import BuildReport
    from twin.workspace import Twin

#: how many sites the coverage's second version adds
NEW_SITES = 3
#: the demo layer that shows the change (its presence in the config asks for the history)
CHANGE_LAYER = "coverage_change"
#: the new sites are at least this far apart, m
MIN_APART_M = 5_000.0


def new_sites(sites: pd.DataFrame, drive: pd.DataFrame | None = None) -> list[str]:
    """The ids of the :data:`NEW_SITES` sites the demo's first coverage version lacks."""
    first = sites.drop_duplicates("site_id").reset_index(drop=True)
    x, y = TO_WORK.transform(first["lon"].to_numpy(float), first["lat"].to_numpy(float))
    xy = np.column_stack([x, y])
    dist = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    np.fill_diagonal(dist, np.inf)
    isolation = dist.min(axis=1)
    measured: set[str] = set()
    if drive is not None and "cell_id" in drive.columns:
        measured = {str(c).rsplit("-", 1)[0] for c in drive["cell_id"].dropna()}
    picked: list[int] = []
    for i in np.argsort(-isolation, kind="stable"):
        if first.loc[i, "site_id"] in measured:
            continue
        if all(np.hypot(*(xy[i] - xy[j])) >= MIN_APART_M for j in picked):
            picked.append(int(i))
        if len(picked) == NEW_SITES:
            break
    return [str(first.loc[i, "site_id"]) for i in picked]


def without_sites(csv: bytes, site_ids: list[str]) -> bytes:
    """The sites table ``csv`` without the rows of ``site_ids``, every other byte as it was."""
    text = csv.decode("utf-8")
    header, *rows = text.splitlines(keepends=True)
    column = header.rstrip("\r\n").split(",").index("site_id")
    drop = set(site_ids)
    kept = [r for r in rows if r.rstrip("\r\n").split(",")[column] not in drop]
    return (header + "".join(kept)).encode("utf-8")


def build_with_history(twin: Twin, **build: Any) -> BuildReport:
    """Build the demo workspace; on its first build, the coverage before the new sites first.

    Only a workspace whose config has the :data:`CHANGE_LAYER` (a single demo county,
    see :func:`twin.demo.demo_config`) gets the history; others are just built.

    ``build`` is passed to :meth:`Twin.build` (workers, events, scheduler). The sites
    table is restored whatever happens.
    """
    layers = twin.config.layers
    if CHANGE_LAYER not in layers or "coverage" not in layers or "coverage" in twin.catalog.layers:
        return twin.build(**build)
    sites_path = twin.source_path("cell_sites")
    full = sites_path.read_bytes()
    drive = _drive(twin)
    ids = new_sites(pd.read_csv(io.BytesIO(full)), drive)
    atomic_write(sites_path, without_sites(full, ids))
    try:
        first = twin.build(["coverage", "cell_sites"], **build)
    finally:
        atomic_write(sites_path, full)
    report = twin.build(**build)
    # the layers only the first build made are built too, as far as the caller is concerned
    for name, version in first.built.items():
        report.built.setdefault(name, version)
        report.skipped.pop(name, None)
        report.seconds[name] = report.seconds.get(name, 0.0) + first.seconds.get(name, 0.0)
    for name, warnings in first.warnings.items():
        later = report.warnings.get(name, [])
        report.warnings[name] = list(dict.fromkeys([*warnings, *later]))
    return report


def _drive(twin: Twin) -> pd.DataFrame | None:
    if "drive_test" not in twin.config.sources:
        return None
    path: Path = twin.source_path("drive_test")
    return pd.read_csv(path, usecols=["cell_id"]) if path.exists() else None


__all__ = ["CHANGE_LAYER", "NEW_SITES", "build_with_history", "new_sites", "without_sites"]
