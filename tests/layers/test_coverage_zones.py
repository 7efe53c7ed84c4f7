"""Coverage shares per zone, polygons at thresholds, and what-ifs from cached cells."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from affine import Affine
from shapely.geometry import box

from layers.coverage import CoverageModel, CoverageParams
from layers.coverage.cells import prepare_cells
from layers.coverage.zones import coverage_polygons, coverage_share, covered_mask, what_if
from layers.types import RasterData
from tests.layers._coverage_fixtures import CRS, X0, Y1, cell, cells_frame, centre, flat_dem


def stepped() -> tuple[RasterData, RasterData]:
    """RSRP -90 dBm on the west half, -120 on the east; SINR bad in the NW quarter."""
    r = np.full((40, 40), -120.0, dtype=np.float32)
    r[:, :20] = -90.0
    r[0, 39] = np.nan
    s = np.full((40, 40), 10.0, dtype=np.float32)
    s[:20, :20] = -8.0
    t = Affine(10, 0, X0, 0, -10, Y1)
    return RasterData(r, t, CRS, float("nan")), RasterData(s, t, CRS, float("nan"))


def halves() -> gpd.GeoDataFrame:
    west = box(X0, Y1 - 400, X0 + 200, Y1)
    east = box(X0 + 200, Y1 - 400, X0 + 400, Y1)
    return gpd.GeoDataFrame({"name": ["west", "east"]}, geometry=[west, east], crs=CRS)


def test_share_per_zone_and_region():
    rsrp, sinr = stepped()
    shares = coverage_share(rsrp, halves(), -105.0, id_column="name")
    assert shares["zone"].tolist() == ["west", "east"]
    assert shares["share"].tolist() == [1.0, 0.0]
    assert shares["area_km2"].tolist() == pytest.approx([0.08, 0.08])
    with_sinr = coverage_share(rsrp, halves(), -105.0, sinr=sinr, id_column="name")
    assert with_sinr["share"].tolist() == [0.5, 0.0]
    region = coverage_share(rsrp, threshold_dbm=-105.0)
    assert region["share"].iloc[0] == pytest.approx(0.5)
    # zones in another CRS are reprojected; a zone off the grid has no share
    off = gpd.GeoDataFrame(geometry=[box(0, 0, 1, 1)], crs=CRS)
    assert np.isnan(coverage_share(rsrp, off)["share"].iloc[0])
    assert coverage_share(rsrp, halves().to_crs(4326))["share"].tolist() == pytest.approx(
        [1.0, 0.0], abs=0.03
    )


def test_polygons_match_pixel_areas():
    rsrp, sinr = stepped()
    polys = coverage_polygons(rsrp, sinr, (-100.0, -125.0), simplify=False, sieve_pixels=0)
    assert polys.crs == rsrp.crs
    assert polys["metric"].tolist() == ["rsrp", "rsrp", "sinr", "covered"]
    assert polys.geometry.is_valid.all()
    for row in polys.itertuples():
        mask = (
            covered_mask(rsrp, row.threshold)
            if row.metric == "rsrp"
            else covered_mask(rsrp, -105.0, sinr)
            if row.metric == "covered"
            else sinr.data[0] >= row.threshold
        )
        assert row.area_km2 == pytest.approx(mask.sum() * 1e-4)
        assert row.geometry.area / 1e6 == pytest.approx(row.area_km2)
    west = polys.geometry.iloc[0]
    assert shapely.equals(west, box(X0, Y1 - 400, X0 + 200, Y1))
    # -125 covers everything but the one nodata pixel
    assert polys.geometry.iloc[1].area == pytest.approx(1600 * 100 - 100)


def test_simplified_polygons_stay_valid_and_close():
    model = CoverageModel(
        flat_dem(), prepare_cells(cells_frame([cell("S-1", *centre(50, 50))]), CRS)[0]
    )
    result = model.run()
    polys = coverage_polygons(result.rsrp, result.sinr)
    assert polys.geometry.is_valid.all()
    nonempty = polys[~polys.geometry.is_empty]
    assert len(nonempty) >= 3
    for row in nonempty.itertuples():
        assert row.geometry.area / 1e6 == pytest.approx(row.area_km2, rel=0.05)


def test_what_if_recomputes_only_the_new_cells():
    rows = [
        cell("A-1", *centre(50, 10), azimuth_deg=90.0),
        cell("B-1", *centre(50, 90), azimuth_deg=270.0),
    ]
    cells, _ = prepare_cells(cells_frame(rows), CRS)
    params = CoverageParams(min_rsrp_dbm=-150.0)
    dem = flat_dem()
    model = CoverageModel(dem, cells, params, keep=True)
    zones = gpd.GeoDataFrame(
        {"name": ["w", "e"]},
        geometry=[box(X0, Y1 - 2020, X0 + 1010, Y1), box(X0 + 1010, Y1 - 2020, X0 + 2020, Y1)],
        crs=CRS,
    )
    before = model.run()
    assert len(model._fields) == 2
    new, _ = prepare_cells(
        cells_frame([cell("C-1", *centre(10, 50), azimuth_deg=180.0, tx_power_dbm=30.0)]), CRS
    )
    table = what_if(model, zones, add=new, threshold_dbm=-85.0, id_column="name", before=before)
    assert len(model._fields) == 3  # the two untouched cells came from the cache
    assert (table["change"] >= 0).all() and table["change"].sum() > 0
    # the same answer as a model built from scratch with all three cells
    scratch = CoverageModel(
        dem,
        prepare_cells(
            cells_frame(
                [*rows, cell("C-1", *centre(10, 50), azimuth_deg=180.0, tx_power_dbm=30.0)]
            ),
            CRS,
        )[0],
        params,
    ).run()
    after = coverage_share(scratch.rsrp, zones, -85.0, sinr=scratch.sinr, id_column="name")
    assert table["share_after"].tolist() == pytest.approx(after["share"].tolist())
    removed = what_if(model, zones, remove=["B-1"], threshold_dbm=-85.0, id_column="name")
    east = removed.set_index("zone").loc["e"]
    assert east["change"] < 0
    assert len(model._fields) == 3
    with pytest.raises(Exception, match="no cell with id 'Z-9'"):
        what_if(model, zones, remove=["Z-9"])
