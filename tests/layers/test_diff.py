"""Two versions of a layer compared: vector features by id, raster grids block by block."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from affine import Affine
from shapely.geometry import Point, Polygon, box

from layers.diff import Covered, coverage_change, diff_features, raster_diff, vector_diff
from layers.errors import ParameterError
from layers.raster import open_raster
from layers.types import RasterData

CRS = "EPSG:4549"


# -- vector ----------------------------------------------------------------------------------


def _square(x: float, y: float, start: int = 0) -> Polygon:
    ring = [(x, y), (x + 10, y), (x + 10, y + 10), (x, y + 10)]
    ring = ring[start:] + ring[:start]
    return Polygon(ring)


@pytest.fixture
def pair() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, dict[str, object]]:
    """Two versions of 7 features and what the after version did to each of them."""
    before = gpd.GeoDataFrame(
        {
            "code": ["a", "b", "c", "d", "e", "f", "g"],
            "pop": [10, 20, 30, 40, 50, 60, 70],
            "name": ["A", "B", None, "D", "E", "F", "G"],
            "share": [0.1, np.nan, 0.3, 0.4, 0.5, 0.6, 0.7],
            "old_only": [1, 2, 3, 4, 5, 6, 7],
        },
        geometry=[_square(i * 100, 0) for i in range(7)],
        crs=CRS,
    )
    after = before.drop(index=[6]).drop(columns="old_only").copy()  # g removed
    after["new_only"] = "x"
    after.loc[0, "pop"] = 11  # a: pop
    after.loc[1, "share"] = np.nan  # b: NaN stays NaN: unchanged
    after.loc[2, "name"] = "C"  # c: None -> "C"
    after.loc[3, "geometry"] = _square(300.5, 0)  # d: moved 0.5 m
    after.loc[4, "geometry"] = _square(400.001, 0)  # e: moved 1 mm, within tolerance
    after.loc[5, "geometry"] = _square(500, 0, start=2)  # f: same square, another start vertex
    added = gpd.GeoDataFrame(
        {"code": ["h", "i"], "pop": [80, 90], "name": ["H", "I"], "share": [0.8, 0.9]},
        geometry=[_square(700, 0), _square(800, 0)],
        crs=CRS,
    ).assign(new_only="y")
    after = gpd.GeoDataFrame(
        np.concatenate([after.to_numpy(), added[after.columns].to_numpy()]),
        columns=after.columns,
        geometry="geometry",
        crs=CRS,
    ).sample(frac=1, random_state=3)  # order does not matter
    after["pop"] = after["pop"].astype(int)
    after["share"] = after["share"].astype(float)
    expected = {
        "added": {"h", "i"},
        "removed": {"g"},
        "changed": {"a": {"pop": (10, 11)}, "c": {"name": (None, "C")}, "d": {}},
        "moved": {"d": 0.5},
        "unchanged": {"b", "e", "f"},
    }
    return before, after, expected


def test_vector_diff_counts_and_fields_follow_the_fixture(pair) -> None:  # type: ignore[no-untyped-def]
    before, after, expected = pair
    d = vector_diff(before, after, "code")
    f = d.features.set_index("code")
    assert set(f.index[f["change"] == "added"]) == expected["added"]
    assert set(f.index[f["change"] == "removed"]) == expected["removed"]
    assert set(f.index[f["change"] == "changed"]) == set(expected["changed"])
    assert set(f.index[f["change"] == "unchanged"]) == expected["unchanged"]
    assert d.counts() == {
        "added": len(expected["added"]),
        "removed": len(expected["removed"]),
        "changed": len(expected["changed"]),
        "unchanged": len(expected["unchanged"]),
        "geometry_changed": len(expected["moved"]),
    }
    # every changed value, and nothing else
    got = {(r.id, r.field): (r.old, r.new) for r in d.changes.itertuples()}
    want = {(k, fld): v for k, fields in expected["changed"].items() for fld, v in fields.items()}
    assert got.keys() == want.keys()
    for key, (old, new) in want.items():
        assert got[key][1] == new
        assert got[key][0] == old or (old is None and got[key][0] is None)
    for code, dist in expected["moved"].items():
        assert f.loc[code, "geometry_moved"] == pytest.approx(dist)
        assert "geometry" in f.loc[code, "fields"].split(",")
    assert f.loc["a", "fields"] == "pop"
    assert d.fields_added == ["new_only"] and d.fields_removed == ["old_only"]
    assert d.field_counts() == {"pop": 1, "name": 1, "geometry": 1}


def test_a_tighter_tolerance_sees_the_millimetre(pair) -> None:  # type: ignore[no-untyped-def]
    before, after, _ = pair
    d = vector_diff(before, after, "code", tolerance=0.0001)
    f = d.features.set_index("code")
    assert f.loc["e", "change"] == "changed"
    assert f.loc["e", "geometry_moved"] == pytest.approx(0.001, rel=1e-3)
    assert f.loc["f", "change"] == "unchanged"  # the start vertex is not a change at any tolerance


def test_diff_features_have_each_versions_geometry(pair) -> None:  # type: ignore[no-untyped-def]
    before, after, _ = pair
    gdf = diff_features(vector_diff(before, after, "code")).set_index("code")
    assert gdf.crs == before.crs and len(gdf) == 9
    assert gdf.loc["g"].geometry.equals(before.set_index("code").loc["g"].geometry)
    assert gdf.loc["d"].geometry.equals(after.set_index("code").loc["d"].geometry)
    assert gdf.loc["h"].geometry.equals(after.set_index("code").loc["h"].geometry)


def test_ids_must_be_there_and_unique(pair) -> None:  # type: ignore[no-untyped-def]
    before, after, _ = pair
    with pytest.raises(ParameterError, match="older version has no id column 'nope'"):
        vector_diff(before, after, "nope")
    twice = after.copy()
    twice.iloc[1, twice.columns.get_loc("code")] = twice["code"].iloc[0]
    with pytest.raises(ParameterError, match="newer version has 1 duplicate 'code'"):
        vector_diff(before, twice, "code")


def test_ids_of_another_type_match_as_text() -> None:
    a = gpd.GeoDataFrame({"id": [1, 2]}, geometry=[Point(0, 0), Point(1, 1)], crs=CRS)
    b = gpd.GeoDataFrame({"id": ["1", "3"]}, geometry=[Point(0, 0), Point(1, 1)], crs=CRS)
    assert vector_diff(a, b, "id").counts()["unchanged"] == 1


# -- raster ----------------------------------------------------------------------------------

T = Affine(10.0, 0, 480_000.0, 0, -10.0, 3_380_000.0)
H, W = 40, 50


def _pair(seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.normal(100, 20, (H, W)).astype("float32")
    b = a + rng.normal(0, 5, (H, W)).astype("float32")
    same = rng.random((H, W)) < 0.5
    b[same] = a[same]  # some pixels unchanged
    a[:3, :] = -9999  # b gains data here
    b[:, :2] = -9999  # and loses it here
    a[10, 10] = np.nan  # a NaN is no data either
    return a, b


def _zones() -> gpd.GeoDataFrame:
    """The left 20 columns and the rest, on pixel edges."""
    x0, y0 = T.c, T.f
    left = box(x0, y0 - H * 10, x0 + 20 * 10, y0)
    right = box(x0 + 20 * 10, y0 - H * 10, x0 + W * 10, y0)
    return gpd.GeoDataFrame({"zone_id": ["L", "R"]}, geometry=[left, right], crs=CRS)


def _expected(a: np.ndarray, b: np.ndarray, tol: float, mask: np.ndarray) -> dict[str, float]:
    ok_a = (a != -9999) & np.isfinite(a) & mask
    ok_b = (b != -9999) & np.isfinite(b) & mask
    both = ok_a & ok_b
    d = b[both].astype(np.float64) - a[both].astype(np.float64)
    return {
        "pixels": int(both.sum()),
        "min": d.min(),
        "max": d.max(),
        "mean": d.mean(),
        "std": d.std(),
        "changed": int((np.abs(d) > tol).sum()),
        "gained": int((ok_b & ~ok_a).sum()),
        "lost": int((ok_a & ~ok_b).sum()),
    }


@pytest.mark.parametrize("block_px", [7, 1024])
def test_raster_diff_statistics_match_numpy(block_px: int) -> None:
    a, b = _pair()
    before = RasterData(a, T, CRS, nodata=-9999, units=["dBm"])
    after = RasterData(b, T, CRS, nodata=-9999, units=["dBm"])
    out = np.full((H, W), -1.0, dtype="float32")
    d = raster_diff(before, after, _zones(), "zone_id", tolerance=1.0, out=out, block_px=block_px)
    want = _expected(a, b, 1.0, np.ones((H, W), bool))
    for key, value in want.items():
        assert d.stats[key] == pytest.approx(value, rel=1e-9, abs=1e-9), key
    assert d.unit == "dBm"
    # per zone, against the same numbers on each half of the arrays
    cols = np.arange(W)[None, :].repeat(H, 0)
    for zone, mask in (("L", cols < 20), ("R", cols >= 20)):
        row = d.zones.set_index("zone").loc[zone]
        for key, value in _expected(a, b, 1.0, mask).items():
            assert row[key] == pytest.approx(value, rel=1e-9, abs=1e-9), (zone, key)
    # the difference grid written: b - a where both have data, NaN elsewhere
    both = (a != -9999) & np.isfinite(a) & (b != -9999)
    assert np.allclose(out[both], (b - a)[both], atol=1e-4)
    assert np.isnan(out[~both]).all()


def test_raster_diff_reads_files_window_by_window(tmp_path: Path) -> None:
    a, b = _pair(seed=7)
    paths = []
    for name, arr in (("a", a), ("b", b)):
        path = tmp_path / f"{name}.tif"
        with rasterio.open(
            path, "w", driver="GTiff", width=W, height=H, count=1, dtype="float32",
            crs=CRS, transform=T, nodata=-9999, tiled=True, blockxsize=16, blockysize=16,
        ) as dst:  # fmt: skip
            dst.write(arr, 1)
        paths.append(path)
    on_disk = [open_raster(p) for p in paths]
    assert on_disk[0].data.shape == (1, H, W)
    assert np.array_equal(on_disk[0].data[0, 5:9, 3:20], a[5:9, 3:20])
    d = raster_diff(*on_disk, block_px=16)
    want = _expected(a, b, 0.0, np.ones((H, W), bool))
    for key, value in want.items():
        assert d.stats[key] == pytest.approx(value, rel=1e-9, abs=1e-9), key


def test_rasters_on_other_grids_are_refused() -> None:
    a, b = _pair()
    moved = RasterData(b, T * Affine.translation(1, 0), CRS, nodata=-9999)
    with pytest.raises(ParameterError, match="different grids"):
        raster_diff(RasterData(a, T, CRS, nodata=-9999), moved)


def test_coverage_share_gained_and_lost_per_zone() -> None:
    rng = np.random.default_rng(3)
    r1 = rng.uniform(-130, -80, (H, W)).astype("float32")
    r2 = r1.copy()
    r2[5:15, 25:45] += 20  # new site on the right: gains
    r2[30:35, 0:10] -= 30  # interference on the left: losses
    r1[0, :] = -9999  # no signal before
    s1 = rng.uniform(-10, 20, (H, W)).astype("float32")
    s2 = s1 - 1  # SINR drops everywhere a little
    was = Covered(RasterData(r1, T, CRS, -9999), -105, RasterData(s1, T, CRS, -9999), -3)
    now = Covered(RasterData(r2, T, CRS, -9999), -100, RasterData(s2, T, CRS, -9999), -3)
    table = coverage_change(was, now, _zones(), "zone_id", block_px=16).set_index("zone")
    c1 = (r1 >= -105) & (s1 >= -3)
    c2 = (r2 >= -100) & (s2 >= -3)  # each version by its own threshold
    cols = np.arange(W)[None, :].repeat(H, 0)
    for zone, mask in (("L", cols < 20), ("R", cols >= 20)):
        n = mask.sum()
        row = table.loc[zone]
        assert row["area_km2"] == pytest.approx(n * 100 / 1e6)
        assert row["share_before"] == pytest.approx((c1 & mask).sum() / n)
        assert row["share_after"] == pytest.approx((c2 & mask).sum() / n)
        assert row["gained"] == pytest.approx((c2 & ~c1 & mask).sum() / n)
        assert row["lost"] == pytest.approx((c1 & ~c2 & mask).sum() / n)
        assert row["change"] == pytest.approx(row["gained"] - row["lost"])
    assert table.loc["R", "gained"] > table.loc["L", "gained"]
    whole = coverage_change(was, now)
    assert whole["zone"].tolist() == ["region"]
    assert whole["share_after"].iloc[0] == pytest.approx(c2.mean())
