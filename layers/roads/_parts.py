"""The per-way stages of the roads layer, run on spatial partitions of the ways.

:func:`layers.roads.read_osm_roads` works in two kinds of stage:

- **per way**: projecting each way's vertices to the working CRS and
  normalising its tags (class, name, lanes, maxspeed, one-way ...). A way's
  result depends on that way alone, so these run on spatial partitions of the
  ways (:func:`spatial_partitions`), possibly in other processes (a ``map``
  over :class:`WayBatch` objects: the ``roads`` builder maps them onto a Dask
  cluster);
- **global**: splitting at shared nodes, simplification, consolidation,
  components, edge keys and speed imputation look at the whole graph and run
  once on the reassembled arrays (:func:`assemble`).

The batches carry compact arrays (node coordinates and tag values), never
geometries, and come back as arrays; :func:`assemble` puts every value back in
the order of the ways, so the network is the same whatever the partitions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
from pyproj import CRS, Transformer

from layers.roads import _tags as tags

#: ``map(function, batches)`` as the stages are run: the builtin or a cluster's.
MapParts = Callable[[Callable[[Any], Any], list[Any]], Iterable[Any]]


@dataclass
class WayBatch:
    """The ways of one spatial partition: their vertices in WGS84 and their tags."""

    ways: np.ndarray
    """Indices of the ways (in the whole source's order, ascending)."""
    osm_id: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    values: dict[str, np.ndarray]
    crs: CRS
    network: str


@dataclass
class WayResult:
    """A batch's projected vertices and normalised columns."""

    ways: np.ndarray
    x: np.ndarray
    y: np.ndarray
    columns: dict[str, Any]


def spatial_partitions(offsets: np.ndarray, lon: np.ndarray, n: int) -> list[np.ndarray]:
    """Way indices in ``n`` strips of about equal ways, west to east.

    A way goes to the strip of its first vertex the file contains (ways with
    none go to the first strip); each strip lists its ways in source order.
    """
    n_ways = len(offsets) - 1
    if n <= 1 or n_ways <= 1:
        return [np.arange(n_ways, dtype=np.int64)]
    present = np.isfinite(lon)
    slot_way = np.repeat(np.arange(n_ways, dtype=np.int64), np.diff(offsets))
    first_slot = np.full(n_ways, -1, dtype=np.int64)
    hit = np.flatnonzero(present)
    # the first present slot of each way (hit is sorted, so unique's first index is it)
    with_hit, first = np.unique(slot_way[hit], return_index=True)
    first_slot[with_hit] = hit[first]
    key = np.where(first_slot >= 0, lon[np.maximum(first_slot, 0)], -np.inf)
    finite = key[np.isfinite(key)]
    cuts = np.quantile(finite, np.linspace(0, 1, n + 1)[1:-1]) if finite.size else np.array([])
    strip = np.searchsorted(cuts, key, side="right")
    parts = [np.flatnonzero(strip == k) for k in range(n)]
    return [p.astype(np.int64) for p in parts if len(p)]


def batches(
    parts: list[np.ndarray],
    offsets: np.ndarray,
    osm_id: np.ndarray,
    lon: np.ndarray,
    lat: np.ndarray,
    values: dict[str, np.ndarray],
    crs: CRS,
    network: str,
) -> list[WayBatch]:
    """One :class:`WayBatch` per partition of way indices."""
    out = []
    for ways in parts:
        slots = _slots(offsets, ways)
        out.append(
            WayBatch(
                ways=ways,
                osm_id=osm_id[ways],
                lon=lon[slots],
                lat=lat[slots],
                values={k: v[ways] for k, v in values.items()},
                crs=crs,
                network=network,
            )
        )
    return out


def _slots(offsets: np.ndarray, ways: np.ndarray) -> np.ndarray:
    """The vertex slots of ``ways``, way after way."""
    counts = offsets[ways + 1] - offsets[ways]
    starts = np.repeat(offsets[ways] - np.cumsum(counts) + counts, counts)
    return starts + np.arange(int(counts.sum()), dtype=np.int64)


def way_stage(batch: WayBatch) -> WayResult:
    """Project a batch's vertices and normalise its tags (the per-way stages)."""
    x, y = to_working(batch.crs).transform(batch.lon, batch.lat)
    highway = batch.values["highway"]
    columns = normalise_columns(
        osm_id=batch.osm_id,
        highway=highway,
        road_class=tags.road_class(highway),
        values=batch.values,
        network=batch.network,
    )
    return WayResult(
        batch.ways, np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64), columns
    )


def assemble(
    results: Iterable[WayResult], offsets: np.ndarray
) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Every way's projected vertices and attribute table, back in source order."""
    results = list(results)
    n_ways, n_slots = len(offsets) - 1, int(offsets[-1])
    x = np.empty(n_slots, dtype=np.float64)
    y = np.empty(n_slots, dtype=np.float64)
    order = np.empty(n_ways, dtype=np.int64)
    seen = 0
    for r in results:
        slots = _slots(offsets, r.ways)
        x[slots], y[slots] = r.x, r.y
        order[r.ways] = np.arange(seen, seen + len(r.ways))
        seen += len(r.ways)
    if seen != n_ways:
        raise AssertionError(f"the partitions hold {seen} ways, the source {n_ways}")
    columns = {
        name: _concat([r.columns[name] for r in results])[order] for name in results[0].columns
    }
    return x, y, pd.DataFrame(columns)


def _concat(arrays: list[Any]) -> Any:
    if all(isinstance(a, np.ndarray) for a in arrays):
        return np.concatenate(arrays)
    # pandas extension arrays (lanes: Int16)
    return pd.concat([pd.Series(a) for a in arrays], ignore_index=True).array


@lru_cache(maxsize=16)
def to_working(crs: CRS) -> Transformer:
    """WGS84 -> ``crs``; building a transformer costs 1-50 ms (a datum search), so reuse it."""
    return Transformer.from_crs(CRS.from_epsg(4326), crs, always_xy=True)


def normalise_columns(
    osm_id: np.ndarray,
    highway: np.ndarray,
    road_class: np.ndarray,
    values: dict[str, np.ndarray],
    network: str,
) -> dict[str, Any]:
    """The edge attributes of each way, as columns (see :mod:`layers.roads` for the schema)."""
    n = len(osm_id)
    none = np.full(n, None, dtype=object)
    get = lambda key: values.get(key, none)  # noqa: E731
    if network == "walk":  # osmnx: walking ignores one-way rules
        oneway, direction = np.zeros(n, dtype=bool), np.zeros(n, dtype=np.int8)
    else:
        oneway, direction = tags.oneway(get("oneway"), get("junction"))
    return {
        "osm_id": np.asarray(osm_id, dtype=np.int64),
        "highway": np.asarray(highway, dtype=object),
        "road_class": road_class,
        "name": tags.text(get("name")),
        "ref": tags.text(get("ref")),
        "lanes": tags.lanes(get("lanes")),
        "maxspeed": tags.maxspeed_kph(get("maxspeed")),
        "oneway": oneway,
        "direction": direction,
        "bridge": tags.flag(get("bridge")),
        "tunnel": tags.flag(get("tunnel")),
        "surface": tags.text(get("surface")),
        "layer": tags.layer(get("layer")),
    }
