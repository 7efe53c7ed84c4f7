"""Sources as Chinese county offices have them: GBK text, GCJ-02/BD-09, Chinese headers."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from pyproj import Geod
from shapely.geometry import Point, Polygon

from layers import SourceEncodingWarning, SourceError
from layers.chinacrs import (
    bd09_to_gcj02,
    china_crs,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    wgs84_to_gcj02,
)
from layers.encodings import dbf_text
from layers.vector import read_table, read_vector

NAMES = ["吴兴区", "德清县", "武康街道"]
GEOD = Geod(ellps="WGS84")


def _gbk_shapefile(path: Path, cpg: bool = False) -> None:
    """A shapefile as Windows desktops write it: GBK text, and (by default) no .cpg."""
    gdf = gpd.GeoDataFrame(
        {"name": NAMES, "code": ["330502", "330521", "330521001"]},
        geometry=[Point(119.9 + i / 10, 30.5) for i in range(3)],
        crs="EPSG:4326",
    )
    pyogrio.write_dataframe(gdf, path, encoding="GBK")
    if not cpg:
        path.with_suffix(".cpg").unlink()


# -- encodings ----------------------------------------------------------------------------


def test_gbk_shapefile_without_cpg_is_read_as_gb18030_with_a_warning(tmp_path: Path) -> None:
    shp = tmp_path / "towns.shp"
    _gbk_shapefile(shp)
    with pytest.warns(
        SourceEncodingWarning,
        match=r"towns.shp: text is not UTF-8.*\(\.cpg\).*"
        r"GB18030.*encoding = \"GBK\"",
    ):
        gdf = read_vector(shp)
    assert gdf["name"].tolist() == NAMES


def test_declared_encoding_reads_without_a_warning(tmp_path: Path) -> None:
    shp = tmp_path / "towns.shp"
    _gbk_shapefile(shp)
    assert read_vector(shp, encoding="GBK")["name"].tolist() == NAMES  # no warning: error filter
    assert read_table(shp, encoding="gbk")["name"].tolist() == NAMES


def test_utf8_shapefile_without_cpg_is_utf8(tmp_path: Path) -> None:
    shp = tmp_path / "towns.shp"
    gdf = gpd.GeoDataFrame({"name": NAMES}, geometry=[Point(120, 30)] * 3, crs="EPSG:4326")
    gdf.to_file(shp)
    shp.with_suffix(".cpg").unlink()
    assert read_vector(shp)["name"].tolist() == NAMES  # GDAL alone would say ISO-8859-1


def test_dbf_text_holds_field_names_and_character_fields(tmp_path: Path) -> None:
    shp = tmp_path / "towns.shp"
    _gbk_shapefile(shp)
    data, ldid = dbf_text(shp.with_suffix(".dbf"))
    assert ldid == 0
    assert data.split(b"\n") == [
        b"name",
        b"code",
        *[n.encode("gbk") for n in NAMES[:1]],
        b"330502",
        NAMES[1].encode("gbk"),
        b"330521",
        NAMES[2].encode("gbk"),
        b"330521001",
    ]


def test_gbk_csv_is_read_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "poi.csv"
    path.write_bytes("lon,lat,name\n119.97,30.54,德清县\n".encode("gbk"))
    with pytest.warns(SourceEncodingWarning, match="poi.csv: text is not UTF-8"):
        gdf = read_vector(path)
    assert gdf["name"].tolist() == ["德清县"]
    with pytest.warns(SourceEncodingWarning):
        assert read_table(path)["name"].tolist() == ["德清县"]
    assert read_table(path, encoding="GBK")["name"].tolist() == ["德清县"]


def test_excel_csv_with_bom_finds_its_columns(tmp_path: Path) -> None:
    path = tmp_path / "poi.csv"
    path.write_bytes("经度,纬度\n119.97,30.54\n".encode("utf-8-sig"))
    assert read_vector(path).geometry.iloc[0].equals(Point(119.97, 30.54))


def test_wrong_or_unknown_declared_encoding_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "poi.csv"
    path.write_bytes("lon,lat,name\n119.97,30.54,德清县\n".encode("gbk"))
    with pytest.raises(
        SourceError, match=r"poi.csv: text does not decode as utf-8; check encoding"
    ):
        read_vector(path, encoding="utf-8")
    with pytest.raises(SourceError, match=r"poi.csv: 'nonsense' is not a text encoding"):
        read_vector(path, encoding="nonsense")
    shp = tmp_path / "towns.shp"
    _gbk_shapefile(shp)
    with pytest.raises(SourceError, match=r"towns.shp: 'nonsense' is not a text encoding"):
        read_vector(shp, encoding="nonsense")
    with pytest.raises(
        SourceError, match=r"towns.shp: text does not decode as utf-8; check encoding"
    ):
        read_vector(shp, encoding="utf8")


def test_undecodable_shapefile_names_the_encoding_key(tmp_path: Path) -> None:
    shp = tmp_path / "towns.shp"
    gdf = gpd.GeoDataFrame({"name": ["ABCD"]}, geometry=[Point(120, 30)], crs="EPSG:4326")
    gdf.to_file(shp)
    shp.with_suffix(".cpg").unlink()
    dbf = shp.with_suffix(".dbf")
    dbf.write_bytes(dbf.read_bytes().replace(b"ABCD", b"\xff\xfe\x80\x80"))  # no text encoding
    with pytest.raises(
        SourceError, match=r"towns.shp: text is neither UTF-8 nor GB18030.*encoding"
    ):
        read_vector(shp)
    assert read_vector(shp, encoding="latin-1")["name"].tolist() == ["\xff\xfe\x80\x80"]


# -- columns ------------------------------------------------------------------------------


def test_chinese_headers_with_units_and_codes_keep_leading_zeros(tmp_path: Path) -> None:
    path = tmp_path / "villages.csv"
    path.write_text(
        "id,行政区划代码,名称,经度(°),纬度 (°),人口\n"
        "00123,330521001,武康街道,119.97,30.54,100\n"
        "00124,330521002,乾元镇,120.01,30.55,200\n",
        "utf-8",
    )
    gdf = read_vector(path)
    assert gdf["id"].tolist() == ["00123", "00124"]
    assert gdf["行政区划代码"].tolist() == ["330521001", "330521002"]
    assert gdf["人口"].tolist() == [100, 200]  # other columns keep their numbers
    assert gdf.geometry.iloc[1].equals(Point(120.01, 30.55))
    table = read_table(path)
    assert table["id"].tolist() == ["00123", "00124"]


@pytest.mark.parametrize(
    ("x", "y"),
    [
        ("东经", "北纬"),
        ("X坐标", "Y坐标"),
        ("x坐标", "y坐标"),
        ("LNG", "LAT"),
        ("Longitude ", "Latitude"),
    ],
)
def test_coordinate_headers_are_recognised(tmp_path: Path, x: str, y: str) -> None:
    path = tmp_path / "p.csv"
    path.write_text(f"{x},{y},village_code\n119.97,30.54,0330\n", "utf-8")
    gdf = read_vector(path)
    assert gdf.geometry.iloc[0].equals(Point(119.97, 30.54))
    assert gdf["village_code"].tolist() == ["0330"]


def test_excel_points_with_xy_sheet_and_codes(tmp_path: Path) -> None:
    path = tmp_path / "sites.xlsx"
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame({"note": ["first sheet"]}).to_excel(writer, sheet_name="说明", index=False)
        pd.DataFrame(
            {
                "编号": ["007", "008"],
                "code": [330521001, 330521002],
                "x": [480100.0, 480900.0],
                "y": [3380100.0, 3380500.0],
            }
        ).to_excel(writer, sheet_name="站点", index=False)
    gdf = read_vector(path, layer="站点", crs="EPSG:4549")
    assert gdf.crs.to_epsg() == 4549
    assert gdf.geometry.iloc[1].equals(Point(480900.0, 3380500.0))
    assert gdf["编号"].tolist() == ["007", "008"]
    assert gdf["code"].tolist() == ["330521001", "330521002"]  # no '.0' from Excel numbers
    with pytest.raises(SourceError, match=r"sites.xlsx: no column 'E' for x"):
        read_vector(path, layer="站点", x="E", y="y")


# -- GCJ-02 / BD-09 -----------------------------------------------------------------------


def _metres(lon1, lat1, lon2, lat2) -> np.ndarray:  # type: ignore[no-untyped-def]
    return np.asarray(GEOD.inv(lon1, lat1, lon2, lat2)[2])


def test_gcj02_offset_in_deqing_is_hundreds_of_metres() -> None:
    lon, lat = np.array([119.97]), np.array([30.54])
    glon, glat = wgs84_to_gcj02(lon, lat)
    offset = float(_metres(lon, lat, glon, glat)[0])
    assert 300 < offset < 700
    back = gcj02_to_wgs84(glon, glat)
    assert _metres(lon, lat, *back)[0] < 0.01


def test_round_trips_over_china_are_within_a_centimetre() -> None:
    lon, lat = np.meshgrid(np.linspace(74, 135, 40), np.linspace(18, 53, 40))
    lon, lat = lon.ravel(), lat.ravel()
    assert _metres(lon, lat, *gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))).max() < 0.01
    assert _metres(lon, lat, *bd09_to_gcj02(*gcj02_to_bd09(lon, lat))).max() < 0.01
    # the inverse is checked against the forward too: forward(inverse(p)) lands on p
    assert _metres(lon, lat, *wgs84_to_gcj02(*gcj02_to_wgs84(lon, lat))).max() < 0.01


def test_points_outside_china_pass_through() -> None:
    lon, lat = np.array([24.94, -74.0, 151.2]), np.array([60.17, 40.7, -33.9])
    for fn in (wgs84_to_gcj02, gcj02_to_wgs84, gcj02_to_bd09, bd09_to_gcj02):
        out = fn(lon, lat)
        assert np.array_equal(out[0], lon) and np.array_equal(out[1], lat)


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("GCJ-02", "GCJ-02"),
        ("gcj02", "GCJ-02"),
        ("GCJ_02", "GCJ-02"),
        ("bd09", "BD-09"),
        ("BD-09", "BD-09"),
        ("EPSG:4326", None),
        (None, None),
    ],
)
def test_china_crs_names(text: str | None, canonical: str | None) -> None:
    assert china_crs(text) == canonical


@pytest.mark.parametrize("which", ["GCJ-02", "bd09"])
def test_shifted_geojson_and_csv_read_at_wgs84_positions(tmp_path: Path, which: str) -> None:
    lon = np.array([119.95, 120.00, 120.00, 119.95])
    lat = np.array([30.52, 30.52, 30.56, 30.56])
    slon, slat = wgs84_to_gcj02(lon, lat)
    if china_crs(which) == "BD-09":
        slon, slat = gcj02_to_bd09(slon, slat)
    poly = gpd.GeoDataFrame(
        {"name": ["德清"]}, geometry=[Polygon(zip(slon, slat, strict=True))], crs="EPSG:4326"
    )
    poly.to_file(tmp_path / "b.geojson")
    gdf = read_vector(tmp_path / "b.geojson", crs=which)
    xy = np.asarray(gdf.geometry.iloc[0].exterior.coords)[:4]
    assert gdf.crs.to_epsg() == 4326
    assert _metres(xy[:, 0], xy[:, 1], lon, lat).max() < 0.01
    csv = tmp_path / "p.csv"
    rows = "".join(f"{float(a)!r},{float(b)!r}\n" for a, b in zip(slon, slat, strict=True))
    csv.write_text("lng,lat\n" + rows)
    pts = read_vector(csv, crs=which)
    assert _metres(pts.geometry.x, pts.geometry.y, lon, lat).max() < 0.01


def test_shifted_crs_on_a_projected_file_is_refused(tmp_path: Path) -> None:
    gdf = gpd.GeoDataFrame(geometry=[Point(480000, 3380000)], crs="EPSG:4549")
    gdf.to_file(tmp_path / "p.gpkg")
    with pytest.raises(SourceError, match=r"p.gpkg: crs is GCJ-02 but the file declares"):
        read_vector(tmp_path / "p.gpkg", crs="GCJ-02")


def test_declared_encoding_does_not_apply_to_utf8_formats(tmp_path: Path) -> None:
    path = tmp_path / "towns.gpkg"
    gpd.GeoDataFrame({"name": NAMES}, geometry=[Point(120, 30)] * 3, crs=4326).to_file(path)
    assert read_vector(path, encoding="GBK")["name"].tolist() == NAMES
    assert read_table(path, encoding="GBK")["name"].tolist() == NAMES
