"""``twin publish``: artifacts then the catalog, to a shared directory (S3: test_dask_s3)."""

from __future__ import annotations

import json
from pathlib import Path

import mapbox_vector_tile
import morecantile
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.twin.conftest import TOML, make_sources
from tiles import leftover_temp_files
from tiles.app import create_app
from tiles.catalog import Catalog, read_catalog
from twin.cli import app
from twin.workspace import Twin


def _centre_tiles(client: TestClient, catalog: Catalog) -> list[bytes]:
    out = []
    for name, ext in (("zones", "mvt"), ("dem", "png")):
        b, z = catalog.layers[name].bounds, catalog.layers[name].maxzoom
        t = morecantile.tms.get("WebMercatorQuad").tile((b[0] + b[2]) / 2, (b[1] + b[3]) / 2, z)
        r = client.get(f"/tiles/{name}/{t.z}/{t.x}/{t.y}.{ext}")
        assert r.status_code == 200, (name, r.status_code)
        out.append(r.content)
    assert mapbox_vector_tile.decode(out[0])["zones"]["features"]
    return out


@pytest.fixture()
def built(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    make_sources(root)
    (root / "twin.toml").write_text(TOML, encoding="utf-8")
    assert Twin.open(root).build().ok
    return root


def publish(root: Path, dest: Path | str, *extra: str) -> dict:
    result = CliRunner().invoke(app, ["publish", str(dest), "-w", str(root), "--json", *extra])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_publish_to_a_directory_serves_the_same_layers(built: Path, tmp_path: Path) -> None:
    dest = tmp_path / "shared"
    first = publish(built, dest)
    local = built / "build" / "catalog.json"
    catalog = read_catalog(local)
    # each version's artifacts and its manifest (what makes it servable as layer@version)
    wanted = {a for e in catalog.layers.values() for a in e.artifacts.values()} | {
        f"{n}/{e.version}/versions.json" for n, e in catalog.layers.items()
    }
    assert set(first["copied"]) == wanted and first["present"] == []
    for rel in wanted:
        assert (dest / rel).read_bytes() == (built / "build" / rel).read_bytes()
    assert (dest / "catalog.json").read_bytes() == local.read_bytes()
    assert not [p for p in dest.rglob("*") if p.name.endswith(".tmp")]
    assert not [p for d in dest.rglob("*") if d.is_dir() for p in leftover_temp_files(d)]
    served = {}
    for path in (local, dest / "catalog.json"):
        with TestClient(create_app(path)) as client:
            assert {i["name"] for i in client.get("/catalog").json()} == set(catalog.layers)
            served[path] = _centre_tiles(client, catalog)
    assert served[local] == served[dest / "catalog.json"]

    # a rebuild of one layer sends only that layer's new version; the old one, now in
    # its history, is already there
    assert Twin.open(built).build(["zones"], force=True).ok
    again = publish(built, dest)
    zones = read_catalog(local).layers["zones"]
    new = {*zones.artifacts.values(), f"zones/{zones.version}/versions.json"}
    assert set(again["copied"]) == new
    assert set(again["present"]) == wanted
    assert read_catalog(dest / "catalog.json") == read_catalog(local)


def test_catalog_out_names_the_destination(built: Path, tmp_path: Path) -> None:
    dest = tmp_path / "shared"
    out = tmp_path / "elsewhere" / "catalog.json"
    out.parent.mkdir()
    publish(built, f"file://{dest}", "--catalog-out", str(out))
    for entry in read_catalog(out).layers.values():
        for a in entry.artifacts.values():
            assert a.startswith(f"file://{dest}/") and Path(a.removeprefix("file://")).is_file()


def test_a_missing_artifact_stops_before_the_catalog(built: Path, tmp_path: Path) -> None:
    dest = tmp_path / "shared"
    publish(built, dest)
    before = (dest / "catalog.json").read_bytes()
    assert Twin.open(built).build(["zones"], force=True).ok
    rel = read_catalog(built / "build" / "catalog.json").layers["zones"].artifacts["data"]
    (built / "build" / rel).unlink()
    result = CliRunner().invoke(app, ["publish", str(dest), "-w", str(built)])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and rel in lines[0] and "artifact" in lines[0]
    assert (dest / "catalog.json").read_bytes() == before


def test_an_unwritable_destination_is_one_line(built: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    result = CliRunner().invoke(app, ["publish", str(blocker / "sub"), "-w", str(built)])
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1 and "a-file" in result.output


def test_serve_a_bad_catalog_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "catalog.json"
    bad.write_text("{", encoding="utf-8")
    result = CliRunner().invoke(app, ["serve", "--catalog", str(bad)])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        line for line in result.output.strip().splitlines() if str(bad) in line
    ]
    assert "not valid JSON" in result.output
