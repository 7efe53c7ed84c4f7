"""A rebuild publishes a new catalog version; the running server serves it without restart."""

from __future__ import annotations

import gzip
from pathlib import Path

import mapbox_vector_tile
import morecantile
from pyproj import Transformer

from tests.tiles.conftest import CRS, FRAMES, X0, Y0, make_client, vector_entry
from tiles.catalog import read_catalog, write_catalog

MERCATOR = morecantile.tms.get("WebMercatorQuad")


def _tile() -> morecantile.Tile:
    lon, lat = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True).transform(
        X0 + 2500, Y0 + 2500
    )
    return MERCATOR.tile(lon, lat, 12)


def _publish_villages_v2(catalog_path: Path) -> None:
    """What a build does: write a new version directory, then replace catalog.json atomically."""
    gdf = FRAMES["villages"]()
    gdf["population"] = gdf["population"] * 10
    gdf = gdf.iloc[:2]
    version_dir = catalog_path.parent / "villages" / "v2"
    version_dir.mkdir(parents=True)
    gdf.to_parquet(version_dir / "data.parquet")
    catalog = read_catalog(catalog_path)
    entry = vector_entry("villages", gdf, "v2", "villages/v2/data.parquet")
    entry.history = ["v1"]
    catalog.layers["villages"] = entry
    write_catalog(catalog, catalog_path)


def _populations(content: bytes) -> list[int]:
    layer = mapbox_vector_tile.decode(content)["villages"]
    return sorted(f["properties"]["population"] for f in layer["features"])


def test_new_version_is_served_without_restart(own_catalog: Path) -> None:
    t = _tile()
    url = f"/tiles/villages/{t.z}/{t.x}/{t.y}.mvt"
    with make_client(own_catalog) as c:
        before = c.get(url)
        assert _populations(before.content) == [410, 850, 1200, 2300]
        assert c.get("/tiles/villages/tilejson.json").json()["twin:versions"] == {"villages": "v1"}
        _publish_villages_v2(own_catalog)
        after = c.get(url)
        assert _populations(after.content) == [8500, 12000]
        assert after.headers["etag"] != before.headers["etag"]
        # a client revalidating with the old ETag gets the new tile, not a 304
        assert c.get(url, headers={"If-None-Match": before.headers["etag"]}).status_code == 200
        assert c.get("/tiles/villages/tilejson.json").json()["twin:versions"] == {"villages": "v2"}
        assert "twin_catalog_reloads_total 1" in c.get("/metrics").text


def test_a_broken_catalog_keeps_the_last_good_version(own_catalog: Path) -> None:
    t = _tile()
    url = f"/tiles/villages/{t.z}/{t.x}/{t.y}.mvt"
    with make_client(own_catalog) as c:
        good = c.get(url).content
        tmp = own_catalog.with_suffix(".tmp")
        tmp.write_text("{ not json")
        tmp.replace(own_catalog)
        r = c.get(url)
        assert r.status_code == 200 and r.content == good


def test_one_tile_uses_one_catalog_snapshot(own_catalog: Path) -> None:
    """The request's snapshot, not the store's latest, decides what a tile is built from."""
    t = _tile()
    with make_client(own_catalog) as c:
        service = c.app.state.service
        old = c.app.state.store.current()
        _publish_villages_v2(own_catalog)
        new = c.app.state.store.current()
        assert old.entry("villages").version == "v1" and new.entry("villages").version == "v2"
        req = service.request(old, "villages", t.z, t.x, t.y, "mvt")
        encoded = service._encode(req)
        assert _populations(gzip.decompress(encoded.body)) == [410, 850, 1200, 2300]
