"""Network-type filters (drive / bike / walk / all), the same rules as osmnx's.

osmnx expresses them as Overpass filters (``osmnx/_overpass.py::_get_network_filter``,
osmnx 2.x); Overpass ``!~`` is an unanchored, case-sensitive regex match, so
``["highway"!~"motor"]`` drops ``motorway`` *and* ``motorway_link``. We apply
the same regexes to the tag arrays, so a PBF gives the network osmnx would
download for the same area.
"""

from __future__ import annotations

import re
from typing import Literal

import numpy as np
import pandas as pd

NetworkType = Literal["drive", "bike", "walk", "all"]
NETWORK_TYPES: tuple[str, ...] = ("drive", "bike", "walk", "all")

_ACCESS = {"access": "private"}

#: key -> regex that, when it matches the tag value, excludes the way.
_EXCLUDE: dict[str, dict[str, str]] = {
    "drive": {
        "area": "yes",
        **_ACCESS,
        "highway": "abandoned|bridleway|bus_guideway|construction|corridor|cycleway|elevator|"
        "escalator|footway|no|path|pedestrian|planned|platform|proposed|raceway|razed|"
        "rest_area|service|services|steps|track",
        "motor_vehicle": "no",
        "motorcar": "no",
        "service": "alley|driveway|emergency_access|parking|parking_aisle|private",
    },
    "walk": {
        "area": "yes",
        **_ACCESS,
        "highway": "abandoned|bus_guideway|construction|cycleway|motor|no|planned|platform|"
        "proposed|raceway|razed|rest_area|services",
        "foot": "no",
        "service": "private",
        "sidewalk": "separate",
        "sidewalk:both": "separate",
        "sidewalk:left": "separate",
        "sidewalk:right": "separate",
    },
    "bike": {
        "area": "yes",
        **_ACCESS,
        "highway": "abandoned|bus_guideway|construction|corridor|elevator|escalator|footway|"
        "motor|no|planned|platform|proposed|raceway|razed|rest_area|services|steps",
        "bicycle": "no",
        "service": "private",
    },
    "all": {
        "area": "yes",
        "highway": "abandoned|construction|no|planned|platform|proposed|raceway|razed|"
        "rest_area|services",
    },
}

#: The tag keys a filter reads (the reader must keep them).
FILTER_KEYS = tuple(sorted({k for rules in _EXCLUDE.values() for k in rules}))


def highway_exclude(network: str) -> str:
    """The regex of ``highway`` values ``network`` excludes (for early skipping)."""
    if network not in _EXCLUDE:
        raise ValueError(f"network must be one of {', '.join(NETWORK_TYPES)}, not {network!r}")
    return _EXCLUDE[network]["highway"]


def network_mask(network: str, tags: dict[str, np.ndarray]) -> np.ndarray:
    """Boolean mask of the ways that belong to ``network``.

    Parameters
    ----------
    network
        One of :data:`NETWORK_TYPES`.
    tags
        Key -> object array of raw tag values (``None`` where absent); keys
        missing from ``tags`` count as absent on every way.
    """
    if network not in _EXCLUDE:
        raise ValueError(f"network must be one of {', '.join(NETWORK_TYPES)}, not {network!r}")
    n = len(next(iter(tags.values()))) if tags else 0
    keep = np.ones(n, dtype=bool)
    if "highway" in tags:
        keep &= np.array([v is not None for v in tags["highway"]], dtype=bool)
    for key, pattern in _EXCLUDE[network].items():
        values = tags.get(key)
        if values is None:
            continue
        rx = re.compile(pattern)
        uniq = {v for v in values if v is not None}
        bad = {v for v in uniq if rx.search(str(v))}
        if bad:
            keep &= ~pd.Series(values, dtype=object).isin(bad).to_numpy()
    return keep
