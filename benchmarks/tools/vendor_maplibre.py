"""Copy MapLibre GL JS from the npm package into the tile server's package data.

The server hands the viewer MapLibre from ``tiles/static/vendor/maplibre-gl``
(see :mod:`tiles.assets`), so a county intranet needs no CDN. This copies the
built script, stylesheet and licence byte for byte from
``node_modules/maplibre-gl`` (``npm install`` first; ``package.json`` pins the
version) and writes ``VERSION`` (read by the server) and ``README.md`` (where
it came from, its licence and checksums).

Run from the repository root::

    python benchmarks/tools/vendor_maplibre.py
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "node_modules" / "maplibre-gl"
OUT = ROOT / "tiles" / "static" / "vendor" / "maplibre-gl"
FILES = ("maplibre-gl.js", "maplibre-gl.css", "LICENSE.txt")


def main() -> int:
    manifest = PACKAGE / "package.json"
    if not manifest.is_file():
        print(f"{manifest}: missing; run `npm install` first", file=sys.stderr)
        return 1
    meta = json.loads(manifest.read_text(encoding="utf-8"))
    OUT.mkdir(parents=True, exist_ok=True)
    lines = []
    for name in FILES:
        src = PACKAGE / ("dist" if name.endswith((".js", ".css")) else "") / name
        shutil.copyfile(src, OUT / name)
        digest = hashlib.sha256(src.read_bytes()).hexdigest()
        lines.append(f"| `{name}` | `{src.relative_to(PACKAGE)}` | `{digest}` |")
    (OUT / "VERSION").write_text(f"{meta['version']}\n", encoding="utf-8")
    (OUT / "README.md").write_text(
        f"# MapLibre GL JS {meta['version']} (vendored)\n\n"
        f"From the npm package `{meta['name']}@{meta['version']}`, licence "
        f"{meta['license']} (`LICENSE.txt`). Copied unchanged by\n"
        "`benchmarks/tools/vendor_maplibre.py`; the tile server serves the script and\n"
        "stylesheet at `/assets/maplibre-gl.js` and `/assets/maplibre-gl.css`.\n\n"
        "| File | In the npm package | sha256 |\n|---|---|---|\n" + "\n".join(lines) + "\n",
        encoding="utf-8",
    )
    print(f"maplibre-gl {meta['version']} -> {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
