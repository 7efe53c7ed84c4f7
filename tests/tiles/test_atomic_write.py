"""``atomic_write``: a file is replaced whole or not at all, and killed writes are found."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tiles import Catalog, atomic_write, leftover_temp_files, read_catalog, write_catalog
from tiles.catalog import TEMP_NAME, atomic_path


def test_bytes_str_and_writer_replace_the_file(tmp_path: Path) -> None:
    target = tmp_path / "a.json"
    atomic_write(target, b"one")
    assert target.read_bytes() == b"one"
    atomic_write(target, "二")
    assert target.read_text(encoding="utf-8") == "二"
    assert atomic_write(target, lambda tmp: tmp.write_bytes(b"three")) == 5
    assert target.read_bytes() == b"three"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


def test_the_writer_sees_a_fresh_temp_path_next_to_the_target(tmp_path: Path) -> None:
    target = tmp_path / "layer.gpkg"
    seen: list[Path] = []

    def write(tmp: Path) -> None:
        assert not tmp.exists()  # GDAL drivers create the file themselves
        seen.append(tmp)
        tmp.write_bytes(b"x")

    atomic_write(target, write)
    (tmp,) = seen
    assert tmp.parent == tmp_path
    assert tmp.name.startswith(".layer.gpkg.") and tmp.suffix == ".gpkg"  # drivers read it


@pytest.mark.parametrize("kind", ["raises_before_writing", "raises_after_writing"])
def test_a_failing_writer_leaves_the_old_file_and_no_temp(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "catalog.json"
    write_catalog(Catalog(workspace="old", updated="2026-01-01T00:00:00Z"), target)
    before = target.read_bytes()

    def write(tmp: Path) -> None:
        if kind == "raises_after_writing":
            tmp.write_bytes(b'{"half": ')
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        atomic_write(target, write)
    assert target.read_bytes() == before
    assert read_catalog(target).workspace == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["catalog.json"]
    assert leftover_temp_files(tmp_path) == []


def test_an_interrupted_block_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "t.pmtiles"
    with pytest.raises(KeyboardInterrupt), atomic_path(target) as tmp:
        tmp.write_bytes(b"partial")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_the_leftovers_of_a_killed_write_are_found(tmp_path: Path) -> None:
    target = tmp_path / "catalog.json"
    target.write_text("{}")
    # A real process killed mid-write (SIGKILL: no cleanup runs), as a killed build would be.
    script = textwrap.dedent(
        f"""
        import os, signal
        from tiles import atomic_write

        def write(tmp):
            tmp.write_bytes(b'{{"half": ')
            os.kill(os.getpid(), signal.SIGKILL)

        atomic_write({str(target)!r}, write)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen([sys.executable, "-c", script], env=env)
    assert proc.wait(timeout=60) == -9
    assert target.read_text() == "{}"
    other = tmp_path / TEMP_NAME.format(name="x.tif", pid=1, token="0123abcd", suffix=".tif")
    other.write_bytes(b"")
    (tmp_path / ".catalog.json.tmp").write_bytes(b"")  # not ours: no pid and token
    (tmp_path / "notes.tmp").write_bytes(b"")

    (left,) = leftover_temp_files(tmp_path, "catalog.json")
    assert left.read_bytes() == b'{"half": '
    assert left.name.startswith(f".catalog.json.{proc.pid}-")
    assert leftover_temp_files(tmp_path) == sorted([left, other])
