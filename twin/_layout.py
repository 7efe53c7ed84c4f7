"""Where a workspace keeps things, and finding one from a path: no pydantic, no numpy.

The ``twin`` command looks here before it opens a workspace (``twin export``
reads the catalog early, so that PROJ starts its search while the workspace's
modules load); :mod:`twin.workspace` and :mod:`twin.config` take the names from here.
"""

from __future__ import annotations

import os
from pathlib import Path

from twin.errors import WorkspaceError

CONFIG_NAME = "twin.toml"
BUILD_DIR = "build"
CATALOG_NAME = "catalog.json"


def find_workspace(start: str | os.PathLike[str] | None = None, search_up: bool = False) -> Path:
    """The workspace directory at ``start`` (or, with ``search_up``, its nearest parent).

    ``start`` may be the directory or its ``twin.toml``.
    """
    path = Path(start or ".").resolve()
    if path.is_file() and path.name == CONFIG_NAME:
        return path.parent
    candidates = [path, *path.parents] if search_up else [path]
    for candidate in candidates:
        if (candidate / CONFIG_NAME).is_file():
            return candidate
    if not path.exists():
        raise WorkspaceError(f"{path}: no such directory")
    where = f"{path} or any parent" if search_up else str(path)
    raise WorkspaceError(f"{where}: not a workspace (no {CONFIG_NAME}; run 'twin init')")


def catalog_path(root: Path) -> Path:
    """The published catalog of the workspace at ``root``."""
    return root / BUILD_DIR / CATALOG_NAME
