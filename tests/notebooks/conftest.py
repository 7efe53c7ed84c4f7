"""One demo county for every notebook test: a private copy of the session's demo county."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def demo_dir(demo_county: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The freshly built demo county (tests/conftest.py), copied because notebook 05 adds a layer.

    Artifact paths in the catalog are relative to it, so the copy is a complete workspace
    whose layers are all up to date.
    """
    root = tmp_path_factory.mktemp("notebooks") / "demo-county"
    shutil.copytree(demo_county, root, symlinks=True)
    return root
