"""One demo county for every notebook test, built once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from twin.workspace import Twin


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A freshly generated and built demo county (default 20 m DEM), shared by the notebooks."""
    root = tmp_path_factory.mktemp("notebooks") / "demo-county"
    Twin.demo(root)
    return root
