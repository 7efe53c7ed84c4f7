"""Fixtures shared across the packages' tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser

#: Debian's Chromium (installed by .ci/run): the browser tests drive it, never a download
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--enable-unsafe-swiftshader",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def demo_county(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo county exactly as ``make demo`` builds it, built once per test session.

    Tests must treat it as read-only; a test that changes a workspace builds its own.
    """
    from twin.workspace import Twin

    root = tmp_path_factory.mktemp("demo") / "demo-county"
    Twin.demo(root)
    return root


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """Headless Chromium, launched once for the browser tests of a module; each opens its pages.

    Not once per session: Playwright's sync API holds an asyncio loop in this thread while
    the browser is open, and tests of other modules run their own.
    """
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.exists(), "install Debian chromium (see .ci/run)"
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, timeout=60_000
        )
        try:
            yield browser
        finally:
            browser.close()
