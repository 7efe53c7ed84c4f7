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
