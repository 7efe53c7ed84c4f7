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
