"""Transformers kept per CRS pair, or prepared ahead in a thread, move coordinates exactly as
one made in place."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import numpy as np
import pytest
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import ProjError

from tiles import proj
from tiles._geoparquet import to_crs
from tiles.grids import get_grid

MERCATOR = get_grid("WebMercatorQuad").crs


def _threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name == "tiles-proj"]


def _geoms(crs: CRS) -> np.ndarray:
    x, y, d = (500_000.0, 3_380_000.0, 1000.0) if crs.is_projected else (119.97, 30.54, 0.01)
    rng = np.random.default_rng(7)
    points = shapely.points(x + rng.random(50) * d, y + rng.random(50) * d)
    line = shapely.LineString([(x, y, 3.0), (x + d, y + d, 9.0)])  # 3D: moved as x, y, z
    return np.array([*points, line, shapely.box(x, y, x + d, y + d)], dtype=object)


@pytest.fixture(autouse=True)
def _no_prepared_left() -> Iterator[None]:
    yield
    proj.discard_prepared()


@pytest.mark.parametrize("code", ["EPSG:4549", "EPSG:4326", "EPSG:32650"])
def test_a_prepared_search_moves_coordinates_as_one_made_in_place(code: str) -> None:
    # the file's CRS comes from its PROJJSON, the prepared one from the catalog's code
    src = CRS.from_json_dict(CRS.from_user_input(code).to_json_dict())
    geoms = _geoms(src)
    direct = to_crs(geoms, src, MERCATOR)
    proj.prepare(code, MERCATOR)
    assert _threads() == ["tiles-proj"]
    prepared = to_crs(geoms, src, MERCATOR)
    assert shapely.to_wkb(prepared).tolist() == shapely.to_wkb(direct).tolist()
    # and both are what pyproj gives (geopandas sends x, y and x, y, z the same way)
    tr = Transformer.from_crs(src, MERCATOR, always_xy=True)
    xy = shapely.get_coordinates(geoms[:50])
    assert (
        shapely.get_coordinates(prepared[:50]).tolist()
        == np.column_stack(tr.transform(xy[:, 0], xy[:, 1])).tolist()
    )
    proj.discard_prepared()
    assert _threads() == []


def test_a_prepared_pair_is_served_by_its_thread_until_discarded() -> None:
    src = CRS.from_user_input("EPSG:4549")
    proj.prepare(src, MERCATOR)
    proj.prepare(src, MERCATOR)  # not searched twice
    assert _threads() == ["tiles-proj"]
    seen: list[tuple[str, Transformer]] = []

    def work(tr: Transformer) -> None:
        seen.append((threading.current_thread().name, tr))

    other = CRS.from_user_input("EPSG:4326")
    proj.with_transformer(other, MERCATOR, work)  # not prepared: made here
    proj.with_transformer(other, MERCATOR, work)  # and kept
    proj.with_transformer(src, MERCATOR, work)
    proj.with_transformer(src, MERCATOR, work)  # each layer of an export in that CRS
    assert [name for name, _ in seen] == ["MainThread", "MainThread", "tiles-proj", "tiles-proj"]
    assert seen[0][1] is seen[1][1] and seen[2][1] is seen[3][1]
    proj.discard_prepared()
    assert _threads() == []
    proj.with_transformer(src, MERCATOR, work)  # made here once discarded
    assert seen[-1][0] == "MainThread"


def test_a_failed_search_is_raised_where_the_transformer_is_asked_for() -> None:
    local = CRS.from_wkt('LOCAL_CS["site grid",LOCAL_DATUM["site",0],UNIT["metre",1]]')
    with pytest.raises(ProjError):
        Transformer.from_crs(local, MERCATOR, always_xy=True)
    proj.prepare(local, MERCATOR)
    for _ in range(2):
        with pytest.raises(ProjError):
            proj.with_transformer(local, MERCATOR, lambda tr: tr)


def test_searches_nobody_came_for_end_when_discarded() -> None:
    proj.prepare("EPSG:4549", MERCATOR)
    proj.prepare("EPSG:4326", MERCATOR)
    assert len(_threads()) == 2
    proj.discard_prepared()
    assert _threads() == []


def test_a_forked_process_makes_its_own() -> None:
    # what os.register_at_fork runs in a child: the parent's search threads are not there
    src = CRS.from_user_input("EPSG:4549")
    proj.prepare(src, MERCATOR)
    searches = list(proj._PREPARED.values())
    proj._forget_in_child()
    names: list[str] = []
    proj.with_transformer(src, MERCATOR, lambda tr: names.append(threading.current_thread().name))
    assert names == ["MainThread"]
    for search in searches:  # (this process is the parent: its thread is still there)
        search.stop()
        search.thread.join()
    assert _threads() == []
