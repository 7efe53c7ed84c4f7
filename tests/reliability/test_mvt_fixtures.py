"""Our encoder against the ``@mapbox/mvt-fixtures`` corpus (npm, in package.json).

The corpus says which tiles are valid MVT 2.1. An independent checker written
from the specification (:mod:`tests.reliability._mvt_check`) must agree with
it; then nothing our encoder writes (here: every geometry kind, holes, multi
parts, clipped edges; in ``test_properties`` and ``test_output_validity``:
generated and demo-county tiles) may fail that checker: winding, command
counts, ClosePath, tags, extent.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import shapely

from tests.reliability._mvt_check import check_tile
from tiles.mvt import LayerEncoder, encode_tile, to_tile_coords

FIXTURES = Path(__file__).resolve().parents[2] / "node_modules/@mapbox/mvt-fixtures/fixtures"

# Where the checker is stricter than the corpus, and why our encoder never meets it.
STRICTER = {
    "016": "a feature of UNKNOWN type without geometry: our encoder writes only known types",
    "039": "no layer version field (proto2 default 1): our encoder always writes version 2",
    "057": "a MoveTo count larger than the parameters: our counts always match",
}


def _fixtures() -> list[Path]:
    if not FIXTURES.is_dir():
        pytest.fail(f"{FIXTURES} missing: run 'npm install' (package.json devDependencies)")
    return sorted(p for p in FIXTURES.iterdir() if (p / "tile.mvt").exists())


def test_checker_agrees_with_the_fixture_corpus() -> None:
    fixtures = _fixtures()
    assert len(fixtures) > 60
    disagree = {}
    valid = invalid = 0
    for fixture in fixtures:
        info = json.loads((fixture / "info.json").read_text(encoding="utf-8"))
        expected = bool(info["validity"]["v2"])
        problems = check_tile((fixture / "tile.mvt").read_bytes())
        valid += expected
        invalid += not expected
        if (not problems) != expected and fixture.name not in STRICTER:
            disagree[fixture.name] = (expected, problems, info["description"][:80])
    assert disagree == {}
    assert valid > 40 and invalid > 20


def test_encoder_output_passes_the_checker() -> None:
    shapes = [
        shapely.Point(10, 10),
        shapely.MultiPoint([(1, 1), (5, 9), (9, 5)]),
        shapely.LineString([(-5, 5), (5, 5), (5, 15)]),
        shapely.MultiLineString([[(0, 0), (3, 3)], [(4, 4), (8, 1)]]),
        shapely.Point(50, 50).buffer(30).difference(shapely.Point(50, 50).buffer(10)),
        shapely.MultiPolygon([shapely.box(0, 0, 10, 10), shapely.box(20, 20, 30, 30)]),
        shapely.box(-20, -20, 120, 120),  # covers the tile and its buffer
        shapely.Polygon([(0, 0), (0, 100), (100, 100), (100, 0)]),  # clockwise input
    ]
    geoms = to_tile_coords(np.array(shapes, dtype=object), (0.0, 0.0, 100.0, 100.0))
    enc = LayerEncoder("shapes")
    drawn = enc.add_many(geoms, range(len(shapes)), [[("n", i), ("s", "x")] for i in range(8)])
    assert drawn == len(shapes)
    assert check_tile(encode_tile([enc])) == []
