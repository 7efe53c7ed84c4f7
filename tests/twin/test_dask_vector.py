"""Vector layers on a Dask LocalCluster of 2 workers equal the single-process build.

The generic ``vector`` builder reads, cleans and clips by partitions of rows
(dask-geopandas) and the layer is streamed into its GeoParquet a partition at
a time (:mod:`twin._partitioned`).
"""

from __future__ import annotations

import json
import pickle
import shutil
import tracemalloc
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import shapely
from shapely.geometry import LineString, Point, Polygon

from layers.roads import read_osm_roads
from layers.roads._parts import spatial_partitions
from tests.twin import test_dask
from tests.twin.test_dask import assert_same_layers
from tests.twin.test_roads_builder import HELSINKI, grid_workspace
from tiles.catalog import read_catalog
from twin import artifacts
from twin._partitioned import write_partitioned
from twin.builders import _vector_dask as vd
from twin.errors import BuildError
from twin.workspace import Twin

distributed = pytest.importorskip("distributed")
#: a LocalCluster of 2 worker processes, one for this module
cluster = test_dask.cluster
from distributed.deploy.subprocess import SubprocessCluster  # noqa: E402

dask_geopandas = pytest.importorskip("dask_geopandas")

X0, Y0 = 480_000.0, 3_380_000.0

TOML = """
[region]
name = "Partitions"
crs = "EPSG:4549"
boundary = "county"

[sources.county]
path = "sources/county.gpkg"

[sources.parcels]
path = "sources/parcels.gpkg"

[sources.lines]
path = "sources/lines.geojson"

[sources.points]
path = "sources/points.csv"

[sources.nocrs]
path = "sources/nocrs.shp"
crs = "EPSG:4549"

[layers.parcels]
builder = "vector"
inputs = { source = "parcels" }
params = { id = "pid", rename = { kind = "use" } }

[layers.parcels_in_county]
builder = "vector"
inputs = { source = "parcels" }
params = { clip_to_region = true, columns = ["pid", "kind", "floors"], id = "pid" }

[layers.lines]
builder = "vector"
inputs = { source = "lines" }
tiles = { pmtiles = true, minzoom = 10, maxzoom = 13 }

[layers.points]
builder = "vector"
inputs = { source = "points" }
params = { id = "id" }

[layers.nocrs]
builder = "vector"
inputs = { source = "nocrs" }

[layers.parcels_again]
builder = "vector"
inputs = { source = "layers.parcels" }
"""


def tasks_done(address: str, prefix: str) -> int:
    """How many tasks named ``prefix-...`` the cluster has computed so far."""

    def count(dask_scheduler: distributed.Scheduler) -> int:
        tp = dask_scheduler.task_prefixes.get(prefix)
        return int(tp.state_counts.get("memory", 0)) if tp is not None else 0

    with distributed.Client(address) as client:
        return int(client.run_on_scheduler(count))


def parcels(n: int = 41) -> gpd.GeoDataFrame:
    """Squares in EPSG:4326 with what cleaning must handle: bow-ties, empties, sparse columns."""
    geoms: list[shapely.Geometry] = []
    for i in range(n):
        x, y = X0 + (i % 9) * 500.0, Y0 + (i // 9) * 500.0
        if i % 7 == 3:  # a bow-tie: repaired into a MultiPolygon
            geoms.append(Polygon([(x, y), (x + 400, y + 400), (x + 400, y), (x, y + 400)]))
        elif i % 11 == 5:
            geoms.append(Polygon())
        else:
            geoms.append(Polygon([(x, y), (x + 400, y), (x + 400, y + 400), (x, y + 400)]))
    gdf = gpd.GeoDataFrame(
        {
            "pid": [f"P{i:03d}" for i in range(n)],
            "kind": ["home" if i % 2 else "shop" for i in range(n)],
            # text only in the first rows: all null in the last partition
            "note": [f"n{i}" if i < 6 else None for i in range(n)],
            # an integer column with a null in some partitions only
            "floors": [None if i == 30 else i % 5 for i in range(n)],
        },
        geometry=geoms,
        crs="EPSG:4549",
    )
    return gdf.to_crs(4326)


def make_workspace(root: Path) -> None:
    src = root / "sources"
    src.mkdir(parents=True)
    parcels().to_file(src / "parcels.gpkg", layer="parcels")
    # the county covers part of the parcels, cutting some
    county = Polygon([(X0 + 1200, Y0 - 100), (X0 + 3300, Y0 - 100), (X0 + 3300, Y0 + 1700)])
    gpd.GeoDataFrame({"name": ["c"]}, geometry=[county], crs="EPSG:4549").to_file(
        src / "county.gpkg", layer="county"
    )
    lines = [LineString([(X0 + i * 90, Y0), (X0 + i * 90 + 50, Y0 + 300)]) for i in range(17)]
    gpd.GeoDataFrame(
        {"name": [f"l{i}" for i in range(17)], "lanes": [i % 3 for i in range(17)]},
        geometry=lines,
        crs="EPSG:4549",
    ).to_file(src / "lines.geojson", driver="GeoJSON")
    # a shapefile without .prj: the source names the CRS
    gpd.GeoDataFrame({"n": list(range(5))}, geometry=lines[:5], crs=4549).to_file(src / "nocrs.shp")
    (src / "nocrs.prj").unlink()
    pts = gpd.GeoSeries([Point(X0 + i * 100, Y0 + 50) for i in range(9)], crs=4549).to_crs(4326)
    (src / "points.csv").write_text(
        "id,lon,lat\n" + "".join(f"{i},{p.x:.7f},{p.y:.7f}\n" for i, p in enumerate(pts)),
        encoding="utf-8",
    )
    (root / "twin.toml").write_text(TOML, encoding="utf-8")


def test_vector_layers_on_a_cluster_equal_one_process(tmp_path: Path, cluster: str) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    make_workspace(one)
    shutil.copytree(one, two)
    a = Twin.open(one).build()
    before = [tasks_done(cluster, p) for p in ("summarise_part", "vector_part")]
    b = Twin.open(two).build(scheduler=cluster)
    assert a.ok, a.failed
    assert b.ok, b.failed
    # 5 layers (GeoPackage, GeoJSON, Shapefile, GeoParquet) in 2 partitions, one per worker,
    # and the CSV in 1, cleaned for the summaries (summarise_part), read back by the writer
    after = [tasks_done(cluster, p) for p in ("summarise_part", "vector_part")]
    assert [y - x for x, y in zip(before, after, strict=True)] == [5 * 2 + 1] * 2
    assert Twin.open(two).catalog.layers["nocrs"].crs == "EPSG:4549"
    assert {k: [w.replace(str(one), "") for w in v] for k, v in a.warnings.items()} == {
        k: [w.replace(str(two), "") for w in v] for k, v in b.warnings.items()
    }
    assert_same_layers(one, two)
    ca, cb = read_catalog(one / "build/catalog.json"), read_catalog(two / "build/catalog.json")
    for name, ea in ca.layers.items():
        eb = cb.layers[name]
        assert (ea.bounds, ea.fields, ea.geometry_type, ea.count) == (
            eb.bounds,
            eb.fields,
            eb.geometry_type,
            eb.count,
        ), name
        fa, fb = (ws / "build" / e.artifacts["data"] for ws, e in ((one, ea), (two, eb)))
        sa, sb = pq.read_schema(fa), pq.read_schema(fb)
        assert sa.equals(sb), name  # the same arrow types, all-null partitions included
        assert json.loads(sa.metadata[b"geo"]) == json.loads(sb.metadata[b"geo"]), name
    # the archive is tiled from the streamed file
    pa_, pb = (
        ws / "build" / c.layers["lines"].artifacts["pmtiles"] for ws, c in ((one, ca), (two, cb))
    )
    assert pa_.read_bytes() == pb.read_bytes()
    # what the cluster had to get right, checked against the source itself
    src = parcels()
    stats = ca.layers["parcels"].stats
    assert stats["dropped_empty"] == int(src.geometry.is_empty.sum()) > 0
    assert stats["repaired"] == int((~src.geometry.is_valid & ~src.geometry.is_empty).sum()) > 0
    back = gpd.read_parquet(two / "build" / cb.layers["parcels"].artifacts["data"])
    kept = src[~src.geometry.is_empty]
    assert list(back["pid"]) == list(kept["pid"])
    assert str(back["note"].dtype) == "str"
    assert list(back["note"].dropna()) == list(kept["note"].dropna())
    assert str(back["floors"].dtype) == "float64" and back["floors"].isna().sum() == 1
    clipped = gpd.read_parquet(two / "build" / cb.layers["parcels_in_county"].artifacts["data"])
    county = gpd.read_file(two / "sources/county.gpkg").geometry.iloc[0]
    assert 0 < len(clipped) < len(back)
    assert shapely.covered_by(clipped.geometry.values, county.buffer(1e-6)).all()
    # the source's order is kept through the clip
    order = [list(back["pid"]).index(p) for p in clipped["pid"]]
    assert order == sorted(order)


def test_a_duplicate_id_across_partitions_is_one_error(tmp_path: Path, cluster: str) -> None:
    messages = []
    for name, scheduler in (("one", None), ("two", cluster)):
        root = tmp_path / name
        make_workspace(root)
        gdf = parcels()
        gdf.loc[len(gdf) - 1, "pid"] = "P000"  # first row's id, in the last partition
        gdf.to_file(root / "sources/parcels.gpkg", layer="parcels")
        with pytest.raises(BuildError) as info:
            Twin.open(root).build(["parcels", "parcels_in_county"], scheduler=scheduler)
        report = info.value.report  # type: ignore[attr-defined]
        # ids are checked before the clip, which would drop the last row
        assert sorted(report.failed) == ["parcels", "parcels_in_county"]
        messages.append({k: v.replace(str(root), "") for k, v in report.failed.items()})
        assert not (root / "build/catalog.json").exists() or not Twin.open(root).catalog.layers
    # the same one line as the single-process build
    assert messages[0] == messages[1]
    for message in messages[1].values():
        assert "id column 'pid' has 1 duplicate value(s), first 'P000'" in message
        assert "\n" not in message


def test_unusable_partitions_alone_are_not_an_error(tmp_path: Path, cluster: str) -> None:
    # every geometry of the first partition is empty: the layer holds the others
    root = tmp_path / "ws"
    make_workspace(root)
    gdf = parcels(12)
    gdf.loc[:5, "geometry"] = Polygon()
    gdf.to_file(root / "sources/parcels.gpkg", layer="parcels")
    report = Twin.open(root).build(["parcels"], scheduler=cluster)
    assert report.ok, report.failed
    entry = Twin.open(root).catalog.layers["parcels"]
    assert entry.count == int((~gdf.geometry.is_empty).sum())
    assert entry.stats["dropped_empty"] == int(gdf.geometry.is_empty.sum())


def _frame(path: Path, rows_per_partition: int) -> tuple[object, list[vd.Part]]:
    import dask.dataframe as dd

    parts = vd.plan_parts(path, None, None, None, None, 1, rows_per_partition)
    cleaning = vd.Cleaning("EPSG:4549", True, None, None, str(path), None)
    summaries = [vd.summarise_part(p, None, cleaning, None) for p in parts]
    dtypes = vd.unify_dtypes(summaries)
    meta = vd.cast_part(summaries[0].empty, dtypes)
    frame = dd.from_map(vd.load_part, parts, args=(cleaning, dtypes), meta=meta)
    return frame, parts


def test_the_writer_holds_one_partition_at_a_time(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    n = 24000
    # lines of 40 vertices: geometry dominates the frame's size
    xy = rng.uniform(0, 5000, size=(n, 40, 2)) + np.array([X0, Y0])
    gdf = gpd.GeoDataFrame(
        {"k": np.arange(n), "s": [f"road {i}" for i in range(n)]},
        geometry=shapely.linestrings(xy),
        crs="EPSG:4549",
    )
    src = tmp_path / "lines.parquet"
    gdf.to_parquet(src, row_group_size=700)
    frame, parts = _frame(src, rows_per_partition=1000)
    assert len(parts) == 24
    whole = frame.compute(scheduler="synchronous")
    whole_bytes = len(pickle.dumps(whole))
    single = tmp_path / "single.parquet"
    artifacts.write_vector(whole, single, {"layer": "x"})
    del whole
    out = tmp_path / "streamed.parquet"
    # the scheduler in a process of its own, so this one holds only the writer's allocations
    with (
        SubprocessCluster(
            n_workers=2,
            threads_per_worker=1,
            dashboard_address=":0",
            scheduler_kwargs={"dashboard": False},
        ) as sub,
        distributed.Client(sub),
    ):
        # The first write opens a connection to each worker, whose read buffers (sized by a
        # partition) stay for the next writes, and fills caches: not measured.
        write_partitioned(frame, tmp_path / "warm.parquet", {}, sub.scheduler_address)
        tracemalloc.start()
        try:
            desc = write_partitioned(frame, out, {"layer": "x"}, sub.scheduler_address, 400)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    # each partition of 1000 rows became row groups of at most 400: 3 per partition
    meta = pq.ParquetFile(out).metadata
    assert meta.num_row_groups == 3 * len(parts)
    assert [meta.row_group(i).num_rows for i in range(4)] == [400, 400, 200, 400]
    # this process never held anything close to the layer: a partition is 1/24 of it, and
    # receiving and appending its arrow table takes a few times that
    assert peak < whole_bytes / 4, (peak, whole_bytes)
    a, b = gpd.read_parquet(single), gpd.read_parquet(out)
    pd.testing.assert_frame_equal(
        pd.DataFrame(a.drop(columns="geometry")), b.drop(columns="geometry").pipe(pd.DataFrame)
    )
    assert list(a.geometry.to_wkb()) == list(b.geometry.to_wkb())
    assert pq.read_schema(single).equals(pq.read_schema(out), check_metadata=True)
    assert desc == artifacts.describe_vector(a)
    # the bbox covering columns hold the same values
    assert pq.read_table(single, columns=["bbox"]).equals(pq.read_table(out, columns=["bbox"]))


def test_a_bad_partition_is_named(tmp_path: Path) -> None:
    import dask.dataframe as dd

    ok = gpd.GeoDataFrame({"v": [1]}, geometry=[Point(X0, Y0)], crs="EPSG:4549")
    bad = gpd.GeoDataFrame({"v": [2]}, geometry=[Point()], crs="EPSG:4549")
    frame = dd.from_map(lambda g: g, [ok, bad], meta=ok.iloc[:0])
    with pytest.raises(artifacts.ArtifactCheckError, match=r"partition 1: 1 empty or missing"):
        write_partitioned(frame, tmp_path / "x.parquet", {})
    assert not (tmp_path / "x.parquet").exists()


HELSINKI_TOML = """
[region]
name = "Helsinki centre"
crs = "EPSG:3067"
boundary = "area"

[sources.osm]
path = "sources/helsinki.osm.pbf"

[sources.area]
path = "sources/area.geojson"

[layers.clipped]
builder = "roads"
inputs = { osm = "osm" }
params = { network = "all", clip_to_region = true, consolidate_m = 5 }

[layers.roads]
builder = "roads"
inputs = { osm = "osm" }
params = { network = "drive", consolidate_m = 8 }

[layers.walk]
builder = "roads"
inputs = { osm = "osm" }
params = { network = "walk", simplify = false }
"""


def test_roads_on_a_cluster_equal_one_process(tmp_path: Path, cluster: str) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    (one / "sources").mkdir(parents=True)
    shutil.copy(HELSINKI, one / "sources/helsinki.osm.pbf")
    # the middle of the extract: the clipped network ends at its edge
    area = shapely.box(385_700, 6_671_900, 386_300, 6_672_500)
    gpd.GeoDataFrame({"n": [1]}, geometry=[area], crs=3067).to_file(
        one / "sources/area.geojson", driver="GeoJSON"
    )
    (one / "twin.toml").write_text(HELSINKI_TOML, encoding="utf-8")
    shutil.copytree(one, two)
    assert Twin.open(one).build().ok
    before = tasks_done(cluster, "way_stage")
    assert Twin.open(two).build(scheduler=cluster).ok
    # two spatial partitions per worker for each of the three networks
    assert tasks_done(cluster, "way_stage") - before == 3 * 4
    layers = Twin.open(two).catalog.layers
    assert {"roads", "roads_nodes", "walk", "walk_nodes", "clipped_nodes"} <= set(layers)
    assert 0 < layers["clipped"].count < layers["walk"].count
    assert_same_layers(one, two)


def test_roads_with_zones_on_a_cluster_equal_one_process(tmp_path: Path, cluster: str) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    grid_workspace(one)  # a grid of streets with a primary road across, and two zones
    shutil.copytree(one, two)
    assert Twin.open(one).build().ok
    assert Twin.open(two).build(scheduler=cluster).ok
    assert {"roads", "roads_nodes", "roads_zones"} <= set(Twin.open(two).catalog.layers)
    assert_same_layers(one, two)


def test_per_way_stages_on_spatial_partitions(cluster: str) -> None:
    from layers.roads.osm import read_osm_ways

    ways = read_osm_ways(HELSINKI)
    parts = spatial_partitions(ways.offsets, ways.lon, 4)
    # strips of about equal ways, each in source order, together every way once
    assert len(parts) == 4
    assert sorted(np.concatenate(parts).tolist()) == list(range(len(ways)))
    assert all((np.diff(p) > 0).all() for p in parts)
    assert max(map(len, parts)) - min(map(len, parts)) <= 0.05 * len(ways)
    with distributed.Client(cluster) as client:
        mapped: list[int] = []

        def on_cluster(fn, items):  # type: ignore[no-untyped-def]
            mapped.append(len(items))
            return client.gather(client.map(fn, client.scatter(items), pure=False))

        whole = read_osm_roads(HELSINKI, network="all", crs="EPSG:3067")
        parted = read_osm_roads(
            HELSINKI, network="all", crs="EPSG:3067", map_parts=on_cluster, partitions=5
        )
    assert mapped == [5]
    for a, b in ((whole.edges, parted.edges), (whole.nodes, parted.nodes)):
        pd.testing.assert_frame_equal(
            pd.DataFrame(a.drop(columns="geometry")), pd.DataFrame(b.drop(columns="geometry"))
        )
        assert list(a.geometry.to_wkb()) == list(b.geometry.to_wkb())
    assert whole.stats == parted.stats


LINES_TOML = """
[region]
name = "Helsinki lines"
crs = "EPSG:3067"
boundary = "area"

[sources.bureau]
path = "sources/bureau.gpkg"

[sources.area]
path = "sources/area.geojson"

[layers.roads]
builder = "roads"
inputs = { osm = "bureau" }
params = { columns = { road_class = "GRADE", name = "NAME" }, consolidate_m = 5 }

[layers.clipped]
builder = "roads"
inputs = { osm = "bureau" }
params = { network = "drive", clip_to_region = true, columns = { road_class = "GRADE" } }
"""


def test_line_roads_on_a_cluster_equal_one_process(tmp_path: Path, cluster: str) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    (one / "sources").mkdir(parents=True)
    # a bureau's line file: Helsinki's ways as lines in WGS84, with a multi-line among them
    edges = read_osm_roads(HELSINKI, network="all", crs="EPSG:3067", simplify=False).edges
    geoms = edges.geometry.to_numpy().copy()
    geoms[5] = shapely.MultiLineString([geoms[5], geoms[6]])
    bureau = gpd.GeoDataFrame(
        {"GRADE": edges["highway"].to_numpy(), "NAME": edges["name"].to_numpy()},
        geometry=geoms,
        crs=3067,
    ).to_crs(4326)
    bureau.to_file(one / "sources/bureau.gpkg", layer="roads")
    area = shapely.box(385_700, 6_671_900, 386_300, 6_672_500)
    gpd.GeoDataFrame({"n": [1]}, geometry=[area], crs=3067).to_file(
        one / "sources/area.geojson", driver="GeoJSON"
    )
    (one / "twin.toml").write_text(LINES_TOML, encoding="utf-8")
    shutil.copytree(one, two)
    assert Twin.open(one).build().ok
    before = tasks_done(cluster, "line_stage")
    assert Twin.open(two).build(scheduler=cluster).ok
    # two partitions of rows per worker for each layer
    assert tasks_done(cluster, "line_stage") - before == 2 * 4
    layers = Twin.open(two).catalog.layers
    assert 0 < layers["clipped"].count < layers["roads"].count
    assert_same_layers(one, two)


def test_a_bad_row_in_a_later_partition_is_named_as_in_one_process(
    tmp_path: Path, cluster: str
) -> None:
    messages = []
    for name, scheduler in (("one", None), ("two", cluster)):
        root = tmp_path / name
        make_workspace(root)
        gdf = parcels()
        # a polygon beyond the pole in the last partition: no longitude/latitude
        gdf.loc[37, "geometry"] = Polygon([(120, 91), (120.01, 91), (120.01, 91.01)])
        gdf.to_file(root / "sources/parcels.gpkg", layer="parcels")
        with pytest.raises(BuildError) as info:
            Twin.open(root).build(["parcels"], scheduler=scheduler)
        messages.append(str(info.value).replace(str(root), ""))
    assert messages[0] == messages[1]
    assert "row 37: coordinates (120, 91) are not longitude/latitude (1 row(s))" in messages[1]


def test_outside_counts_and_an_emptying_clip_on_a_cluster_equal_one_process(
    tmp_path: Path, cluster: str
) -> None:
    stats, messages = [], []
    for name, scheduler in (("one", None), ("two", cluster)):
        root = tmp_path / name
        make_workspace(root)
        report = Twin.open(root).build(["parcels"], scheduler=scheduler)
        entry = Twin.open(root).catalog.layers["parcels"]
        stats.append(entry.stats)
        assert 0 < entry.stats["outside_region"] < entry.count  # the county covers some
        assert (
            f"{entry.stats['outside_region']} of {entry.count} features lie outside the "
            "region boundary"
        ) in report.warnings["parcels"]
        # the county moves 20 km east: the clip leaves nothing, the published layer stands
        county = gpd.read_file(root / "sources/county.gpkg")
        county.geometry = county.translate(20_000, 0)
        county.to_file(root / "sources/county.gpkg", layer="county")
        with pytest.raises(BuildError) as info:
            Twin.open(root).build(["parcels_in_county"], scheduler=scheduler)
        messages.append(str(info.value))
        assert not (root / "build/parcels_in_county").exists()
    assert stats[0] == stats[1]
    assert messages[0] == messages[1]
    assert messages[0].startswith("layer 'parcels_in_county': clip_to_region removed all ")
