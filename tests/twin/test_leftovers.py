"""A build cleans the temporary catalog files that killed writes left behind."""

from __future__ import annotations

from pathlib import Path

from tiles import Catalog, write_catalog
from tiles.catalog import TEMP_NAME
from twin.build import clean_leftovers


def test_clean_leftovers_removes_a_killed_catalog_write(tmp_path: Path) -> None:
    build = tmp_path / "build"
    build.mkdir()
    catalog = Catalog(workspace="ws", updated="2026-01-01T00:00:00Z")
    write_catalog(catalog, build / "catalog.json")
    killed = build / TEMP_NAME.format(
        name="catalog.json", pid=4242, token="deadbeef", suffix=".json"
    )
    killed.write_bytes(b'{"half": ')
    hashes = build / ".hashes.json"  # files that are not temp files stay
    hashes.write_text("{}")

    assert clean_leftovers(build, catalog) == [killed]
    assert sorted(p.name for p in build.iterdir()) == [".hashes.json", "catalog.json"]
