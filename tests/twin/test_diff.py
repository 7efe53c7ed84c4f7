"""``twin diff`` and the ``diff`` builder on a small workspace built twice."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import geopandas as gpd
import mapbox_vector_tile
import morecantile
import numpy as np
import pytest
import rasterio
import shapely
from rasterio.io import MemoryFile
from rio_tiler.colormap import cmap
from typer.testing import CliRunner

from tests.tiles.conftest import make_client
from tests.tiles.test_metadata import VALIDATOR
from tests.twin.conftest import TOML, make_sources
from tiles.catalog import read_catalog, read_version, resolve_artifact
from tiles.versions import published_at
from twin.cli import app
from twin.errors import BuildError
from twin.workspace import Twin

runner = CliRunner()
MERCATOR = morecantile.tms.get("WebMercatorQuad")

DIFF_LAYERS = """
[layers.points_noid]
builder = "vector"
inputs = { source = "points" }

[layers.dem_change]
builder = "diff"
inputs = { layer = "layers.dem", zones = "layers.zones" }

[layers.points_change]
builder = "diff"
inputs = { layer = "layers.points" }
"""
#: the DEM's source pixels raised in the second version (rows, cols of the 50 m source)
RAISED = (slice(10, 20), slice(10, 30))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace built twice: one point removed and one relabelled, part of the DEM raised."""
    root = tmp_path_factory.mktemp("diff") / "ws"
    make_sources(root)
    (root / "twin.toml").write_text(TOML + DIFF_LAYERS, encoding="utf-8")
    assert Twin.open(root).build().ok
    csv = root / "sources" / "points.csv"
    header, *rows = csv.read_text(encoding="utf-8").splitlines()
    rows = rows[:-1]  # the last point goes
    rows[0] = rows[0].replace(",k0", ",kX")  # point 0 changes kind
    csv.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    with rasterio.open(root / "sources" / "dem.tif", "r+") as dem:
        values = dem.read(1)
        values[RAISED] += 50
        dem.write(values, 1)
    report = Twin.open(root).build()
    assert {"points", "dem", "points_change", "dem_change"} <= set(report.built)
    return root


def diff(root: Path, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["-w", str(root), "diff", *args])


def _versions(root: Path, layer: str) -> tuple[Path, Path]:
    """The data files of the previous and the current version of ``layer``."""
    cat_path = root / "build" / "catalog.json"
    entry = read_catalog(cat_path).layers[layer]
    old = read_version(cat_path, layer, entry, entry.history[0])
    return (
        Path(resolve_artifact(cat_path, old.artifacts["data"])),
        Path(resolve_artifact(cat_path, entry.artifacts["data"])),
    )


# -- twin diff ------------------------------------------------------------------------------


def test_vector_diff_counts_match_the_two_versions(built: Path) -> None:
    old_path, new_path = _versions(built, "points")
    old, new = gpd.read_parquet(old_path), gpd.read_parquet(new_path)
    res = diff(built, "points", "--json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["id"] == "id" and data["kind"] == "vector"
    gone = set(old["id"]) - set(new["id"])
    both = old.merge(new, on="id", suffixes=("_a", "_b"))
    relabelled = set(both.loc[both["kind_a"] != both["kind_b"], "id"])
    assert data["counts"]["removed"] == len(gone) == 1
    assert data["counts"]["added"] == len(set(new["id"]) - set(old["id"])) == 0
    assert data["counts"]["changed"] == len(relabelled) == 1
    assert data["counts"]["unchanged"] == len(both) - len(relabelled)
    (change,) = data["changes"]
    (which,) = relabelled
    row = both.set_index("id").loc[which]
    assert change == {"id": which, "field": "kind", "old": row["kind_a"], "new": row["kind_b"]}
    (removed,) = gone
    assert {f["id"]: f["change"] for f in data["features"]} == {
        which: "changed",
        removed: "removed",
    }

    text = diff(built, "points")
    assert "added 0 · removed 1 · changed 1" in text.stdout
    zh = diff(built, "points", "--lang", "zh")
    assert "新增 0 · 删除 1 · 变更 1" in zh.stdout and "kX" in zh.stdout


def test_raster_diff_statistics_match_numpy(built: Path) -> None:
    old_path, new_path = _versions(built, "dem")
    with rasterio.open(old_path) as a, rasterio.open(new_path) as b:
        va, vb = a.read(1, masked=True), b.read(1, masked=True)
        transform = b.transform
    both = ~np.ma.getmaskarray(va) & ~np.ma.getmaskarray(vb)
    d = vb.data[both].astype(float) - va.data[both].astype(float)
    res = diff(built, "dem", "previous", "current", "--zones", "zones", "--json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    s = data["stats"]
    assert s["pixels"] == both.sum()
    assert s["changed"] == int((d != 0).sum()) > 0
    for key, value in (("min", d.min()), ("max", d.max()), ("mean", d.mean()), ("std", d.std())):
        assert s[key] == pytest.approx(value, abs=1e-6), key
    # per zone: the pixels whose centre lies in each zone
    rows, cols = np.mgrid[0 : both.shape[0], 0 : both.shape[1]]
    x, y = rasterio.transform.xy(transform, rows.ravel(), cols.ravel())
    zones = gpd.read_parquet(_current(built, "zones"))
    by_zone = {z["zone"]: z for z in data["zones"]}
    for code, geom in zip(zones["code"], zones.geometry, strict=True):
        inside = shapely.contains_xy(geom, np.asarray(x), np.asarray(y)).reshape(both.shape)
        dz = (vb.data - va.data.astype(float))[inside & both]
        assert by_zone[code]["pixels"] == dz.size
        assert by_zone[code]["mean"] == pytest.approx(dz.mean(), abs=1e-6)
        assert by_zone[code]["changed"] == int((dz != 0).sum())
    text = diff(built, "dem", "--zones", "zones", "--lang", "zh")
    assert "标准差" in text.stdout and "分区变化" in text.stdout


def _current(root: Path, layer: str) -> Path:
    cat_path = root / "build" / "catalog.json"
    return Path(resolve_artifact(cat_path, read_catalog(cat_path).layers[layer].artifacts["data"]))


def test_versions_by_date_prefix_and_words(built: Path) -> None:
    entry = read_catalog(built / "build" / "catalog.json").layers["points"]
    previous, current = entry.history[0], entry.version
    when = published_at(read_version(built / "build" / "catalog.json", "points", entry, previous))
    assert when is not None
    between = (when + timedelta(microseconds=1)).isoformat()
    data = json.loads(diff(built, "points", between, "--json").stdout)
    assert (data["before"], data["after"]) == (previous, current)
    data = json.loads(diff(built, "points", current[:20], previous, "--json").stdout)
    assert (data["before"], data["after"]) == (current, previous)  # backwards: added 1
    assert data["counts"]["added"] == 1
    result = Twin.open(built).diff("points", "previous")
    assert result.counts["removed"] == 1 and list(result.changes["field"]) == ["kind"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("points", "nope"), "layer 'points' has no version 'nope'"),
        (("points", "2001-01-01"), "layer 'points' had no version at 2001-01-01"),
        (("zones",), "layer 'zones' has only one version"),
        (("missing",), "no published layer 'missing'"),
        (
            ("points_noid",),
            "layer 'points_noid' has no id column to match features by: set params.id = 'id'",
        ),
        (("dem", "--zones", "dem"), "--zones 'dem': not a published vector layer"),
    ],
)
def test_errors_are_one_line(built: Path, args: tuple[str, ...], message: str) -> None:
    if args == ("points_noid",):  # give it a second version to compare
        Twin.open(built).build(["points_noid"], force=True)
    res = diff(built, *args)
    assert res.exit_code == 1
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("twin: error: ")
    assert message in lines[0]


# -- the diff builder, served ----------------------------------------------------------------


def _tiles(root: Path, layer: str) -> list[morecantile.Tile]:
    """The tiles of ``layer`` at its deepest zoom."""
    entry = read_catalog(root / "build" / "catalog.json").layers[layer]
    return list(MERCATOR.tiles(*entry.bounds, [entry.maxzoom]))


def test_the_vector_diff_layer_is_served_with_its_change_categories(
    built: Path, tmp_path: Path
) -> None:
    catalog = built / "build" / "catalog.json"
    entry = read_catalog(catalog).layers["points_change"]
    assert entry.stats["removed"] == 1 and entry.stats["changed"] == 1
    assert entry.style["categories"]["removed"] == "#d7191c"
    seen: dict[int, str] = {}
    with make_client(catalog) as client:
        style = client.get("/style.json").json()
        for t in _tiles(built, "points_change"):
            r = client.get(f"/tiles/points_change/{t.z}/{t.x}/{t.y}.mvt")
            if r.status_code == 204:
                continue
            assert r.status_code == 200, r.text
            layer = mapbox_vector_tile.decode(r.content)["points_change"]
            seen.update(
                {f["properties"]["id"]: f["properties"]["change"] for f in layer["features"]}
            )
    old, new = (gpd.read_parquet(p) for p in _versions(built, "points"))
    assert {k for k, v in seen.items() if v == "removed"} == set(old["id"]) - set(new["id"])
    assert [k for k, v in seen.items() if v == "changed"] == [new["id"].iloc[0]]
    assert set(seen.values()) == {"removed", "changed", "unchanged"} and len(seen) == 12
    (circle,) = [lyr for lyr in style["layers"] if lyr["id"] == "points_change-circle"]
    color = circle["paint"]["circle-color"]
    assert color[0] == "match" and color[color.index("removed") + 1] == "#d7191c"
    (fill,) = [lyr for lyr in style["layers"] if lyr["id"] == "dem_change_zones-fill"]
    ramp = fill["paint"]["fill-color"]  # the change per zone: red - white - blue around 0
    assert ramp[0] == "interpolate" and ramp[3] == -ramp[-2] and ramp[4] == "#b2182b"
    # and MapLibre accepts both
    node = shutil.which("node")
    assert node and VALIDATOR.exists(), "node and node_modules are needed (see .ci/run)"
    path = tmp_path / "style.json"
    path.write_text(json.dumps(style))
    out = subprocess.run([node, str(VALIDATOR), str(path)], capture_output=True, text=True)
    assert out.returncode == 0 and not out.stdout.strip(), out.stdout + out.stderr


def test_the_raster_diff_layer_is_drawn_with_the_diverging_ramp(built: Path) -> None:
    catalog = built / "build" / "catalog.json"
    entry = read_catalog(catalog).layers["dem_change"]
    lo, hi = entry.style["rescale"]
    assert entry.style["colormap"] == "rdbu" and lo == -hi and hi >= entry.stats["max"] > 0
    ramp = np.array([cmap.get("rdbu")[i][:3] for i in range(256)])
    checked, top = 0, 0
    with make_client(catalog) as client:
        for t in _tiles(built, "dem_change"):
            url = f"/tiles/dem_change/{t.z}/{t.x}/{t.y}.png"
            styled = client.get(url)
            if styled.status_code == 204:
                continue
            grey = client.get(url, params={"colormap_name": "gray"})
            a, g = _png(styled.content), _png(grey.content)
            shown = a[3] > 0
            assert (shown == (g[3] > 0)).all()
            # the grey tile gives each pixel's place on the scale (to a step: the two are
            # rendered apart), the styled one its colour
            place = g[0][shown].astype(int)
            colours = a[:3][:, shown].T.astype(int)
            off = np.min(
                [
                    np.abs(colours - ramp[np.clip(place + k, 0, 255)]).max(axis=1)
                    for k in (-1, 0, 1)
                ],
                axis=0,
            )
            assert off.max() <= 1
            checked += int(shown.sum())
            top = max(top, int(place.max()))
            # no fall: nothing below the middle of the ramp (the reds)
            assert g[0][shown].min() >= 127
    assert checked > 0
    assert top > 220  # the raised DEM shows in the blues at the ramp's end


def _png(content: bytes) -> np.ndarray:
    with MemoryFile(content) as mem, mem.open() as ds:
        return ds.read()


def test_a_diff_layer_that_cannot_be_made_fails_in_one_line(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    make_sources(root)
    extra = """
[layers.noid]
builder = "vector"
inputs = { source = "points" }

[layers.noid_change]
builder = "diff"
inputs = { layer = "layers.noid" }

[layers.dem_since]
builder = "diff"
inputs = { layer = "layers.dem" }
params = { against = "nope" }
"""
    (root / "twin.toml").write_text(TOML + extra, encoding="utf-8")
    with pytest.raises(BuildError) as caught:
        Twin.open(root).build()
    failed = caught.value.report.failed  # type: ignore[attr-defined]
    assert set(failed) == {"noid_change", "dem_since"}
    assert "has no id column to match features by" in failed["noid_change"]
    assert "layer 'dem' has no version 'nope'" in failed["dem_since"]
    assert all("\n" not in m for m in failed.values())
    assert "noid_change" not in read_catalog(root / "build" / "catalog.json").layers
