"""Two versions of a vector layer compared feature by feature, matched by id.

A feature whose id is only in the newer version is *added*, only in the older
one *removed*; one in both is *changed* when any field they share holds another
value (two missing values are equal) or its geometry moved by more than the
tolerance, else *unchanged*. Fields only one version has are reported once, as
fields added or removed, not as a change of every feature.

Geometries are compared with :func:`shapely.equals_exact` at the tolerance (a
fast check of the same vertices), and those that differ are measured by their
Hausdorff distance: a ring that starts at another vertex, or a polygon whose
vertices moved less than the tolerance, is not a change.

Examples
--------
>>> import geopandas as gpd
>>> from shapely import Point
>>> a = gpd.GeoDataFrame({"id": [1, 2], "v": [1, 2]}, geometry=[Point(0, 0), Point(1, 1)])
>>> b = gpd.GeoDataFrame({"id": [2, 3], "v": [5, 3]}, geometry=[Point(1, 1), Point(2, 2)])
>>> d = vector_diff(a, b, "id")
>>> d.counts()
{'added': 1, 'removed': 1, 'changed': 1, 'unchanged': 0, 'geometry_changed': 0}
>>> d.changes.to_dict("records")
[{'id': 2, 'field': 'v', 'old': 2, 'new': 5}]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers.errors import ParameterError

#: What happened to a feature, in the order the tables list them.
CHANGES = ("added", "removed", "changed", "unchanged")
#: Geometries whose vertices moved less than this (CRS units: metres in a working CRS)
#: are the same.
GEOMETRY_TOLERANCE = 0.01


@dataclass
class VectorDiff:
    """What changed between two versions of a vector layer.

    Attributes
    ----------
    id_column
        The field features were matched by.
    features
        One row per feature of either version: the id, ``change`` (one of
        :data:`CHANGES`), ``fields`` (the changed fields, comma-separated,
        ``geometry`` included) and ``geometry_moved`` (Hausdorff distance of a
        moved geometry, NaN otherwise).
    changes
        One row per changed value: ``id``, ``field``, ``old``, ``new``.
    fields_added, fields_removed
        Fields only the newer or only the older version has.
    tolerance
        How far a geometry may move and be the same.
    """

    id_column: str
    features: pd.DataFrame
    changes: pd.DataFrame
    fields_added: list[str] = field(default_factory=list)
    fields_removed: list[str] = field(default_factory=list)
    tolerance: float = GEOMETRY_TOLERANCE
    geometry: np.ndarray | None = field(default=None, repr=False)
    """Each feature's geometry (the older one for a removed feature), as ``features``."""
    crs: Any = field(default=None, repr=False)

    def counts(self) -> dict[str, int]:
        """Features added, removed, changed, unchanged, and changed in their geometry."""
        change = self.features["change"]
        out = {c: int((change == c).sum()) for c in CHANGES}
        out["geometry_changed"] = int(self.features["geometry_moved"].notna().sum())
        return out

    def field_counts(self) -> dict[str, int]:
        """Changed field -> how many features it changed in (``geometry`` included)."""
        names = self.features["fields"].str.split(",").explode()
        names = names[names.notna() & (names != "")]
        return {str(k): int(v) for k, v in names.value_counts().items()}


def _check_ids(gdf: gpd.GeoDataFrame, id_column: str, which: str) -> None:
    if id_column not in gdf.columns:
        shown = ", ".join(c for c in gdf.columns if c != gdf.geometry.name) or "none"
        raise ParameterError(
            f"the {which} version has no id column {id_column!r} (its fields: {shown})"
        )
    ids = gdf[id_column]
    missing = int(ids.isna().sum())
    if missing:
        raise ParameterError(
            f"the {which} version has {missing} feature(s) without {id_column!r}: "
            "features are matched by id"
        )
    dup = ids[ids.duplicated()]
    if len(dup):
        raise ParameterError(
            f"the {which} version has {len(dup)} duplicate {id_column!r} value(s) "
            f"(first: {dup.iloc[0]!r}): features are matched by id"
        )


def _keys(before: pd.Series, after: pd.Series) -> tuple[pd.Index, pd.Index]:
    """The ids as index keys that compare across versions (text when the types differ)."""
    a, b = pd.Index(before), pd.Index(after)
    numeric = pd.api.types.is_numeric_dtype
    if a.dtype != b.dtype and not (numeric(a.dtype) and numeric(b.dtype)):
        a, b = a.astype(str), b.astype(str)
    return a, b


def _differ(old: pd.Series, new: pd.Series) -> np.ndarray:
    """Where two aligned columns hold different values (missing == missing)."""
    old, new = old.reset_index(drop=True), new.reset_index(drop=True)
    both_missing = (old.isna() & new.isna()).to_numpy()
    try:
        equal = (old == new).fillna(False).to_numpy(dtype=bool)
    except (TypeError, ValueError):  # types that cannot be compared: compare as text
        equal = (old.astype(str) == new.astype(str)).to_numpy(dtype=bool)
    return ~(equal | both_missing)


def _values(column: pd.Series) -> np.ndarray:
    """A column's values as objects, missing ones (NaN, None, NA) as None."""
    values = column.astype(object).to_numpy(copy=True)
    values[column.isna().to_numpy()] = None
    return values


def _moved(old: np.ndarray, new: np.ndarray, tolerance: float) -> np.ndarray:
    """Hausdorff distance of each geometry pair that differs beyond ``tolerance``, else NaN.

    A geometry missing in one version only has moved an infinite distance.
    """
    old_missing = shapely.is_missing(old) | shapely.is_empty(old)
    new_missing = shapely.is_missing(new) | shapely.is_empty(new)
    out = np.full(len(old), np.nan)
    one = old_missing != new_missing
    out[one] = np.inf
    both = ~old_missing & ~new_missing
    candidates = np.flatnonzero(both & ~shapely.equals_exact(old, new, tolerance))
    if candidates.size:
        dist = shapely.hausdorff_distance(old[candidates], new[candidates])
        far = dist > tolerance
        out[candidates[far]] = dist[far]
    return out


def vector_diff(
    before: gpd.GeoDataFrame,
    after: gpd.GeoDataFrame,
    id_column: str,
    tolerance: float = GEOMETRY_TOLERANCE,
) -> VectorDiff:
    """Features added, removed and changed from ``before`` to ``after``, matched by ``id_column``.

    Parameters
    ----------
    before, after
        The two versions (``after`` is reprojected to ``before``'s CRS if they differ).
        Their index does not matter.
    id_column
        The field that names a feature in both versions; its values must be unique
        and present.
    tolerance
        How far (CRS units) a geometry may move and still be the same; at least 0.

    Raises
    ------
    ParameterError
        If a version lacks the id column, has features without an id or ids twice,
        or the tolerance is negative.
    """
    if not tolerance >= 0:
        raise ParameterError(f"tolerance must be at least 0, got {tolerance!r}")
    _check_ids(before, id_column, "older")
    _check_ids(after, id_column, "newer")
    if before.crs is not None and after.crs is not None and before.crs != after.crs:
        after = after.to_crs(before.crs)
    key_a, key_b = _keys(before[id_column], after[id_column])
    a = before.set_axis(key_a)
    b = after.set_axis(key_b)
    kept_b, kept_a = key_b.isin(key_a), key_a.isin(key_b)
    common = key_b[kept_b]  # in the newer version's order
    geom_a, geom_b = before.geometry.name, after.geometry.name
    skip = (id_column, geom_a, geom_b)
    shared = [c for c in after.columns if c in before.columns and c not in skip]
    fields_added = [c for c in after.columns if c not in before.columns and c not in skip]
    fields_removed = [c for c in before.columns if c not in after.columns and c not in skip]

    changed_fields: list[list[str]] = [[] for _ in range(len(common))]
    records = []
    ids_common = after[id_column][kept_b].reset_index(drop=True)
    for col in shared:
        old, new = a.loc[common, col], b.loc[common, col]
        hit = np.flatnonzero(_differ(old, new))
        for i in hit:
            changed_fields[i].append(col)
        if hit.size:
            records.append(
                pd.DataFrame(
                    {
                        "id": ids_common.iloc[hit].to_numpy(),
                        "field": col,
                        "old": _values(old.iloc[hit]),
                        "new": _values(new.iloc[hit]),
                    }
                )
            )
    old_geoms = np.asarray(a.loc[common, geom_a].values, dtype=object)
    new_geoms = np.asarray(b.loc[common, geom_b].values, dtype=object)
    moved = _moved(old_geoms, new_geoms, tolerance)
    for i in np.flatnonzero(~np.isnan(moved)):
        changed_fields[i].append("geometry")
    kinds = np.where([bool(f) for f in changed_fields], "changed", "unchanged")
    n_added, n_removed = int((~kept_b).sum()), int((~kept_a).sum())
    ids = pd.concat(
        [ids_common, after[id_column][~kept_b], before[id_column][~kept_a]], ignore_index=True
    )
    geometry = np.concatenate(
        [
            new_geoms,
            np.asarray(after.geometry.values[~kept_b], dtype=object),
            np.asarray(before.geometry.values[~kept_a], dtype=object),
        ]
    )
    features = pd.DataFrame(
        {
            id_column: ids,
            "change": np.concatenate(
                [kinds.astype(object), ["added"] * n_added, ["removed"] * n_removed]
            ).astype(object),
            "fields": [",".join(f) for f in changed_fields] + [""] * (n_added + n_removed),
            "geometry_moved": np.concatenate([moved, np.full(n_added + n_removed, np.nan)]),
        }
    )
    order = features["change"].map({c: i for i, c in enumerate(CHANGES)}).to_numpy()
    rank = np.argsort(order, kind="stable")
    features = features.iloc[rank].reset_index(drop=True)
    changes = (
        pd.concat(records, ignore_index=True)
        if records
        else pd.DataFrame({"id": [], "field": [], "old": [], "new": []}, dtype=object)
    )
    return VectorDiff(
        id_column=id_column,
        features=features,
        changes=changes,
        fields_added=fields_added,
        fields_removed=fields_removed,
        tolerance=float(tolerance),
        geometry=geometry[rank],
        crs=after.crs,
    )


def diff_features(diff: VectorDiff) -> gpd.GeoDataFrame:
    """The features of both versions with what happened to each, to draw on a map.

    Added, changed and unchanged features have their newer geometry, removed ones
    their older one; columns: the id, ``change``, ``fields``, ``geometry_moved``,
    ``geometry`` (in the older version's CRS).
    """
    if diff.geometry is None:
        raise ParameterError("this diff kept no geometries")
    return gpd.GeoDataFrame(diff.features.copy(), geometry=list(diff.geometry), crs=diff.crs)


__all__ = ["CHANGES", "GEOMETRY_TOLERANCE", "VectorDiff", "diff_features", "vector_diff"]
