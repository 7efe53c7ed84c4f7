"""Generate the tile server's label glyphs (MapLibre glyph PBFs) from an open font.

MapLibre draws symbol text from signed distance fields fetched per range of
256 code points (``/fonts/{fontstack}/{range}.pbf``). This writes those ranges
for DejaVu Sans (Bitstream Vera licence, public-domain DejaVu changes; the
copy matplotlib ships) into ``tiles/fonts/dejavu-sans-book/``, where
:mod:`tiles.assets` serves them. Chinese is not generated: MapLibre draws CJK
with the browser's fonts (``localIdeographFontFamily``).

Each glyph is drawn the way node-fontnik makes them, which MapLibre's shader
expects: a 24 px em, a 3 px border, the distance to the outline scaled so that
8 px span the byte range, the outline at 192 (a quarter of the range kept for
the inside); ``left``/``top`` place the box relative to the pen position and
the baseline, ``top`` measured from the font's ascender. The font's outline
(fontTools, unhinted) is filled by matplotlib's Agg at 4x, the distance taken
on that raster (scipy's exact Euclidean distance transform) and averaged over
each 4x4 block.

Run from the repository root (matplotlib, Pillow, fontTools and scipy are in
the dev environment)::

    PYTHONPATH=. python benchmarks/tools/make_glyphs.py
"""

from __future__ import annotations

import hashlib
import math
import shutil
from pathlib import Path

import matplotlib
import numpy as np
from fontTools.pens.basePen import BasePen
from fontTools.ttLib import TTFont
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import PathPatch
from matplotlib.path import Path as MplPath
from scipy.ndimage import distance_transform_edt

from tiles.assets import Glyph, fontstack_pbf

ROOT = Path(__file__).resolve().parents[2]
MPL_FONTS = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
SOURCE = MPL_FONTS / "DejaVuSans.ttf"
LICENSE = MPL_FONTS / "LICENSE_DEJAVU"
NAME = "DejaVu Sans Book"  # family + style, as node-fontnik names a fontstack
OUT = ROOT / "tiles" / "fonts" / "dejavu-sans-book"

SIZE = 24  # px per em: MapLibre's ONE_EM
BORDER = 3  # px around each glyph: MapLibre's GLYPH_PBF_BORDER
RADIUS = 8.0  # px of distance spanning the byte range (node-fontnik, TinySDF)
CUTOFF = 0.25  # share of the range kept for the inside: the outline sits at 192
SCALE = 4  # supersampling of the raster the distance is measured on
#: Basic Latin + Latin-1, Latin Extended-A/B (pinyin tone marks), IPA and combining
#: marks, Greek, Cyrillic, Latin Extended Additional, punctuation/currency, letterlike
RANGES = (0, 256, 512, 768, 1024, 7680, 8192, 8448)


def _sdf(coverage: np.ndarray) -> np.ndarray:
    """The SDF bytes of a supersampled coverage raster (rows from the top)."""
    inside = coverage >= 128
    if not inside.any():
        return np.zeros((coverage.shape[0] // SCALE, coverage.shape[1] // SCALE), dtype=np.uint8)
    # distances between pixel centres; the outline lies half a pixel from the last one in
    outside_d = distance_transform_edt(~inside) - 0.5
    inside_d = distance_transform_edt(inside) - 0.5
    signed = np.where(inside, -inside_d, outside_d) / SCALE  # in 24 px units
    h, w = signed.shape[0] // SCALE, signed.shape[1] // SCALE
    blocks = signed.reshape(h, SCALE, w, SCALE).mean(axis=(1, 3))
    value = blocks * (256 / RADIUS) + CUTOFF * 256
    return (255 - np.clip(value, 0, 255)).astype(np.uint8)


class _PathPen(BasePen):
    """Collects a glyph's contours (curves kept) as matplotlib path vertices and codes."""

    def __init__(self, glyph_set: object) -> None:
        super().__init__(glyph_set)
        self.vertices: list[tuple[float, float]] = []
        self.codes: list[int] = []

    def _add(self, code: int, *points: tuple[float, float]) -> None:
        self.vertices += points
        self.codes += [code] * len(points)

    def _moveTo(self, pt: tuple[float, float]) -> None:
        self._add(MplPath.MOVETO, pt)

    def _lineTo(self, pt: tuple[float, float]) -> None:
        self._add(MplPath.LINETO, pt)

    def _qCurveToOne(self, pt1: tuple[float, float], pt2: tuple[float, float]) -> None:
        self._add(MplPath.CURVE3, pt1, pt2)

    def _curveToOne(self, pt1: tuple, pt2: tuple, pt3: tuple) -> None:
        self._add(MplPath.CURVE4, pt1, pt2, pt3)

    def _closePath(self) -> None:
        self._add(MplPath.CLOSEPOLY, self.vertices[-1])


def _coverage(font: TTFont, name: str, box: tuple[int, int, int, int]) -> np.ndarray:
    """The glyph's outline filled (non-zero winding, antialiased) over ``box`` at SCALE x.

    ``box`` is (left, bottom, right, top) in 24 px units, the border included.
    """
    pen = _PathPen(font.getGlyphSet())
    font.getGlyphSet()[name].draw(pen)
    units = font["head"].unitsPerEm / SIZE  # font units per 24 px pixel
    left, bottom, right, top = box
    width, height = (right - left) * SCALE, (top - bottom) * SCALE
    fig = Figure(figsize=(width, height), dpi=1)  # one "inch" per pixel: exact sizes
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    ax.set_xlim(left * units, right * units)
    ax.set_ylim(bottom * units, top * units)
    patch = PathPatch(MplPath(pen.vertices, pen.codes), facecolor="black", edgecolor="none")
    patch.set_snap(False)  # no pixel snapping: the outline where the font puts it
    ax.add_patch(patch)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba())
    assert rgba.shape[:2] == (height, width), rgba.shape
    return 255 - rgba[..., 0].astype(np.int16)


def make_glyph(code: int, font: TTFont, ascender: int) -> Glyph:
    name = font.getBestCmap()[code]
    scale = SIZE / font["head"].unitsPerEm
    advance = round(font["hmtx"][name][0] * scale)
    record = font["glyf"][name]
    if record.numberOfContours == 0 or not hasattr(record, "xMin"):
        return Glyph(id=code, width=0, height=0, left=0, top=-ascender, advance=advance)
    left, right = round(record.xMin * scale), round(record.xMax * scale)
    bottom, top = round(record.yMin * scale), round(record.yMax * scale)
    width, height = right - left, top - bottom
    if width <= 0 or height <= 0:
        return Glyph(id=code, width=0, height=0, left=0, top=-ascender, advance=advance)
    box = (left - BORDER, bottom - BORDER, right + BORDER, top + BORDER)
    bitmap = _sdf(_coverage(font, name, box))
    return Glyph(
        id=code,
        width=width,
        height=height,
        left=left,
        top=top - ascender,
        advance=advance,
        bitmap=bitmap.tobytes(),
    )


def main() -> int:
    font = TTFont(SOURCE)
    # FreeType's scaled ascender, rounded up to whole pixels as node-fontnik takes it
    ascender = math.ceil(font["hhea"].ascent * SIZE / font["head"].unitsPerEm)
    cmap = font.getBestCmap()
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    (OUT / "NAME").write_text(NAME + "\n", encoding="utf-8")
    shutil.copyfile(LICENSE, OUT / "LICENSE")
    rows = []
    for start in RANGES:
        codes = [c for c in sorted(cmap) if start <= c <= start + 255 and c >= 0x20]
        glyphs = [make_glyph(c, font, ascender) for c in codes]
        body = fontstack_pbf(NAME, start, glyphs)
        (OUT / f"{start}-{start + 255}.pbf").write_bytes(body)
        rows.append(f"| {start}-{start + 255} | {len(glyphs)} | {len(body):,} |")
    digest = hashlib.sha256(SOURCE.read_bytes()).hexdigest()
    version = next(r.toUnicode() for r in font["name"].names if r.nameID == 5)
    (OUT / "README.md").write_text(
        f"# {NAME}: MapLibre glyph ranges\n\n"
        f"Generated by `benchmarks/tools/make_glyphs.py` from `DejaVuSans.ttf` ({version},\n"
        f"the copy matplotlib {matplotlib.__version__} ships; sha256 `{digest}`).\n"
        "Licence: Bitstream Vera fonts licence, DejaVu changes in the public domain\n"
        "(`LICENSE`). 24 px signed distance fields with a 3 px border.\n\n"
        "| Range | Glyphs | Bytes |\n|---|---|---|\n" + "\n".join(rows) + "\n",
        encoding="utf-8",
    )
    print(f"{NAME}: {len(RANGES)} ranges -> {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
