"""``twin demo --counties N``: N demo counties side by side, each one the ordinary demo county."""

from __future__ import annotations

import hashlib
from pathlib import Path

import geopandas as gpd
import numpy as np
import osmium
import pandas as pd
import pytest
import rasterio
from typer.testing import CliRunner

from twin.cli import app
from twin.demo import generate_sources
from twin.demo.counties import generate_counties
from twin.errors import TwinError

RES = 200.0


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def singles(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    out = []
    for k in range(2):
        root = tmp_path_factory.mktemp(f"single{k}")
        generate_sources(root, seed=7 + k, resolution=RES)
        out.append(root / "sources")
    return out


@pytest.fixture(scope="module")
def pair_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two counties side by side, as ``twin demo --counties 2 --no-build`` writes them."""
    root = tmp_path_factory.mktemp("pair") / "prov"
    args = ["demo", str(root), "--counties", "2", "--seed", "7", "--resolution", str(RES)]
    result = CliRunner().invoke(app, [*args, "--no-build"])
    assert result.exit_code == 0, result.output
    return root


@pytest.fixture(scope="module")
def pair(pair_workspace: Path) -> Path:
    return pair_workspace / "sources"


def test_one_county_is_the_demo_county(tmp_path: Path, singles: list[Path]) -> None:
    paths = generate_counties(tmp_path, 1, seed=7, resolution=RES)
    for p in set(paths.values()):
        assert _digest(p) == _digest(singles[0] / p.name), p.name


def test_counties_sit_side_by_side_with_unique_ids(pair: Path, singles: list[Path]) -> None:
    county = gpd.read_file(pair / "county.gpkg")
    assert len(county) == 2 and county["county_code"].is_unique
    assert not county.geometry.iloc[0].intersects(county.geometry.iloc[1])
    first = gpd.read_file(singles[0] / "county.gpkg").geometry.iloc[0]
    second = gpd.read_file(singles[1] / "county.gpkg").geometry.iloc[0]
    assert county.geometry.iloc[0].equals_exact(first, 0)
    # the second county is seed 8's, translated: same shape and area
    assert county.geometry.iloc[1].area == pytest.approx(second.area)
    villages = gpd.read_file(pair / "villages.gpkg")
    assert villages["village_code"].is_unique
    one = len(gpd.read_file(singles[0] / "villages.gpkg"))
    assert len(villages) == one + len(gpd.read_file(singles[1] / "villages.gpkg"))
    indicators = pd.read_csv(pair / "village_indicators.csv", dtype=str)
    assert set(indicators["village_code"]) == set(villages["village_code"])
    for name, col in (("cell_sites", "cell_id"), ("enterprises", "enterprise_id")):
        df = pd.read_csv(pair / f"{name}.csv", dtype=str)
        assert df[col].is_unique, name


def test_each_county_keeps_its_own_dem(pair: Path, singles: list[Path]) -> None:
    with rasterio.open(pair / "dem.tif") as big:
        for single in singles:
            with rasterio.open(single / "dem.tif") as src:
                z = src.read(1)
            # find the county's place by its first row: exactly one window matches
            data = big.read(1)
            h, w = z.shape
            hits = [
                (r, c)
                for r in range(data.shape[0] - h + 1)
                for c in range(data.shape[1] - w + 1)
                if np.array_equal(data[r, c : c + w], z[0])
                and np.array_equal(data[r : r + h, c : c + w], z)
            ]
            assert len(hits) == 1


def test_osm_ids_are_unique_and_every_way_is_kept(pair: Path, singles: list[Path]) -> None:
    def count(path: Path) -> tuple[set[int], int]:
        nodes, ways = set(), 0
        for o in osmium.FileProcessor(str(path)):
            if o.is_node():
                nodes.add(o.id)
            elif o.is_way():
                ways += 1
        return nodes, ways

    nodes, ways = count(pair / "roads.osm.pbf")
    parts = [count(s / "roads.osm.pbf") for s in singles]
    assert len(nodes) == sum(len(n) for n, _ in parts)
    assert ways == sum(w for _, w in parts)


def test_cli_demo_counties_without_build(pair_workspace: Path) -> None:
    assert len(gpd.read_file(pair_workspace / "sources/county.gpkg")) == 2
    assert "2 counties" in (pair_workspace / "twin.toml").read_text(encoding="utf-8")
    assert not (pair_workspace / "build" / "catalog.json").exists()


def test_bad_county_count_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TwinError, match="counties must be"):
        generate_counties(tmp_path, 0)
