"""What changed in a published layer between two of its versions (``twin diff``, ``Twin.diff``).

A version is named by its id (or a unique prefix of it), by ``current`` or
``previous``, or by an ISO 8601 date or instant: the version in force then, i.e.
the newest one published at or before it, as the tile server's ``layer@date``
has it (a date alone means the end of that day, UTC; a time needs a zone).
Versions are read through the manifest each version directory keeps
(:func:`tiles.catalog.read_version`), so any version not yet pruned can be compared.

- vector layers are compared feature by feature, matched by the layer's id
  column (:func:`id_column`), with :func:`layers.diff.vector_diff`;
- raster layers by their difference grid, block by block, with
  :func:`layers.diff.raster_diff`, summed up per zone where there are zones;
- a coverage layer also by the share of each zone covered before and after
  (:func:`layers.diff.coverage_change`), with each version's own thresholds,
  over its own zones (``<layer>_zones``) and the region.

Examples
--------
>>> from twin import Twin
>>> d = Twin.open("demo-county").diff("coverage")  # doctest: +SKIP
>>> d.coverage.sort_values("change").tail()  # doctest: +SKIP
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from layers.diff import (
    Covered,
    RasterDiff,
    VectorDiff,
    coverage_change,
    raster_diff,
    vector_diff,
)
from layers.diff.vector import GEOMETRY_TOLERANCE
from layers.errors import LayerError
from layers.raster import open_raster
from tiles.catalog import Catalog, LayerEntry, read_catalog, read_version, resolve_artifact
from tiles.errors import LayerNotFoundError, TilesError
from tiles.versions import VersionIndex, parse_instant
from twin.errors import WorkspaceError

#: the words that name a version relative to the current one
CURRENT, PREVIOUS = "current", "previous"


def resolve_version(index: VersionIndex, name: str, spec: str | None, default: str) -> str:
    """The version of layer ``name`` that ``spec`` (or ``default`` when None) names.

    A date is resolved as the tile server resolves ``layer@date``
    (:meth:`tiles.versions.VersionIndex.at`): the newest version published at or
    before it.

    Raises
    ------
    WorkspaceError
        One line naming the layer, what was asked and what there is.
    """
    entry = index.catalog.layer(name)
    versions = [entry.version, *entry.history]
    spec = default if spec is None else spec.strip()
    if spec in (CURRENT, "latest"):
        return versions[0]
    if spec == PREVIOUS:
        if len(versions) < 2:
            raise WorkspaceError(
                f"layer {name!r} has only one version ({versions[0]}): nothing to compare it "
                "with yet (build it again after its inputs change)"
            )
        return versions[1]
    if spec in versions:
        return spec
    try:
        instant = parse_instant(spec)
        if instant is not None:
            return index.at(name, instant, spec).version
    except TilesError as exc:
        raise WorkspaceError(str(exc)) from None
    prefixed = [v for v in versions if v.startswith(spec)] if spec else []
    if len(prefixed) == 1:
        return prefixed[0]
    shown = ", ".join(versions[:6]) + (" ..." if len(versions) > 6 else "")
    what = f"{len(prefixed)} versions start with" if prefixed else "has no version"
    raise WorkspaceError(
        f"layer {name!r} {what} {spec[:64]!r} (versions, newest first: {shown}; or name one by "
        "an ISO date, 'current' or 'previous')"
    )


def id_column(name: str, entry: LayerEntry, override: str | None = None) -> str:
    """The field that names a feature of vector layer ``name``: what its builder recorded.

    ``override`` if given, else the first of these the layer has as a field: the
    ``vector`` builder's ``params.id``, the ``id`` style hint (the villages builder's
    village code, a coverage build's cell id), ``params.code``, ``params.zone_id``
    (a coverage build's zones).

    Raises
    ------
    WorkspaceError
        When the layer records none (one line suggesting ``params.id``).
    """
    if override:
        return override
    params = entry.provenance.params
    recorded = [params.get("id"), entry.style.get("id"), params.get("code"), params.get("zone_id")]
    for c in recorded:
        if isinstance(c, str) and c in entry.fields:
            return c
    guess = next((f for f in entry.fields if re.search(r"(^|_)(id|code)$", f, re.I)), None)
    hint = "name one with --id" + (f" (e.g. --id {guess})" if guess else "")
    if entry.provenance.builder == "vector" and not entry.parent:
        hint = (
            f"set params.id = {(guess or '<field>')!r} in [layers.{name}] and rebuild, or " + hint
        )
    raise WorkspaceError(f"layer {name!r} has no id column to match features by: {hint}")


@dataclass
class DiffResult:
    """What changed in ``layer`` from version ``before`` to version ``after``.

    The tables are DataFrames: :attr:`features` and :attr:`changes` for a vector
    layer, :attr:`zones` and :attr:`coverage` for a raster one.
    """

    layer: str
    kind: str
    before: str
    after: str
    title: str = ""
    title_i18n: dict[str, str] = field(default_factory=dict)
    vector: VectorDiff | None = None
    raster: RasterDiff | None = None
    #: coverage layers: share covered per zone before and after (see coverage_change)
    coverage: pd.DataFrame | None = None
    #: coverage layers: the same for the whole region (one row), when it has a boundary
    coverage_region: pd.DataFrame | None = None
    zone_layer: str | None = None
    zone_names: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        """Vector: features added, removed, changed, unchanged, changed in geometry."""
        return self.vector.counts() if self.vector else {}

    @property
    def features(self) -> pd.DataFrame | None:
        """Vector: one row per feature with its change and changed fields."""
        return self.vector.features if self.vector else None

    @property
    def changes(self) -> pd.DataFrame | None:
        """Vector: one row per changed value (id, field, old, new)."""
        return self.vector.changes if self.vector else None

    @property
    def stats(self) -> dict[str, Any]:
        """Raster: the difference grid's statistics (see :class:`layers.diff.RasterDiff`)."""
        return self.raster.stats if self.raster else {}

    @property
    def zones(self) -> pd.DataFrame | None:
        """Raster: the difference's statistics per zone."""
        return self.raster.zones if self.raster else None

    def as_dict(self) -> dict[str, Any]:
        """Everything, JSON-ready (``twin diff --json``)."""
        out: dict[str, Any] = {
            "layer": self.layer,
            "kind": self.kind,
            "before": self.before,
            "after": self.after,
            "warnings": self.warnings,
        }
        if self.vector is not None:
            v = self.vector
            out.update(
                id=v.id_column,
                tolerance=v.tolerance,
                counts=v.counts(),
                field_counts=v.field_counts(),
                fields_added=v.fields_added,
                fields_removed=v.fields_removed,
                features=_records(v.features[v.features["change"] != "unchanged"]),
                changes=_records(v.changes),
            )
        if self.raster is not None:
            out.update(
                unit=self.raster.unit,
                stats=self.raster.stats,
                zone_layer=self.zone_layer,
                zones=_records(self.raster.zones) if self.raster.zones is not None else None,
            )
        if self.coverage is not None:
            out["coverage"] = _records(self.coverage)
        if self.coverage_region is not None:
            out["coverage_region"] = _records(self.coverage_region)[0]
        return out

    def __repr__(self) -> str:
        what = (
            ", ".join(f"{k} {v}" for k, v in self.counts.items())
            if self.vector
            else f"{self.stats.get('changed', 0):,} pixels changed"
        )
        return f"<DiffResult {self.layer} {self.before} -> {self.after}: {what}>"


def _plain(value: Any) -> Any:
    """A table cell as JSON: numbers, text, booleans and None (NaN and missing)."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):  # array-likes
        pass
    return str(value)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): _plain(v) for k, v in row.items()} for row in frame.to_dict("records")]


@dataclass
class Side:
    """One version of a layer: its entry as published and where its data is."""

    version: str
    entry: LayerEntry
    path: str


def version_side(catalog_path: Path, catalog: Catalog, name: str, version: str) -> Side:
    """Layer ``name`` at ``version`` (which its catalog entry or history lists)."""
    current = catalog.layer(name)
    entry = read_version(catalog_path, name, current, version)
    return Side(version, entry, resolve_artifact(catalog_path, entry.artifacts["data"]))


def extra_side(
    catalog_path: Path, catalog: Catalog, name: str, key: str, version: str
) -> Side | None:
    """The layer ``<name>_<key>`` made by the same build as ``name``'s ``version``, if any."""
    extra = f"{name}_{key}"
    current = catalog.layers.get(extra)
    if current is None or current.parent != name:
        return None
    try:
        entry = read_version(catalog_path, extra, current, version)
    except LayerNotFoundError:  # that version's build did not make it
        return None
    return Side(version, entry, resolve_artifact(catalog_path, entry.artifacts["data"]))


def is_coverage(entry: LayerEntry) -> bool:
    """Whether ``entry`` is the RSRP raster of a ``coverage`` build (not one of its extras)."""
    return entry.kind == "raster" and entry.provenance.builder == "coverage" and not entry.parent


def covered(catalog_path: Path, catalog: Catalog, name: str, side: Side) -> Covered:
    """A coverage version with its own SINR raster and thresholds (from its statistics)."""
    stats = side.entry.stats
    sinr = extra_side(catalog_path, catalog, name, "sinr", side.version)
    return Covered(
        rsrp=open_raster(side.path),
        threshold_dbm=float(stats.get("threshold_dbm", -105.0)),
        sinr=open_raster(sinr.path) if sinr is not None else None,
        sinr_threshold_db=float(stats.get("sinr_threshold_db", -3.0)),
    )


def diff_layer(
    catalog_path: Path,
    name: str,
    v1: str | None = None,
    v2: str | None = None,
    *,
    id: str | None = None,
    tolerance: float | None = None,
    zones: str | None = None,
    region: gpd.GeoDataFrame | None = None,
) -> DiffResult:
    """Compare two versions of published layer ``name`` (default: previous -> current).

    Parameters
    ----------
    catalog_path
        The workspace's ``build/catalog.json``.
    v1, v2
        The older and newer version (see the module's docstring for how to name
        them); defaults ``previous`` and ``current``; ``v1`` alone compares it
        with the current version.
    id
        Vector layers: the field to match features by (default: :func:`id_column`).
    tolerance
        Vector: how far a geometry may move and be the same (CRS units, default
        0.01 m); raster: how much a pixel may change and be unchanged (default 0).
    zones
        Raster layers: a vector layer of the catalog to sum up the change per zone
        (default for a coverage layer: its own zones).
    region
        The region's boundary, for a coverage layer's region-wide share.
    """
    catalog = read_catalog(catalog_path)
    if name not in catalog.layers:
        known = ", ".join(sorted(catalog.layers)) or "none yet; run build"
        raise WorkspaceError(f"no published layer {name!r} (published: {known})")
    entry = catalog.layers[name]
    index = VersionIndex(catalog_path, catalog)
    after_v = resolve_version(index, name, v2, CURRENT)
    before_v = resolve_version(index, name, v1, PREVIOUS)
    before = version_side(catalog_path, catalog, name, before_v)
    after = version_side(catalog_path, catalog, name, after_v)
    result = DiffResult(
        layer=name,
        kind=entry.kind,
        before=before_v,
        after=after_v,
        title=entry.title,
        title_i18n=dict(entry.title_i18n),
    )
    if before.entry.kind != after.entry.kind:
        raise WorkspaceError(
            f"layer {name!r}: version {before_v} is {before.entry.kind}, {after_v} is "
            f"{after.entry.kind}: nothing to compare"
        )
    if before_v == after_v:
        result.warnings.append(f"both versions are {after_v}: nothing can have changed")
    try:
        if entry.kind == "vector":
            column = id_column(name, after.entry, id)
            result.vector = vector_diff(
                gpd.read_parquet(before.path),
                gpd.read_parquet(after.path),
                column,
                GEOMETRY_TOLERANCE if tolerance is None else tolerance,
            )
        else:
            _raster(result, catalog_path, catalog, name, before, after, tolerance, zones, region)
    except LayerError as exc:
        raise WorkspaceError(f"layer {name!r}: {exc}") from None
    return result


def _raster(
    result: DiffResult,
    catalog_path: Path,
    catalog: Catalog,
    name: str,
    before: Side,
    after: Side,
    tolerance: float | None,
    zones: str | None,
    region: gpd.GeoDataFrame | None,
) -> None:
    zone_frame, zone_id = None, None
    if zones is not None:
        if zones not in catalog.layers or catalog.layers[zones].kind != "vector":
            raise WorkspaceError(f"--zones {zones!r}: not a published vector layer")
        z_entry = catalog.layers[zones]
        zone_frame = gpd.read_parquet(resolve_artifact(catalog_path, z_entry.artifacts["data"]))
        zone_id = _zone_id(zones, z_entry, zone_frame)
        result.zone_layer = zones
    elif is_coverage(after.entry):
        own = extra_side(catalog_path, catalog, name, "zones", after.version)
        if own is not None:
            zone_frame = gpd.read_parquet(own.path)
            zone_id = after.entry.provenance.params.get("zone_id")
            if zone_id not in zone_frame.columns:
                zone_id = None
            result.zone_layer = f"{name}_zones"
    if zone_frame is not None and zone_id is not None and "name" in zone_frame.columns:
        result.zone_names = {
            str(k): str(v) for k, v in zip(zone_frame[zone_id], zone_frame["name"], strict=True)
        }
    result.raster = raster_diff(
        open_raster(before.path),
        open_raster(after.path),
        zones=zone_frame,
        zone_id=zone_id,
        tolerance=0.0 if tolerance is None else tolerance,
    )
    if is_coverage(after.entry) and is_coverage(before.entry):
        was = covered(catalog_path, catalog, name, before)
        now = covered(catalog_path, catalog, name, after)
        if zone_frame is not None:
            result.coverage = coverage_change(was, now, zone_frame, zone_id)
        if region is not None:
            whole = coverage_change(was, now, region.dissolve().reset_index(drop=True))
            result.coverage_region = whole.assign(zone="region")
    for table in (result.raster.zones, result.coverage):
        if table is not None and result.zone_names:  # the zones' names beside their ids
            table.insert(1, "name", table["zone"].astype(str).map(result.zone_names))


def _zone_id(name: str, entry: LayerEntry, frame: gpd.GeoDataFrame) -> str | None:
    try:
        column = id_column(name, entry)
    except WorkspaceError:
        return None
    return column if column in frame.columns else None


__all__ = [
    "CURRENT",
    "PREVIOUS",
    "DiffResult",
    "Side",
    "diff_layer",
    "id_column",
    "resolve_version",
    "version_side",
]
