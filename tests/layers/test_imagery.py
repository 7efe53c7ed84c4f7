"""Orthophoto sheets: headers, collars and the conversion of one sheet, read back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
import shapely
from affine import Affine
from pyproj import CRS

from layers.crs import same_crs
from layers.errors import SourceError
from layers.imagery import ImageryParams, SheetSource, build_mosaic, plan_sheets
from layers.imagery.collar import edge_connected, near_colour
from layers.imagery.convert import ConvertOptions, SheetTask, convert_sheet
from layers.imagery.sheets import read_sheet_info, sheet_files
from tests.layers._imagery_fixtures import (
    COLLAR,
    RES,
    SIZE,
    WORKING,
    make_sheet,
    sheet_origin,
)

OPTS = ConvertOptions(crs=CRS.from_user_input(WORKING).to_wkt())


def _write(path: Path, rgb: np.ndarray, transform: Affine, crs: str | None = WORKING) -> None:
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=rgb.shape[2],
        height=rgb.shape[1],
        count=3,
        dtype="uint8",
        crs=crs,
        transform=transform,
    ) as dst:
        dst.write(rgb)


def test_collar_is_what_touches_the_edge_not_every_dark_pixel() -> None:
    rgb = np.full((3, 40, 50), 120, np.uint8)
    rgb[:, :, :5] = 3  # collar on the left
    rgb[:, 30:, 20:] = 250  # bright, not black
    rgb[:, 10:20, 10:20] = 0  # a black roof inside the image
    rgb[:, 0, 30:35] = 0  # a dark notch on the top edge: a collar too
    near = near_colour(rgb, "black", 10)
    collar = edge_connected(near, np.zeros(near.shape, bool))
    assert collar[:, :5].all() and collar[0, 30:35].all()
    assert not collar[10:20, 10:20].any()
    assert int(collar.sum()) == 40 * 5 + 5
    white = edge_connected(near_colour(rgb, "white", 10), np.zeros(near.shape, bool))
    assert int(white.sum()) == 10 * 30  # the bright block touches the bottom and right edges


def test_converted_sheet_masks_collar_keeps_dark_interior(tmp_path: Path) -> None:
    left, top = sheet_origin(0, 0)
    rgb = np.full((3, SIZE, SIZE), 150, np.uint8)
    rgb[:, :, :COLLAR] = 0
    rgb[:, 100:140, 100:140] = 0  # dark interior: stays image
    _write(tmp_path / "a.tif", rgb, Affine(RES, 0, left, 0, -RES, top))
    info = read_sheet_info(tmp_path / "a.tif")
    out = tmp_path / "a.cog.tif"
    result = convert_sheet(SheetTask(info, str(out), OPTS))
    with rasterio.open(out) as src:
        assert src.crs == CRS.from_user_input(WORKING)
        assert src.transform == Affine(RES, 0, left, 0, -RES, top)  # on the sheet's own grid
        mask = src.dataset_mask() > 0
        data = src.read()
        profile = src.profile
    assert profile["compress"].lower() == "jpeg"
    margin = OPTS.margin
    assert not mask[:, : COLLAR + margin].any()
    assert mask[:, COLLAR + margin :].all()
    assert (data[:, 110:130, 110:130] < 20).all()  # the dark roof is still there, unmasked
    assert result.collar_pixels == SIZE * (COLLAR + margin)
    assert result.valid_pixels == int(mask.sum()) == SIZE * (SIZE - COLLAR - margin)
    footprint = shapely.from_wkb(result.footprint)
    assert footprint.covers(shapely.box(left + (COLLAR + margin) * RES, top - SIZE * RES,
                                        left + SIZE * RES, top))  # fmt: skip
    assert footprint.area <= SIZE * SIZE * RES * RES


def test_jpeg_with_world_file_and_prj(tmp_path: Path) -> None:
    sheet = make_sheet(tmp_path, 1, 0, WORKING, kind="jpg")
    info = read_sheet_info(sheet.path)
    assert info.crs_from == "prj" and same_crs(info.crs, WORKING)
    result = convert_sheet(SheetTask(info, str(tmp_path / "out.tif"), OPTS))
    left, top = sheet_origin(1, 0)
    assert result.bounds == pytest.approx((left, top - SIZE * RES, left + SIZE * RES, top))
    assert result.collar_pixels > 4 * COLLAR * SIZE - 4 * COLLAR * COLLAR


def test_jpeg_without_crs_asks_for_one(tmp_path: Path) -> None:
    sheet = make_sheet(tmp_path, 0, 0, WORKING, kind="jpg")
    sheet.path.with_suffix(".prj").unlink()
    with pytest.raises(SourceError, match=r"sheet_0_0\.jpg: declares no CRS.*set 'crs'"):
        read_sheet_info(sheet.path)
    assert read_sheet_info(sheet.path, crs="EPSG:4549").crs_from == "source"


def test_sheet_files_skip_sidecars(tmp_path: Path) -> None:
    make_sheet(tmp_path, 0, 0, WORKING, kind="jpg")
    make_sheet(tmp_path, 1, 0, WORKING)
    names = [p.name for p in sheet_files(tmp_path)]
    assert names == ["sheet_0_0.jpg", "sheet_1_0.tif"]
    assert [p.name for p in sheet_files(str(tmp_path / "*"))] == names


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupt_sheet_is_named(tmp_path: Path, damage: str) -> None:
    make_sheet(tmp_path, 0, 0, WORKING)
    bad = make_sheet(tmp_path, 1, 0, WORKING).path
    raw = bad.read_bytes()
    bad.write_bytes(b"not a tiff at all" * 100 if damage == "garbage" else raw[: len(raw) // 2])
    with pytest.raises(SourceError, match=r"sheet_1_0\.tif: cannot be read") as err:
        infos = plan_sheets([SheetSource(str(tmp_path))])
        build_mosaic(infos, CRS.from_user_input(WORKING), tmp_path / "out", ImageryParams())
    assert "\n" not in str(err.value)
