"""Run the tile server under uvicorn.

:func:`serve` passes its arguments to the worker processes through ``TWIN_*``
environment variables and names :func:`app_from_env` as uvicorn's app factory,
so that ``workers > 1`` works (uvicorn imports the factory in each worker).
"""

from __future__ import annotations

import errno
import os
import socket
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from tiles.app import create_app
from tiles.errors import CatalogError, TilesError
from tiles.raster import skip_vrt_driver
from tiles.settings import Settings

FACTORY = "tiles.server:app_from_env"


class PortInUseError(TilesError):
    """Another process listens on the address :func:`serve` was asked to listen on."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__(f"port {port} on {host} is in use")
        self.host, self.port = host, port


def app_from_env() -> FastAPI:
    """The app configured entirely by ``TWIN_*`` variables (``TWIN_CATALOG`` required)."""
    return create_app(settings=Settings.from_env())


def default_workers() -> int:
    """One worker process per core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # no affinity outside Linux
        return os.cpu_count() or 1


def check_can_listen(host: str, port: int) -> None:
    """Bind ``host:port`` as uvicorn will (``SO_REUSEADDR``) and let it go again.

    uvicorn reports a busy port as a logged ``[Errno 98]`` after its start-up
    lines and exits 3, with ``workers > 1`` from a child process; checked here
    it is one error before anything starts.

    Raises
    ------
    PortInUseError
        When something else listens there.
    TilesError
        When the address cannot be bound for another reason (no such interface).
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise TilesError(f"cannot listen on {host}: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUseError(host, port) from None
            raise TilesError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def serve(
    catalog_path: Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int | None = None,
    public_url: str | None = None,
) -> None:
    """Serve the catalog at ``catalog_path`` until interrupted.

    Parameters
    ----------
    catalog_path
        The workspace's ``build/catalog.json``.
    host, port
        Where to listen.
    workers
        Worker processes, each with its own tile cache (default: one per core;
        one process answers a cached tile on one core at a time).
    public_url
        The URL clients reach the server at (default ``http://{host}:{port}``);
        tile URLs in TileJSON, the style and the viewer are built from it.

    Raises
    ------
    CatalogError
        When ``catalog_path`` does not exist.
    SettingsError
        When a ``TWIN_*`` variable holds a bad value (naming it).
    PortInUseError
        When something else listens on ``host:port``.
    """
    catalog_path = Path(catalog_path).resolve()
    if not catalog_path.is_file():
        raise CatalogError(f"{catalog_path}: no catalog (has the workspace been built?)")
    if workers is None:
        workers = default_workers()
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    os.environ["TWIN_CATALOG"] = str(catalog_path)
    os.environ["TWIN_PUBLIC_URL"] = public_url or f"http://{shown_host}:{port}"
    Settings.from_env()  # fail here, in one line, on a bad TWIN_* value, not in every worker
    check_can_listen(host, port)
    skip_vrt_driver()
    uvicorn.run(FACTORY, factory=True, host=host, port=port, workers=workers, log_level="info")
