"""Building footprints through the generic ``vector`` builder's ``height`` parameter (CLI)."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from layers.buildings import HeightParams, building_heights
from tests.twin.conftest import X0, Y0
from tests.twin.test_cli import invoke
from twin.builders import _vector_dask as vd

BUILDINGS = """
[sources.buildings]
path = "sources/buildings.gpkg"

[layers.buildings]
builder = "vector"
inputs = {{ source = "buildings" }}
params = {{ id = "编号", height = {{ {height} }} }}
"""


def _write(ws: Path, floors: list[object]) -> None:
    boxes = [
        shapely.box(X0 + 100 + i * 30, Y0 + 100, X0 + 120 + i * 30, Y0 + 112)
        for i in range(len(floors))
    ]
    gdf = gpd.GeoDataFrame(
        {"编号": [f"B{i:03d}" for i in range(len(floors))], "层数": floors},
        geometry=boxes,
        crs="EPSG:4549",
    )
    gdf.to_file(ws / "sources" / "buildings.gpkg")


def _add(ws: Path, height: str) -> None:
    with (ws / "twin.toml").open("a", encoding="utf-8") as fh:
        fh.write(BUILDINGS.format(height=height))


def test_buildings_get_floors_times_three_and_stand_up_in_3d(workspace: Path) -> None:
    floors = [1, 2, 3, 6, 12, 18, -1, 400, None, 4]
    _write(workspace, floors)
    _add(workspace, "")
    res = invoke("build", "buildings", "--json", cwd=workspace)
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    warnings = report["warnings"]["buildings"]
    assert "1 negative, 1 above 300 m of 10 building heights or floor counts: not drawn" in (
        warnings
    )
    assert "3 of 10 buildings have no usable height: drawn flat" in warnings

    catalog = json.loads((workspace / "build" / "catalog.json").read_text("utf-8"))
    entry = catalog["layers"]["buildings"]
    data = gpd.read_parquet(workspace / "build" / entry["artifacts"]["data"])
    expected = [3.0 * f if f is not None and 0 < f < 100 else np.nan for f in floors]
    np.testing.assert_array_equal(data["height_m"].to_numpy(), expected)
    assert entry["style"]["extrude"] == "height_m"  # the viewer stands them up
    assert entry["fields"]["height_m"] == "float"
    assert entry["field_info"]["height_m"]["label"] == {"zh": "高度", "en": "Height"}
    assert entry["field_info"]["height_m"]["unit"] == "m"
    stats = entry["stats"]
    assert (stats["height_from_floors"], stats["height_negative"], stats["height_absurd"]) == (
        7,
        1,
        1,
    )
    assert stats["height_max_m"] == 54.0


def test_a_layer_without_any_usable_height_fails_in_one_line(workspace: Path) -> None:
    _write(workspace, [0, -2, None])
    _add(workspace, "floor_height = 3.0")
    res = invoke("build", "buildings", cwd=workspace)
    assert res.exit_code != 0
    line = "none of the 3 buildings has a usable height or floor count (1 negative of 3"
    assert line in res.stderr
    assert not (workspace / "build" / "buildings").exists()  # nothing half-published


def test_a_named_column_that_is_not_there_is_named(workspace: Path) -> None:
    _write(workspace, [1, 2])
    _add(workspace, 'column = "建筑高度"')
    res = invoke("build", "buildings", cwd=workspace)
    assert res.exit_code != 0
    assert "buildings.gpkg: no column '建筑高度' for building heights" in res.stderr


def test_partitions_give_the_heights_and_counts_of_the_whole(workspace: Path) -> None:
    """As a Dask build reads them: partition by partition, the counts summed."""
    floors = [1, -1, 3, None, 500, 6, 7, 8]
    _write(workspace, floors)
    path = workspace / "sources" / "buildings.gpkg"
    cleaning = vd.Cleaning(
        crs="EPSG:4549",
        repair=True,
        columns=None,
        rename=None,
        origin=str(path),
        boundary=None,
        heights=HeightParams(),
    )
    parts = vd.plan_parts(path, None, None, None, None, npartitions=3, rows_per_partition=3)
    assert len(parts) == 3
    summaries = [vd.summarise_part(part, None, cleaning, None) for part in parts]
    total = vd.total_heights(summaries)
    whole, report = building_heights(gpd.read_file(path), HeightParams(), str(path))
    assert total == report and (total.negative, total.absurd, total.missing) == (1, 1, 3)
    frames = [vd.load_part(part, cleaning, vd.unify_dtypes(summaries)) for part in parts]
    heights = np.concatenate([f["height_m"].to_numpy() for f in frames])
    np.testing.assert_array_equal(heights, whole["height_m"].to_numpy())
