"""`twin validate` and `twin export` read every byte of the published artifacts.

A truncated COG or GeoParquet, a corrupt overview block, a damaged row group
or PMTiles directory is reported with the layer, the file and what is wrong;
an export of a damaged artifact stops with one line and writes nothing.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import rasterio
from typer.testing import CliRunner

from tests.twin.conftest import TOML
from twin.cli import app
from twin.workspace import Twin

runner = CliRunner()

#: a DEM of 800 x 600 pixels: 2 x 2 blocks of 512 and one overview
FINE = TOML.replace("resolution = 100", "resolution = 5").replace(
    'params = { id = "code" }', 'params = { id = "code" }\ntiles = { pmtiles = true, maxzoom = 13 }'
)


@pytest.fixture
def built(workspace: Path) -> Twin:
    (workspace / "twin.toml").write_text(FINE, encoding="utf-8")
    twin = Twin.open(workspace)
    twin.build()
    return twin


def _artifact(twin: Twin, layer: str, key: str = "data") -> Path:
    return twin.build_dir / twin.catalog.layers[layer].artifacts[key]


def _shown(twin: Twin, path: Path) -> str:
    return path.relative_to(twin.root).as_posix()


def _validate(twin: Twin) -> list[str]:
    res = runner.invoke(app, ["-w", str(twin.root), "validate", "--json"])
    problems = json.loads(res.stdout)["problems"]
    assert res.exit_code == (1 if problems else 0), res.output
    return problems


def _truncate(path: Path, keep: float) -> None:
    os.truncate(path, int(path.stat().st_size * keep))


def test_a_built_workspace_validates(built: Twin) -> None:
    with rasterio.open(_artifact(built, "dem")) as src:
        assert src.overviews(1) and src.width > 512  # blocks and overviews to read
    assert _validate(built) == []


def test_truncated_cog_and_geoparquet_are_named(built: Twin) -> None:
    tif, parquet = _artifact(built, "dem"), _artifact(built, "points")
    _truncate(tif, 0.6)
    _truncate(parquet, 0.9)
    problems = _validate(built)
    assert len(problems) == 2, problems
    dem = next(p for p in problems if p.startswith("layer dem: "))
    assert dem.startswith(f"layer dem: {_shown(built, tif)}: block (row ")
    assert "cannot be read" in dem and "more bad blocks" in dem
    points = next(p for p in problems if p.startswith("layer points: "))
    assert points.startswith(f"layer points: {_shown(built, parquet)}: not a readable Parquet")


def _block_offset(path: Path, overview: int) -> tuple[int, int]:
    """Where the first block of ``overview`` (0-based) sits in the file, and its length."""
    with rasterio.open(path) as src:
        offset = src.get_tag_item("BLOCK_OFFSET_0_0", "TIFF", bidx=1, ovr=overview)
        size = src.get_tag_item("BLOCK_SIZE_0_0", "TIFF", bidx=1, ovr=overview)
    return int(offset), int(size)


def test_a_corrupt_overview_block_is_found(built: Twin) -> None:
    tif = _artifact(built, "dem")
    offset, size = _block_offset(tif, 0)
    with tif.open("r+b") as fh:  # the full-resolution blocks stay intact
        fh.seek(offset)
        fh.write(bytes(size))
    with rasterio.open(tif) as src:
        src.read(1)  # what a reader of the full resolution sees: nothing wrong
    problems = _validate(built)
    assert len(problems) == 1
    assert problems[0].startswith(
        f"layer dem: {_shown(built, tif)}: block (row 0, col 0) of overview 1 cannot be read: "
    )


def test_a_damaged_row_group_is_found(built: Twin) -> None:
    parquet = _artifact(built, "zones")
    meta = pq.ParquetFile(parquet).metadata
    column = meta.row_group(0).column(0)
    start = column.dictionary_page_offset or column.data_page_offset
    with parquet.open("r+b") as fh:  # the footer stays intact: the file opens
        fh.seek(start)
        fh.write(b"\xff" * min(64, column.total_compressed_size))
    problems = _validate(built)
    assert problems == [
        p for p in problems if p.startswith(f"layer zones: {_shown(built, parquet)}: row group 0 ")
    ]
    assert len(problems) == 1 and "cannot be read" in problems[0]


def test_a_pmtiles_directory_pointing_past_the_data_is_reported(built: Twin) -> None:
    archive = _artifact(built, "zones", "pmtiles")
    data = bytearray(archive.read_bytes())
    (data_length,) = struct.unpack_from("<Q", data, 64)
    struct.pack_into("<Q", data, 64, data_length // 2)  # the header cuts the tile data short
    archive.write_bytes(bytes(data))
    problems = _validate(built)
    assert len(problems) == 1
    assert problems[0].startswith(f"layer zones: {_shown(built, archive)}: directory at byte ")
    assert "(tile " in problems[0]


@pytest.mark.parametrize(
    ("layer", "fmt", "keep"),
    [("dem", "cog", 0.6), ("zones", "gpkg", 0.9), ("zones", "geojson", 0.9)],
)
def test_export_of_a_damaged_artifact_is_one_line_and_writes_nothing(
    built: Twin, tmp_path: Path, layer: str, fmt: str, keep: float
) -> None:
    path = _artifact(built, layer)
    _truncate(path, keep)
    out = tmp_path / "out" / f"x.{fmt}"
    out.parent.mkdir()
    res = runner.invoke(app, ["-w", str(built.root), "export", layer, "-f", fmt, "-o", str(out)])
    assert res.exit_code == 1
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"twin: error: {path}: ")
    assert f"twin build {layer} --force" in lines[0] and "Traceback" not in res.output
    assert list(out.parent.iterdir()) == []
