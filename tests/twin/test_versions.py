"""Every published version keeps a manifest of what it published, so it stays readable."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest

from tiles.catalog import VERSION_MANIFEST, read_catalog, read_version, resolve_artifact
from tiles.errors import LayerNotFoundError
from twin.workspace import Twin


def test_an_old_version_is_read_back_as_it_was_published(workspace: Path) -> None:
    twin = Twin.open(workspace)
    assert twin.build().ok
    cat_path = workspace / "build" / "catalog.json"
    first = read_catalog(cat_path).layers["points"]
    # the points change: one fewer row
    csv = workspace / "sources" / "points.csv"
    lines = csv.read_text(encoding="utf-8").splitlines()
    csv.write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8")
    assert Twin.open(workspace).build().ok
    now = read_catalog(cat_path).layers["points"]
    assert now.version != first.version and now.history[0] == first.version

    old = read_version(cat_path, "points", now, first.version)
    assert old.version == first.version and old.artifacts == first.artifacts
    assert old.count == first.count == now.count + 1
    assert old.history == []
    rows = gpd.read_parquet(resolve_artifact(cat_path, old.artifacts["data"]))
    assert len(rows) == first.count
    assert read_version(cat_path, "points", now, now.version) is now
    # each version directory holds its manifest
    assert (workspace / "build" / "points" / now.version / VERSION_MANIFEST).is_file()


def test_unknown_and_vanished_versions_are_not_found(workspace: Path) -> None:
    assert Twin.open(workspace).build().ok
    cat_path = workspace / "build" / "catalog.json"
    entry = read_catalog(cat_path).layers["zones"]
    with pytest.raises(LayerNotFoundError, match="has no version"):
        read_version(cat_path, "zones", entry, "20000101T000000-0000")
    gone = entry.model_copy(update={"history": ["20000101T000000-0000"]})
    with pytest.raises(LayerNotFoundError, match="no longer servable"):
        read_version(cat_path, "zones", gone, "20000101T000000-0000")
