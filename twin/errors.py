"""Errors of the workspace, the build graph and the CLI."""

from __future__ import annotations


class TwinError(Exception):
    """Base class of every error raised by :mod:`twin`."""


class ConfigError(TwinError):
    """``twin.toml`` is missing, malformed, or names something that does not exist."""


class WorkspaceError(TwinError):
    """The workspace directory is not usable (missing, locked, read-only)."""


class BuildError(TwinError):
    """A layer failed to build; nothing of it was published."""

    def __init__(self, layer: str, message: str) -> None:
        # Both arguments in ``args`` so the error survives pickling from a worker process.
        super().__init__(layer, message)
        self.layer = layer
        self.message = message

    def __str__(self) -> str:
        return f"layer {self.layer!r}: {self.message}"
