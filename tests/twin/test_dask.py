"""Builds on a Dask LocalCluster of 2 workers equal the single-process build."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
from typer.testing import CliRunner

from layers.coverage.windows import WINDOW_PX, run_windowed, window_tasks, windows
from layers.errors import LayerError
from tests.layers._imagery_fixtures import make_delivery
from tests.layers.test_coverage_windows import model as small_model
from tests.twin.conftest import TOML, make_sources
from tests.twin.test_imagery import TOML as IMAGERY_TOML
from tiles.catalog import read_catalog
from twin._executors import resolve_scheduler
from twin.builders._coverage_dask import dask_submit, run_model
from twin.cli import app
from twin.errors import TwinError
from twin.gdal_env import allow_vrt
from twin.workspace import Twin

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    allow_vrt()
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",
        scheduler_kwargs={"dashboard": False},
    ) as lc:
        yield lc.scheduler_address


def assert_same_layers(a: Path, b: Path) -> None:
    """Every published layer of workspace ``a`` equals ``b``'s (frames, raster values)."""
    ca, cb = read_catalog(a / "build/catalog.json"), read_catalog(b / "build/catalog.json")
    assert set(ca.layers) == set(cb.layers)
    for name, ea in ca.layers.items():
        eb = cb.layers[name]
        fa, fb = a / "build" / ea.artifacts["data"], b / "build" / eb.artifacts["data"]
        if ea.provenance.builder == "diff":
            # its stats name the versions it compares, each workspace's own: the input's
            for e in (ea, eb):
                after = e.stats.get("after", e.provenance.inputs["layer"].rsplit("@", 1)[1])
                assert e.provenance.inputs["layer"].endswith(f"@{after}"), name
            sa = {k: v for k, v in ea.stats.items() if k not in ("before", "after")}
            sb = {k: v for k, v in eb.stats.items() if k not in ("before", "after")}
            assert sa == sb, name
        else:
            assert ea.stats == eb.stats, name
        if ea.kind == "raster":
            with rasterio.open(fa) as x, rasterio.open(fb) as y:
                assert (x.transform, x.crs, x.nodata) == (y.transform, y.crs, y.nodata), name
                da, db = x.read(), y.read()
            if np.issubdtype(da.dtype, np.integer):
                np.testing.assert_array_equal(da, db, err_msg=name)
            else:
                np.testing.assert_allclose(da, db, rtol=0, atol=1e-4, err_msg=name)
        else:
            ga, gb = gpd.read_parquet(fa), gpd.read_parquet(fb)
            assert ga.crs == gb.crs, name
            pd.testing.assert_frame_equal(
                pd.DataFrame(ga.drop(columns="geometry")), pd.DataFrame(gb.drop(columns="geometry"))
            )
            assert list(ga.geometry.to_wkb()) == list(gb.geometry.to_wkb()), name


@pytest.mark.slow
def test_demo_county_on_a_cluster_equals_one_process(tmp_path: Path, cluster: str) -> None:
    # without the orthophoto, which took two thirds of both builds: the imagery builder's
    # cluster path has its own test on a small delivery below
    one = tmp_path / "one"
    Twin.demo(one, resolution=100, build=False, imagery=False)
    two = tmp_path / "two"
    shutil.copytree(one, two)
    assert Twin.open(one).build().ok
    report = Twin.open(two).build(scheduler=cluster)
    assert report.ok and set(report.built) == set(Twin.open(one).catalog.layers) - {
        n for n, e in Twin.open(one).catalog.layers.items() if e.parent
    }
    cov = Twin.open(two).catalog.layers["coverage"]
    assert cov.count > 0
    # the coverage grid spans several windows, so the window path was exercised
    with rasterio.open(two / "build" / cov.artifacts["data"]) as src:
        assert len(windows((src.height, src.width), WINDOW_PX)) > 1
    assert_same_layers(one, two)


def test_orthophoto_on_a_cluster_equals_one_process(tmp_path: Path, cluster: str) -> None:
    """The sheets converted by the cluster's workers make the mosaic one process makes."""
    roots = []
    for name in ("one", "two"):
        root = tmp_path / name
        (root / "sources").mkdir(parents=True)
        make_delivery(root / "sources" / "ortho")
        (root / "twin.toml").write_text(IMAGERY_TOML, encoding="utf-8")
        roots.append(root)
    assert Twin.open(roots[0]).build().ok
    report = Twin.open(roots[1]).build(scheduler=cluster)
    assert report.ok and set(report.built) == {"ortho"}, report.failed
    assert_same_layers(*roots)
    sheets = [sorted((r / "build" / "ortho").glob("*/sheets/*")) for r in roots]
    assert len(sheets[0]) == len(sheets[1]) == 8
    for a, b in zip(*sheets, strict=True):
        assert a.name == b.name
        with rasterio.open(a) as x, rasterio.open(b) as y:
            assert (x.transform, x.crs) == (y.transform, y.crs), a.name
            np.testing.assert_array_equal(x.read(), y.read(), err_msg=a.name)


@pytest.mark.slow
def test_cli_build_on_a_local_cluster(tmp_path: Path) -> None:
    roots = []
    for name in ("one", "two"):
        root = tmp_path / name
        make_sources(root)
        (root / "twin.toml").write_text(TOML, encoding="utf-8")
        roots.append(root)
    runner = CliRunner()
    a = runner.invoke(app, ["build", "-w", str(roots[0]), "--quiet"])
    b = runner.invoke(
        app, ["build", "-w", str(roots[1]), "--quiet"], env={"TWIN_SCHEDULER": "local:2"}
    )
    assert a.exit_code == 0, a.output
    assert b.exit_code == 0, b.output
    assert_same_layers(*roots)


def test_bad_local_scheduler_is_one_clear_error() -> None:
    with pytest.raises(TwinError, match="local:N"):
        resolve_scheduler("local:0")


def test_coverage_windows_on_a_cluster_equal_the_whole_grid(cluster: str) -> None:
    m = small_model(max_radius_m=300.0)
    whole = m.run()
    held: list[int] = []
    size = 16
    result = run_model(cluster, m, size=size, on_result=lambda r: held.append(r.nbytes))
    np.testing.assert_allclose(result.rsrp.data, whole.rsrp.data, atol=1e-4, equal_nan=True)
    np.testing.assert_allclose(result.sinr.data, whole.sinr.data, atol=1e-4, equal_nan=True)
    np.testing.assert_array_equal(result.serving.data, whole.serving.data)
    assert result.flags == whole.flags
    # memory: each task held at most a window and its halo, well under the whole grid
    assert len(held) == len(windows(m.shape, size))
    radius_px = max(m.radius(c) for _, c in m.cells.iterrows()) / m.resolution
    edge = size + 4 * (int(np.ceil(radius_px)) + 2)  # a diameter each side, see WindowTask
    assert edge < min(m.shape)
    assert max(held) <= edge * edge * 37


def test_a_failing_window_on_a_cluster_is_named(cluster: str) -> None:
    m = small_model()
    tasks = list(window_tasks(m, 40))
    tasks[3].z[5, 5] = np.inf  # a corrupt DEM window: fails on every try
    with (
        distributed.Client(cluster) as client,
        pytest.raises(
            LayerError, match=rf"coverage window {tasks[3].window}: SourceError: .*non-finite"
        ),
    ):
        run_windowed(m, submit=dask_submit(client), tasks=iter(tasks))
