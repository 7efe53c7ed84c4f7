"""Raster sources as they come: CRSs printed by another PROJ, no CRS at all, DEM tiles."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from pyproj import CRS
from rasterio.transform import from_origin

from layers.crs import as_crs, same_crs
from layers.errors import SourceError
from layers.raster import read_raster

#: 0.01° pixels; tiles of 1° x 1° as SRTM cuts them (100 pixels, 101 with the shared edge)
RES = 0.01
LON0, LAT0 = 119.0, 31.0  # north-west corner of the 2 x 2 tiles


def surface(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """A smooth DEM: linear, so that bilinear warping reproduces it exactly."""
    return (200 + 300 * (lon - LON0) - 150 * (LAT0 - lat)).astype("float32")


def write(
    path: Path,
    west: float,
    north: float,
    width: int,
    height: int,
    crs: str | None = "EPSG:4326",
    res: float = RES,
    dtype: str = "float32",
    value: np.ndarray | None = None,
) -> None:
    """A GeoTIFF of :func:`surface` sampled at its pixel centres."""
    cols, rows = np.meshgrid(np.arange(width), np.arange(height))
    lon, lat = west + (cols + 0.5) * res, north - (rows + 0.5) * res
    data = surface(lon, lat) if value is None else value
    profile = {"crs": crs} if crs else {}
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=width,
        height=height,
        count=1,
        dtype=dtype,
        transform=from_origin(west, north, res, res),
        nodata=-32768,
        **profile,
    ) as dst:
        dst.write(data.astype(dtype), 1)


def write_tiles(folder: Path, overlap: bool) -> Path:
    """The 2 x 2 tiles of the surface; with ``overlap`` neighbours repeat their edge pixels.

    Like SRTM's, overlapping tiles have pixel centres on whole degrees: each
    starts half a pixel west and north of its degree and is 101 pixels wide.
    Returns the single file holding the same surface on the same grid.
    """
    folder.mkdir(parents=True, exist_ok=True)
    n = 100 + int(overlap)
    shift = RES / 2 if overlap else 0.0
    for i in range(2):
        for j in range(2):
            west, north = LON0 + i - shift, LAT0 - j + shift
            write(folder / f"N{int(north)}E{int(west + shift)}.tif", west, north, n, n)
    whole = folder.parent / f"whole-{overlap}.tif"
    write(whole, LON0 - shift, LAT0 + shift, 200 + int(overlap), 200 + int(overlap))
    return whole


@pytest.mark.parametrize("overlap", [False, True], ids=["edge-to-edge", "shared-edge"])
def test_tiles_mosaic_to_the_single_file(tmp_path: Path, overlap: bool) -> None:
    whole = read_raster(write_tiles(tmp_path / "tiles", overlap))
    mosaic = read_raster(tmp_path / "tiles" / "*.tif")
    assert mosaic.transform.almost_equals(whole.transform)
    assert mosaic.data.shape == whole.data.shape
    np.testing.assert_allclose(mosaic.data, whole.data, rtol=0, atol=1e-3)
    # the columns and rows at the tile edges hold the surface, not nodata
    for k in (99, 100, 101):
        assert (mosaic.data[0, :, k] != -32768).all() and (mosaic.data[0, k, :] != -32768).all()


def test_tile_in_another_crs_is_named(tmp_path: Path) -> None:
    write_tiles(tmp_path / "tiles", overlap=False)
    odd = tmp_path / "tiles" / "N30E120.tif"
    write(odd, 120.0, 30.0, 100, 100, crs="EPSG:4490")  # CGCS2000 geographic, not WGS84
    with pytest.raises(SourceError, match=r"N30E120\.tif: CRS EPSG:4490") as exc:
        read_raster(tmp_path / "tiles" / "*.tif")
    assert "\n" not in str(exc.value)


def test_tile_at_another_resolution_is_named(tmp_path: Path) -> None:
    write_tiles(tmp_path / "tiles", overlap=False)
    write(tmp_path / "tiles" / "N30E120.tif", 120.0, 30.0, 50, 50, res=0.02)
    with pytest.raises(SourceError, match=r"N30E120\.tif: pixel size 0\.02"):
        read_raster(tmp_path / "tiles" / "*.tif")


def test_tile_off_the_grid_or_of_another_type_is_named(tmp_path: Path) -> None:
    write_tiles(tmp_path / "tiles", overlap=False)
    write(tmp_path / "tiles" / "N30E120.tif", 120.003, 30.0, 100, 100)
    with pytest.raises(SourceError, match=r"N30E120\.tif: origin .* off its pixel grid"):
        read_raster(tmp_path / "tiles" / "*.tif")
    write(tmp_path / "tiles" / "N30E120.tif", 120.0, 30.0, 100, 100, dtype="int16")
    with pytest.raises(SourceError, match=r"N30E120\.tif: data type int16"):
        read_raster(tmp_path / "tiles" / "*.tif")


def test_source_crs_is_assumed_only_where_none_is_declared(tmp_path: Path) -> None:
    bare = tmp_path / "bare.tif"
    write(bare, 480_000, 3_383_000, 10, 10, crs=None, res=50)
    with pytest.raises(SourceError, match=r"bare\.tif: declares no CRS; set 'crs' on the source"):
        read_raster(bare)
    assert read_raster(bare, crs="EPSG:4549").crs == CRS.from_epsg(4549)
    declared = tmp_path / "declared.tif"
    write(declared, 119.0, 31.0, 10, 10)
    assert read_raster(declared, crs="EPSG:4549").crs == CRS.from_epsg(4326)
    with pytest.raises(SourceError, match=r"bare\.tif: crs 'EPSG:99999'"):
        read_raster(bare, crs="EPSG:99999")


@pytest.mark.parametrize("epsg", [3067, 3879, 4549, 32650, 2056])
def test_crs_read_by_rasterio_is_the_epsg_crs(tmp_path: Path, epsg: int) -> None:
    """rasterio's PROJ names EPSG:3067's datum EUREF-FIN; it is still EPSG:3067."""
    path = tmp_path / "x.tif"
    write(path, 0, 0, 2, 2, crs=f"EPSG:{epsg}", res=1)
    with rasterio.open(path) as src:
        assert same_crs(src.crs, f"EPSG:{epsg}")
        assert same_crs(CRS.from_wkt(src.crs.to_wkt()), CRS.from_epsg(epsg))
        assert as_crs(src.crs).to_epsg() == epsg
    assert read_raster(path).crs.to_string() == f"EPSG:{epsg}"


@pytest.mark.parametrize(
    ("a", "b"),
    [("EPSG:4549", "EPSG:4326"), ("EPSG:4326", "EPSG:4490"), ("EPSG:32650", "EPSG:32651")],
)
def test_different_crs_stay_different(a: str, b: str) -> None:
    assert not same_crs(a, b)
    assert same_crs(a, CRS.from_user_input(a).to_wkt())
