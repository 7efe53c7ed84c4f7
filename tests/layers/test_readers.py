"""The generic readers: vector files, CSV points, attribute tables, rasters."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
from affine import Affine
from shapely.geometry import Point, Polygon

from layers.errors import ParameterError, SourceError, ValidationError
from layers.raster import read_raster, reproject_raster
from layers.types import RasterData
from layers.vector import clean_vector, read_table, read_vector


def test_csv_points_find_their_columns(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("ID,Longitude,Latitude,name\n1,120.0,30.5,甲\n2,120.1,30.6,乙\n", "utf-8")
    gdf = read_vector(path)
    assert gdf.crs.to_epsg() == 4326
    assert list(gdf.columns) == ["ID", "name", "geometry"]
    assert gdf.geometry.iloc[1].equals(Point(120.1, 30.6))
    assert gdf["name"].tolist() == ["甲", "乙"]


def test_csv_with_named_columns_and_crs(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("e,n\n500000,3380000\n", "utf-8")
    gdf = read_vector(path, x="e", y="n", crs="EPSG:4549")
    assert gdf.crs.to_epsg() == 4549 and gdf.geometry.iloc[0].x == 500000


@pytest.mark.parametrize(
    ("text", "kwargs", "message"),
    [
        ("a,b\n1,2\n", {}, "no x (longitude) column; expected one of lon"),
        ("lon,lat\n120,30\nx,31\n", {}, "line 3: columns 'lon'/'lat' must hold numbers"),
        ("lon,lat\n120,30\n", {"x": "long"}, "no column 'long' for x (longitude)"),
        ("lon,lat\n120,30\n", {"crs": "EPSG:0"}, "'EPSG:0' is not a CRS pyproj knows"),
    ],
)
def test_csv_errors_name_the_file(tmp_path: Path, text: str, kwargs: dict, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text, "utf-8")
    with pytest.raises(SourceError) as info:
        read_vector(path, **kwargs)
    assert str(info.value).startswith(str(path)) and message in str(info.value)


def test_undecodable_csv_is_named(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(b"lon,lat,name\n120,30,\xff\xfe\x80\n")
    with pytest.raises(SourceError, match=r"neither UTF-8 nor GB18030.*set encoding"):
        read_vector(path)


@pytest.mark.filterwarnings("ignore:'crs' was not provided:UserWarning")
def test_file_without_crs_needs_one(tmp_path: Path) -> None:
    path = tmp_path / "nocrs.geojson"
    path.write_text(
        '{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"a":1},'
        '"geometry":{"type":"Point","coordinates":[500000,3380000]}}]}',
        "utf-8",
    )
    # GeoJSON is WGS84 by definition, so GDAL assigns EPSG:4326: what the file says wins.
    assert read_vector(path).crs.to_epsg() == 4326
    shp = tmp_path / "nocrs.shp"
    gpd.GeoDataFrame({"a": [1]}, geometry=[Point(500000, 3380000)]).to_file(shp)
    with pytest.raises(SourceError, match="declares no CRS; set 'crs' on the source"):
        read_vector(shp)
    assert read_vector(shp, crs="EPSG:4549").crs.to_epsg() == 4549


def test_read_table_csv_excel_and_gpkg(tmp_path: Path) -> None:
    frame = pd.DataFrame({"village_code": ["330521101201", "330521101202"], "population": [10, 20]})
    frame.to_csv(tmp_path / "t.csv", index=False)
    frame.to_excel(tmp_path / "t.xlsx", index=False)
    gpd.GeoDataFrame(frame, geometry=[Point(0, 0), Point(1, 1)], crs=4549).to_file(
        tmp_path / "t.gpkg", layer="villages"
    )
    for name in ("t.csv", "t.xlsx", "t.gpkg"):
        table = read_table(tmp_path / name)
        assert "geometry" not in table.columns
        assert table["population"].tolist() == [10, 20], name
    with pytest.raises(SourceError, match="no such file"):
        read_table(tmp_path / "missing.xlsx")


def test_clean_vector_repairs_drops_and_checks_ids() -> None:
    bowtie = Polygon([(0, 0), (10, 10), (10, 0), (0, 10), (0, 0)])
    gdf = gpd.GeoDataFrame(
        {"id": [1, 2, 3], "v": ["a", "b", "c"]},
        geometry=[bowtie, Point(5, 5).buffer(1), Polygon()],
        crs="EPSG:4549",
    ).translate(500000, 3380000)
    gdf = gpd.GeoDataFrame({"id": [1, 2, 3], "v": ["a", "b", "c"]}, geometry=gdf, crs=4549)
    out, report = clean_vector(gdf, "EPSG:4549", id_column="id", rename={"v": "value"})
    assert out["id"].tolist() == [1, 2] and list(out.columns) == ["id", "value", "geometry"]
    assert out.is_valid.all() and out.geometry.iloc[0].area == pytest.approx(50.0)
    assert (report.repaired, report.dropped_empty, report.dropped_invalid) == (1, 1, 0)
    strict, report = clean_vector(gdf, "EPSG:4549", repair=False)
    assert strict["id"].tolist() == [2] and report.dropped_invalid == 1
    dup = gdf.assign(id=[1, 1, 2])
    with pytest.raises(ValidationError, match="id column 'id' has 1 duplicate value"):
        clean_vector(dup, "EPSG:4549", id_column="id", origin="src.gpkg")


def test_raster_round_trip_and_reproject(tmp_path: Path) -> None:
    data = np.arange(100 * 120, dtype="float32").reshape(1, 100, 120)
    transform = Affine(0.001, 0, 119.9, 0, -0.001, 30.6)
    path = tmp_path / "r.tif"
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=120,
        height=100,
        count=1,
        dtype="float32",
        crs="EPSG:4326",
        transform=transform,
        nodata=-1,
    ) as dst:
        dst.write(data)
        dst.set_band_description(1, "height")
    raster = read_raster(path)
    assert raster.band_names == ["height"] and raster.nodata == -1
    warped = reproject_raster(raster, "EPSG:4549", resolution=50)
    assert warped.crs.to_epsg() == 4549 and warped.resolution == (50.0, 50.0)
    valid = warped.data[warped.valid_mask()]
    # Bilinear resampling stays within the source's range.
    assert valid.min() >= 0 and valid.max() <= data.max()
    assert reproject_raster(warped, "EPSG:4549") is warped
    with pytest.raises(ParameterError, match="resampling 'cubic_fancy'"):
        reproject_raster(raster, "EPSG:4549", resampling="cubic_fancy")
    ints = RasterData(np.ones((1, 2, 2), "uint8"), transform, "EPSG:4326")
    with pytest.raises(ParameterError, match="no nodata value"):
        reproject_raster(ints, "EPSG:4549")
    with pytest.raises(SourceError, match="cannot read as a raster"):
        (tmp_path / "junk.tif").write_bytes(b"II*\x00junk")
        read_raster(tmp_path / "junk.tif")
