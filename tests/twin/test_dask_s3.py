"""Artifacts on object storage: ``twin publish s3://...``, then the same tiles from there.

The S3 server is moto's server mode on a free loopback port (nothing leaves
the machine). Rasters are read through GDAL's ``/vsis3/`` (``AWS_S3_ENDPOINT``),
GeoParquet through pyarrow's S3 file system (``AWS_ENDPOINT_URL``).
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import mapbox_vector_tile
import morecantile
import pytest
from fastapi.testclient import TestClient
from pyarrow import fs
from typer.testing import CliRunner

from tests.twin.conftest import TOML, make_sources
from tiles.app import create_app
from tiles.catalog import read_catalog
from twin.cli import app
from twin.workspace import Twin

pytestmark = pytest.mark.slow
BUCKET = "twin-artifacts"


@pytest.fixture(scope="module")
def s3_port() -> Iterator[int]:
    # the moto of this interpreter's environment, not another one earlier on PATH
    server = shutil.which("moto_server", path=str(Path(sys.executable).parent))
    if server is None:
        pytest.fail("moto_server is not installed (the test extra's moto[server])")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    proc = subprocess.Popen(
        [server, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.5).close()
                break
            except OSError:
                assert proc.poll() is None, "moto_server exited"
                assert time.monotonic() < deadline, "moto_server did not start in 30 s"
                time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _tiles(client: TestClient, catalog: Path) -> dict[str, bytes]:
    out = {}
    layers = read_catalog(catalog).layers
    for name, ext in (("zones", "mvt"), ("dem", "png")):
        b, z = layers[name].bounds, layers[name].maxzoom
        t = morecantile.tms.get("WebMercatorQuad").tile((b[0] + b[2]) / 2, (b[1] + b[3]) / 2, z)
        r = client.get(f"/tiles/{name}/{t.z}/{t.x}/{t.y}.{ext}")
        assert r.status_code == 200, (name, r.status_code, r.text[:200])
        out[name] = r.content
    tj = client.get("/tiles/zones/tilejson.json")
    assert tj.status_code == 200 and tj.json()["tilejson"] == "3.0.0"
    return out


def test_s3_artifacts_serve_the_same_tiles(
    tmp_path: Path, s3_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "ws"
    make_sources(root)
    (root / "twin.toml").write_text(TOML, encoding="utf-8")
    assert Twin.open(root).build().ok
    local_catalog = root / "build" / "catalog.json"
    endpoint = f"127.0.0.1:{s3_port}"
    for key, value in {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_S3_ENDPOINT": endpoint,  # GDAL /vsis3/
        "AWS_HTTPS": "NO",
        "AWS_VIRTUAL_HOSTING": "FALSE",
        "AWS_ENDPOINT_URL": f"http://{endpoint}",  # pyarrow's S3 file system
    }.items():
        monkeypatch.setenv(key, value)
    s3 = fs.S3FileSystem(
        access_key="test",
        secret_key="test",
        region="us-east-1",
        endpoint_override=endpoint,
        scheme="http",
        allow_bucket_creation=True,
    )
    s3.create_dir(BUCKET)
    remote_catalog = tmp_path / "remote" / "catalog.json"
    remote_catalog.parent.mkdir()
    runner = CliRunner()
    dest = f"s3://{BUCKET}/county"
    args = ["publish", dest, "--catalog-out", str(remote_catalog), "-w", str(root), "--json"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    catalog = read_catalog(local_catalog)
    wanted = {a for e in catalog.layers.values() for a in e.artifacts.values()} | {
        f"{n}/{e.version}/versions.json" for n, e in catalog.layers.items()
    }
    assert set(json.loads(first.output)["copied"]) == wanted
    # the bucket holds a self-contained copy: its catalog keeps relative paths
    with s3.open_input_stream(f"{BUCKET}/county/catalog.json") as fh:
        assert json.loads(fh.read()) == json.loads(local_catalog.read_bytes())
    again = runner.invoke(app, args)
    assert again.exit_code == 0 and json.loads(again.output)["copied"] == []
    # the local catalog names the bucket, and nothing local remains to fall back on: beside
    # it only the versions' manifests, which name the bucket too
    assert read_catalog(remote_catalog).layers["dem"].artifacts["data"].startswith(f"{dest}/")
    local = [p for p in remote_catalog.parent.rglob("*") if p.is_file() and p != remote_catalog]
    assert {p.name for p in local} == {"versions.json"}
    for p in local:
        for entry in json.loads(p.read_text(encoding="utf-8"))["layers"].values():
            assert all(a.startswith(f"{dest}/") for a in entry["artifacts"].values())

    with TestClient(create_app(local_catalog)) as client:
        local = _tiles(client, local_catalog)
    with TestClient(create_app(remote_catalog)) as client:
        remote = _tiles(client, remote_catalog)
    assert remote == local
    assert mapbox_vector_tile.decode(remote["zones"])["zones"]["features"]
    assert remote["dem"][:8] == b"\x89PNG\r\n\x1a\n"
