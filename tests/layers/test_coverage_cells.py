"""The cell table: column mapping, link budget inputs, and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import ValidationError as PydanticValidationError

from layers.coverage import CoverageModel, CoverageParams
from layers.coverage.cells import power_per_re, prepare_cells, resource_blocks
from layers.coverage.propagation import Flag
from layers.errors import ParameterError, SourceError
from tests.layers._coverage_fixtures import CRS, cell, cells_frame, centre, flat_dem


def test_demo_columns_and_defaults():
    gdf = cells_frame(
        [
            cell("S1-1", *centre(10, 10)),
            cell(
                "S1-2",
                *centre(10, 10),
                band="n28",
                freq_mhz=700.0,
                bandwidth_mhz=20.0,
                scenario="RMa",
            ),
        ]
    )
    cells, warnings = prepare_cells(gdf.to_crs(4326), CRS)
    assert warnings == []
    assert list(cells["scs_khz"]) == [30.0, 15.0]
    assert cells["x"].iloc[0] == pytest.approx(centre(10, 10)[0], abs=1e-4)
    # TS 38.104 Table 5.3.2-1: 273 RBs in 100 MHz at 30 kHz, 106 in 20 MHz at 15 kHz
    assert cells["power_re_dbm"].iloc[0] == pytest.approx(49 - 10 * math.log10(12 * 273))
    assert cells["power_re_dbm"].iloc[1] == pytest.approx(49 - 10 * math.log10(12 * 106))
    assert list(cells["gain_dbi"]) == [8.0, 8.0]


def test_other_column_names_map_through_params():
    gdf = cells_frame([cell("S1-1", *centre(10, 10))]).rename(
        columns={"cell_id": "CellName", "height_m": "AntHeight", "tx_power_dbm": "Pwr"}
    )
    cells, _ = prepare_cells(
        gdf, CRS, columns={"cell_id": "CellName", "height_m": "AntHeight", "tx_power_dbm": "Pwr"}
    )
    assert cells["cell_id"].tolist() == ["S1-1"]
    assert cells["height_m"].tolist() == [25.0]


def test_missing_columns_are_named():
    gdf = cells_frame([cell("S1-1", *centre(10, 10))]).drop(columns=["azimuth_deg", "freq_mhz"])
    with pytest.raises(SourceError, match=r"sites.csv: missing column\(s\) azimuth_deg, freq_mhz"):
        prepare_cells(gdf, CRS, origin="sites.csv")
    with pytest.raises(SourceError, match="mapped column"):
        prepare_cells(cells_frame([cell("S1-1", 0, 0)]), CRS, columns={"cell_id": "nope"})


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        ({"height_m": -3.0}, ParameterError, "cell 'S1-1': height_m must be above the ground"),
        ({"height_m": 0.0}, ParameterError, "height_m must be above the ground"),
        ({"freq_mhz": -700.0}, ParameterError, "freq_mhz must be positive"),
        ({"height_m": "tall"}, SourceError, "column 'height_m' needs a number"),
        ({"scenario": "SMa"}, ParameterError, "scenario 'SMa' is not one of RMa, UMa, UMi"),
        ({"bandwidth_mhz": 33.0}, ParameterError, "not a TS 38.104 Table 5.3.2-1 configuration"),
    ],
)
def test_bad_values_are_clear_errors(change, error, match):
    with pytest.raises(error, match=match):
        prepare_cells(cells_frame([cell("S1-1", *centre(10, 10), **change)]), CRS)


def test_duplicate_ids_are_an_error():
    rows = [cell("S1-1", *centre(10, 10)), cell("S1-1", *centre(20, 20))]
    with pytest.raises(SourceError, match="cell_id 'S1-1' appears more than once"):
        prepare_cells(cells_frame(rows), CRS)


def test_frequency_outside_a_model_is_flagged_and_clamped():
    rows = [
        cell(
            "S1-1",
            *centre(50, 50),
            scenario="RMa",
            freq_mhz=40_000.0,
            bandwidth_mhz=100.0,
            scs_khz=60.0,
            height_m=35.0,
        )
    ]
    cells, warnings = prepare_cells(cells_frame(rows), CRS)
    assert len(warnings) == 1 and "outside the model's 0.5-30 GHz; frequency clamped" in warnings[0]
    result = CoverageModel(flat_dem(), cells, CoverageParams(min_rsrp_dbm=-200)).run()
    assert result.flags.get(Flag.FREQUENCY.name.lower(), 0) > 0


def test_rma_mast_below_10_m_is_flagged():
    rows = [
        cell(
            "S1-1",
            *centre(50, 50),
            scenario="RMa",
            height_m=6.0,
            freq_mhz=700.0,
            bandwidth_mhz=20.0,
        )
    ]
    _, warnings = prepare_cells(cells_frame(rows), CRS)
    assert "antenna heights outside 10-150 m; clamped" in warnings[0]


def test_sites_outside_the_dem():
    rows = [cell("IN-1", *centre(50, 50)), cell("OUT-1", *centre(50, 500))]
    cells, _ = prepare_cells(cells_frame(rows), CRS)
    with pytest.raises(SourceError, match=r"1 cell\(s\) lie outside the DEM.*'OUT-1'"):
        CoverageModel(flat_dem(), cells)
    model = CoverageModel(flat_dem(), cells, outside="skip")
    assert model.cells["cell_id"].tolist() == ["IN-1"]
    assert "skipped" in model.warnings[0]
    only_out, _ = prepare_cells(cells_frame([rows[1]]), CRS)
    with pytest.raises(SourceError, match="no cell lies on the DEM"):
        CoverageModel(flat_dem(), only_out, outside="skip")


def test_sites_on_dem_nodata_are_outside():
    dem = flat_dem()
    dem.data[0, 40:60, 40:60] = -9999.0
    cells, _ = prepare_cells(cells_frame([cell("HOLE-1", *centre(50, 50))]), CRS)
    with pytest.raises(SourceError, match="outside the DEM or on its nodata"):
        CoverageModel(dem, cells)


def test_bad_model_parameters():
    # pydantic's error, the one twin.toml reports per key
    with pytest.raises(
        PydanticValidationError, match=r"rx_height_m\n  Input should be greater than 0"
    ):
        CoverageParams(rx_height_m=-1)
    with pytest.raises(PydanticValidationError, match=r"cell_load\n  Input should be less than or"):
        CoverageParams(cell_load=2)
    cells, _ = prepare_cells(cells_frame([cell("S-1", *centre(50, 50))]), CRS)
    with pytest.raises(ParameterError, match="clutter: shape"):
        CoverageModel(flat_dem(), cells, clutter_db=np.zeros((3, 3)))


def test_resource_block_table():
    assert resource_blocks(100, 30) == 273
    assert resource_blocks(20, 15) == 106
    assert power_per_re(46.0, 20, 15) == pytest.approx(46 - 10 * math.log10(1272))
    with pytest.raises(ParameterError):
        resource_blocks(100, 15)
