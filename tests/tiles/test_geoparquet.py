"""tiles' GeoParquet reader gives what geopandas' read gives, without pandas.

Each file is read twice: by :func:`tiles.vector.load_source` (pyarrow + shapely) and by
``geopandas.read_parquet`` + ``to_crs``, whose values are then typed for MVT here, by
the rules the reader documents (the pandas way tiles used before). Geometries must be
the same to the bit, ids the same, and every property value the same Python object
(type included: an ``int`` is not a ``float`` in a tile).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import warnings
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pyogrio
import pytest
import shapely

from layers.vector import read_vector
from tiles._geoparquet import read_geoparquet
from tiles.errors import ArtifactError
from tiles.grids import get_grid
from tiles.vector import load_source
from twin.artifacts import write_vector

GBK_NAMES = ["吴兴区", "德清县", "武康街道", "新市镇", "乾元镇", "禹越镇", "阜溪街道"]


def _frame(crs: str) -> gpd.GeoDataFrame:
    """Seven rows of tricky columns; row 3 has no geometry and row 4 an empty one."""
    x, y = (500_000.0, 3_380_000.0) if crs == "EPSG:4549" else (119.97, 30.54)
    d = 1000.0 if crs == "EPSG:4549" else 0.01
    geoms = [
        shapely.Point(x, y),
        shapely.LineString([(x, y, 5.0), (x + d, y + d, 7.5)]),  # 3D: moved as x, y, z
        shapely.box(x, y, x + d, y + d),
        None,
        shapely.Polygon(),
        shapely.MultiPoint([(x + d, y), (x, y + d)]),
        shapely.MultiPolygon([shapely.box(x - d, y - d, x, y)]),
    ]
    shanghai = pd.to_datetime(
        [
            "2024-01-02 03:04:05",
            None,
            "2024-06-30 23:59:59.123",
            "1999-12-31",
            None,
            "2024-02-29",
            "2000-01-01",
        ],
        format="ISO8601",
    ).tz_localize("Asia/Shanghai")
    return gpd.GeoDataFrame(
        {
            "id": [5, 3, 9, 1, 2, 7, 11],
            "f": [1.5, np.nan, 3.25, None, -0.0, 1e300, 2.0],
            "i": [1, 2, 3, 4, 5, 2**60 + 1, -7],
            "i_null": pd.array([1, None, 3, 4, 5, 2**60 + 1, None], dtype="Int64"),
            "b": [True, False, True, True, False, False, True],
            "b_null": pd.array([True, None, False, True, None, False, True], dtype="boolean"),
            "s": ["东港村", None, "新市镇", "", 'a"b', "Ω", None],
            "cat": pd.Categorical(["甲", "乙", None, "甲", "丙", "乙", "甲"]),
            "naive": pd.to_datetime(
                [
                    "2024-01-02 03:04:05",
                    None,
                    "2024-06-30T23:59:59.123456",
                    "1999-12-31",
                    "2024-01-01",
                    "2262-01-01",
                    "1970-01-01",
                ],
                format="ISO8601",
            ),
            "shanghai": shanghai,
            "utc": shanghai.tz_convert("UTC"),
            "nanos": pd.to_datetime(
                [1, None, 1_000, 1_000_001, 1_500_000_000_000_000_123, 0, 7], unit="ns"
            ),
            "date": [
                dt.date(2024, 1, 2),
                None,
                dt.date(1970, 1, 1),
                dt.date(2000, 2, 29),
                dt.date(2024, 1, 1),
                dt.date(1, 1, 1),
                dt.date(9999, 12, 31),
            ],
            "span": pd.to_timedelta([1, None, 3600, 86400 * 3 + 0.25, 0, -5, 59.5], unit="s"),
            "dict": [
                {"a": 1, "b": "乙"},
                None,
                {"a": 2, "b": None},
                {"b": "x", "a": 3},
                {},
                {"a": 4},
                {"a": 5, "b": "y"},
            ],
            "list": [[1, 2], None, [], [3], [4, 5, 6], [7], [8]],
            "nan_only": [np.nan] * 7,
            "none_only": [None] * 7,
            "string": pd.array(["x", None, "y", "z", None, "w", "v"], dtype="string"),
            "f32": np.array([1.1, 2.2, np.nan, 4.4, 5.5, 6.6, 7.7], dtype="float32"),
            "u8": np.array([0, 1, 2, 3, 255, 7, 8], dtype="uint8"),
        },
        geometry=geoms,
        crs=crs,
    )


def _gbk_column(tmp_path: Path) -> list[str]:
    """Town names as the vector reader gives them from a GBK shapefile without .cpg."""
    pts = gpd.GeoSeries([shapely.Point(120 + i / 100, 30.5) for i in range(7)], crs="EPSG:4326")
    pyogrio.write_dataframe(
        gpd.GeoDataFrame({"name": GBK_NAMES}, geometry=pts), tmp_path / "towns.shp", encoding="GBK"
    )
    (tmp_path / "towns.cpg").unlink()  # as Windows desktop GIS writes them
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "read as GB18030": the guess this test relies on
        names = read_vector(tmp_path / "towns.shp")["name"].tolist()
    assert names == GBK_NAMES
    return names


def _mvt(v: Any) -> Any:
    """A value geopandas gives, typed for MVT by the rules of :mod:`tiles._geoparquet`."""
    if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, np.ndarray):  # pandas gives lists as arrays: JSON lists, as dicts are
        v = v.tolist()
    if isinstance(v, str | bool | int | float):
        return v
    if isinstance(v, dict | list):
        return json.dumps(v, ensure_ascii=False, sort_keys=True)
    if isinstance(v, pd.Timedelta | pd.Timestamp | dt.date):
        return v.isoformat()
    return str(v)


def _expected(series: pd.Series) -> list[Any]:
    """The values of a column geopandas read, typed for MVT."""
    if pd.api.types.is_bool_dtype(series):
        return [None if pd.isna(v) else bool(v) for v in series.astype(object)]
    if pd.api.types.is_integer_dtype(series):
        return [None if pd.isna(v) else int(v) for v in series.astype(object)]
    if pd.api.types.is_float_dtype(series):
        return [None if pd.isna(v) else float(v) for v in series.astype(object)]
    if isinstance(series.dtype, gpd.array.GeometryDtype):
        return [None if g is None else g.wkt for g in series]
    return [_mvt(v) for v in series.astype(object)]


def _typed(values: list[Any]) -> list[tuple[type, Any]]:
    return [(type(v), v) for v in values]


def _check_same(path: Path) -> None:
    grid = get_grid("WebMercatorQuad")
    source = load_source(str(path), "t", "v", grid)
    gdf = gpd.read_parquet(path)
    keep = ~(gdf.geometry.isna() | gdf.geometry.is_empty).to_numpy()
    ids = np.arange(len(gdf), dtype=np.uint64)
    if "id" in gdf.columns and pd.api.types.is_integer_dtype(gdf["id"]):
        ids = gdf["id"].to_numpy(dtype=np.uint64)
    gdf = gdf[keep].to_crs(grid.crs)
    assert source.ids.tolist() == ids[keep].tolist()
    assert shapely.to_wkb(source.geoms, include_srid=False).tolist() == (
        shapely.to_wkb(gdf.geometry.values, include_srid=False).tolist()
    )
    expected = [(c, _expected(gdf[c])) for c in gdf.columns if c != gdf.geometry.name]
    assert [name for name, _ in source.columns] == [name for name, _ in expected]
    for (name, values), (_, want) in zip(source.columns, expected, strict=True):
        assert _typed(values) == _typed(want), name


@pytest.mark.parametrize("crs", ["EPSG:4549", "EPSG:4326"])
def test_the_reader_gives_what_geopandas_gives(tmp_path: Path, crs: str) -> None:
    gdf = _frame(crs)
    gdf["gbk"] = _gbk_column(tmp_path)
    # geopandas' own writer keeps pandas metadata (nullable Int64 stays integer) ...
    gdf.to_parquet(tmp_path / "geopandas.parquet")
    _check_same(tmp_path / "geopandas.parquet")
    # ... the artifact writer does not (an integer column with missing values reads as float),
    # and writes a bbox covering column, which is no property
    published = gdf[~(gdf.geometry.isna() | gdf.geometry.is_empty)]
    write_vector(published.drop(columns=["span"]), tmp_path / "artifact.parquet", {})
    _check_same(tmp_path / "artifact.parquet")
    # a named index is no property either, and a second geometry column is WKT
    with_index = gdf.set_index("s").rename_geometry("geom")
    with_index["outline"] = gpd.GeoSeries(gdf.geometry.values).envelope
    with_index.to_parquet(tmp_path / "indexed.parquet")
    _check_same(tmp_path / "indexed.parquet")


def test_the_typing_rules_spelled_out(tmp_path: Path) -> None:
    gdf = _frame("EPSG:4549")
    gdf.to_parquet(tmp_path / "a.parquet")
    columns = dict(read_geoparquet(tmp_path / "a.parquet").columns)
    assert columns["i_null"][:3] == [1, None, 3]  # pandas metadata: a nullable Int64
    assert columns["f"][:4] == [1.5, None, 3.25, None]
    assert columns["shanghai"][:3] == [
        "2024-01-02T03:04:05+08:00",
        None,
        "2024-06-30T23:59:59.123000+08:00",
    ]
    assert columns["utc"][0] == "2024-01-01T19:04:05+00:00"
    assert columns["nanos"][:4] == [
        "1970-01-01T00:00:00.000000001",
        None,
        "1970-01-01T00:00:00.000001",
        "1970-01-01T00:00:00.001000001",
    ]
    assert columns["span"][:4] == ["P0DT0H0M1S", None, "P0DT1H0M0S", "P3DT0H0M0.25S"]
    assert columns["dict"][:3] == ['{"a": 1.0, "b": "乙"}', None, '{"a": 2.0, "b": null}']
    assert columns["list"][:3] == ["[1, 2]", None, "[]"]
    assert columns["string"][:2] == ["x", None]  # pandas gave "<NA>"
    assert columns["cat"][:3] == ["甲", "乙", None]
    # the artifact writer keeps no pandas metadata: missing values make integers float
    table = pq.read_table(tmp_path / "a.parquet")
    pq.write_table(
        table.replace_schema_metadata({b"geo": table.schema.metadata[b"geo"]}),
        tmp_path / "b.parquet",
    )
    assert dict(read_geoparquet(tmp_path / "b.parquet").columns)["i_null"][:3] == [1.0, None, 3.0]


@pytest.mark.parametrize(
    "geoms",
    [
        ["POINT (1 2)", None, "POINT (3 4)"],
        [
            "POLYGON ((0 0, 1 0, 1 1, 0 0))",
            "POLYGON ((0 0, 2 0, 2 2, 0 0), (0.5 0.2, 1 0.2, 1 0.5, 0.5 0.2))",
            None,
        ],
    ],
)
def test_native_geoarrow_encodings(tmp_path: Path, geoms: list[str | None]) -> None:
    gdf = gpd.GeoDataFrame(
        {"a": [1, 2, 3]}, geometry=gpd.GeoSeries.from_wkt(geoms), crs="EPSG:4326"
    )
    gdf.to_parquet(tmp_path / "n.parquet", geometry_encoding="geoarrow")
    schema = pq.read_schema(tmp_path / "n.parquet")
    assert not pa.types.is_binary(schema.field("geometry").type)  # really native
    assert json.loads(schema.metadata[b"geo"])["columns"]["geometry"]["encoding"] != "WKB"
    _check_same(tmp_path / "n.parquet")


def test_not_geoparquet_is_one_clear_error(tmp_path: Path) -> None:
    pq.write_table(pa.table({"a": [1]}), tmp_path / "plain.parquet")
    with pytest.raises(
        ArtifactError, match=r"plain.parquet: cannot read layer 'x' as GeoParquet: .*'geo' metadata"
    ):
        load_source(str(tmp_path / "plain.parquet"), "x", "v", get_grid("WebMercatorQuad"))
