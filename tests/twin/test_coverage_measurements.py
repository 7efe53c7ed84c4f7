"""The coverage builder with a drive test: error, calibration, published points and figures."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from typer.testing import CliRunner

from layers.coverage.calibration import sample_grid
from layers.coverage.shadowing import gudmundson_shadowing
from layers.raster import read_raster
from tests.twin.conftest import TOML, X0, Y0, make_sources
from tests.twin.test_coverage_builder import COVERAGE, write_sites
from tiles.catalog import read_catalog
from twin.cli import app
from twin.errors import BuildError
from twin.workspace import Twin

MEASURED = """
[sources.drive]
path = "sources/drive_test.csv"
crs = "EPSG:4549"
x = "x"
y = "y"
"""


def _drive(rsrp, serving, cells, n=3000, seed=3):
    """Random-walk routes over the county; the model plus cell offsets plus shadowing."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for _ in range(n // 300):
        h = rng.uniform(0, 2 * np.pi) + np.cumsum(rng.normal(0, 0.1, 300))
        x = X0 + 500 + np.abs(np.cumsum(20 * np.cos(h)) + rng.uniform(0, 3000)) % 3000
        y = Y0 + 500 + np.abs(np.cumsum(20 * np.sin(h)) + rng.uniform(0, 2000)) % 2000
        xs.append(x)
        ys.append(y)
    x, y = np.concatenate(xs), np.concatenate(ys)
    pred = sample_grid(rsrp.data[0], rsrp.transform, x, y, nodata=rsrp.nodata)
    idx = sample_grid(serving.data[0], serving.transform, x, y, method="nearest")
    ok = np.isfinite(pred) & (idx >= 0)
    x, y, pred, idx = x[ok], y[ok], pred[ok], idx[ok].astype(int)
    ids = cells.sort_values("index")["cell_id"].to_numpy()
    planted = dict(zip(ids, np.linspace(-6, 6, len(ids)), strict=True))
    meas = pred - 6.0 + np.array([planted[ids[i]] for i in idx])
    meas += gudmundson_shadowing(x, y, 8.0, 50.0, rng)
    return x, y, meas, ids[idx], planted


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    make_sources(root)
    write_sites(root)
    (root / "twin.toml").write_text(TOML + COVERAGE, encoding="utf-8")
    return root


def _published(twin: Twin, name: str):
    catalog = read_catalog(twin.catalog_path)
    return twin.build_dir / catalog.layers[name].artifacts["data"]


def test_calibrated_build_reports_error_and_publishes_points(ws: Path):
    twin = Twin.open(ws)
    twin.build(["coverage"])
    before = read_raster(_published(twin, "coverage"))
    serving = read_raster(_published(twin, "coverage_serving"))
    cells = gpd.read_parquet(_published(twin, "coverage_cells"))
    x, y, meas, cell, planted = _drive(before, serving, cells)
    lines = ["x,y,ss_rsrp,cell_id"] + [
        f"{a:.1f},{b:.1f},{m:.2f},{c}" for a, b, m, c in zip(x, y, meas, cell, strict=True)
    ]
    (ws / "sources" / "drive_test.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    toml = (TOML + COVERAGE + MEASURED).replace(
        'zones = "zones" }', 'zones = "zones", measurements = "drive" }'
    )
    toml = toml.replace(
        "params = { resolution = 50,", "params = { resolution = 50, calibrate = true,"
    )
    (ws / "twin.toml").write_text(toml, encoding="utf-8")
    twin = Twin.open(ws)
    twin.build(["coverage"])

    catalog = read_catalog(twin.catalog_path)
    stats = catalog.layers["coverage"].stats
    assert stats["calib_points"] == len(meas)
    assert stats["calib_rmse_before_db"] > 9
    assert stats["calib_rmse_after_db"] == pytest.approx(8.0, rel=0.15)
    assert stats["coverage_share_95_pct"] < stats["coverage_share_pct"]
    figures = {f.name: f.value for f in catalog.figures}
    assert figures["calib_rmse_after_db"] == stats["calib_rmse_after_db"]
    assert figures["coverage_share_95_pct"] == stats["coverage_share_95_pct"]

    cells = gpd.read_parquet(_published(twin, "coverage_cells")).set_index("cell_id")
    # the overall and cell offsets are identified together (cell offsets sum to zero over
    # the fitted cells): their sum per cell is the planted one; < 30 points: not fitted
    pts_cells = gpd.read_parquet(_published(twin, "coverage_measurements"))["cell_id"]
    fitted = cells["calib_offset_db"].notna()
    assert fitted.sum() >= 6
    for c in cells.index[fitted]:
        total = stats["calib_offset_db"] + cells.loc[c, "calib_offset_db"]
        if (pts_cells == c).sum() >= 300:  # fewer correlated points: a wider error
            assert total == pytest.approx(planted[c] - 6.0, abs=1.5), c

    # the published RSRP is the model's plus the correction of each pixel's serving cell
    after = read_raster(_published(twin, "coverage"))
    ok = before.data[0] != before.nodata
    diff = (after.data[0] - before.data[0])[ok]
    idx = serving.data[0][ok]
    for i, c in enumerate(cells.sort_values("index").index):
        expected = stats["calib_offset_db"] + np.nan_to_num(cells.loc[c, "calib_offset_db"])
        spread = abs(stats["calib_slope_db_per_decade"]) * 1.5 + 0.01
        assert np.median(diff[idx == i]) == pytest.approx(expected, abs=spread)

    # twin stats shows the errors before/after and the share at 95 % reliability
    res = CliRunner().invoke(app, ["stats", "--json", "-w", str(ws)])
    assert res.exit_code == 0, res.output
    shown = {f["name"]: f["value"] for f in json.loads(res.stdout)["figures"]}
    for name in ("calib_rmse_before_db", "calib_rmse_after_db", "coverage_share_95_pct"):
        assert shown[name] == stats[name]

    pts = gpd.read_parquet(_published(twin, "coverage_measurements"))
    assert len(pts) == len(meas) and pts.crs.to_epsg() == 4549
    np.testing.assert_allclose(pts["rsrp_dbm"], meas, atol=0.01)
    assert np.sqrt(np.mean(pts["error_after_db"] ** 2)) == pytest.approx(
        stats["calib_rmse_after_db"], abs=0.01
    )
    assert np.sqrt(np.mean(pts["error_before_db"] ** 2)) == pytest.approx(
        stats["calib_rmse_before_db"], abs=0.01
    )


def test_implausible_rsrp_fails_the_build_in_one_line(ws: Path):
    (ws / "sources" / "drive_test.csv").write_text(
        f"x,y,rsrp\n{X0 + 1000},{Y0 + 1000},-90\n{X0 + 1100},{Y0 + 1000},-9\n", encoding="utf-8"
    )
    toml = (TOML + COVERAGE + MEASURED).replace(
        'zones = "zones" }', 'zones = "zones", measurements = "drive" }'
    )
    (ws / "twin.toml").write_text(toml, encoding="utf-8")
    twin = Twin.open(ws)
    with pytest.raises(BuildError, match=r"drive_test.csv: 1 rsrp values outside -150..-20 dBm"):
        twin.build(["coverage"])
    assert "coverage" not in read_catalog(twin.catalog_path).layers
