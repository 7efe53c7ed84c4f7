"""Build progress in a notebook: a ``tqdm.auto`` bar that ``Twin.build`` picks inside Jupyter."""

from __future__ import annotations

import sys
from typing import Any


def in_notebook() -> bool:
    """Whether this code runs in a Jupyter kernel (IPython's ZMQ shell)."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    shell = ipython.get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


class NotebookProgress:
    """Build progress as a ``tqdm.auto`` bar: a widget in Jupyter, text elsewhere.

    Why tqdm rather than rich (which the CLI uses): ``tqdm.auto`` picks the
    ipywidgets bar in Jupyter and a plain text bar anywhere else by itself,
    it is what analysts already see from geopandas/osmnx-style tools, and its
    widget updates in place, whereas rich's live display in Jupyter re-renders
    whole HTML outputs. One bar counts layers; each built, skipped or failed
    layer also gets a line, kept in :attr:`lines` for later inspection.
    """

    def __init__(self, **tqdm_kwargs: Any) -> None:
        self._kwargs = tqdm_kwargs
        self._bar: Any = None
        self.lines: list[str] = []

    def _write(self, line: str) -> None:
        self.lines.append(line)
        if self._bar is not None:
            # Lines go where the bar goes when a file was given (tqdm's default: stdout).
            self._bar.write(line, file=self._kwargs.get("file"))

    def _advance(self) -> None:
        if self._bar is None:
            return
        self._bar.update(1)
        if self._bar.n >= (self._bar.total or 0):
            self._bar.set_description("built")
            self._bar.close()

    def plan(self, names: list[str]) -> None:
        from tqdm.auto import tqdm

        kwargs = {"desc": "building", "unit": "layer", **self._kwargs}
        self._bar = tqdm(total=len(names), **kwargs)
        if not names:
            self._bar.close()

    def skip(self, name: str, reason: str) -> None:
        self._write(f"skipped {name}: {reason}")
        self._advance()

    def start(self, name: str) -> None:
        if self._bar is not None:
            self._bar.set_description(f"building {name}")

    def finish(self, name: str, version: str, seconds: float) -> None:
        self._write(f"built {name} {version} ({seconds:.1f} s)")
        self._advance()

    def fail(self, name: str, message: str) -> None:
        self._write(f"failed {message}")
        self._advance()


def progress_events(progress: bool | None) -> NotebookProgress | None:
    """The events a build reports to: a progress bar if asked, or by default inside Jupyter."""
    if progress is None:
        progress = in_notebook()
    return NotebookProgress() if progress else None
