"""Normalise road attributes: class, lanes, maxspeed, oneway, bridge, tunnel, layer.

Each parser takes an array of raw tag values (``object``, ``None`` where absent)
and returns a typed numpy array. Parsers work on the unique values only, so a
county with a million edges parses a few hundred strings.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

import numpy as np
import pandas as pd

#: The normalised road classes, most important first (used for ordering and styling).
ROAD_CLASSES = (
    "motorway",
    "trunk",
    "primary",
    "secondary",
    "tertiary",
    "motorway_link",
    "trunk_link",
    "primary_link",
    "secondary_link",
    "tertiary_link",
    "unclassified",
    "residential",
    "service",
    "track",
    "cycleway",
    "footway",
    "path",
    "other",
)

#: OSM ``highway`` values (and common synonyms from non-OSM sources) -> road class.
_CLASS_OF: dict[str, str] = {c: c for c in ROAD_CLASSES if c != "other"}
_CLASS_OF.update(
    {
        "road": "unclassified",
        "living_street": "residential",
        "busway": "service",
        "bus_guideway": "service",
        "pedestrian": "footway",
        "steps": "footway",
        "corridor": "footway",
        "sidewalk": "footway",
        "crossing": "footway",
        "elevator": "footway",
        "escalator": "footway",
        "bridleway": "path",
        "trail": "path",
        "cycle": "cycleway",
        # Common names in transport-bureau layers (English and Chinese road grades).
        "expressway": "motorway",
        "freeway": "motorway",
        "highway": "motorway",
        "national": "trunk",
        "provincial": "primary",
        "county": "secondary",
        "township": "tertiary",
        "village": "unclassified",
        "高速公路": "motorway",
        "国道": "trunk",
        "省道": "primary",
        "县道": "secondary",
        "乡道": "tertiary",
        "村道": "unclassified",
        "专用公路": "service",
    }
)

#: Fallback speeds (km/h) when neither the edge nor its class has a known maxspeed.
DEFAULT_SPEEDS: dict[str, float] = {
    "motorway": 110.0,
    "trunk": 90.0,
    "primary": 70.0,
    "secondary": 60.0,
    "tertiary": 50.0,
    "motorway_link": 60.0,
    "trunk_link": 50.0,
    "primary_link": 40.0,
    "secondary_link": 40.0,
    "tertiary_link": 30.0,
    "unclassified": 40.0,
    "residential": 30.0,
    "service": 20.0,
    "track": 15.0,
    "cycleway": 15.0,
    "footway": 5.0,
    "path": 5.0,
    "other": 20.0,
}

_MPH = 1.609344
_KNOT = 1.852

#: Implicit limits written as ``<country>:<zone>`` (OSM wiki "Default speed limits").
#: Country-specific values first; the generic zone value is the fallback for any country.
_ZONE_SPEEDS: dict[str, float] = {
    "urban": 50.0,
    "rural": 90.0,
    "trunk": 100.0,
    "motorway": 120.0,
    "living_street": 20.0,
    "walk": 6.0,
    "school": 30.0,
    "bicycle_road": 30.0,
    "zone20": 20.0,
    "zone30": 30.0,
    "zone40": 40.0,
    "zone:20": 20.0,
    "zone:30": 30.0,
    "zone:40": 40.0,
    # China: Road Traffic Safety Law implementing regulation, art. 45-46
    # (one lane each way: 50 urban / 70 rural; expressways up to 120).
    "CN:urban": 50.0,
    "CN:rural": 70.0,
    "CN:motorway": 120.0,
    "DE:rural": 100.0,
    "DE:motorway": math.nan,  # no general limit (advisory 130 is not a limit)
    "AT:rural": 100.0,
    "AT:motorway": 130.0,
    "FR:rural": 80.0,
    "FR:motorway": 130.0,
    "IT:rural": 90.0,
    "IT:motorway": 130.0,
    "FI:rural": 80.0,
    "RU:urban": 60.0,
    "RU:rural": 90.0,
    "RU:motorway": 110.0,
    "GB:nsl_single": 60 * _MPH,
    "GB:nsl_dual": 70 * _MPH,
    "GB:motorway": 70 * _MPH,
    "US:urban": 25 * _MPH,
}

_NUMBER = re.compile(r"^(\d+(?:[.,]\d+)?)\s*(km/h|kmh|kph|mph|knots|kn)?$")
_NO_NUMBER = {"none", "signals", "variable", "unposted", "implicit", "no", "unknown"}

_TRUE = {"yes", "true", "1"}
_REVERSE = {"-1", "reverse"}
_ROUNDABOUT = {"roundabout", "circular"}


def road_class(highway: np.ndarray, extra: dict[str, str] | None = None) -> np.ndarray:
    """Map raw class values (OSM ``highway`` or synonyms) to :data:`ROAD_CLASSES`.

    Unknown or missing values become ``"other"``. ``extra`` adds or overrides
    mappings (e.g. a transport bureau's own codes).
    """
    table = dict(_CLASS_OF)
    if extra:
        table.update({str(k).strip().lower(): v for k, v in extra.items()})
    bad = sorted({v for v in table.values() if v not in ROAD_CLASSES})
    if bad:
        raise ValueError(f"class mapping targets {bad} are not road classes {ROAD_CLASSES}")

    def one(value: str) -> str:
        key = value.strip()
        return table.get(key, table.get(key.lower(), "other"))

    return _map_unique(highway, one, "other", object)


def parse_maxspeed_value(value: str | None) -> float:
    """One ``maxspeed`` tag value in km/h, NaN when it carries no number.

    Handles ``"50"``, ``"50 km/h"``, ``"30 mph"``, ``"5 knots"``, implicit
    zones ``"CN:urban"`` / ``"DE:zone30"``, and lists ``"50;70"`` / ``"50|70"``
    (the mean, as osmnx does).

    Examples
    --------
    >>> parse_maxspeed_value("30 mph")
    48.28032
    >>> parse_maxspeed_value("50;70")
    60.0
    """
    if value is None:
        return math.nan
    parts = [p.strip() for p in re.split(r"[;|]", str(value)) if p.strip()]
    speeds = [s for s in (_one_maxspeed(p) for p in parts) if not math.isnan(s)]
    return float(np.mean(speeds)) if speeds else math.nan


def _one_maxspeed(text: str) -> float:
    low = text.lower()
    if low in _NO_NUMBER:
        return math.nan
    m = _NUMBER.match(low)
    if m:
        number = float(m.group(1).replace(",", "."))
        unit = m.group(2)
        if unit == "mph":
            return number * _MPH
        if unit in ("knots", "kn"):
            return number * _KNOT
        return number
    if ":" in text:
        country, _, zone = text.partition(":")
        key = f"{country.upper()}:{zone.lower()}"
        if key in _ZONE_SPEEDS:
            return _ZONE_SPEEDS[key]
        return _ZONE_SPEEDS.get(zone.lower(), math.nan)
    return _ZONE_SPEEDS.get(low, math.nan)


def maxspeed_kph(values: np.ndarray) -> np.ndarray:
    """Vectorised :func:`parse_maxspeed_value`: ``float64`` km/h, NaN where unknown."""
    return _map_unique(values, parse_maxspeed_value, math.nan, np.float64)


def lanes(values: np.ndarray) -> pd.array:
    """``lanes`` as nullable ``Int16``: the largest of a list (``"2;3"`` -> 3).

    Decimal counts (``"1.5"``) round down; anything else non-numeric is NA.
    """

    def one(value: str) -> float:
        best = math.nan
        for part in re.split(r"[;|,]", value):
            try:
                n = math.floor(float(part.strip()))
            except ValueError:
                continue
            if 0 <= n < 100 and not n <= best:
                best = float(n)
        return best

    parsed = _map_unique(values, one, math.nan, np.float64)
    out = pd.array(parsed, dtype="Float64").round().astype("Int16")
    return out


def oneway(values: np.ndarray, junction: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``oneway`` as a boolean and a direction.

    Returns ``(oneway, direction)``: ``direction`` is ``1`` when traffic runs
    along the way's drawing order, ``-1`` against it (``oneway=-1`` /
    ``reverse``) and ``0`` both ways. ``junction=roundabout|circular`` implies
    a oneway along the drawing order, as in osmnx. ``reversible`` and
    ``alternating`` ways are two-way over a day, so they count as two-way.
    """

    def one(value: str) -> int:
        low = value.strip().lower()
        if low in _TRUE:
            return 1
        if low in _REVERSE:
            return -1
        return 0

    direction = _map_unique(values, one, 0, np.int8)
    if junction is not None:
        roundabout = _map_unique(
            junction, lambda v: v.strip().lower() in _ROUNDABOUT, False, np.bool_
        )
        direction = np.where((direction == 0) & roundabout, 1, direction).astype(np.int8)
    return direction != 0, direction


def flag(values: np.ndarray) -> np.ndarray:
    """A yes/no style tag (``bridge``, ``tunnel``) as a boolean.

    Any value except ``no`` / ``false`` / ``0`` counts (``viaduct``,
    ``culvert``, ``building_passage`` ...), as OSM documents.
    """
    return _map_unique(
        values, lambda v: v.strip().lower() not in ("no", "false", "0", ""), False, np.bool_
    )


def layer(values: np.ndarray) -> np.ndarray:
    """``layer`` as ``int8``: 0 when absent or not an integer in -5..5 (OSM's range)."""

    def one(value: str) -> int:
        try:
            n = int(value.strip().split(";")[0])
        except ValueError:
            return 0
        return n if -5 <= n <= 5 else 0

    return _map_unique(values, one, 0, np.int8)


def text(values: np.ndarray) -> np.ndarray:
    """A free-text tag stripped, with empty strings as ``None``."""

    def one(value: str) -> str | None:
        stripped = value.strip()
        return stripped or None

    return _map_unique(values, one, None, object)


def _map_unique(
    values: np.ndarray,
    func: Callable[[str], object],
    missing: object,
    dtype: type | np.dtype,
) -> np.ndarray:
    """Apply ``func`` to each distinct non-missing value of ``values`` once."""
    values = np.asarray(values, dtype=object)
    out = np.full(len(values), missing, dtype=dtype)
    if len(values) == 0:
        return out
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    if len(uniques) == 0:
        return out
    mapped = np.array([func(str(u)) for u in uniques], dtype=dtype)
    present = codes >= 0
    out[present] = mapped[codes[present]]
    return out
