"""What the viewer needs offline: MapLibre from the package (/assets) and label glyphs (/fonts)."""

from __future__ import annotations

import fnmatch
import gzip
import hashlib
import itertools
import json
import math
import re
import tomllib
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from fastapi.testclient import TestClient
from fontTools.pens.basePen import BasePen
from fontTools.ttLib import TTFont
from matplotlib.path import Path as MplPath

from tests.tiles.conftest import PUBLIC_URL, make_client

REPO = Path(__file__).resolve().parents[2]
VENDOR = REPO / "tiles" / "static" / "vendor" / "maplibre-gl"
FONT_DIR = REPO / "tiles" / "fonts" / "dejavu-sans-book"
NPM = REPO / "node_modules" / "maplibre-gl"
DEJAVU = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
FONT = "DejaVu Sans Book"
BORDER = 3


# -- a protocol-buffers reader written from the wire format, independent of tiles._protobuf --


def _varint(data: bytes, i: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, i


def _fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """(field number, value) pairs of a message: varints as int, length-delimited as bytes."""
    out: list[tuple[int, int | bytes]] = []
    i = 0
    while i < len(data):
        tag, i = _varint(data, i)
        field, wire = tag >> 3, tag & 7
        if wire == 0:
            value, i = _varint(data, i)
            out.append((field, value))
        elif wire == 2:
            size, i = _varint(data, i)
            out.append((field, data[i : i + size]))
            i += size
        else:
            raise AssertionError(f"unexpected wire type {wire} for field {field}")
    assert i == len(data), "message overruns its bytes"
    return out


def _unzigzag(n: int) -> int:
    return (n >> 1) ^ -(n & 1)


def decode_glyphs(pbf: bytes) -> tuple[str, str, dict[int, dict]]:
    """MapLibre's glyph PBF: one fontstack {name, range, glyphs{id, bitmap, width, ...}}."""
    (top,) = _fields(pbf)
    assert top[0] == 1 and isinstance(top[1], bytes)  # glyphs.stacks
    name = rng = ""
    glyphs: dict[int, dict] = {}
    for field, value in _fields(top[1]):
        assert isinstance(value, bytes)
        if field == 1:
            name = value.decode()
        elif field == 2:
            rng = value.decode()
        elif field == 3:
            g: dict = {"bitmap": b""}
            for f, v in _fields(value):
                key = {1: "id", 2: "bitmap", 3: "width", 4: "height", 5: "left", 6: "top"}.get(
                    f, "advance" if f == 7 else f"?{f}"
                )
                g[key] = _unzigzag(v) if f in (5, 6) else v  # type: ignore[operator]
            glyphs[g["id"]] = g
    return name, rng, glyphs


# -- MapLibre GL JS --------------------------------------------------------------------------


def test_maplibre_is_served_from_the_package_with_long_caching(client: TestClient) -> None:
    version = (VENDOR / "VERSION").read_text().strip()
    for name, media in (("maplibre-gl.js", "text/javascript"), ("maplibre-gl.css", "text/css")):
        shipped = (VENDOR / name).read_bytes()
        plain = client.get(
            f"/assets/{name}", params={"v": version}, headers={"Accept-Encoding": ""}
        )
        assert plain.status_code == 200 and plain.content == shipped
        assert plain.headers["content-type"].startswith(media)
        assert plain.headers["cache-control"] == "public, max-age=31536000, immutable"
        # the bare URL may change on an upgrade: a day, then revalidate with the ETag
        assert client.get(f"/assets/{name}").headers["cache-control"] == "public, max-age=86400"
        zipped = client.get(f"/assets/{name}", headers={"Accept-Encoding": "gzip"})
        assert zipped.headers["content-encoding"] == "gzip"
        assert zipped.content == shipped  # (httpx decodes it)
        assert int(zipped.headers["content-length"]) < len(shipped) / 2
        # one ETag per representation, each revalidates only itself
        tags = {plain.headers["etag"], zipped.headers["etag"]}
        assert len(tags) == 2 and "Accept-Encoding" in zipped.headers["vary"]
        again = client.get(
            f"/assets/{name}",
            headers={"If-None-Match": plain.headers["etag"], "Accept-Encoding": ""},
        )
        assert again.status_code == 304 and again.content == b""
        other = client.get(
            f"/assets/{name}",
            headers={"If-None-Match": plain.headers["etag"], "Accept-Encoding": "gzip"},
        )
        assert other.status_code == 200
    missing = client.get("/assets/viewer.js")
    assert missing.status_code == 404 and "maplibre-gl.js" in missing.json()["detail"]


def test_the_vendored_copy_is_the_npm_package_with_its_version_and_licence() -> None:
    version = (VENDOR / "VERSION").read_text().strip()
    readme = (VENDOR / "README.md").read_text()
    assert f"maplibre-gl@{version}" in readme and "BSD-3-Clause" in readme
    assert "Copyright (c) 2023, MapLibre contributors" in (VENDOR / "LICENSE.txt").read_text()
    for name in ("maplibre-gl.js", "maplibre-gl.css"):
        digest = hashlib.sha256((VENDOR / name).read_bytes()).hexdigest()
        assert f"| `{name}` | `dist/{name}` | `{digest}` |" in readme
    # the script says which version it is, in its own licence header
    head = (VENDOR / "maplibre-gl.js").read_text(encoding="utf-8")[:300]
    assert f"/v{version}/LICENSE.txt" in head
    if NPM.is_dir():  # the npm install the lock file pins: the vendored copy is that one
        assert json.loads((NPM / "package.json").read_text())["version"] == version
        assert (NPM / "dist" / "maplibre-gl.js").read_bytes() == (
            VENDOR / "maplibre-gl.js"
        ).read_bytes()


def test_the_wheel_ships_the_vendored_files_and_the_glyphs() -> None:
    patterns = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["tiles"]
    shipped = [
        p.relative_to(REPO / "tiles").as_posix()
        for root in (VENDOR, FONT_DIR)
        for p in root.rglob("*")
        if p.is_file()
    ]
    assert len(shipped) > 10
    for path in shipped:
        assert any(fnmatch.fnmatchcase(path, pat) for pat in patterns), path


def test_the_viewer_links_the_servers_own_maplibre_unless_told_otherwise(
    workspace_catalog: Path,
) -> None:
    version = (VENDOR / "VERSION").read_text().strip()
    with make_client(workspace_catalog) as client:
        page = client.get("/").text
    assert f'<script src="{PUBLIC_URL}/assets/maplibre-gl.js?v={version}"></script>' in page
    assert f'href="{PUBLIC_URL}/assets/maplibre-gl.css?v={version}"' in page
    assert "unpkg" not in page and "https://" not in page
    cdn = "https://cdn.example.org/maplibre-gl@5/dist/maplibre-gl"
    with make_client(
        workspace_catalog, maplibre_js=f"{cdn}.js?a=1&b=2", maplibre_css=f"{cdn}.css"
    ) as client:
        page = client.get("/").text
    assert f'<script src="{cdn}.js?a=1&amp;b=2"></script>' in page
    assert f'href="{cdn}.css"' in page and "/assets/" not in page


# -- glyphs ----------------------------------------------------------------------------------


class _PathPen(BasePen):
    """A glyph outline as a matplotlib Path (quadratic and cubic Beziers kept as curves)."""

    def __init__(self, glyph_set: object) -> None:
        super().__init__(glyph_set)
        self.vertices: list[tuple[float, float]] = []
        self.codes: list[int] = []

    def _moveTo(self, pt: tuple[float, float]) -> None:
        self.vertices.append(pt)
        self.codes.append(MplPath.MOVETO)

    def _lineTo(self, pt: tuple[float, float]) -> None:
        self.vertices.append(pt)
        self.codes.append(MplPath.LINETO)

    def _qCurveToOne(self, pt1: tuple[float, float], pt2: tuple[float, float]) -> None:
        self.vertices += [pt1, pt2]
        self.codes += [MplPath.CURVE3] * 2

    def _curveToOne(self, pt1: tuple, pt2: tuple, pt3: tuple) -> None:
        self.vertices += [pt1, pt2, pt3]
        self.codes += [MplPath.CURVE4] * 3

    def _closePath(self) -> None:
        self.vertices.append(self.vertices[-1])
        self.codes.append(MplPath.CLOSEPOLY)


def _outline_covers(tt: TTFont, code: int, g: dict, ascender: int) -> np.ndarray:
    """Which pixel centres of the glyph's declared box the font's exact outline contains."""
    glyph_set = tt.getGlyphSet()
    pen = _PathPen(glyph_set)
    glyph_set[tt.getBestCmap()[code]].draw(pen)
    scale = 24 / tt["head"].unitsPerEm
    rows, cols = g["height"] + 2 * BORDER, g["width"] + 2 * BORDER
    x = (g["left"] - BORDER + np.arange(cols) + 0.5) / scale
    y = (g["top"] + ascender + BORDER - np.arange(rows) - 0.5) / scale
    xx, yy = np.meshgrid(x, y)
    points = np.column_stack([xx.ravel(), yy.ravel()])
    # non-zero winding over the contours (a counter winds the other way and cancels)
    winding = np.zeros(len(points), dtype=int)
    starts = [i for i, c in enumerate(pen.codes) if c == MplPath.MOVETO] + [len(pen.codes)]
    for a, b in itertools.pairwise(starts):
        contour = MplPath(pen.vertices[a:b], pen.codes[a:b])
        xs, ys = np.array(pen.vertices[a:b]).T
        direction = 1 if (xs * np.roll(ys, -1) - np.roll(xs, -1) * ys).sum() > 0 else -1
        winding += direction * contour.contains_points(points)
    return (winding != 0).reshape(rows, cols)


def test_glyph_ranges_are_signed_distance_fields_of_the_font(client: TestClient) -> None:
    r = client.get(f"/fonts/{FONT}/0-255.pbf")
    assert r.status_code == 200 and r.headers["content-type"] == "application/x-protobuf"
    assert "max-age=" in r.headers["cache-control"] and r.headers["etag"]
    assert (
        client.get(
            f"/fonts/{FONT}/0-255.pbf", headers={"If-None-Match": r.headers["etag"]}
        ).status_code
        == 304
    )
    name, rng, glyphs = decode_glyphs(r.content)
    assert (name, rng) == (FONT, "0-255")
    tt = TTFont(DEJAVU)
    cmap = tt.getBestCmap()
    assert set(glyphs) == {c for c in cmap if 0x20 <= c <= 0xFF}  # every glyph the font has
    upem = tt["head"].unitsPerEm
    ascender = math.ceil(tt["hhea"].ascent * 24 / upem)
    for code, g in glyphs.items():
        w, h = g["width"], g["height"]
        assert g["advance"] == round(tt["hmtx"][cmap[code]][0] * 24 / upem), chr(code)
        if w == 0:  # no outline (space, no-break space): no bitmap
            assert g["bitmap"] == b"" and chr(code).isspace()
            continue
        assert len(g["bitmap"]) == (w + 2 * BORDER) * (h + 2 * BORDER), chr(code)
        sdf = np.frombuffer(g["bitmap"], np.uint8).reshape(h + 2 * BORDER, w + 2 * BORDER)
        # a distance field: far outside is 0, the border never reaches the outline (192)
        assert sdf[0].max() < 192 and sdf[-1].max() < 192 and sdf[:, 0].max() < 192
        # the field is the font's own outline at 24 px in the declared box (so width,
        # height, left and top put it where the font says): no pixel whose value puts it
        # more than half a pixel (16 levels) inside or outside the outline (192) is on the
        # wrong side of the exact outline
        exact = _outline_covers(tt, code, g, ascender)
        level = sdf.astype(int)
        wrong = ((level >= 192 + 16) & ~exact) | ((level <= 191 - 16) & exact)
        assert exact.any() and not wrong.any(), (chr(code), np.argwhere(wrong))
    # letters read as letters: "l" is one tall bar, "o" has a hole, "H" a crossbar
    ell = np.frombuffer(glyphs[ord("l")]["bitmap"], np.uint8) >= 192
    assert ell.sum() > 0
    o = glyphs[ord("o")]
    ring = np.frombuffer(o["bitmap"], np.uint8).reshape(o["height"] + 6, o["width"] + 6)
    assert ring[ring.shape[0] // 2, ring.shape[1] // 2] < 150  # the counter is outside
    assert glyphs[ord("H")]["top"] + ascender == 17  # cap height of DejaVu at 24 px (0.73 em)


def test_pinyin_and_punctuation_ranges_ship(client: TestClient) -> None:
    # tone marks: a macron (U+0101), a caron (U+01CE); an en dash (U+2013); the yuan sign
    for code in (0x101, 0x1CE, 0x2013, 0xA5):
        start = code // 256 * 256
        pbf = client.get(f"/fonts/{FONT}/{start}-{start + 255}.pbf").content
        assert code in decode_glyphs(pbf)[2], hex(code)


def test_a_range_that_does_not_ship_is_an_empty_fontstack_not_an_error(client: TestClient) -> None:
    # CJK Unified Ideographs (村 U+6751): MapLibre draws them itself and never asks;
    # a client that does gets a valid, empty answer instead of an error
    r = client.get(f"/fonts/{FONT}/26368-26623.pbf")
    assert r.status_code == 200
    assert decode_glyphs(r.content) == (FONT, "26368-26623", {})
    # a fontstack is a list in order of preference: the first font that ships answers
    stack = client.get(f"/fonts/Open Sans Regular,{FONT}/0-255.pbf")
    assert stack.status_code == 200 and decode_glyphs(stack.content)[0] == FONT
    top = client.get(f"/fonts/{FONT}/1113856-1114111.pbf")  # U+10FF00, the last range
    assert top.status_code == 200


@pytest.mark.parametrize(
    ("path", "status", "detail"),
    [
        ("/fonts/Comic Sans/0-255.pbf", 404, f"no font 'Comic Sans': this server has {FONT}"),
        (f"/fonts/{FONT}/1-256.pbf", 400, "glyph range '1-256': expected START-END"),
        (f"/fonts/{FONT}/0-511.pbf", 400, "glyph range '0-511'"),
        (f"/fonts/{FONT}/1114112-1114367.pbf", 400, "glyph range"),
        (f"/fonts/{FONT}/latin.pbf", 400, "glyph range 'latin'"),
        ("/fonts/..%2F..%2Ftiles/0-255.pbf", 404, ""),  # never a path: no route matches
    ],
)
def test_bad_glyph_requests_are_one_line(
    client: TestClient, path: str, status: int, detail: str
) -> None:
    r = client.get(path)
    assert r.status_code == status
    assert r.json()["detail"].startswith(detail)
    assert "\n" not in r.json()["detail"]


def test_the_style_asks_this_server_for_the_font_it_ships(client: TestClient) -> None:
    style = client.get("/style.json").json()
    assert style["glyphs"] == f"{PUBLIC_URL}/fonts/{{fontstack}}/{{range}}.pbf"
    fonts = {
        tuple(layer["layout"]["text-font"])
        for layer in style["layers"]
        if layer["type"] == "symbol"
    }
    assert fonts == {(FONT,)}
    path = re.sub(r"^https?://[^/]+", "", style["glyphs"])
    url = path.replace("{fontstack}", FONT).replace("{range}", "0-255")
    assert decode_glyphs(client.get(url).content)[0] == FONT
    assert (FONT_DIR / "NAME").read_text().strip() == FONT
    assert "Bitstream Vera" in (FONT_DIR / "LICENSE").read_text()


def test_gzip_of_an_asset_is_stable(client: TestClient) -> None:
    # the same bytes on every request (mtime 0): caches and ETags stay valid across restarts
    a = client.get("/assets/maplibre-gl.css", headers={"Accept-Encoding": "gzip"})
    raw = gzip.compress((VENDOR / "maplibre-gl.css").read_bytes(), mtime=0)
    assert int(a.headers["content-length"]) == len(raw)
