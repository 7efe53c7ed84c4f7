"""Any published version, served: ``layer@version``, ``layer@date``, OGC ``datetime``.

A workspace is built, its tiles fetched, its sources changed and rebuilt while the
same server keeps running; the old version must then come back exactly as it was
served before (and as its GeoParquet holds it), until ``twin prune`` drops it.
"""

from __future__ import annotations

import gzip
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import mapbox_vector_tile
import morecantile
import numpy as np
import pytest
import rasterio
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.twin.conftest import TOML, make_sources
from tiles.app import create_app
from tiles.catalog import LayerEntry, read_catalog, read_version, resolve_artifact
from tiles.grids import get_grid
from tiles.pmtiles import PMTilesReader
from twin.cli import app as cli
from twin.workspace import Twin

WM = morecantile.tms.get("WebMercatorQuad")


def _tile_of(entry: LayerEntry) -> morecantile.Tile:
    """The smallest Web Mercator tile holding the whole layer."""
    w, s, e, n = entry.bounds
    for z in range(entry.maxzoom, -1, -1):
        corner = WM.tile(w, n, z)
        if corner == WM.tile(e, s, z):
            return corner
    raise AssertionError("no tile holds the layer")


def _url(ref: str, t: morecantile.Tile, fmt: str) -> str:
    return f"/tiles/{ref}/{t.z}/{t.x}/{t.y}.{fmt}"


def _zone_pops(tile: bytes) -> dict[str, int]:
    feats = mapbox_vector_tile.decode(tile)["zones"]["features"]
    return {f["properties"]["code"]: f["properties"]["pop"] for f in feats}


def _parquet_pops(catalog: Path, entry: LayerEntry) -> dict[str, int]:
    rows = gpd.read_parquet(resolve_artifact(catalog, entry.artifacts["data"]))
    return dict(zip(rows["code"], rows["pop"].astype(int), strict=True))


def _next_second() -> None:
    """Wait for the next UTC second: publication times are kept to the second."""
    time.sleep(1.02 - datetime.now(UTC).microsecond / 1e6)


def _change_sources(root: Path) -> None:
    """New populations for the zones (one zone fewer), a DEM 120 m higher."""
    path = root / "sources" / "zones.geojson"
    zones = gpd.read_file(path)
    zones["pop"] = 7 * np.arange(len(zones)) + 1
    zones.iloc[:-1].to_file(path, driver="GeoJSON")
    dem = root / "sources" / "dem.tif"
    with rasterio.open(dem, "r+") as ds:
        ds.write(ds.read(1) + 120, 1)


def _built(tmp_path: Path, pmtiles: bool = False) -> Path:
    root = tmp_path / "ws"
    make_sources(root)
    toml = TOML
    if pmtiles:  # vector tiles from each version's own PMTiles archive
        toml = toml.replace(
            'params = { id = "code" }', 'params = { id = "code" }\ntiles = { pmtiles = true }', 1
        )
    (root / "twin.toml").write_text(toml, encoding="utf-8")
    assert Twin.open(root).build().ok
    return root


@pytest.fixture(params=[False, True], ids=["geoparquet", "pmtiles"])
def root(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    return _built(tmp_path, request.param)


def test_an_old_version_is_served_as_it_was(root: Path) -> None:
    cat = root / "build" / "catalog.json"
    v1 = read_catalog(cat).layers
    zt, dt = _tile_of(v1["zones"]), _tile_of(v1["dem"])
    with TestClient(create_app(cat)) as client:
        before_mvt = client.get(_url("zones", zt, "mvt"))
        before_png = client.get(_url("dem", dt, "png"))
        assert before_mvt.status_code == before_png.status_code == 200
        assert _zone_pops(before_mvt.content) == _parquet_pops(cat, v1["zones"])

        _next_second()
        _change_sources(root)
        assert Twin.open(root).build().ok  # the same server notices the new catalog
        v2 = read_catalog(cat).layers
        assert v2["zones"].history[0] == v1["zones"].version
        old_z, old_d = v1["zones"].version, v1["dem"].version

        now_mvt = client.get(_url("zones", zt, "mvt"))
        assert _zone_pops(now_mvt.content) == _parquet_pops(cat, v2["zones"])
        assert _zone_pops(now_mvt.content) != _zone_pops(before_mvt.content)
        now_png = client.get(_url("dem", dt, "png"))
        assert now_png.content != before_png.content

        published = v1["zones"].provenance.built_at  # the instant v1 was published
        assert published < v2["zones"].provenance.built_at
        for ref in (f"zones@{old_z}", f"zones@{published}", f"zones@{published[:-1]}+00:00"):
            r = client.get(_url(ref, zt, "mvt"))
            assert r.status_code == 200, (ref, r.text)
            assert _zone_pops(r.content) == _parquet_pops(cat, v1["zones"]), ref
            assert r.content == before_mvt.content
            # a tile of another version has its own ETag: no client or cache mixes them
            assert r.headers["etag"] != now_mvt.headers["etag"]
        for ref in (f"dem@{old_d}", f"dem@{v1['dem'].provenance.built_at}"):
            r = client.get(_url(ref, dt, "png"))
            assert r.status_code == 200 and r.headers["content-type"] == "image/png"
            assert r.content == before_png.content, ref
        # and the current version is still the current one after the old ones were read
        assert client.get(_url("zones", zt, "mvt")).content == now_mvt.content
        assert client.get(_url("dem", dt, "png")).content == now_png.content
        # today, and a version's own name, give the current version
        today = datetime.now(UTC).strftime("%Y-%m-%d")
        assert client.get(_url(f"zones@{today}", zt, "mvt")).content == now_mvt.content
        ref = f"zones@{v2['zones'].version}"
        assert client.get(_url(ref, zt, "mvt")).content == now_mvt.content

        # a composite mixes versions: old zones under today's points
        r = client.get(_url(f"zones@{old_z},points", zt, "mvt"))
        both = mapbox_vector_tile.decode(r.content)
        assert set(both) == {"zones", "points"}
        assert _zone_pops(r.content) == _parquet_pops(cat, v1["zones"])


def test_an_old_version_comes_from_its_own_archive(tmp_path: Path) -> None:
    root = _built(tmp_path, pmtiles=True)
    cat = root / "build" / "catalog.json"
    v1 = read_catalog(cat).layers["zones"]
    _next_second()
    _change_sources(root)
    assert Twin.open(root).build().ok
    t = _tile_of(v1)
    reader = PMTilesReader(resolve_artifact(cat, v1.artifacts["pmtiles"]))
    try:
        stored = reader.get(t.z, t.x, t.y)
    finally:
        reader.close()
    with TestClient(create_app(cat)) as client:
        r = client.get(_url(f"zones@{v1.version}", t, "mvt"), headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200 and r.headers["content-encoding"] == "gzip"
    assert gzip.decompress(stored) == r.content  # the old archive's own tile
    assert _zone_pops(r.content) == _parquet_pops(cat, v1)


def _rebuilt(tmp_path: Path) -> Path:
    """A workspace built twice, a second apart, the second time from changed sources."""
    root = _built(tmp_path)
    _next_second()
    _change_sources(root)
    assert Twin.open(root).build().ok
    return root


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """:func:`_rebuilt`, once for the tests that only read it (pruning makes its own)."""
    return _rebuilt(tmp_path_factory.mktemp("rebuilt"))


@pytest.mark.parametrize(
    ("at", "status"),
    [
        ("2000-01-01", 404),  # before the first version
        ("2000-01-01T00:00:00Z", 404),
        ("20000101T000000-abcdef", 404),  # no such version
        ("", 400),
        ("2026-13-45", 400),  # not a date
        ("2026-09-30T12:00:00", 400),  # no time zone
        ("2026-09-30T25:00Z", 400),
        ("9999-12-31T23:59:59-05:00", 400),  # beyond the calendar in UTC
        ("a:b", 400),
        ("v1@v2", 400),
    ],
)
def test_unknown_and_malformed_versions(rebuilt: Path, at: str, status: int) -> None:
    cat = rebuilt / "build" / "catalog.json"
    t = _tile_of(read_catalog(cat).layers["zones"])
    with TestClient(create_app(cat)) as client:
        for url in (
            _url(f"zones@{at}", t, "mvt"),
            f"/tiles/zones@{at}/tilejson.json",
            f"/collections/zones@{at}/tiles/WebMercatorQuad/{t.z}/{t.y}/{t.x}",
        ):
            r = client.get(url)
            assert r.status_code == status, (url, r.text)
            assert len(r.json()["detail"].splitlines()) == 1


def test_tilejson_style_and_catalog_name_the_version(rebuilt: Path) -> None:
    cat = rebuilt / "build" / "catalog.json"
    layers = read_catalog(cat).layers
    zones = layers["zones"]
    old = zones.history[0]
    with TestClient(create_app(cat)) as client:
        first = next(e for e in client.get("/catalog").json() if e["name"] == "zones")
        published = first["versions"][1]["published"]
        assert [v["version"] for v in first["versions"]] == [zones.version, old]
        assert first["versions"][0]["published"] == zones.provenance.built_at
        for ref in (f"zones@{old}", f"zones@{published}"):
            tj = client.get(f"/tiles/{ref}/tilejson.json").json()
            assert tj["twin:versions"] == {"zones": old}
            assert tj["tiles"][0].endswith(f"/tiles/zones@{old}/{{z}}/{{x}}/{{y}}.mvt")
        tj = client.get(f"/tiles/zones@{old},points/tilejson.json").json()
        assert tj["twin:versions"] == {"zones": old, "points": layers["points"].version}
        assert f"/tiles/zones@{old},points/" in tj["tiles"][0]
        tj = client.get(f"/tiles/zones@{old}/tilejson.json?tms=CGCS2000Quad").json()
        assert f"/collections/zones@{old}/tiles/CGCS2000Quad/" in tj["tiles"][0]
        assert client.get("/tiles/zones/tilejson.json").json()["twin:versions"] == {
            "zones": zones.version
        }

        # the map when the first build had published every layer (zones came first)
        listing = client.get("/catalog").json()
        done = max(e["versions"][-1]["published"] for e in listing)
        early = {e["name"] for e in listing if e["versions"][-1]["published"] <= published}
        style = client.get("/style.json", params={"datetime": published}).json()
        assert set(style["sources"]) == early
        style = client.get("/style.json", params={"datetime": done}).json()
        urls = {name: s["url"] for name, s in style["sources"].items()}
        assert urls["zones"].endswith(f"/tiles/zones@{old}/tilejson.json")
        assert urls["dem"].endswith(f"/tiles/dem@{layers['dem'].history[0]}/tilejson.json")
        assert style["metadata"]["twin:datetime"] == done
        assert client.get("/style.json?datetime=2000-01-01").status_code == 404
        assert client.get("/style.json?datetime=yesterday").status_code == 400
        assert (
            client.get("/style.json")
            .json()["sources"]["zones"]["url"]
            .endswith("/tiles/zones/tilejson.json")
        )


def test_ogc_datetime_picks_the_version(rebuilt: Path) -> None:
    cat = rebuilt / "build" / "catalog.json"
    zones = read_catalog(cat).layers["zones"]
    old = zones.history[0]
    t = _tile_of(zones)
    with TestClient(create_app(cat)) as client:
        published = client.get("/catalog").json()
        when = next(e for e in published if e["name"] == "zones")["versions"][1]["published"]
        ogc = f"/collections/zones/tiles/WebMercatorQuad/{t.z}/{t.y}/{t.x}"
        then = client.get(ogc, params={"datetime": when})
        assert then.status_code == 200
        assert then.content == client.get(_url(f"zones@{old}", t, "mvt")).content
        assert then.content != client.get(ogc).content
        # a '+' offset that the query string turned into a space still reads
        local = when.replace("Z", "+00:00")
        assert client.get(f"{ogc}?datetime={local}").content == then.content
        # in another grid too
        w, s, e, n = zones.bounds
        c = get_grid("CGCS2000Quad").tms.tile((w + e) / 2, (s + n) / 2, t.z)
        cg = f"/collections/zones/tiles/CGCS2000Quad/{c.z}/{c.y}/{c.x}"
        r = client.get(cg, params={"datetime": when})
        assert r.status_code == 200
        v1 = _parquet_pops(cat, read_version(cat, "zones", zones, old))
        assert _zone_pops(r.content).items() <= v1.items() and _zone_pops(r.content)
        assert _zone_pops(client.get(cg).content) != _zone_pops(r.content)

        doc = client.get("/collections/zones", params={"datetime": when}).json()
        assert doc["id"] == "zones"
        assert all(f"/collections/zones@{old}" in link["href"] for link in doc["links"])
        ts = client.get("/collections/zones/tiles/WebMercatorQuad", params={"datetime": when})
        items = [link["href"] for link in ts.json()["links"] if link["rel"] == "item"]
        assert items and all(f"/collections/zones@{old}/tiles/" in h for h in items)
        done = max(e["versions"][-1]["published"] for e in published)
        listing = client.get("/collections", params={"datetime": done}).json()
        assert {c["id"] for c in listing["collections"]} == {"zones", "points", "dem"}

        for params, status in (
            ({"datetime": "2000-01-01"}, 404),
            ({"datetime": "not-a-date"}, 400),
            ({"datetime": "2026-01-01T00:00:00Z/2026-02-01T00:00:00Z"}, 400),
        ):
            assert client.get(ogc, params=params).status_code == status, params
            assert client.get("/collections/zones", params=params).status_code == status
        both = f"/collections/zones@{old}/tiles/WebMercatorQuad/{t.z}/{t.y}/{t.x}"
        assert client.get(both, params={"datetime": when}).status_code == 400


def test_prune_removes_what_is_no_longer_servable(tmp_path: Path) -> None:
    rebuilt = _rebuilt(tmp_path)
    cat = rebuilt / "build" / "catalog.json"
    zones = read_catalog(cat).layers["zones"]
    old = zones.history[0]
    t = _tile_of(zones)
    with TestClient(create_app(cat)) as client:
        published = next(e for e in client.get("/catalog").json() if e["name"] == "zones")
        when = published["versions"][1]["published"]
        assert client.get(_url(f"zones@{old}", t, "mvt")).status_code == 200
        result = CliRunner().invoke(cli, ["prune", "--keep", "1", "-w", str(rebuilt)])
        assert result.exit_code == 0, result.output
        assert not (rebuilt / "build" / "zones" / old).exists()
        assert client.get(_url(f"zones@{old}", t, "mvt")).status_code == 404
        assert client.get(_url(f"zones@{when}", t, "mvt")).status_code == 404
        assert client.get(f"/tiles/zones@{old}/tilejson.json").status_code == 404
        listing = {e["name"]: e["versions"] for e in client.get("/catalog").json()}
        assert all(len(v) == 1 for v in listing.values())
        assert listing["zones"][0]["version"] == zones.version
        assert client.get(_url("zones", t, "mvt")).status_code == 200


def test_publish_carries_the_versions(rebuilt: Path, tmp_path: Path) -> None:
    cat = rebuilt / "build" / "catalog.json"
    zones = read_catalog(cat).layers["zones"]
    old = zones.history[0]
    t = _tile_of(zones)
    dest = tmp_path / "shared"
    out = tmp_path / "elsewhere" / "catalog.json"
    out.parent.mkdir()
    args = ["publish", str(dest), "-w", str(rebuilt), "--json", "--catalog-out", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    copied = set(json.loads(result.output)["copied"])
    assert f"zones/{old}/versions.json" in copied and f"zones/{old}/data.parquet" in copied
    with TestClient(create_app(cat)) as client:
        want = client.get(_url(f"zones@{old}", t, "mvt")).content
        listing = client.get("/catalog").json()
    for path in (dest / "catalog.json", out):
        with TestClient(create_app(path)) as client:
            assert client.get(_url(f"zones@{old}", t, "mvt")).content == want, path
            assert client.get("/catalog").json() == listing
    # beside the catalog naming the destination only manifests, naming it too
    local = [p for p in out.parent.rglob("*") if p.is_file() and p != out]
    assert local and all(p.name == "versions.json" for p in local)
    for p in local:
        for entry in json.loads(p.read_text(encoding="utf-8"))["layers"].values():
            assert all(a.startswith(str(dest)) for a in entry["artifacts"].values())
