"""Fixtures shared across the packages' tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def demo_county(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo county exactly as ``make demo`` builds it, built once per test session.

    Tests must treat it as read-only; a test that changes a workspace builds its own.
    """
    from twin.workspace import Twin

    root = tmp_path_factory.mktemp("demo") / "demo-county"
    Twin.demo(root)
    return root


@pytest.fixture(scope="session", autouse=True)
def maplibre_for_explore() -> None:
    """``Twin.explore`` inlines the MapLibre GL JS that ``tiles`` ships; where this checkout
    has no vendored copy yet, the npm package on disk (``npm install``) stands in.

    Set in the environment, so that notebook kernels started by the tests see it too.
    """
    import os
    from importlib import resources

    vendored = resources.files("tiles") / "static" / "vendor" / "maplibre-gl" / "maplibre-gl.js"
    dist = Path(__file__).resolve().parents[1] / "node_modules" / "maplibre-gl" / "dist"
    if not vendored.is_file() and "TWIN_MAPLIBRE_DIST" not in os.environ and dist.is_dir():
        os.environ["TWIN_MAPLIBRE_DIST"] = str(dist)
