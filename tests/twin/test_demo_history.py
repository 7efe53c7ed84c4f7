"""The demo county's history: coverage before and after three new 5G sites, and what changed."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from typer.testing import CliRunner

from tiles.catalog import read_catalog
from twin.cli import app
from twin.demo._coverage_history import MIN_APART_M, NEW_SITES, new_sites, without_sites
from twin.demo._shapes import TO_WORK


@pytest.fixture(scope="module")
def sources(demo_county: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    src = demo_county / "sources"
    return pd.read_csv(src / "cell_sites.csv"), pd.read_csv(src / "drive_test.csv")


def test_the_new_sites_are_apart_and_unmeasured(sources) -> None:  # type: ignore[no-untyped-def]
    sites, drive = sources
    ids = new_sites(sites, drive)
    assert len(set(ids)) == NEW_SITES
    measured = set(drive["cell_id"].dropna().str.rsplit("-", n=1).str[0])
    assert not set(ids) & measured
    first = sites.drop_duplicates("site_id").set_index("site_id").loc[ids]
    x, y = TO_WORK.transform(first["lon"].to_numpy(), first["lat"].to_numpy())
    gaps = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :])
    assert gaps[np.triu_indices(NEW_SITES, 1)].min() >= MIN_APART_M


def test_without_sites_keeps_every_other_byte(demo_county: Path, sources) -> None:  # type: ignore[no-untyped-def]
    sites, drive = sources
    raw = (demo_county / "sources" / "cell_sites.csv").read_bytes()
    ids = new_sites(sites, drive)
    kept = without_sites(raw, ids)
    lines = raw.decode().splitlines(keepends=True)
    assert kept.decode().splitlines(keepends=True) == [
        line for line in lines if line.split(",")[0] not in ids
    ]
    assert len(lines) - len(kept.decode().splitlines()) == 3 * NEW_SITES  # three sectors each


def test_coverage_diff_shows_the_villages_the_new_sites_cover(demo_county: Path, sources) -> None:  # type: ignore[no-untyped-def]
    catalog = read_catalog(demo_county / "build" / "catalog.json")
    assert len(catalog.layers["coverage"].history) == 1  # two versions: before and after
    res = CliRunner().invoke(app, ["-w", str(demo_county), "diff", "coverage", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["zone_layer"] == "coverage_zones"
    shares = pd.DataFrame(data["coverage"]).set_index("zone")
    assert len(shares) == catalog.layers["villages"].count
    region = data["coverage_region"]
    assert region["change"] > 0 and region["gained"] > region["lost"]
    # each new site stands in (or by) a village that gained coverage
    sites, drive = sources
    ids = new_sites(sites, drive)
    at = sites.drop_duplicates("site_id").set_index("site_id").loc[ids]
    x, y = TO_WORK.transform(at["lon"].to_numpy(), at["lat"].to_numpy())
    villages = gpd.read_parquet(
        demo_county / "build" / catalog.layers["villages"].artifacts["data"]
    )
    gained = set(shares.index[shares["gained"] > 0.01])
    for px, py in zip(x, y, strict=True):
        near = villages[villages.geometry.distance(shapely.Point(px, py)) < 1_000]
        assert set(near["village_code"]) & gained, (px, py)
    # the published change layer holds the same shares per village
    layer = catalog.layers["coverage_change_zones"]
    zones = gpd.read_parquet(demo_county / "build" / layer.artifacts["data"]).set_index(
        "village_code"
    )
    assert np.allclose(
        zones["change_pp"].to_numpy(), 100 * shares.loc[zones.index, "change"].to_numpy()
    )
    assert catalog.layers["coverage_change"].style["colormap"] == "rdbu"


def test_cell_sites_diff_lists_the_new_cells(demo_county: Path, sources) -> None:  # type: ignore[no-untyped-def]
    res = CliRunner().invoke(app, ["-w", str(demo_county), "diff", "cell_sites", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    sites, drive = sources
    ids = set(new_sites(sites, drive))
    want = set(sites.loc[sites["site_id"].isin(ids), "cell_id"])
    assert {f["cell_id"] for f in data["features"] if f["change"] == "added"} == want
    assert data["counts"]["removed"] == data["counts"]["changed"] == 0
