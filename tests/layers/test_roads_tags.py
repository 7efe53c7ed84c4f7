"""Road tag normalisation on real-world OSM tag values (taginfo's common spellings)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from layers.roads import _tags as tags
from layers.roads.filters import network_mask

MPH = 1.609344

# value as found in OSM -> km/h (NaN: no number to read). Unit factors from their definitions.
MAXSPEED = [
    ("50", 50.0),
    ("30", 30.0),
    ("50 km/h", 50.0),
    ("50km/h", 50.0),
    ("60 kmh", 60.0),
    ("80 kph", 80.0),
    ("30 mph", 30 * MPH),
    ("70mph", 70 * MPH),
    ("5 knots", 5 * 1.852),
    ("7.5", 7.5),
    ("50;70", 60.0),
    ("30|50", 40.0),
    ("50; 30 mph", (50 + 30 * MPH) / 2),
    ("CN:urban", 50.0),
    ("CN:rural", 70.0),
    ("CN:motorway", 120.0),
    ("DE:urban", 50.0),
    ("DE:rural", 100.0),
    ("DE:zone30", 30.0),
    ("DE:zone:30", 30.0),
    ("DE:living_street", 20.0),
    ("FR:rural", 80.0),
    ("RU:urban", 60.0),
    ("GB:nsl_single", 60 * MPH),
    ("GB:nsl_dual", 70 * MPH),
    ("DE:motorway", math.nan),
    ("none", math.nan),
    ("signals", math.nan),
    ("variable", math.nan),
    ("walk", 6.0),
    ("fast", math.nan),
    ("", math.nan),
    (None, math.nan),
]


@pytest.mark.parametrize(("raw", "kph"), MAXSPEED)
def test_maxspeed_values(raw: str | None, kph: float) -> None:
    got = tags.parse_maxspeed_value(raw)
    if math.isnan(kph):
        assert math.isnan(got)
    else:
        assert got == pytest.approx(kph, rel=1e-9)


def test_maxspeed_vectorised_matches_scalar() -> None:
    raw = np.array([r for r, _ in MAXSPEED] * 3, dtype=object)
    got = tags.maxspeed_kph(raw)
    want = np.array([tags.parse_maxspeed_value(r) for r in raw])
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got[~np.isnan(got)], want[~np.isnan(want)])


# (oneway, junction) -> (oneway, direction)
ONEWAY = [
    ("yes", None, True, 1),
    ("true", None, True, 1),
    ("1", None, True, 1),
    ("Yes", None, True, 1),
    ("-1", None, True, -1),
    ("reverse", None, True, -1),
    ("no", None, False, 0),
    ("false", None, False, 0),
    ("0", None, False, 0),
    ("reversible", None, False, 0),
    ("alternating", None, False, 0),
    (None, None, False, 0),
    (None, "roundabout", True, 1),
    (None, "circular", True, 1),
    ("no", "roundabout", True, 1),
    ("-1", "roundabout", True, -1),
    (None, "yes", False, 0),
]


def test_oneway_table() -> None:
    raw = np.array([r[0] for r in ONEWAY], dtype=object)
    junction = np.array([r[1] for r in ONEWAY], dtype=object)
    oneway, direction = tags.oneway(raw, junction)
    assert oneway.tolist() == [r[2] for r in ONEWAY]
    assert direction.tolist() == [r[3] for r in ONEWAY]


# lanes as found in OSM -> count (None: NA)
LANES = [
    ("2", 2),
    ("1", 1),
    ("4", 4),
    ("2;3", 3),
    ("1.5", 1),
    (" 3 ", 3),
    ("2|3", 3),
    ("two", None),
    ("-1", None),
    ("", None),
    (None, None),
]


def test_lanes_table() -> None:
    got = tags.lanes(np.array([r[0] for r in LANES], dtype=object))
    assert str(got.dtype) == "Int16"
    assert [None if v is None or v is np.nan or str(v) == "<NA>" else int(v) for v in got] == [
        r[1] for r in LANES
    ]


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        ("yes", True),
        ("viaduct", True),
        ("culvert", True),
        ("building_passage", True),
        ("no", False),
        (None, False),
    ],
)
def test_bridge_tunnel_flags(raw: str | None, want: bool) -> None:
    assert tags.flag(np.array([raw], dtype=object))[0] == want


@pytest.mark.parametrize(
    ("raw", "want"), [("1", 1), ("-1", -1), ("0", 0), ("2;3", 2), ("x", 0), ("12", 0), (None, 0)]
)
def test_layer(raw: str | None, want: int) -> None:
    assert int(tags.layer(np.array([raw], dtype=object))[0]) == want


def test_road_class_groups_and_synonyms() -> None:
    raw = [
        "motorway",
        "motorway_link",
        "trunk_link",
        "living_street",
        "road",
        "pedestrian",
        "steps",
        "bridleway",
        "cycleway",
        "track",
        "busway",
        "国道",
        "县道",
        "村道",
        "Primary",
        "weird",
        None,
    ]
    got = tags.road_class(np.array(raw, dtype=object)).tolist()
    assert got == [
        "motorway",
        "motorway_link",
        "trunk_link",
        "residential",
        "unclassified",
        "footway",
        "footway",
        "path",
        "cycleway",
        "track",
        "service",
        "trunk",
        "secondary",
        "unclassified",
        "primary",
        "other",
        "other",
    ]
    assert set(got) <= set(tags.ROAD_CLASSES)


def test_road_class_extra_mapping_rejects_unknown_target() -> None:
    raw = np.array(["A1", "B2"], dtype=object)
    assert tags.road_class(raw, {"A1": "motorway"}).tolist() == ["motorway", "other"]
    with pytest.raises(ValueError, match="not road classes"):
        tags.road_class(raw, {"A1": "autobahn"})


def _tags(**columns: list[str | None]) -> dict[str, np.ndarray]:
    return {k: np.array(v, dtype=object) for k, v in columns.items()}


def test_network_filters_follow_osmnx_rules() -> None:
    # Each way tests one rule of osmnx's Overpass filters.
    t = _tags(
        highway=[
            "residential",
            "footway",
            "service",
            "motorway_link",
            "cycleway",
            "primary",
            "primary",
            "residential",
            "path",
            "steps",
            "proposed",
        ],
        access=[None, None, None, None, None, "private", None, None, None, None, None],
        motor_vehicle=[None, None, None, None, None, None, "no", None, None, None, None],
        foot=[None, None, None, None, None, None, None, "no", None, None, None],
        bicycle=[None] * 8 + ["no", None, None],
        area=[None] * 11,
    )
    drive = network_mask("drive", t).tolist()
    walk = network_mask("walk", t).tolist()
    bike = network_mask("bike", t).tolist()
    every = network_mask("all", t).tolist()
    assert drive == [True, False, False, True, False, False, False, True, False, False, False]
    assert walk == [True, True, True, False, False, False, True, False, True, True, False]
    assert bike == [True, False, True, False, True, False, True, True, False, False, False]
    # "all" keeps private and motor_vehicle=no ways, drops only what is not a road in use.
    assert every == [True] * 10 + [False]


def test_network_filter_rejects_unknown_type() -> None:
    with pytest.raises(ValueError, match="network must be one of"):
        network_mask("boat", _tags(highway=["primary"]))
