"""Take the README's dashboard screenshots (zh, en, phone) from a served demo county.

    .venv/bin/python docs/screenshots/make.py [--workspace DIR] [--resolution 100]

Builds the demo county into DIR when it has none, serves it on a free loopback
port, opens the dashboard in Debian's Chromium with every request that is not
to the server aborted, and writes ``dashboard-zh.png``,
``dashboard-en.png`` and ``dashboard-phone.png`` beside this file. Chinese text
needs a CJK font on the machine (Debian: ``fonts-wqy-microhei``).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
BIN = Path(sys.executable).parent
CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--enable-unsafe-swiftshader",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = [  # file, query, viewport
    ("dashboard-zh.png", "?lang=zh", (1280, 800)),
    ("dashboard-en.png", "?lang=en", (1280, 800)),
    ("dashboard-phone.png", "?lang=zh", (390, 844)),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(url: str, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"the server at {url} did not answer within {seconds:.0f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workspace", type=Path, default=ROOT / "benchmarks" / "out" / "shots")
    ap.add_argument("--resolution", type=float, default=100.0)
    args = ap.parse_args()
    ws: Path = args.workspace
    if not (ws / "build" / "catalog.json").exists():
        subprocess.run(
            [BIN / "twin", "demo", str(ws), "--resolution", str(args.resolution)], check=True
        )
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [BIN / "twin", "-w", str(ws), "serve", "--port", str(port), "--workers", "1"],
        start_new_session=True,
    )
    try:
        _wait(url)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            for name, query, (width, height) in SHOTS:
                page = browser.new_page(viewport={"width": width, "height": height})
                page.route(
                    "**/*",
                    lambda r: r.continue_() if r.request.url.startswith(url) else r.abort(),
                )
                page.goto(url + "/" + query, wait_until="load")
                page.wait_for_function("() => window.twinReady === true", timeout=60_000)
                page.wait_for_function("() => window.map.loaded() && !window.map.isMoving()")
                page.wait_for_timeout(1500)
                page.screenshot(path=str(HERE / name))
                page.close()
                print("wrote", HERE / name)
            browser.close()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
