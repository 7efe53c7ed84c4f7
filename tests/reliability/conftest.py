"""Shared helpers of the reliability tests: a small workspace and the CLI."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.twin.conftest import TOML, make_sources
from twin.cli import app

ROADS_TOML = """
[sources.osm]
path = "sources/roads.osm.pbf"

[layers.roads]
builder = "roads"
inputs = { osm = "osm" }
"""

HELSINKI = Path(__file__).resolve().parents[1] / "data" / "Helsinki.osm.pbf"


@pytest.fixture
def small_ws(tmp_path: Path) -> Path:
    """The 4 km x 3 km test workspace of tests/twin (zones, points, dem), unbuilt."""
    root = tmp_path / "ws"
    make_sources(root)
    (root / "twin.toml").write_text(TOML, encoding="utf-8")
    return root


def cli(*args: str) -> tuple[int, str, str]:
    """Run the real ``twin`` CLI in-process; (exit code, stdout, stderr)."""
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def published_files(build_dir: Path) -> dict[str, int]:
    """Every file under ``build/`` that a reader could see (name -> size), without the lock."""
    if not build_dir.exists():
        return {}
    return {
        str(p.relative_to(build_dir)): p.stat().st_size
        for p in sorted(build_dir.rglob("*"))
        if p.is_file() and p.name not in (".lock", ".hashes.json")
    }


def free_env() -> dict[str, str]:
    """The environment for a subprocess that imports the project from this checkout."""
    root = Path(__file__).resolve().parents[2]
    return {**os.environ, "PYTHONPATH": str(root)}


class Zygote:
    """Drives ``tests/reliability/_zygote.py``: forked builds that can be SIGKILLed."""

    def __init__(self) -> None:
        env = {**free_env(), "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.reliability._zygote"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=Path(__file__).resolve().parents[2],
        )
        assert self._line() == "ready"

    def _line(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the build zygote died")
        return line.strip()

    def build(
        self,
        ws: Path,
        layers: list[str] | None = None,
        force: bool = False,
        kill_after: float | None = None,
    ) -> tuple[int, float]:
        """Run one build in a forked child; SIGKILL it after ``kill_after`` seconds.

        Returns the child's exit code (``-9`` when the kill landed) and its duration.
        """
        assert self.proc.stdin is not None
        job = {"ws": str(ws), "layers": layers, "force": force}
        self.proc.stdin.write(json.dumps(job) + "\n")
        self.proc.stdin.flush()
        pid = int(self._line().split()[1])
        if kill_after is not None:
            time.sleep(kill_after)
            # A child that already finished was reaped by the zygote: nothing to kill.
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        _, code, seconds = self._line().split()
        return int(code), float(seconds)

    def strays(self, wait: float = 5.0) -> list[int]:
        """Processes forked from the zygote's builds that outlived them (after ``wait`` s).

        A builder's worker pool must die with the build: forked workers carry the
        zygote's command line, so any such process but the zygote is a stray.
        """
        deadline = time.monotonic() + wait
        while True:
            found = []
            for entry in Path("/proc").iterdir():
                if not entry.name.isdigit() or int(entry.name) == self.proc.pid:
                    continue
                try:
                    if b"tests.reliability._zygote" in (entry / "cmdline").read_bytes():
                        found.append(int(entry.name))
                except OSError:
                    continue
            if not found or time.monotonic() > deadline:
                return found
            time.sleep(0.1)

    def close(self) -> None:
        for pid in self.strays(wait=0):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)  # ours: forked from our zygote
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """The real tile server: uvicorn with ``workers`` processes on a free loopback port."""

    def __init__(self, catalog: Path, workers: int = 2, **settings: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **free_env(),
            "TWIN_CATALOG": str(catalog),
            "TWIN_PUBLIC_URL": "https://maps.example.org",
            **{f"TWIN_{k.upper()}": v for k, v in settings.items()},
        }
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "tiles.server:app_from_env",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                str(workers),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its workers share its group: one killpg ends them all
        )
        self.workers = workers
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.stderr()}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as r:
                    if r.status == 200 and len(self.worker_pids()) == workers:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("server did not start in 60 s")
            time.sleep(0.2)

    def stderr(self) -> str:
        return self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""

    def worker_pids(self) -> list[int]:
        """The worker processes (the children of uvicorn's supervisor), from /proc."""
        out = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # field 4 is the parent pid; the command name may hold spaces, hence the rsplit
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            # multiprocessing's resource tracker is a child too, but serves nothing
            if ppid == self.proc.pid and b"spawn_main" in (entry / "cmdline").read_bytes():
                out.append(int(entry.name))
        return out

    def rss_kib(self) -> dict[int, int]:
        """Resident memory of the supervisor and each worker, KiB, from /proc/<pid>/status."""
        out = {}
        for pid in [self.proc.pid, *self.worker_pids()]:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    out[pid] = int(line.split()[1])
        return out

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self.proc.stderr is not None:
            self.proc.stderr.close()
