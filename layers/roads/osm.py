"""Read the ways of an OSM file (PBF, XML, O5M) into flat numpy arrays.

Why pyosmium
------------
The candidates on PyPI were:

- **pyosmium** (``osmium``): Python bindings of libosmium, the C++ library
  behind osmium-tool and osm2pgsql. PBF blobs are decompressed and decoded on
  libosmium's own worker threads, tag filters (``KeyFilter("highway")``) run
  in C++ before Python sees an object, and the node location cache lives in
  C++ too, so Python only touches the ways we keep. It reads PBF, XML and O5M,
  is maintained by the OSM core developers, and ships manylinux wheels.
  Errors in a PBF surface as ``RuntimeError("PBF error: ...")``.
- **pyrosm**: a Cython PBF parser that materialises *every* element and all
  tags into Python/pandas objects before filtering; its network builder then
  does the topology in pandas/shapely. Fast to decode, slow to build a
  network (see ``benchmarks/bench_roads.py``), and it downloads data at import
  time in some paths.
- **GDAL's OSM driver** (through pyogrio): convenient, but its ``lines`` layer
  has no node ids, so a routable topology (shared nodes) cannot be rebuilt
  exactly; it also needs a temporary SQLite index for large files.
- **osmnx**: reads OSM XML only (or Overpass); no PBF.

So: pyosmium for parsing, numpy for everything after. The one per-node Python
step left is copying each way's node refs and integer coordinates out of the
way (a list comprehension over ``w.nodes``); everything else, including
projection, splitting and lengths, is vectorised.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import osmium
import osmium.filter

from layers.errors import SourceError

#: Tags copied from every highway way (the rest are dropped in C++ land).
WAY_KEYS = (
    "highway",
    "name",
    "ref",
    "lanes",
    "maxspeed",
    "oneway",
    "junction",
    "bridge",
    "tunnel",
    "surface",
    "layer",
    "area",
    "access",
    "service",
    "motor_vehicle",
    "motorcar",
    "foot",
    "bicycle",
    "sidewalk",
    "sidewalk:both",
    "sidewalk:left",
    "sidewalk:right",
)

#: libosmium's marker for a coordinate it does not know (``Location::undefined_coordinate``).
_UNDEFINED = 2147483647
#: libosmium stores coordinates as integers in units of 1e-7 degree.
_SCALE = 1e-7

#: Suffixes read as OSM data (everything else goes through OGR).
OSM_SUFFIXES = (".osm.pbf", ".pbf", ".osm", ".osm.bz2", ".osm.gz", ".o5m", ".osc")


def is_osm_path(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` names an OSM file (decided by suffix)."""
    name = Path(path).name.lower()
    return any(name.endswith(s) for s in OSM_SUFFIXES)


@dataclass
class OsmWays:
    """Highway ways of an OSM file as flat arrays.

    Way ``i`` owns the node slots ``offsets[i]:offsets[i + 1]`` of ``node_id``,
    ``lon`` and ``lat``. A node the file does not contain (a clipped extract)
    has NaN coordinates.

    Parameters
    ----------
    way_id
        OSM way ids, ``int64[n_ways]``.
    offsets
        ``int64[n_ways + 1]`` start of each way's node slots.
    node_id
        OSM node ids, ``int64[n_slots]``.
    lon, lat
        WGS84 degrees, ``float64[n_slots]``, NaN where the node is missing.
    tags
        Key -> ``object[n_ways]`` array of values (``None`` where absent).
    """

    way_id: np.ndarray
    offsets: np.ndarray
    node_id: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    tags: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.way_id)


def read_osm_ways(
    path: str | os.PathLike[str],
    keys: tuple[str, ...] = WAY_KEYS,
    filter_key: str = "highway",
    exclude: str | None = None,
) -> OsmWays:
    """Read every way tagged ``filter_key`` with its node ids and coordinates.

    One pass over the file with libosmium's in-memory node location cache.
    Ways whose ``filter_key`` value matches the regex ``exclude`` (searched,
    not anchored, as Overpass does) are skipped before their nodes and other
    tags are copied: for a drive network that is most footways and paths.

    Raises
    ------
    SourceError
        The file is missing, truncated, corrupt or not OSM data.
    """
    path = Path(path)
    if not path.exists():
        raise SourceError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise SourceError(f"{path}: empty file, expected OSM data")
    way_ids: list[int] = []
    counts: list[int] = []
    slots: list[tuple[int, int, int]] = []
    values: list[tuple[str | None, ...]] = []
    skip = _Skip(exclude)
    try:
        processor = (
            osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY)
            .with_locations()
            .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
            .with_filter(osmium.filter.KeyFilter(filter_key))
        )
        for way in processor:
            if skip(way.tags.get(filter_key)):
                continue
            # The one per-node step: copy ids and integer coordinates out of C++
            # (one tuple per node is faster than three passes over the node list).
            nodes = [(n.ref, n.x, n.y) for n in way.nodes]  # type: ignore[union-attr]
            slots.extend(nodes)
            counts.append(len(nodes))
            way_ids.append(way.id)
            get = way.tags.get
            values.append(tuple([get(k) for k in keys]))
    except (RuntimeError, ValueError, osmium.InvalidLocationError) as exc:
        raise SourceError(f"{path}: not a readable OSM file: {_first_line(exc)}") from None
    offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(np.asarray(counts, dtype=np.int64), out=offsets[1:])
    table_xy = np.array(slots, dtype=np.int64).reshape(-1, 3)
    xi, yi = table_xy[:, 1], table_xy[:, 2]
    missing = (xi == _UNDEFINED) | (yi == _UNDEFINED)
    lon = xi * _SCALE
    lat = yi * _SCALE
    lon[missing] = np.nan
    lat[missing] = np.nan
    table = np.empty((len(values), len(keys)), dtype=object)
    if values:
        table[:] = values
    return OsmWays(
        way_id=np.asarray(way_ids, dtype=np.int64),
        offsets=offsets,
        node_id=table_xy[:, 0].copy(),
        lon=lon,
        lat=lat,
        tags={k: table[:, i] for i, k in enumerate(keys)},
    )


class _Skip:
    """``value -> bool``: whether a regex matches, decided once per distinct value."""

    def __init__(self, pattern: str | None) -> None:
        self._rx = re.compile(pattern) if pattern else None
        self._seen: dict[str | None, bool] = {}

    def __call__(self, value: str | None) -> bool:
        if self._rx is None:
            return False
        hit = self._seen.get(value)
        if hit is None:
            hit = self._seen[value] = value is not None and bool(self._rx.search(value))
        return hit


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
