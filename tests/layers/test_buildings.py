"""Building heights: a height column, else floors x floor height; bad values counted."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from layers.buildings import HeightParams, building_heights
from layers.errors import ValidationError


def _frame(**columns: list) -> gpd.GeoDataFrame:
    n = len(next(iter(columns.values())))
    boxes = [shapely.box(i * 20, 0, i * 20 + 10, 10) for i in range(n)]
    return gpd.GeoDataFrame(columns, geometry=boxes, crs="EPSG:4549")


@pytest.mark.parametrize("header", ["层数", "floors", "Levels", "楼层数 (层)", "building:levels"])
def test_heights_are_floors_times_three_metres(header: str) -> None:
    floors = [1, 2, 3, 11, 18]
    out, report = building_heights(_frame(**{header: floors}), HeightParams())
    assert out["height_m"].tolist() == [3.0 * f for f in floors]
    assert (report.from_floors, report.from_height, report.missing) == (5, 0, 0)


def test_a_height_column_wins_and_floors_fill_the_gaps() -> None:
    gdf = _frame(高度=[25.5, None, 0, "12m"], 层数=[2, 4, 5, 6])
    out, report = building_heights(gdf, HeightParams(floor_height=3.2))
    # 0 means "not surveyed"; "12m" is not a number: both fall back to the floors
    assert out["height_m"].tolist() == pytest.approx([25.5, 12.8, 16.0, 19.2])
    assert (report.from_height, report.from_floors, report.not_number) == (1, 3, 1)
    assert out["高度"].tolist()[0] == 25.5  # the source's columns stay


def test_negative_and_absurd_values_are_counted_and_not_drawn() -> None:
    gdf = _frame(height=[-3.0, 12.0, 2000.0, None, 310.0], floors=[None, None, None, -2, None])
    out, report = building_heights(gdf, HeightParams())
    heights = out["height_m"].to_numpy()
    assert heights[1] == 12.0 and np.isnan(heights[[0, 2, 3, 4]]).all()
    assert (report.negative, report.absurd, report.missing) == (2, 2, 4)
    text = report.problems(len(gdf), 300)
    assert text == "2 negative, 2 above 300 m of 5 building heights or floor counts: not drawn"
    # a lower limit makes more of them absurd
    _, strict = building_heights(gdf, HeightParams(max_height=10))
    assert strict.absurd == 3


def test_named_columns_and_missing_ones() -> None:
    gdf = _frame(h=[10.0], n=[3])
    out, _ = building_heights(gdf, HeightParams(column="h"))
    assert out["height_m"].tolist() == [10.0]
    with pytest.raises(ValidationError, match=r"b\.gpkg: no column 'storeys' for building"):
        building_heights(gdf, HeightParams(floors="storeys"), "b.gpkg")
    with pytest.raises(ValidationError, match=r"b\.gpkg: no building height column .* 层数"):
        building_heights(_frame(name=["a"]), HeightParams(), "b.gpkg")
