"""Which files a source is made of (layers.sources)."""

from pathlib import Path

import pytest

from layers.errors import SourceError
from layers.sources import expand, is_glob, sidecars, source_files


def _touch(*paths: Path) -> None:
    for p in paths:
        p.write_bytes(b"x")


def test_shapefile_sidecars_any_case(tmp_path: Path) -> None:
    shp = tmp_path / "ROADS.SHP"
    _touch(shp, tmp_path / "roads.dbf", tmp_path / "ROADS.shx", tmp_path / "roads.cpg")
    _touch(tmp_path / "roads.csv", tmp_path / "other.dbf")
    names = [p.name for p in source_files(shp)]
    assert names == ["ROADS.SHP", "ROADS.shx", "roads.cpg", "roads.dbf"]


def test_raster_aux_and_world_file(tmp_path: Path) -> None:
    tif = tmp_path / "dem.tif"
    _touch(tif, tmp_path / "dem.tif.aux.xml", tmp_path / "dem.tfw", tmp_path / "dem.png")
    assert [p.name for p in sidecars(tif)] == ["dem.tfw", "dem.tif.aux.xml"]


def test_glob_expands_sorted_and_names_an_empty_match(tmp_path: Path) -> None:
    for name in ("n30e120.tif", "n30e119.tif", "n31e119.tif"):
        _touch(tmp_path / name)
    pattern = str(tmp_path / "n3*.tif")
    assert is_glob(pattern)
    assert [p.name for p in expand(pattern)] == ["n30e119.tif", "n30e120.tif", "n31e119.tif"]
    with pytest.raises(SourceError, match=r"\*\.asc: the pattern matches no file"):
        expand(tmp_path / "*.asc")
    with pytest.raises(SourceError, match="no such file"):
        expand(tmp_path / "missing.tif")


def test_every_file_gdal_opens_is_listed(tmp_path: Path) -> None:
    """GDAL's own list of the files behind a raster is within ``source_files``."""
    import numpy as np
    import rasterio
    from pyproj import CRS
    from rasterio.transform import from_origin

    crs = CRS.from_epsg(4549)
    for name, driver in (("dem.tif", "GTiff"), ("dem.asc", "AAIGrid")):
        path = tmp_path / name
        with rasterio.open(
            path, "w", driver=driver, width=4, height=4, count=1, dtype="float32",
            transform=from_origin(480_000, 3_380_000, 50, 50),
        ) as dst:  # fmt: skip
            dst.write(np.ones((1, 4, 4), "float32"))
        if driver == "GTiff":  # the CRS in a PAM .aux.xml and a MapInfo .tab beside
            Path(f"{path}.aux.xml").write_text(
                f"<PAMDataset><SRS>{crs.to_wkt()}</SRS></PAMDataset>"
            )
            path.with_suffix(".tab").write_text("!table\n")
        else:  # an ESRI grid's CRS in its .prj
            path.with_suffix(".prj").write_text(crs.to_wkt(version="WKT1_ESRI"))
        with rasterio.open(path) as src:
            opened = {Path(f) for f in src.files}
            assert len(opened) > 1 and src.crs is not None, (name, src.files)
        assert opened <= set(source_files(path)), name
        for p in tmp_path.iterdir():
            p.unlink()


def test_a_glob_matching_sidecars_lists_each_file_once(tmp_path: Path) -> None:
    _touch(tmp_path / "a.tif", tmp_path / "a.tfw", tmp_path / "a.tab")
    names = [p.name for p in source_files(tmp_path / "a.*")]
    assert sorted(names) == ["a.tab", "a.tfw", "a.tif"] and len(names) == 3
