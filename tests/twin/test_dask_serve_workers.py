"""``twin serve --workers 2``: two processes behind one port, each serving TileJSON and tiles.

Which worker answered a request is read from /proc: the worker holding the
accepted socket of that connection (Linux only).
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import zlib
from pathlib import Path

import mapbox_vector_tile
import morecantile
import pytest

from tests.twin.conftest import TOML, make_sources
from twin.workspace import Twin

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads /proc (Linux)"),
]

CONNECTIONS = 12
ROUNDS = 10


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry.name))
    return out


def _socket_inodes(pid: int) -> set[str]:
    out = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            out.add(target[8:-1])
    return out


def _server_side(port: int) -> dict[int, str]:
    """Client port -> inode of the server's accepted socket, from /proc/net/tcp."""
    out = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        f = line.split()
        local_port = int(f[1].split(":")[1], 16)
        remote_port = int(f[2].split(":")[1], 16)
        if local_port == port and f[3] == "01":  # ESTABLISHED
            out[remote_port] = f[9]
    return out


def _decoded(path: str, status: int, body: bytes) -> bool:
    """Whether ``body`` is what ``path`` asks for."""
    if status != 200:
        return False
    if path.endswith("tilejson.json"):
        doc = json.loads(body)
        return doc["tilejson"] == "3.0.0" and bool(doc["tiles"])
    if path.endswith(".png"):
        # a PNG whose first chunk is IHDR with a valid CRC
        return body[:8] == b"\x89PNG\r\n\x1a\n" and zlib.crc32(body[12:29]) == int.from_bytes(
            body[29:33], "big"
        )
    return bool(mapbox_vector_tile.decode(body))


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("served")
    make_sources(root)
    (root / "twin.toml").write_text(TOML, encoding="utf-8")
    assert Twin.open(root).build().ok
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "twin.cli", "serve", "-w", str(root), "--port", str(port),
         "--workers", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stderr.read().decode(errors="replace")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/healthz")
                ok = conn.getresponse().status == 200
                conn.close()
                if ok and len(_children(proc.pid)) >= 2:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "server did not start in 60 s"
            time.sleep(0.2)
        yield port, proc, root
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()


def test_both_workers_serve_tilejson_and_tiles(served) -> None:
    port, proc, root = served
    layers = Twin.open(root).catalog.layers
    paths = ["/tiles/zones/tilejson.json", "/tiles/dem/tilejson.json"]
    for name, ext in (("zones", "mvt"), ("dem", "png")):
        b, z = layers[name].bounds, layers[name].maxzoom
        t = morecantile.tms.get("WebMercatorQuad").tile((b[0] + b[2]) / 2, (b[1] + b[3]) / 2, z)
        paths.append(f"/tiles/{name}/{t.z}/{t.x}/{t.y}.{ext}")
    answered: dict[int, set[str]] = {}
    for _ in range(ROUNDS):
        conns = []
        for k in range(CONNECTIONS):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            path = paths[k % len(paths)]
            conn.request("GET", path)
            resp = conn.getresponse()
            body = resp.read()
            assert _decoded(path, resp.status, body), (path, resp.status, body[:200])
            conns.append((conn, path))
        # while the connections are open, find which worker holds each one
        workers = {pid: _socket_inodes(pid) for pid in _children(proc.pid)}
        by_port = _server_side(port)
        for conn, path in conns:
            inode = by_port.get(conn.sock.getsockname()[1])
            for pid, inodes in workers.items():
                if inode in inodes:
                    answered.setdefault(pid, set()).add(path)
            conn.close()
        if len(answered) >= 2 and all(len(p) == len(paths) for p in answered.values()):
            break
    assert len(answered) == 2, answered
    for pid, got in answered.items():
        assert got == set(paths), (pid, got)
